import type { z } from 'zod';
import type { Stage } from './stage';

/**
 * What a stage factory gets besides its options: shared services a run owns
 * (the policy, the tokenizer, an Rng) and a channel for per-batch metrics.
 */
export interface StageContext {
  /** services by name (`policy`, `tokenizer`, `rng`, ...), provided by the algorithm that builds the graph */
  services: Record<string, unknown>;
  /**
   * receives a stage's per-batch metrics; names without a `train/`, `validation/`, `timing/`
   * or `performance/` prefix get `train/` or `validation/` from the graph's owner
   */
  emit(metrics: Record<string, number>): void;
}

/**
 * Column names a stage reads or writes; may depend on its validated options (e.g. `reward/<name>`).
 * The function is declared as a method so a definition typed by its schema is a
 * `StageDefinition` as the registry holds it, with no cast: the registry only ever
 * calls it with options that schema produced.
 */
export type ColumnSpec<O> =
  readonly string[] | { columns(options: O): readonly string[] }['columns'];

/**
 * A stage addressable by a dotted name from a YAML `graph:` or from code. The
 * schema validates options before anything runs; `requires`/`produces` let the
 * graph check that every column a stage reads is made by the source or an earlier stage.
 */
export interface StageDefinition<S extends z.ZodType = z.ZodType> {
  /** dotted name, e.g. `reward.math`, `grouping.advantages` */
  name: string;
  /** one line for listings and error hints */
  description: string;
  /** the options; defaults live here */
  schema: S;
  /** columns read from incoming batches */
  requires: ColumnSpec<z.output<S>>;
  /** columns added to outgoing batches */
  produces: ColumnSpec<z.output<S>>;
  /** builds the operator from validated options (a method, for the reason given at {@link ColumnSpec}) */
  create(options: z.output<S>, context: StageContext): Stage;
}

/** Typed helper for declaring a definition (infers the option type from the schema). */
export function defineStage<S extends z.ZodType>(
  definition: StageDefinition<S>,
): StageDefinition<S> {
  return definition;
}

/** The columns of a spec for given options. */
export function resolveColumns<O>(spec: ColumnSpec<O>, options: O): string[] {
  return [...(typeof spec === 'function' ? spec(options) : spec)];
}

/** A context with no services whose metrics go nowhere, or to `emit`. */
export function emptyContext(
  emit: (metrics: Record<string, number>) => void = () => {},
): StageContext {
  return { services: {}, emit };
}

/** A service from the context, or an error naming the stage and the missing service. */
export function requireService<T>(context: StageContext, name: string, stage: string): T {
  const value = context.services[name];
  if (value === undefined) {
    throw new Error(
      `stage ${stage} needs the service '${name}', which the graph's context does not provide`,
    );
  }
  return value as T;
}
