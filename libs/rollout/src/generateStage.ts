import { concatMap, defer } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import {
  COLUMNS,
  batchMeta,
  readListColumn,
  type MetricEvent,
  type Stage,
  type Tokenizer,
} from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { generate } from './generate';
import { generateOptionsSchema, type GenerateOptionsInput } from './generateOptions';
import { appendCompletions, assertNoCompletionColumns, groupIds } from './completionBatch';

/** What the generation stage runs on, besides its options. */
export interface GenerateStageContext {
  /** The policy; the stage only reads it (one batch at a time, in order). */
  model: CausalLM;
  /** Decodes completions and gives the EOS / pad ids. */
  tokenizer: Tokenizer;
  /** Receives `timing/generation_s` and `performance/generation_tokens_per_s` per batch. */
  onMetric?: (event: MetricEvent) => void;
  /**
   * Generation itself, in place of the local `generate` over `model` (e.g. a
   * worker thread holding a copy of the policy); same arguments, same samples.
   */
  generate?: typeof generate;
}

/**
 * `rollout.generate`: for every input row, `num_generations_per_prompt` rows
 * out, each a copy of the input row (every column passes through) plus
 * `group_id` (the row's `prompt_id`, else a running prompt index),
 * `completion_tokens`, `completion_text`, `gen_logprobs` and `finish_reason`.
 * Sampling is keyed by `group_id` and how many times that id has come by in
 * this subscription, so a prompt's samples do not depend on its batch mates and
 * a prompt seen again (the next epoch) gets new ones.
 *
 * A batch tagged with its training step (`batchMeta`, as a run's batches are)
 * instead draws from the seed mixed with its step and generation round, keyed by
 * group within the batch: every step (and every dynamic-sampling refill batch of a
 * step) gets fresh samples, and a resumed run draws the ones an uninterrupted run drew.
 * Reads `prompt_tokens` (List<Int32>). Batches are generated one at a time
 * (`concatMap`): the stage owns the model while it decodes.
 *
 * @example
 * prompts$.pipe(generateStage({ num_generations_per_prompt: 4, max_new_tokens: 64 }, { model, tokenizer }))
 */
export function generateStage(options: GenerateOptionsInput, context: GenerateStageContext): Stage {
  const opts = generateOptionsSchema.parse(options);
  const n = opts.num_generations_per_prompt;
  return (source) =>
    defer(() => {
      let nextPrompt = 0;
      let batchIndex = 0;
      // how often each prompt_id has been generated for: a prompt seen again
      // (next epoch) gets fresh samples, still independent of its batch mates
      const seen = new Map<number, number>();
      return source.pipe(
        concatMap(async (batch: RecordBatch) => {
          assertNoCompletionColumns(batch, 'rollout.generate');
          const rows = batch.numRows;
          const prompts = readListColumn(batch, COLUMNS.promptTokens, 'int32');
          const promptList: Int32Array[] = [];
          for (let r = 0; r < rows; r++)
            promptList.push(prompts.values.subarray(prompts.offsets[r]!, prompts.offsets[r + 1]!));
          const meta = batchMeta(batch);
          const groups = groupIds(batch, meta ? 0 : nextPrompt);
          if (!meta) nextPrompt += rows;
          const seenHere = meta ? new Map<number, number>() : seen;

          const t0 = performance.now();
          const keys = Array.from(groups, (g) => {
            const k = seenHere.get(g) ?? 0;
            seenHere.set(g, k + 1);
            return k === 0 ? g : `${g}#${k}`;
          });
          const samples = await (context.generate ?? generate)(
            context.model,
            context.tokenizer,
            promptList,
            meta ? { ...opts, seed: stepSeed(opts.seed, meta.step, meta.round) } : opts,
            { requestKeys: keys },
          );
          const seconds = (performance.now() - t0) / 1000;

          const out = appendCompletions(batch, samples, groups, n);

          const step = meta?.step ?? batchIndex++;
          context.onMetric?.({ step, name: 'timing/generation_s', value: seconds });
          context.onMetric?.({
            step,
            name: 'performance/generation_tokens_per_s',
            value: seconds > 0 ? out.tokens / seconds : 0,
          });
          return out.batch;
        }),
      );
    });
}

/**
 * The sampling seed of a batch of step `step`, generation round `round`: without
 * the round, a step's refill batches would reuse the first batch's random streams row for row.
 */
export function stepSeed(seed: number, step: number, round: number): number {
  return (seed * 1_000_003 + step * 7_919 + round * 104_729) % 2_147_483_647;
}
