import type { RecordBatch } from 'apache-arrow';
import {
  ConfigValidationError,
  type CrossSectionIssue,
  type KeyPath,
  type LoadedConfig,
} from '@rxrl/config';
import { withBatchMeta, type StageDefinition } from '@rxrl/core/base';
import {
  openGraphSession,
  pipe,
  validateGraph,
  type GraphSession,
  type GraphSpec,
  type StageRegistry,
  type ValidatedNode,
} from '@rxrl/pipeline';
import { builtinStageRegistry } from '../builtinStages';
import { PendingUpdate } from './accumulatedStep';
import { datasetShape } from './datasetSchema';
import type { TrainingServices } from './trainingServices';

/** Options a recipe's keys give built-in nodes, by stage name; a node's own options win. */
export type KeyDefaults = Record<string, Record<string, unknown>>;

/** `spec` with each node's options over the `defaults` of its stage (the one place recipe keys meet a graph). */
export function withKeyDefaults(spec: GraphSpec, defaults: KeyDefaults): GraphSpec {
  return spec.map((node) => ({
    stage: node.stage,
    options: { ...(defaults[node.stage] ?? {}), ...('options' in node ? node.options : {}) },
  }));
}

/**
 * `spec` starting at raw rows: as written when it names `data.tokenize`, else with
 * `data.tokenize` first (a recipe's `graph:` that lists only the training stages).
 */
export function withDataTokenize(spec: GraphSpec): GraphSpec {
  return spec.some((n) => n.stage === 'data.tokenize')
    ? spec
    : [{ stage: 'data.tokenize' }, ...spec];
}

/** What a recipe's `data` section gives `data.tokenize`: its format keys, without the dataset's. */
export function tokenizeKeys(
  data: Record<string, unknown>,
  maxLength: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (!(k in datasetShape)) out[k] = v;
  return { ...out, max_length: maxLength };
}

/**
 * `spec` with its loss node replaced by `stage` (an objective given in code), which
 * keeps the node's `micro_batch_size`.
 */
export function withLossNode(spec: GraphSpec, stage: string): GraphSpec {
  return spec.map((node) => {
    if (!node.stage.startsWith('loss.')) return node;
    const size = ('options' in node ? node.options : {})?.['micro_batch_size'];
    return { stage, options: size === undefined ? {} : { micro_batch_size: size } };
  });
}

/**
 * Validates the per-step graph of a training run (SFT, DPO): every node known and
 * its options valid, every column made before it is read, one `loss.*` node and
 * `optimizer.step` last (the loss node's gradients must reach an update), and
 * `data.tokenize`, where the graph has it, first.
 */
export function validateStepGraph(
  spec: GraphSpec,
  options: {
    registry: StageRegistry;
    sourceColumns: readonly string[];
    loaded?: LoadedConfig;
    keyPath?: KeyPath;
    /** the recipe index of the spec's first node (GRPO's update part); default 0 */
    firstIndex?: number;
  },
): ValidatedNode[] {
  const nodes = validateGraph(spec, options);
  const names = nodes.map((n) => n.name);
  const losses = names.filter((n) => n.startsWith('loss.'));
  const problem =
    losses.length !== 1
      ? `a training graph has one loss node (loss.*), this one has ${losses.length === 0 ? 'none' : losses.join(', ')}`
      : names.at(-1) !== 'optimizer.step' ||
          names.indexOf('optimizer.step') < names.indexOf(losses[0]!)
        ? 'a training graph ends with optimizer.step, after its loss node'
        : names.includes('data.tokenize') && names[0] !== 'data.tokenize'
          ? "data.tokenize reads the source's raw rows, so it is the graph's first node"
          : null;
  if (problem !== null)
    throw new ConfigValidationError([
      {
        keyPath: options.keyPath ?? ['graph'],
        source: undefined,
        problem,
        present: true,
        value: names,
      },
    ]);
  return nodes;
}

/**
 * The first nodes of a validation graph: the training graph's `nodes` before its loss
 * node (the data stages), each node's `micro_batch_size` set to `microBatchSize` (the
 * recipe's `val_micro_batch_size`); the caller appends the loss node that scores.
 */
export function nodesBeforeLoss(
  nodes: readonly ValidatedNode[],
  microBatchSize: number,
): ValidatedNode[] {
  const lossAt = nodes.findIndex((n) => n.name.startsWith('loss.'));
  return nodes
    .slice(0, lossAt < 0 ? nodes.length : lossAt)
    .map((n) => withMicroBatchSize(n, microBatchSize));
}

/** `node` with `micro_batch_size` set to `size` where its options have that key. */
export function withMicroBatchSize(node: ValidatedNode, size: number): ValidatedNode {
  const o = node.options as Record<string, unknown>;
  return 'micro_batch_size' in o ? { ...node, options: { ...o, micro_batch_size: size } } : node;
}

/** A node of stage `definition` with validated `options`, for a graph the trainer assembles. */
export function stageNode(definition: StageDefinition, options: unknown): ValidatedNode {
  return { name: definition.name, definition, options, requires: [], produces: [] };
}

/** The options of the graph's node `name` (validated, defaults filled), or undefined. */
export function nodeOptions<T>(nodes: readonly ValidatedNode[], name: string): T | undefined {
  return nodes.find((n) => n.name === name)?.options as T | undefined;
}

/**
 * A training run's per-step graph, built and subscribed once and fed one batch
 * per step (tagged with its step through batch metadata); `run` resolves with the
 * metrics the nodes emitted for that batch. A node's error (a non-finite update)
 * ends the subscription, as an RxJS error does: the next step subscribes the
 * graph again, so `policy.on_nonfinite: skip_step` goes on with the next batch.
 */
export class StepGraph {
  private session: GraphSession | null = null;
  private metrics: Record<string, number> = {};
  private readonly update = new PendingUpdate();

  constructor(
    private readonly nodes: readonly ValidatedNode[],
    private readonly services: Omit<TrainingServices, 'update'>,
    /** more services for the graph's stages (GKD's `teacher`) */
    private readonly extra: Record<string, unknown> = {},
  ) {}

  /** where the graph's updates spent their time so far (ms; {@link PendingUpdate.timings}) */
  get updateTimings(): Readonly<PendingUpdate['timings']> {
    return this.update.timings;
  }

  private open(): GraphSession {
    const context = {
      services: {
        ...this.extra,
        ...this.services,
        previous_metrics: this.services.previousMetrics,
        update: this.update,
      },
      emit: (m: Record<string, number>) => Object.assign(this.metrics, m),
    };
    return openGraphSession(
      pipe(...this.nodes.map((n) => n.definition.create(n.options, context))),
    );
  }

  /**
   * Runs the step's batch through the graph: the batch it came out as and the metrics
   * its nodes emitted (loss terms, `grad_norm`, `lr`, ...).
   */
  async run(
    batch: RecordBatch,
    step: number,
  ): Promise<{ out: RecordBatch; metrics: Record<string, number> }> {
    this.session ??= this.open();
    this.metrics = {};
    try {
      const out = await this.session.push(withBatchMeta(batch, { step, round: 0 }));
      return { out, metrics: this.metrics };
    } catch (err) {
      this.close();
      throw err;
    } finally {
      this.update.reset();
    }
  }

  /** Completes the graph's input. */
  close(): void {
    this.session?.close();
    this.session = null;
  }
}

/**
 * The cross-checks of an SFT or DPO recipe (its sections check), run once on the
 * graph `resolve` makes of it: every node valid against the built-in registry
 * (unknown stage, bad options, a column read before it is made, the loss and
 * optimizer nodes), and each node's `micro_batch_size` dividing
 * `policy.train_global_batch_size` where the recipe's `graph:` sets its own (the
 * policy section checks its key); then the algorithm's own checks of the valid graph (`more`).
 */
export function stepGraphCheck<
  C extends { graph: GraphSpec | null; policy: { train_global_batch_size: number } },
>(
  resolve: (config: C) => GraphSpec,
  sourceColumns: readonly string[],
  more: (config: C, nodes: readonly ValidatedNode[]) => CrossSectionIssue[] = () => [],
) {
  return (config: C): CrossSectionIssue[] => {
    const registry = builtinStageRegistry();
    const spec = resolve(config);
    // nodes the resolution put before the recipe's own `graph:` (data.tokenize), so issues name its indices
    const shift = config.graph ? spec.length - config.graph.length : 0;
    let nodes: ValidatedNode[];
    try {
      nodes = validateStepGraph(spec, { registry, sourceColumns, firstIndex: -shift });
    } catch (err) {
      if (!(err instanceof ConfigValidationError)) throw err;
      return err.issues.map((i) => ({
        path: [...i.keyPath],
        message: `${i.problem}${i.hint ? ` (${i.hint})` : ''}`,
      }));
    }
    const global = config.policy.train_global_batch_size;
    const issues: CrossSectionIssue[] = [];
    nodes.forEach((n, i) => {
      const node = config.graph?.[i - shift];
      const own = node && 'options' in node ? node.options?.['micro_batch_size'] : undefined;
      const size = (n.options as { micro_batch_size?: number }).micro_batch_size;
      if (own === undefined || size === undefined || global % size === 0) return;
      issues.push({
        path: ['graph', i - shift, 'options', 'micro_batch_size'],
        message: `must divide policy.train_global_batch_size (${global}), got ${size}`,
      });
    });
    return [...issues, ...more(config, nodes.slice(shift))];
  };
}
