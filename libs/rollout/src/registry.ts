import type { z } from 'zod';
import type { Stage } from '@rxrl/core/base';
import { generateOptionsSchema } from './generateOptions';
import { generateStage, type GenerateStageContext } from './generateStage';
import { remoteOptionsSchema } from './remote/remoteOptions';
import { remoteStage } from './remote/remoteStage';

/** A stage registry entry: the pipeline validates YAML options with `schema`, then calls `create` with the model and tokenizer. */
export interface RolloutStageEntry<S extends z.ZodType = z.ZodType> {
  name: string;
  schema: S;
  create(options: z.input<S>, context: GenerateStageContext): Stage;
}

/** Rollout stages by dotted name, each with its zod schema. */
export const rolloutStages = {
  'rollout.generate': {
    name: 'rollout.generate',
    schema: generateOptionsSchema,
    create: generateStage,
  } satisfies RolloutStageEntry<typeof generateOptionsSchema>,
  // Same output columns as rollout.generate, from any OpenAI-compatible server;
  // it needs only the tokenizer (for re-tokenising) from the shared context.
  'rollout.remote': {
    name: 'rollout.remote',
    schema: remoteOptionsSchema,
    create: (options, context) =>
      remoteStage(options, { tokenizer: context.tokenizer, onMetric: context.onMetric }),
  } satisfies RolloutStageEntry<typeof remoteOptionsSchema>,
};
export type RolloutStageName = keyof typeof rolloutStages;
