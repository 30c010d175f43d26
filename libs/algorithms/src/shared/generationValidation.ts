import { lastValueFrom, of } from 'rxjs';
import { z } from 'zod';
import {
  COLUMNS,
  listVectorFromRows,
  makeRecordBatch,
  readFloat32Column,
  type Tokenizer,
} from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { pipe, validateGraph, type GraphSpec, type StageRegistry } from '@rxrl/pipeline';
import { correctRewardOf } from './verifierColumn';

/** A graph node naming the reward of a validation pass: `{ stage: reward.<name>, options }`. */
export const validationRewardSchema = z
  .strictObject({
    /** a registered reward stage (`reward.exact_match`, `reward.math`, `reward.composite`, ...) */
    stage: z.string().startsWith('reward.', 'must name a reward stage (reward.<name>)'),
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .default({ stage: 'reward.exact_match' });

/** Columns of the held-out prompt batch a generation validation starts from. */
const SOURCE_COLUMNS = [COLUMNS.promptTokens, COLUMNS.promptText, COLUMNS.answer];

/**
 * The validation graph of an SFT or GKD recipe: the held-out prompts through
 * `rollout.generate` (greedy: temperature 0, one sample per prompt, at most
 * `max_new_tokens`), then the reward node the recipe names (`val_generation.reward`,
 * default `reward.exact_match`: the completion, trimmed, equals the answer).
 */
export function generationValidationSpec(
  valGeneration: { max_new_tokens: number; reward?: { stage: string; options?: object } },
  seed: number,
): GraphSpec {
  const { stage, options } = valGeneration.reward ?? { stage: 'reward.exact_match' };
  return [
    {
      stage: 'rollout.generate',
      options: {
        temperature: 0,
        num_generations_per_prompt: 1,
        max_new_tokens: valGeneration.max_new_tokens,
        seed,
      },
    },
    { stage, options: { ...options } },
  ];
}

/**
 * One validation pass of `spec` (see {@link generationValidationSpec}) over held-out
 * examples with a reference answer, subscribed for the pass (one stream of one batch).
 * `validation/accuracy` is the fraction at the verifier's `correct_reward` when the
 * reward is one (`reward.exact_match`, `reward.math`, a composite with one); otherwise
 * `validation/reward` is the mean reward. Samples: the first four prompts.
 */
export async function generationValidation(o: {
  spec: GraphSpec;
  registry: StageRegistry;
  model: CausalLM;
  tokenizer: Tokenizer;
  examples: readonly { prompt: Int32Array; answer: string }[];
  keyPath?: (string | number)[];
}): Promise<{ metrics: Record<string, number>; samples: Record<string, unknown>[] }> {
  const { tokenizer, examples } = o;
  const nodes = validateGraph(o.spec, {
    registry: o.registry,
    sourceColumns: SOURCE_COLUMNS,
    ...(o.keyPath ? { keyPath: o.keyPath } : {}),
  });
  const context = { services: { policy: o.model, tokenizer }, emit: () => {} };
  const graph = pipe(...nodes.map((n) => n.definition.create(n.options, context)));
  const prompts = examples.map((e) => tokenizer.decode(e.prompt, { skipSpecialTokens: true }));
  const source = makeRecordBatch({
    [COLUMNS.promptTokens]: listVectorFromRows(examples.map((e) => e.prompt)),
    [COLUMNS.promptText]: prompts,
    [COLUMNS.answer]: examples.map((e) => e.answer),
  });
  const out = await lastValueFrom(of(source).pipe(graph));
  const rewards = readFloat32Column(out, COLUMNS.reward);
  const correctAt = correctRewardOf(nodes);
  const verdicts = correctAt ? readFloat32Column(out, correctAt.column) : rewards;
  const correct = Array.from(verdicts, (r) => r === correctAt?.value);
  const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;
  const metrics: Record<string, number> = correctAt
    ? { 'validation/accuracy': correct.filter(Boolean).length / out.numRows }
    : { 'validation/reward': mean(rewards) };
  const samples = Array.from({ length: Math.min(4, out.numRows) }, (_, i) => ({
    split: 'validation',
    prompt: prompts[i],
    completion: out.getChild(COLUMNS.completionText)?.get(i) as string,
    answer: examples[i]!.answer,
    ...(correctAt ? { correct: correct[i] } : { reward: rewards[i] }),
  }));
  return { metrics, samples };
}
