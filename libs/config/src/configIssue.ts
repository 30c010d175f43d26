import { RxrlConfigError } from '@rxrl/core/base';
import { describeValue } from './describeValue';
import { formatKeyPath, formatSource, type KeyPath, type Source } from './source';

/** One thing wrong with a configuration. */
export interface ConfigIssue {
  /** where the key is */
  keyPath: KeyPath;
  /** where it was set (or where its section was set, for a missing key) */
  source: Source | undefined;
  /** what is wrong and what was expected, e.g. `expected an integer >= 1` */
  problem: string;
  /** a suggestion shown after the value, e.g. did you mean `num_generations_per_prompt`? */
  hint?: string;
  /** the value found; absent for a missing key */
  value?: unknown;
  /** false when the key is missing */
  present: boolean;
}

/** `configs/grpo.yaml:12 grpo.num_generations_per_prompt: expected an integer >= 1, got -3` */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = formatSource(issue.source);
  const got = issue.present ? `, got ${describeValue(issue.value)}` : '';
  const hint = issue.hint ? `; ${issue.hint}` : '';
  return `${where ? `${where} ` : ''}${formatKeyPath(issue.keyPath)}: ${issue.problem}${got}${hint}`;
}

/**
 * A configuration that failed validation. `issues` holds every problem found,
 * not just the first; the message lists them one per line.
 */
export class ConfigValidationError extends RxrlConfigError {
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(
      issues.length === 1
        ? formatConfigIssue(issues[0]!)
        : `${issues.length} configuration errors:\n${issues.map((i) => `  ${formatConfigIssue(i)}`).join('\n')}`,
    );
  }
}
