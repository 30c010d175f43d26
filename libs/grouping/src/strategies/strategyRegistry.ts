import { z } from 'zod';
import { RxrlConfigError, RxrlUsageError } from '@rxrl/core/base';
import { unitRows } from './embeddings';
import { checkBounds, fitGroupSizes, relabelGroups } from './fitGroupSizes';
import type { GroupingContext, GroupingInput, GroupingStrategy } from './groupingInput';

/** A registered strategy: the function, its options schema, and what inputs it reads. */
export interface GroupingStrategyEntry {
  name: string;
  fn: GroupingStrategy;
  schema: z.ZodType;
  /** Whether this strategy, with these (parsed) options at this step, reads embeddings. */
  needsEmbeddings: (options: any, ctx: Pick<GroupingContext, 'step' | 'totalSteps'>) => boolean;
}

/** Extra facts about a strategy given at registration. */
export interface RegisterOptions {
  /** `true` when the strategy reads `samples.embeddings` (the stage then calls the embedder), or a function of options and progress. */
  needsEmbeddings?: boolean | GroupingStrategyEntry['needsEmbeddings'];
}

const registry = new Map<string, GroupingStrategyEntry>();

/**
 * Registers a grouping strategy under `name` (letters, digits, `_`), so a recipe can
 * say `strategy: <name>`. `schema` validates and defaults its options (an empty
 * object schema when omitted). Registering a taken name is an error.
 */
export function registerGroupingStrategy<S extends z.ZodType = z.ZodObject>(
  name: string,
  fn: GroupingStrategy<z.infer<S>>,
  schema?: S,
  options: RegisterOptions = {},
): GroupingStrategyEntry {
  if (!/^[A-Za-z]\w*$/.test(name)) {
    throw new RxrlUsageError(`grouping strategy name '${name}' must be letters, digits and _`);
  }
  if (registry.has(name)) {
    throw new RxrlUsageError(`grouping strategy '${name}' is already registered`);
  }
  const needs = options.needsEmbeddings ?? false;
  const entry: GroupingStrategyEntry = {
    name,
    fn,
    schema: schema ?? z.strictObject({}),
    needsEmbeddings: typeof needs === 'function' ? needs : () => needs,
  };
  registry.set(name, entry);
  return entry;
}

/** Removes a registered strategy (for tests and hot reload); returns whether it existed. */
export function unregisterGroupingStrategy(name: string): boolean {
  return registry.delete(name);
}

/** Names of all registered strategies, sorted. */
export function listGroupingStrategies(): string[] {
  return [...registry.keys()].sort();
}

/** The strategy registered as `name`; an unknown name is an error that suggests the closest one. */
export function getGroupingStrategy(name: string): GroupingStrategyEntry {
  const entry = registry.get(name);
  if (entry) return entry;
  const names = listGroupingStrategies();
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const n of names) {
    const d = editDistance(name.toLowerCase(), n.toLowerCase());
    if (d < bestD) [best, bestD] = [n, d];
  }
  const hint =
    best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3))
      ? ` Did you mean '${best}'?`
      : '';
  throw new RxrlConfigError(
    `unknown grouping strategy '${name}'.${hint} Registered: ${names.join(', ')}`,
  );
}

/** Levenshtein distance (insert, delete, substitute each cost 1). */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        prev[j]! + 1,
        cur[j - 1]! + 1,
        prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Parses a strategy's options with its schema; an error names the strategy and the key. */
export function parseStrategyOptions(entry: GroupingStrategyEntry, options: unknown): any {
  const parsed = entry.schema.safeParse(options ?? {});
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${['options', ...i.path].join('.')}: ${i.message}`)
      .join('; ');
    throw new RxrlConfigError(`grouping strategy '${entry.name}': ${detail}`);
  }
  return parsed.data;
}

/** How {@link formGroups} is asked: which strategy, its options, and the size bounds. */
export interface FormGroupsRequest {
  /** Registered strategy name. */
  strategy: string;
  /** Options for that strategy (validated by its schema). */
  options?: unknown;
  /** Smallest allowed group. */
  min_group_size?: number;
  /** Largest allowed group (no limit when omitted). */
  max_group_size?: number;
}

/**
 * Runs a registered strategy and returns group ids 0..G-1 (in order of first
 * appearance) whose sizes lie within the bounds whenever any grouping can meet them.
 * With embeddings, samples moved to meet the bounds go to the most similar group.
 * `ctx.bounds` is filled from the request.
 */
export function formGroups(
  samples: GroupingInput,
  request: FormGroupsRequest,
  ctx: Omit<GroupingContext, 'bounds'>,
): Int32Array {
  const entry = getGroupingStrategy(request.strategy);
  const options = parseStrategyOptions(entry, request.options);
  const bounds = checkBounds(request.min_group_size ?? 1, request.max_group_size);
  const n = samples.promptIds.length;
  if (samples.rewards.length !== n) {
    throw new RxrlUsageError(
      `grouping input has ${n} prompt ids but ${samples.rewards.length} rewards`,
    );
  }
  if (samples.embeddings && samples.embeddings.length !== n) {
    throw new RxrlUsageError(
      `grouping input has ${n} samples but ${samples.embeddings.length} embeddings`,
    );
  }
  const ids = entry.fn(samples, options, { ...ctx, bounds });
  if (!(ids instanceof Int32Array) || ids.length !== n) {
    throw new RxrlUsageError(
      `grouping strategy '${entry.name}' must return an Int32Array of ${n} group ids, got ${ids?.constructor?.name ?? typeof ids} of length ${ids?.length}`,
    );
  }
  for (let i = 0; i < n; i++) {
    if (ids[i]! < 0) {
      throw new RxrlUsageError(
        `grouping strategy '${entry.name}' gave sample ${i} group id ${ids[i]}; ids must be >= 0`,
      );
    }
  }
  const rows = samples.embeddings ? unitRows(samples, 'fitGroupSizes') : undefined;
  return fitGroupSizes(relabelGroups(ids), bounds, rows);
}
