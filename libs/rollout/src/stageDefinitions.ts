import {
  COLUMNS,
  defineStage,
  requireService,
  type MetricEvent,
  type StageContext,
  type StageDefinition,
  type Tokenizer,
} from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import type { GenerateExtras, GeneratedSample } from './generate';
import { generateOptionsSchema, type GenerateOptionsInput } from './generateOptions';
import { generateStage } from './generateStage';
import { remoteOptionsSchema } from './remote/remoteOptions';
import { remoteStage } from './remote/remoteStage';

/** Columns both rollout stages add to each generated row. */
const ROLLOUT_COLUMNS = [
  COLUMNS.groupId,
  COLUMNS.completionTokens,
  COLUMNS.completionText,
  COLUMNS.genLogprobs,
  COLUMNS.finishReason,
];

/**
 * The optional `generator` service of `rollout.generate`: generation somewhere
 * else than this thread (the GRPO trainer's generation worker), from the
 * weights it was last sent.
 */
export interface GeneratorService {
  generate(
    prompts: readonly ArrayLike<number>[],
    options: GenerateOptionsInput,
    extras?: GenerateExtras,
  ): Promise<GeneratedSample[]>;
}

const metricsTo = (context: StageContext) => (e: MetricEvent) =>
  context.emit({ [e.name]: e.value });

/**
 * `rollout.generate`: `num_generations_per_prompt` completions per prompt from the
 * `policy` service (KV cache, temperature / top-k / top-p), decoded with the
 * `tokenizer` service. Built once per run: batches tagged with their step draw
 * step-seeded samples (see {@link generateStage}).
 */
export const rolloutGenerateStage = defineStage({
  name: 'rollout.generate',
  description:
    'num_generations_per_prompt completions per prompt from the policy (KV cache, temperature/top-k/top-p)',
  schema: generateOptionsSchema,
  requires: [COLUMNS.promptTokens],
  produces: ROLLOUT_COLUMNS,
  create(options, context) {
    const generator = context.services['generator'] as GeneratorService | undefined;
    return generateStage(options, {
      model: requireService<CausalLM>(context, 'policy', 'rollout.generate'),
      tokenizer: requireService<Tokenizer>(context, 'tokenizer', 'rollout.generate'),
      onMetric: metricsTo(context),
      ...(generator
        ? {
            generate: (_m, _t, prompts, o, extras) => generator.generate(prompts, o ?? {}, extras),
          }
        : {}),
    });
  },
});

/**
 * `rollout.remote`: the same columns from an OpenAI-compatible server (rxrl serve,
 * vLLM, SGLang); the `tokenizer` service is used only to re-tokenise completions.
 */
export const rolloutRemoteStage = defineStage({
  name: 'rollout.remote',
  description: 'rollout.generate backed by an OpenAI-compatible /v1/completions server',
  schema: remoteOptionsSchema,
  requires: [COLUMNS.promptTokens],
  produces: ROLLOUT_COLUMNS,
  create(options, context) {
    const tokenizer = context.services['tokenizer'] as Tokenizer | undefined;
    return remoteStage(options, {
      ...(tokenizer ? { tokenizer } : {}),
      onMetric: metricsTo(context),
    });
  },
});

/** The stages of @rxrl/rollout, for a stage registry. */
export function rolloutStageDefinitions(): StageDefinition[] {
  return [rolloutGenerateStage, rolloutRemoteStage];
}
