import { COLUMNS } from '@rxrl/core/base';
import type { GraphSpec, StageRegistry } from '@rxrl/pipeline';
import { datasetShape } from './shared/datasetSchema';
import type { DpoConfig } from './dpo/runDpo';
import { gkdRecipeGraphSpec } from './gkd/gkdTrainer';
import type { GkdConfig } from './gkd/runGkd';
import type { GrpoConfig } from './grpo/grpoConfig';
import { grpoGraphSpec, validateGrpoGraph } from './grpo/grpoGraph';
import { dpoGraphSpec } from './dpo/dpoGraph';
import { sftGraphSpec } from './sft/sftGraph';
import { validateStepGraph } from './shared/stepGraph';
import type { SftConfig } from './sft/runSft';

/** One node of a resolved training graph: its name and its options with every default filled. */
export interface ResolvedNode {
  /** a registered stage (`rollout.generate`, `loss.clipped_pg`, `optimizer.step`), the data source or a service */
  node: string;
  /**
   * `source`: how the data source makes the batches; `service`: a model the stages
   * use (GKD's teacher); `stage`: a registered graph stage, subscribed once per run
   */
  kind: 'source' | 'service' | 'stage';
  options: Record<string, unknown>;
}

/** The resolved training graph of a recipe, in the order a batch meets the nodes. */
export interface ResolvedTrainingGraph {
  algorithm: 'sft' | 'dpo' | 'grpo' | 'gkd';
  nodes: ResolvedNode[];
}

/**
 * What `rxrl config --graph` prints for a GRPO recipe: its one graph (`grpoGraphSpec`),
 * validated: the stages each prompt batch goes through (generation, reward,
 * advantages, filters), then the policy update's (`loss.clipped_pg` →
 * `optimizer.step`), node options over the recipe's keys and schema defaults filled.
 */
export function grpoTrainingGraph(
  config: GrpoConfig,
  registry: StageRegistry,
): ResolvedTrainingGraph {
  return {
    algorithm: 'grpo',
    nodes: validateGrpoGraph(grpoGraphSpec(config), { registry }).map((n) => ({
      node: n.name,
      kind: 'stage',
      options: n.options as Record<string, unknown>,
    })),
  };
}

/**
 * The source of an SFT, DPO or GKD graph: the dataset's raw rows (the `data` keys that
 * pick them), in epochs of `train_global_batch_size` rows; the rows the length limit
 * drops are left out of the epochs, so every batch is full.
 */
function rowsNode(data: Record<string, unknown>, batchSize: number): ResolvedNode {
  const options: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) if (k in datasetShape) options[k] = v;
  return { node: 'data.rows', kind: 'source', options: { ...options, batch_size: batchSize } };
}

/**
 * An SFT, DPO or GKD recipe's graph: the source's batches of raw rows, then the
 * per-step stages of `spec` (`sftGraphSpec` / `dpoGraphSpec` / `gkdRecipeGraphSpec`: `data.tokenize`, π_ref's
 * log-probs when the objective reads them, the loss node, `optimizer.step`) with
 * their options as the registry's schemas resolve them.
 */
function stepTrainingGraph(
  algorithm: 'sft' | 'dpo' | 'gkd',
  config: SftConfig | DpoConfig | GkdConfig,
  spec: GraphSpec,
  registry: StageRegistry,
): ResolvedTrainingGraph {
  return {
    algorithm,
    nodes: [
      rowsNode(config.data, config.policy.train_global_batch_size),
      ...validateStepGraph(spec, { registry, sourceColumns: [COLUMNS.promptId] }).map(
        (n): ResolvedNode => ({
          node: n.name,
          kind: 'stage',
          options: n.options as Record<string, unknown>,
        }),
      ),
    ],
  };
}

/** What `rxrl config --graph` prints for an SFT recipe (see `stepTrainingGraph`). */
export function sftTrainingGraph(
  config: SftConfig,
  registry: StageRegistry,
): ResolvedTrainingGraph {
  return stepTrainingGraph('sft', config, sftGraphSpec(config), registry);
}

/** What `rxrl config --graph` prints for a DPO recipe (see `stepTrainingGraph`). */
export function dpoTrainingGraph(
  config: DpoConfig,
  registry: StageRegistry,
): ResolvedTrainingGraph {
  return stepTrainingGraph('dpo', config, dpoGraphSpec(config), registry);
}

/**
 * A GKD recipe's graph: the source's batches of raw rows, the teacher the stages
 * score with, then the per-step stages (`gkdRecipeGraphSpec`: `data.tokenize`, the student's or the
 * teacher's samples with probability `lmbda` / `seq_kd`, the generalised JSD
 * `loss.gkd`, `optimizer.step`) with their options as the registry's schemas resolve them.
 */
export function gkdTrainingGraph(
  config: GkdConfig,
  registry: StageRegistry,
): ResolvedTrainingGraph {
  const graph = stepTrainingGraph('gkd', config, gkdRecipeGraphSpec(config), registry);
  const [source, ...stages] = graph.nodes;
  return {
    ...graph,
    nodes: [
      source!,
      { node: 'gkd.teacher', kind: 'service', options: { ...config.gkd.teacher } },
      ...stages,
    ],
  };
}
