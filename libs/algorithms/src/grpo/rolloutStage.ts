import { concatMap, lastValueFrom, of } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import { COLUMNS, type Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { defineStage, requireService, stageRegistry, type StageRegistry } from '@rxrl/pipeline';
import { generateOptionsSchema, generateStage } from '@rxrl/rollout';

/** Schema metadata key holding the training step of a prompt batch (set by the GRPO trainer). */
export const STEP_METADATA_KEY = 'rxrl.step';

/** The step a batch belongs to, from its schema metadata (0 when absent). */
export function batchStep(batch: RecordBatch): number {
  const raw = batch.schema.metadata.get(STEP_METADATA_KEY);
  return raw === undefined ? 0 : Number(raw);
}

/**
 * `rollout.generate` for a training graph: @rxrl/rollout's local generation over
 * the `policy` and `tokenizer` services, with the sampling seed mixed with the
 * batch's step, so every step draws fresh samples while a resumed run draws the
 * same ones as an uninterrupted run.
 */
export const rolloutGenerateStage = defineStage({
  name: 'rollout.generate',
  description:
    'num_generations_per_prompt completions per prompt from the policy (KV cache, temperature/top-k/top-p)',
  schema: generateOptionsSchema,
  requires: [COLUMNS.promptTokens],
  produces: [
    COLUMNS.groupId,
    COLUMNS.completionTokens,
    COLUMNS.completionText,
    COLUMNS.genLogprobs,
    COLUMNS.finishReason,
  ],
  create(options, context) {
    const model = requireService<CausalLM>(context, 'policy', 'rollout.generate');
    const tokenizer = requireService<Tokenizer>(context, 'tokenizer', 'rollout.generate');
    return concatMap((batch: RecordBatch) => {
      const seed = (options.seed * 1_000_003 + batchStep(batch) * 7_919) % 2_147_483_647;
      const stage = generateStage(
        { ...options, seed },
        { model, tokenizer, onMetric: (e) => context.emit({ [e.name]: e.value }) },
      );
      return lastValueFrom(of(batch).pipe(stage));
    });
  },
});

/** Registers the model-owning stages of the algorithms layer (`rollout.generate`) unless already there. */
export function registerAlgorithmStages(registry: StageRegistry = stageRegistry): void {
  if (!registry.has(rolloutGenerateStage.name)) registry.register(rolloutGenerateStage);
}
