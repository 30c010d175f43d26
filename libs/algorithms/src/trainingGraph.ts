import type { StageRegistry } from '@rxrl/pipeline';
import { objectiveNeedsReference } from '@rxrl/loss';
import type { DpoConfig } from './dpo/runDpo';
import type { GkdConfig } from './gkd/runGkd';
import type { GrpoConfig } from './grpo/grpoConfig';
import { grpoGraphSpec, validateGrpoGraph } from './grpo/grpoGraph';
import { dpoLossOptionsOf } from './dpo/dpoOptions';
import { validateDpoGraph } from './dpo/pairColumns';
import type { PolicyOptions } from './shared/policyOptions';
import type { SftConfig } from './sft/runSft';

/** One node of a resolved training graph: its name and its options with every default filled. */
export interface ResolvedNode {
  /** a registered stage (`rollout.generate`) or a trainer node (`loss.clipped_pg`, `optimizer.step`) */
  node: string;
  /** `stage`: a graph stage, subscribed once per run; `trainer`: run by the algorithm's trainer */
  kind: 'stage' | 'trainer';
  options: Record<string, unknown>;
}

/** The resolved training graph of a recipe, in the order a batch meets the nodes. */
export interface ResolvedTrainingGraph {
  algorithm: 'sft' | 'dpo' | 'grpo' | 'gkd';
  nodes: ResolvedNode[];
}

/** The optimizer step as the policy section resolves it. */
function optimizerNode(policy: PolicyOptions): ResolvedNode {
  return {
    node: 'optimizer.step',
    kind: 'trainer',
    options: {
      optimizer: policy.optimizer,
      scheduler: policy.scheduler,
      max_grad_norm: policy.max_grad_norm,
      train_global_batch_size: policy.train_global_batch_size,
      train_micro_batch_size: policy.train_micro_batch_size,
    },
  };
}

/**
 * What `rxrl config --graph` prints for a GRPO recipe: its per-batch stages (the
 * validated graph: node options over the recipe's keys, schema defaults filled),
 * then the loss and the optimizer step as the trainer runs them.
 */
export function grpoTrainingGraph(
  config: GrpoConfig,
  registry: StageRegistry,
): ResolvedTrainingGraph {
  const c = config;
  const stages = validateGrpoGraph(grpoGraphSpec(c), { registry }).map((n): ResolvedNode => ({
    node: n.name,
    kind: 'stage',
    options: n.options as Record<string, unknown>,
  }));
  return {
    algorithm: 'grpo',
    nodes: [
      ...stages,
      { node: 'loss.clipped_pg', kind: 'trainer', options: { ...c.loss_fn } },
      optimizerNode(c.policy),
    ],
  };
}

/** An SFT recipe's batches: data → tokenise / pack → the loss (`sft.loss_type`) → the optimizer step. */
export function sftTrainingGraph(config: SftConfig): ResolvedTrainingGraph {
  const c = config;
  return {
    algorithm: 'sft',
    nodes: [
      {
        node: 'data.tokenize',
        kind: 'trainer',
        options: { ...c.data, max_total_sequence_length: c.policy.max_total_sequence_length },
      },
      { node: `loss.${c.sft.loss_type}`, kind: 'trainer', options: {} },
      optimizerNode(c.policy),
    ],
  };
}

/**
 * A DPO recipe's batches: data → tokenise → the recipe's `graph:` stages over the pairs
 * (bonus and margin columns, made once) → π_ref's log-probs (when the objective needs
 * them) → the loss (`loss.dpo` with the dpo keys, or the named `dpo.objective`) → the
 * optimizer step. The graph's stages are looked up in `registry` (needed with a graph).
 */
export function dpoTrainingGraph(
  config: DpoConfig,
  registry?: StageRegistry,
): ResolvedTrainingGraph {
  const c = config;
  const objective = c.dpo.objective;
  const needsReference =
    objective === null ? !c.dpo.reference_free : objectiveNeedsReference(objective);
  return {
    algorithm: 'dpo',
    nodes: [
      {
        node: 'data.tokenize',
        kind: 'trainer',
        options: { ...c.data, max_total_sequence_length: c.policy.max_total_sequence_length },
      },
      ...(c.graph && c.graph.length > 0 && registry
        ? validateDpoGraph(c.graph, { registry }).map((n): ResolvedNode => ({
            node: n.name,
            kind: 'stage',
            options: n.options as Record<string, unknown>,
          }))
        : []),
      ...(needsReference
        ? [{ node: 'policy.reference_logprobs', kind: 'trainer' as const, options: {} }]
        : []),
      objective === null
        ? { node: 'loss.dpo', kind: 'trainer', options: dpoLossOptionsOf(c.dpo) }
        : { node: `loss.${objective.name}`, kind: 'trainer', options: { ...objective } },
      optimizerNode(c.policy),
    ],
  };
}

/**
 * A GKD recipe's batches: data → tokenise → [the student's own samples, with
 * probability `lmbda`, or the teacher's with `seq_kd`] → the teacher's
 * next-token distributions → the generalised JSD (`loss.gkd`) → the optimizer step.
 */
export function gkdTrainingGraph(config: GkdConfig): ResolvedTrainingGraph {
  const g = config.gkd;
  return {
    algorithm: 'gkd',
    nodes: [
      {
        node: 'data.tokenize',
        kind: 'trainer',
        options: {
          ...config.data,
          max_total_sequence_length: config.policy.max_total_sequence_length,
        },
      },
      {
        node: 'gkd.sample_completions',
        kind: 'trainer',
        options: {
          lmbda: g.lmbda,
          seq_kd: g.seq_kd,
          temperature: g.temperature,
          max_new_tokens: g.max_new_tokens,
        },
      },
      { node: 'gkd.teacher_logits', kind: 'trainer', options: { ...g.teacher } },
      { node: 'loss.gkd', kind: 'trainer', options: { beta: g.beta, temperature: g.temperature } },
      optimizerNode(config.policy),
    ],
  };
}
