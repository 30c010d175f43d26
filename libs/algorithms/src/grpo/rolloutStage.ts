import { concatMap, lastValueFrom, of } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import { COLUMNS, type Tokenizer } from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { defineStage, requireService, stageRegistry, type StageRegistry } from '@rxrl/pipeline';
import {
  generateOptionsSchema,
  generateStage,
  type GenerateExtras,
  type GenerateOptionsInput,
  type GeneratedSample,
} from '@rxrl/rollout';

/** The `generator` service `rollout.generate` uses when the graph's context has one. */
export interface GeneratorService {
  generate(
    prompts: readonly ArrayLike<number>[],
    options: GenerateOptionsInput,
    extras?: GenerateExtras,
  ): Promise<GeneratedSample[]>;
}

/** Schema metadata key holding the training step of a prompt batch (set by the GRPO trainer). */
export const STEP_METADATA_KEY = 'rxrl.step';

/**
 * Schema metadata key holding which generation batch of its step a batch is (0 for
 * the first; dynamic sampling's refill batches count up from 1).
 */
export const ROUND_METADATA_KEY = 'rxrl.generation_round';

function metadataNumber(batch: RecordBatch, key: string): number {
  const raw = batch.schema.metadata.get(key);
  return raw === undefined ? 0 : Number(raw);
}

/** The step a batch belongs to, from its schema metadata (0 when absent). */
export function batchStep(batch: RecordBatch): number {
  return metadataNumber(batch, STEP_METADATA_KEY);
}

/**
 * `rollout.generate` for a training graph: @rxrl/rollout's local generation over
 * the `policy` and `tokenizer` services, with the sampling seed mixed with the
 * batch's step and generation round, so every step (and every refill batch of a
 * step) draws fresh samples while a resumed run draws the same ones as an
 * uninterrupted run.
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
      // samples are keyed by group within a batch: without the round, a step's refill
      // batches would reuse the first batch's random streams row for row
      const round = metadataNumber(batch, ROUND_METADATA_KEY);
      const seed =
        (options.seed * 1_000_003 + batchStep(batch) * 7_919 + round * 104_729) % 2_147_483_647;
      // an optional `generator` service (a WorkerGenerator) generates instead of this thread
      const generator = context.services['generator'] as GeneratorService | undefined;
      const stage = generateStage(
        { ...options, seed },
        {
          model,
          tokenizer,
          onMetric: (e) => context.emit({ [e.name]: e.value }),
          ...(generator
            ? {
                generate: (_m, _t, prompts, o, extras) =>
                  generator.generate(prompts, o ?? {}, extras),
              }
            : {}),
        },
      );
      return lastValueFrom(of(batch).pipe(stage));
    });
  },
});

/** Registers the model-owning stages of the algorithms layer (`rollout.generate`) unless already there. */
export function registerAlgorithmStages(registry: StageRegistry = stageRegistry): void {
  if (!registry.has(rolloutGenerateStage.name)) registry.register(rolloutGenerateStage);
}
