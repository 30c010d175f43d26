import { Observable, concatMap, defer, from, mergeMap, tap, toArray } from 'rxjs';
import type { RecordBatch } from 'apache-arrow';
import {
  COLUMNS,
  RxrlDataError,
  readListColumn,
  type MetricEvent,
  type Stage,
  type Tokenizer,
} from '@rxrl/core/base';
import { appendCompletions, assertNoCompletionColumns, groupIds } from '../completionBatch';
import { parseCompletion, type RemoteSample } from './parseCompletion';
import { postJson, type RetryPolicy } from './postJson';
import { remoteOptionsSchema, type RemoteOptions, type RemoteOptionsInput } from './remoteOptions';

/** What the remote stage needs besides its options. */
export interface RemoteStageContext {
  /** Needed only with `completion_token_ids: retokenize`. */
  tokenizer?: Tokenizer;
  /** Receives `timing/generation_s`, `performance/generation_tokens_per_s` and `performance/remote_retries` per batch. */
  onMetric?: (event: MetricEvent) => void;
}

/** The /v1/completions body for one prompt (token ids in, `n` samples, log-probs of the sampled tokens). */
export function completionBody(
  opts: RemoteOptions,
  prompt: Int32Array,
  groupId: number,
): Record<string, unknown> {
  const body: Record<string, unknown> = {
    model: opts.model,
    prompt: Array.from(prompt),
    n: opts.num_generations_per_prompt,
    max_tokens: opts.max_new_tokens,
    temperature: opts.temperature,
    top_p: opts.top_p,
    logprobs: 0,
    stream: false,
  };
  if (opts.completion_token_ids === 'return_tokens_as_token_ids') {
    // vLLM knows both (return_token_ids in newer versions), so does rxrl serve; either is enough for parseCompletion
    body['return_tokens_as_token_ids'] = true;
    body['return_token_ids'] = true;
  }
  if (opts.top_k !== null && opts.top_k > 0) body['top_k'] = opts.top_k;
  if (opts.min_p > 0) body['min_p'] = opts.min_p;
  if (opts.stop_strings.length > 0) body['stop'] = opts.stop_strings;
  if (opts.stop_token_ids?.length) body['stop_token_ids'] = opts.stop_token_ids;
  if (opts.ignore_eos) body['ignore_eos'] = true;
  if (opts.include_stop_str_in_output) body['include_stop_str_in_output'] = true;
  // per prompt, so the samples do not depend on batching and a retry asks for the same ones
  if (opts.seed !== null)
    body['seed'] =
      (Math.imul(opts.seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(groupId, 0x85ebca6b)) >>> 1;
  return { ...body, ...opts.extra_body };
}

/**
 * `rollout.remote`: `rollout.generate` backed by an OpenAI-compatible server
 * (rxrl serve, vLLM, SGLang, llama.cpp server). Per input row one
 * /v1/completions request with the row's `prompt_tokens` as token ids and
 * `n = num_generations_per_prompt`; at most `max_concurrency` in flight;
 * each attempt limited to `timeout_ms` and retried on connection errors,
 * timeouts and 5xx with exponential backoff. Answers are placed by row index,
 * so the output has exactly `rows × n` rows in input order, whatever order
 * they arrive in and however often a request was retried. Same columns as
 * `rollout.generate`.
 *
 * @example
 * prompts$.pipe(remoteStage({ base_url: 'http://127.0.0.1:8000/v1', model: 'policy', num_generations_per_prompt: 4 }))
 */
export function remoteStage(options: RemoteOptionsInput, context: RemoteStageContext = {}): Stage {
  const opts = remoteOptionsSchema.parse(options);
  const n = opts.num_generations_per_prompt;
  const url = `${opts.base_url.replace(/\/+$/, '')}/completions`;
  const tokenizer = opts.completion_token_ids === 'retokenize' ? (context.tokenizer ?? null) : null;
  if (opts.completion_token_ids === 'retokenize' && tokenizer === null) {
    throw new RxrlDataError(
      "rollout.remote: completion_token_ids 'retokenize' needs a tokenizer in the stage context",
      { field: 'completion_token_ids' },
    );
  }
  const policy: RetryPolicy = {
    timeoutMs: opts.timeout_ms,
    maxRetries: opts.max_retries,
    backoffMs: opts.retry_backoff_ms,
    maxBackoffMs: opts.max_backoff_ms,
  };

  /** One prompt's request as an observable: unsubscribing aborts it (e.g. when another prompt failed for good). */
  const request = (prompt: Int32Array, groupId: number, onRetry: () => void) =>
    new Observable<RemoteSample[]>((sub) => {
      const ac = new AbortController();
      postJson(url, completionBody(opts, prompt, groupId), policy, {
        apiKey: opts.api_key,
        signal: ac.signal,
        onRetry,
      })
        .then((json) => parseCompletion(json, n, url, tokenizer))
        .then(
          (samples) => {
            sub.next(samples);
            sub.complete();
          },
          (e: unknown) => sub.error(e),
        );
      return () => ac.abort(new Error('rollout.remote: request cancelled'));
    });

  return (source) =>
    defer(() => {
      let nextPrompt = 0;
      let batchIndex = 0;
      return source.pipe(
        concatMap((batch: RecordBatch) => {
          assertNoCompletionColumns(batch, 'rollout.remote');
          const rows = batch.numRows;
          const prompts = readListColumn(batch, COLUMNS.promptTokens, 'int32');
          const groups = groupIds(batch, nextPrompt);
          nextPrompt += rows;
          const t0 = performance.now();
          let retries = 0;
          const results = new Array<RemoteSample[]>(rows);
          return from(Array.from({ length: rows }, (_, r) => r)).pipe(
            mergeMap((r) => {
              const prompt = prompts.values.subarray(prompts.offsets[r]!, prompts.offsets[r + 1]!);
              return request(prompt, groups[r]!, () => retries++).pipe(
                tap((samples) => (results[r] = samples)),
              );
            }, opts.max_concurrency),
            toArray(),
            concatMap(async () => {
              const seconds = (performance.now() - t0) / 1000;
              const out = assemble(batch, results, groups, n);
              const step = batchIndex++;
              context.onMetric?.({ step, name: 'timing/generation_s', value: seconds });
              context.onMetric?.({
                step,
                name: 'performance/generation_tokens_per_s',
                value: seconds > 0 ? out.tokens / seconds : 0,
              });
              context.onMetric?.({ step, name: 'performance/remote_retries', value: retries });
              return out.batch;
            }),
          );
        }),
      );
    });
}

/** Input rows repeated n times plus the generated columns, prompt-major. */
function assemble(
  batch: RecordBatch,
  results: RemoteSample[][],
  groups: Int32Array,
  n: number,
): { batch: RecordBatch; tokens: number } {
  const rows = batch.numRows;
  const samples = results.flat();
  if (samples.length !== rows * n)
    throw new RxrlDataError(`rollout.remote: ${samples.length} samples for ${rows} prompts × ${n}`);
  return appendCompletions(batch, samples, groups, n);
}
