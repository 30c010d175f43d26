import { z } from 'zod';
import {
  ConfigValidationError,
  defineSections,
  getAt,
  sourceAt,
  type ConfigIssue,
  type KeyPath,
  type LoadedConfig,
} from '@rxrl/config';
import {
  resolveColumns,
  type ColumnSpec,
  type Stage,
  type StageContext,
  type StageDefinition,
} from '@rxrl/core/base';
import type { StageRegistry } from './stageRegistry';

/** One node of a graph as a recipe writes it: `{ stage: reward.math, options: { ... } }`. */
export const graphNodeSchema = z.strictObject({
  /** registered dotted stage name */
  stage: z.string().min(1),
  /** the stage's options, validated by its own schema */
  options: z.record(z.string(), z.unknown()).default({}),
});

/** The `graph:` section of a recipe: stages in the order batches flow through them. */
export const graphSchema = z.array(graphNodeSchema);

/** A graph as data: the YAML `graph:` section or the same built in code. */
export type GraphSpec = z.input<typeof graphSchema>;

/** A node after validation: its definition, parsed options and resolved columns. */
export interface ValidatedNode {
  name: string;
  definition: StageDefinition;
  options: unknown;
  requires: string[];
  produces: string[];
}

export interface ValidateGraphOptions {
  /** where stage names are looked up */
  registry: StageRegistry;
  /** columns the batches entering the graph already have */
  sourceColumns?: readonly string[];
  /** the recipe the spec came from, so errors carry `file:line` */
  loaded?: LoadedConfig;
  /** key path of the graph in the recipe; default `['graph']` */
  keyPath?: KeyPath;
  /** the recipe index of the spec's first node (a part of a longer graph); default 0 */
  firstIndex?: number;
}

/**
 * Checks a whole graph before anything runs and reports every problem at once as
 * one {@link ConfigValidationError} (an RxrlConfigError): unknown stage names (with
 * a "did you mean"), options their schema rejects (key path `graph.2.options.temperature`),
 * and columns a stage requires that neither the source nor an earlier stage produces.
 */
export function validateGraph(spec: GraphSpec, options: ValidateGraphOptions): ValidatedNode[] {
  const registry = options.registry;
  const base = options.keyPath ?? ['graph'];
  const issues: ConfigIssue[] = [];
  const at = (keyPath: KeyPath) =>
    options.loaded ? sourceAt(options.loaded.sources, keyPath) : undefined;
  const available = new Set(options.sourceColumns ?? []);
  const nodes: ValidatedNode[] = [];

  if (!Array.isArray(spec)) {
    throw new ConfigValidationError([
      {
        keyPath: base,
        source: at(base),
        problem: 'expected a list of { stage, options }',
        value: spec,
        present: spec !== undefined,
      },
    ]);
  }
  spec.forEach((raw, i) => {
    const nodePath = [...base, i + (options.firstIndex ?? 0)];
    const node = graphNodeSchema.safeParse(raw);
    if (!node.success) {
      issues.push({
        keyPath: nodePath,
        source: at(nodePath),
        problem: 'expected { stage: <name>, options: { ... } }',
        value: raw,
        present: true,
      });
      return;
    }
    const { stage, options: rawOptions } = node.data;
    const definition = registry.find(stage);
    if (!definition) {
      const hint = registry.hint(stage).replace(/^; /, '');
      issues.push({
        keyPath: [...nodePath, 'stage'],
        source: at([...nodePath, 'stage']),
        problem: 'unknown stage',
        value: stage,
        present: true,
        ...(hint ? { hint } : {}),
      });
      return;
    }
    let parsed: unknown;
    try {
      parsed = (
        defineSections({ options: definition.schema }).validate({ options: rawOptions }) as {
          options: unknown;
        }
      ).options;
    } catch (err) {
      if (!(err instanceof ConfigValidationError)) throw err;
      for (const issue of err.issues) {
        const keyPath = [...nodePath, ...issue.keyPath];
        issues.push({ ...issue, keyPath, source: at(keyPath) });
      }
    }
    // with bad options, still check the columns that do not depend on options, so one run shows every problem
    const columns = (spec: ColumnSpec<unknown>) =>
      parsed !== undefined
        ? resolveColumns(spec, parsed)
        : typeof spec === 'function'
          ? []
          : [...spec];
    const requires = columns(definition.requires);
    const produces = columns(definition.produces);
    for (const column of requires) {
      if (available.has(column)) continue;
      const makers = registry.producersOf(column);
      issues.push({
        keyPath: [...nodePath, 'stage'],
        source: at([...nodePath, 'stage']),
        problem: `requires column '${column}', which neither the source nor an earlier stage produces`,
        value: stage,
        present: true,
        ...(makers.length > 0
          ? { hint: `add a stage that produces it earlier (${makers.join(', ')})` }
          : {}),
      });
    }
    for (const column of produces) available.add(column);
    if (parsed === undefined) return;
    nodes.push({ name: stage, definition, options: parsed, requires, produces });
  });
  if (issues.length > 0) throw new ConfigValidationError(issues);
  return nodes;
}

/** Composes stages left to right into one stage (RxJS `pipe` over operators). */
export function pipe(...stages: Stage[]): Stage {
  return (source) => stages.reduce((stream, stage) => stage(stream), source);
}

/**
 * Validates a graph spec and builds it into one stage. Each node's factory gets its
 * parsed options and the shared `context`.
 */
export function buildGraph(
  spec: GraphSpec,
  context: StageContext,
  options: ValidateGraphOptions,
): Stage {
  const nodes = validateGraph(spec, options);
  return pipe(...nodes.map((n) => n.definition.create(n.options, context)));
}

/** The `graph` list of a loaded recipe, for {@link validateGraph}; undefined when the recipe has none. */
export function graphOf(loaded: LoadedConfig, keyPath: KeyPath = ['graph']): GraphSpec | undefined {
  return getAt(loaded.value, keyPath) as GraphSpec | undefined;
}
