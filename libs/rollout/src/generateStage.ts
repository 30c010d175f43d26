import { concatMap, defer } from 'rxjs';
import type { RecordBatch, Vector } from 'apache-arrow';
import {
  COLUMNS,
  RxrlDataError,
  dictionaryUtf8Vector,
  getColumn,
  int32Vector,
  listVector,
  makeRecordBatch,
  readInt32Column,
  readListColumn,
  utf8Vector,
  type MetricEvent,
  type Stage,
  type Tokenizer,
} from '@rxrl/core/base';
import type { CausalLM } from '@rxrl/model';
import { generate } from './generate';
import { generateOptionsSchema, type GenerateOptionsInput } from './generateOptions';
import { repeatRows } from './repeatRows';

/** What the generation stage runs on, besides its options. */
export interface GenerateStageContext {
  /** The policy; the stage only reads it (one batch at a time, in order). */
  model: CausalLM;
  /** Decodes completions and gives the EOS / pad ids. */
  tokenizer: Tokenizer;
  /** Receives `timing/generation_s` and `performance/generation_tokens_per_s` per batch. */
  onMetric?: (event: MetricEvent) => void;
}

const ADDED = [
  COLUMNS.groupId,
  COLUMNS.completionTokens,
  COLUMNS.completionText,
  COLUMNS.genLogprobs,
  COLUMNS.finishReason,
];

/**
 * `rollout.generate`: for every input row, `num_generations_per_prompt` rows
 * out, each a copy of the input row (every column passes through) plus
 * `group_id` (the row's `prompt_id`, else a running prompt index),
 * `completion_tokens`, `completion_text`, `gen_logprobs` and `finish_reason`.
 * Sampling is keyed by `group_id` and how many times that id has come by in
 * this subscription, so a prompt's samples do not depend on its batch mates and
 * a prompt seen again (the next epoch) gets new ones.
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
          for (const name of ADDED) {
            if (batch.getChild(name)) {
              throw new RxrlDataError(
                `rollout.generate: input batch already has column '${name}', which this stage writes`,
                { field: name },
              );
            }
          }
          const rows = batch.numRows;
          const prompts = readListColumn(batch, COLUMNS.promptTokens, 'int32');
          const promptList: Int32Array[] = [];
          for (let r = 0; r < rows; r++)
            promptList.push(prompts.values.subarray(prompts.offsets[r]!, prompts.offsets[r + 1]!));
          let groups: Int32Array;
          if (batch.getChild(COLUMNS.promptId)) groups = readInt32Column(batch, COLUMNS.promptId);
          else {
            groups = new Int32Array(rows);
            for (let r = 0; r < rows; r++) groups[r] = nextPrompt + r;
          }
          nextPrompt += rows;

          const t0 = performance.now();
          const keys = Array.from(groups, (g) => {
            const k = seen.get(g) ?? 0;
            seen.set(g, k + 1);
            return k === 0 ? g : `${g}#${k}`;
          });
          const samples = await generate(context.model, context.tokenizer, promptList, opts, {
            requestKeys: keys,
          });
          const seconds = (performance.now() - t0) / 1000;

          const index = new Int32Array(rows * n);
          for (let i = 0; i < index.length; i++) index[i] = Math.floor(i / n);
          const columns: Record<string, Vector> = {};
          for (const field of batch.schema.fields)
            columns[field.name] = repeatRows(getColumn(batch, field.name), index, field.name);

          const offsets = new Int32Array(samples.length + 1);
          for (let i = 0; i < samples.length; i++)
            offsets[i + 1] = offsets[i]! + samples[i]!.completionTokens.length;
          const tokens = new Int32Array(offsets[samples.length]!);
          const logprobs = new Float32Array(tokens.length);
          samples.forEach((s, i) => {
            tokens.set(s.completionTokens, offsets[i]!);
            logprobs.set(s.genLogprobs, offsets[i]!);
          });
          const groupIds = new Int32Array(samples.length);
          for (let i = 0; i < samples.length; i++) groupIds[i] = groups[index[i]!]!;
          columns[COLUMNS.groupId] = int32Vector(groupIds);
          columns[COLUMNS.completionTokens] = listVector(tokens, offsets);
          columns[COLUMNS.completionText] = utf8Vector(samples.map((s) => s.completionText));
          columns[COLUMNS.genLogprobs] = listVector(logprobs, offsets.slice());
          columns[COLUMNS.finishReason] = dictionaryUtf8Vector(samples.map((s) => s.finishReason));

          const step = batchIndex++;
          context.onMetric?.({ step, name: 'timing/generation_s', value: seconds });
          context.onMetric?.({
            step,
            name: 'performance/generation_tokens_per_s',
            value: seconds > 0 ? tokens.length / seconds : 0,
          });
          return makeRecordBatch(columns, batch.schema.metadata);
        }),
      );
    });
}
