import { map } from 'rxjs';
import { z } from 'zod';
import { defineStage } from '@rxrl/core/base';
import { LrScheduleSchema, OptimizerConfigSchema } from '@rxrl/optimizer';
import type { GraphSpec } from '@rxrl/pipeline';
import { trainingServices } from './trainingServices';

/** Options of `optimizer.step` (NeMo RL's `policy` keys fill them in a recipe; the node's own win). */
export const optimizerStepOptionsSchema = z.strictObject({
  /** torch-style optimizer the run builds once, before a checkpoint loads: `{ name: torch.optim.AdamW, kwargs: { lr, ... } }` */
  optimizer: OptimizerConfigSchema.default({
    name: 'torch.optim.AdamW',
    kwargs: { lr: 1e-4, weight_decay: 0.01 },
  }),
  /** learning-rate schedule of that optimizer */
  scheduler: LrScheduleSchema.default({ name: 'constant' }),
  /** global gradient-norm clip; null: none (the norm is still reported) */
  max_grad_norm: z.number().positive().nullable().default(1.0),
  /** every this many updates also report each layer group's gradient norm (`grad_norm/<layer>`); 0: never */
  grad_norm_per_layer_every: z.int().nonnegative().default(0),
});
export type OptimizerStepOptions = z.output<typeof optimizerStepOptionsSchema>;

/**
 * `optimizer.step`: one update with the gradients the graph's loss node summed
 * over the batch's micro-batches (the `update` service): one global-norm clip,
 * one optimizer step, then nothing is pending. Emits `grad_norm` (before
 * clipping) and `lr`. A NaN/Inf loss or gradient norm errors the stream with a
 * NonFiniteError naming where it started; weights and optimizer state stay as
 * they were. The batch passes through unchanged.
 */
export const optimizerStepStage = defineStage({
  name: 'optimizer.step',
  description: "one clipped optimizer update with the gradients the graph's loss node summed",
  schema: optimizerStepOptionsSchema,
  requires: [],
  produces: [],
  create(options, context) {
    const s = trainingServices(context, 'optimizer.step');
    return map((batch) => {
      const losses = new Set(Object.keys(s.update.lossMetrics));
      const m = s.update.apply({
        model: s.policy,
        optimizer: s.optimizer,
        maxGradNorm: options.max_grad_norm,
        gradNormPerLayerEvery: options.grad_norm_per_layer_every,
      });
      // the loss node reported its own metrics
      context.emit(Object.fromEntries(Object.entries(m).filter(([k]) => !losses.has(k))));
      return batch;
    });
  },
});

/**
 * The `optimizer.step` node's options of a resolved graph, parsed: what a run
 * builds its optimizer from (before a checkpoint loads), the one source of them.
 */
export function optimizerStepOptionsOf(spec: GraphSpec): OptimizerStepOptions {
  const node = spec.find((n) => n.stage === optimizerStepStage.name);
  return optimizerStepOptionsSchema.parse(node && 'options' in node ? node.options : {});
}
