import { z } from 'zod';
import { getAt, hasAt } from './deepMerge';
import { closestMatch } from './didYouMean';
import type { LoadedConfig } from './loadedConfig';
import { ConfigValidationError, type ConfigIssue } from './configIssue';
import { isPlainObject } from './plainObject';
import { findUnknownKeys } from './schemaWalk';
import { applyForeignKeys, foreignKeyRule, type ForeignKeyVerdict } from './foreignKeys';
import { formatSource, sourceAt, type SourceMap } from './source';
import { describeZodIssue } from './zodIssue';

/** The validated config: each section's zod output (defaults applied). */
export type SectionsOutput<S extends Record<string, z.ZodType>> = {
  [K in keyof S]: z.output<S[K]>;
};

/** A set of section schemas, each owned by the library that reads that section. */
export interface ConfigSections<S extends Record<string, z.ZodType>> {
  /** the section schemas as given */
  readonly sections: S;
  /** one strict-object schema over all sections */
  readonly schema: z.ZodType;
  /**
   * Validate a loaded config (with sources) or a plain object. Throws
   * `ConfigValidationError` (an `RxrlConfigError`) listing every problem found.
   */
  validate(config: LoadedConfig | Record<string, unknown>): SectionsOutput<S>;
  /** Every problem with the config, in file order; empty when it is valid. */
  check(config: LoadedConfig | Record<string, unknown>): ConfigIssue[];
  /** A new set with more sections (a section name may not be registered twice). */
  extend<T extends Record<string, z.ZodType>>(more: T): ConfigSections<S & T>;
}

/** A problem found across sections by a {@link SectionsCheck}: the key it points at and what is wrong. */
export interface CrossSectionIssue {
  path: (string | number)[];
  message: string;
}

/**
 * A check that spans sections (e.g. GRPO's samples per step must divide by the
 * policy's global batch size). Runs on the validated config, only once every
 * section is valid on its own; its issues are reported like any other.
 */
export type SectionsCheck<S extends Record<string, z.ZodType>> = (
  config: SectionsOutput<S>,
) => CrossSectionIssue[];

function isLoaded(config: unknown): config is LoadedConfig {
  return (
    isPlainObject(config) &&
    config['sources'] instanceof Map &&
    Array.isArray(config['files']) &&
    Object.keys(config).length === 3 &&
    'value' in config
  );
}

/**
 * Declare the sections a recipe may contain, e.g.
 * `defineSections({ policy: policySchema, grpo: grpoSchema })`. Every key not
 * declared by some schema is an error (with a "did you mean" suggestion), even
 * where a section schema is a plain `z.object`; use `z.looseObject` to accept any keys.
 */
export function defineSections<S extends Record<string, z.ZodType>>(
  sections: S,
  crossCheck?: SectionsCheck<S>,
): ConfigSections<S> {
  const schema = z.object(sections);

  /** The config's issues and the value to parse: foreign keys accepted or moved (see foreignKeys.ts). */
  function analyse(config: LoadedConfig | Record<string, unknown>): {
    issues: ConfigIssue[];
    adapted: unknown;
  } {
    const { value, sources } = isLoaded(config)
      ? config
      : { value: config as unknown, sources: new Map() as SourceMap };
    const issues: ConfigIssue[] = [];
    if (!isPlainObject(value)) {
      return {
        issues: [
          {
            keyPath: [],
            source: sourceAt(sources, []),
            problem: 'expected a mapping of sections',
            value,
            present: true,
          },
        ],
        adapted: value,
      };
    }
    const verdicts: Array<{ keyPath: (string | number)[]; verdict: ForeignKeyVerdict }> = [];
    for (const unknown of findUnknownKeys(schema, value)) {
      // a key from NeMo RL / TRL / the guides: accepted, moved, or rejected with its own line
      const rule = foreignKeyRule(unknown.keyPath);
      if (rule !== undefined) {
        const found = getAt(value, unknown.keyPath);
        const verdict = rule.judge(found, unknown.keyPath, value);
        verdicts.push({ keyPath: unknown.keyPath, verdict });
        if (verdict.kind === 'reject')
          issues.push({
            keyPath: unknown.keyPath,
            source: sourceAt(sources, unknown.keyPath),
            problem: verdict.problem,
            hint: verdict.hint,
            value: found,
            present: true,
          });
        continue;
      }
      const key = String(unknown.keyPath[unknown.keyPath.length - 1]);
      const near = closestMatch(key, unknown.known);
      issues.push({
        keyPath: unknown.keyPath,
        source: sourceAt(sources, unknown.keyPath),
        problem: 'unknown key',
        hint:
          near !== undefined
            ? `did you mean \`${near}\`?`
            : unknown.known.length > 0
              ? `expected one of ${unknown.known.map((k) => `\`${k}\``).join(', ')}`
              : 'this section takes no keys',
        value: getAt(value, unknown.keyPath),
        present: true,
      });
    }
    const adapted = verdicts.length > 0 ? applyForeignKeys(value, verdicts) : value;
    const result = schema.safeParse(adapted);
    if (!result.success) {
      for (const issue of result.error.issues) {
        if (issue.code === 'unrecognized_keys') continue; // reported above, one per key, with suggestions
        const keyPath = issue.path as (string | number)[];
        const present = hasAt(value, keyPath);
        const found = getAt(value, keyPath);
        const { problem, hint } = describeZodIssue(issue, schema, found);
        issues.push({
          keyPath,
          source: sourceAt(sources, keyPath),
          problem: present ? problem : `missing, ${problem}`,
          ...(hint !== undefined ? { hint } : {}),
          ...(present ? { value: found } : {}),
          present,
        });
      }
    }
    if (result.success && issues.length === 0 && crossCheck) {
      for (const { path: keyPath, message } of crossCheck(result.data as SectionsOutput<S>)) {
        const present = hasAt(value, keyPath);
        issues.push({
          keyPath,
          source: sourceAt(sources, keyPath),
          problem: message,
          ...(present ? { value: getAt(value, keyPath) } : {}),
          present,
        });
      }
    }
    return { issues: sortIssues(issues), adapted };
  }

  function check(config: LoadedConfig | Record<string, unknown>): ConfigIssue[] {
    return analyse(config).issues;
  }

  return {
    sections,
    schema,
    check,
    validate(config) {
      const { issues, adapted } = analyse(config);
      if (issues.length > 0) throw new ConfigValidationError(issues);
      return schema.parse(adapted) as SectionsOutput<S>;
    },
    extend(more) {
      for (const name of Object.keys(more)) {
        if (Object.prototype.hasOwnProperty.call(sections, name)) {
          throw new Error(`config section '${name}' is registered twice`);
        }
      }
      // the cross-section check reads only the sections it was written for, all still present
      return defineSections(
        { ...sections, ...more },
        crossCheck as unknown as SectionsCheck<S & typeof more> | undefined,
      );
    },
  };
}

/** File issues by file then line, then command-line issues, then the rest; stable otherwise. */
function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const rank = (issue: ConfigIssue): [number, string, number] => {
    const s = issue.source;
    if (!s) return [2, '', 0];
    if (s.kind === 'command line') return [1, '', 0];
    return [0, formatSource({ kind: 'file', file: s.file }), s.line ?? 0];
  };
  return issues
    .map((issue, index) => ({ issue, index, key: rank(issue) }))
    .sort(
      (a, b) =>
        a.key[0] - b.key[0] ||
        (a.key[1] < b.key[1] ? -1 : a.key[1] > b.key[1] ? 1 : 0) ||
        a.key[2] - b.key[2] ||
        a.index - b.index,
    )
    .map((entry) => entry.issue);
}
