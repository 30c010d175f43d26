import * as tf from '@tensorflow/tfjs-core';
import { Rng, RxrlDataError, type Tokenizer } from '@rxrl/core/base';
import { generateStep, prefill, type CausalLM, type KVCache } from '@rxrl/model';
import {
  generateOptionsSchema,
  type GenerateOptions,
  type GenerateOptionsInput,
} from './generateOptions';
import { checkSamplingParams, type SamplingParams } from './sampling/samplingParams';
import { sampleOnDevice } from './sampling/sampleOnDevice';
import { sampleToken, type SampledToken } from './sampling/sampleToken';
import { selectCacheRows } from './selectCacheRows';
import { findStopString, longestStop } from './stopStrings';

/** Why a sample ended: a stop token or stop string, or `max_new_tokens`. */
export type FinishReason = 'stop' | 'length';

/** One generated completion. */
export interface GeneratedSample {
  /** Index of the prompt in the `promptTokens` argument. */
  promptIndex: number;
  /** Which of the prompt's `num_generations_per_prompt` samples this is. */
  generationIndex: number;
  /** Generated ids; a stop token that ended the sample is the last id. */
  completionTokens: Int32Array;
  /** Decoded completion (special tokens skipped), cut before a matched stop string. */
  completionText: string;
  /** Per completion token, log p under the policy at the sampling temperature (see `policyLogprob`). */
  genLogprobs: Float32Array;
  finishReason: FinishReason;
}

/** Extra inputs of {@link generate} that are not options. */
export interface GenerateExtras {
  /**
   * Per prompt, the key its samples' RNG forks are named by (default: the
   * prompt's index). The stage passes `prompt_id`, so a prompt's samples do
   * not depend on which batch it arrived in.
   */
  requestKeys?: ArrayLike<number | string>;
  /**
   * Sample on the device (`sampleOnDevice`: arg-max, inverse CDF for plain
   * temperature / min-p, top candidates for top-k / top-p) instead of
   * downloading whole `[B, V]` rows. Default: on for vocabularies of 16,384
   * ids or more, where the download and the host scan dominate a step; the
   * same draws up to float32 rounding of the cumulative weights.
   */
  deviceSampling?: boolean;
  /**
   * Drop finished rows from the batch (and the KV cache) once half of it or
   * more has finished (default true). Results are the same either way; only
   * the forward passes spent on finished rows go.
   */
  compact?: boolean;
  /**
   * Prefill each distinct prompt of a batch once and copy its KV-cache rows to
   * its `num_generations_per_prompt` samples (default true); same samples,
   * 1/n of the prefill work.
   */
  sharePrefill?: boolean;
}

/** Vocabulary size from which sampling on the device pays for itself (see the generation bench). */
const DEVICE_SAMPLING_MIN_VOCAB = 16384;

interface Row {
  prompt: ArrayLike<number>;
  promptIndex: number;
  generationIndex: number;
  rng: Rng;
}

interface RowState {
  tokens: number[];
  logprobs: number[];
  text: string;
  done: FinishReason | null;
  /** Whether the last token is a stop token (left out of the text). */
  stoppedByToken: boolean;
}

/**
 * Generate `num_generations_per_prompt` completions for every prompt with the
 * model's KV cache: rows (prompt × generation) are sorted by prompt length,
 * cut into batches of `generation_batch_size`, left-padded, prefilled once and
 * decoded one token per step. A finished row's logits are ignored (its slot is
 * fed the pad id) until half the batch has finished; then finished rows are
 * dropped from the batch and the KV cache. A batch ends when every row has. Samples come
 * back prompt-major: `[p0g0, p0g1, …, p1g0, …]`.
 *
 * @example
 * const samples = await generate(model, tokenizer, [tokenizer.encode('1+1=')], { temperature: 0, max_new_tokens: 8 });
 */
export async function generate(
  model: CausalLM,
  tokenizer: Tokenizer,
  promptTokens: readonly ArrayLike<number>[],
  options: GenerateOptionsInput = {},
  extras: GenerateExtras = {},
): Promise<GeneratedSample[]> {
  const opts = generateOptionsSchema.parse(options);
  const params = checkSamplingParams({
    temperature: opts.temperature,
    top_k: opts.top_k !== null && opts.top_k > 0 ? opts.top_k : null,
    top_p: opts.top_p,
    min_p: opts.min_p,
  });
  const vocab = model.config.vocabSize;
  const keys = extras.requestKeys;
  if (keys && keys.length !== promptTokens.length) {
    throw new RxrlDataError(
      `generate: ${keys.length} requestKeys for ${promptTokens.length} prompts`,
      { field: 'requestKeys' },
    );
  }
  const base = new Rng(opts.seed);
  const n = opts.num_generations_per_prompt;
  const rows: Row[] = [];
  promptTokens.forEach((prompt, p) => {
    if (prompt.length === 0)
      throw new RxrlDataError(`generate: prompt ${p} is empty; a prompt needs at least one token`, {
        row: p,
        field: 'prompt_tokens',
      });
    for (let i = 0; i < prompt.length; i++) {
      const id = prompt[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new RxrlDataError(
          `generate: prompt ${p} has token id ${id} at ${i}, outside the model's vocabulary [0, ${vocab})`,
          { row: p, field: 'prompt_tokens' },
        );
      }
    }
    const limit = model.config.maxPositionEmbeddings;
    if (prompt.length + opts.max_new_tokens > limit) {
      throw new RxrlDataError(
        `generate: prompt ${p} has ${prompt.length} tokens; with max_new_tokens ${opts.max_new_tokens} that exceeds the model's max_position_embeddings ${limit}`,
        { row: p, field: 'prompt_tokens' },
      );
    }
    const key = keys ? keys[p]! : p;
    for (let g = 0; g < n; g++)
      rows.push({
        prompt,
        promptIndex: p,
        generationIndex: g,
        rng: base.fork(`sample/${key}/${g}`),
      });
  });

  const onDevice = extras.deviceSampling ?? vocab >= DEVICE_SAMPLING_MIN_VOCAB;

  // Similar lengths together: less padding to attend over.
  const order = rows
    .map((_, i) => i)
    .sort((a, b) => rows[b]!.prompt.length - rows[a]!.prompt.length || a - b);
  const out = new Array<GeneratedSample>(rows.length);
  for (let start = 0; start < order.length; start += opts.generation_batch_size) {
    const chunk = order.slice(start, start + opts.generation_batch_size);
    const states = await decodeBatch(
      model,
      tokenizer,
      chunk.map((i) => rows[i]!),
      params,
      opts,
      onDevice,
      extras.compact ?? true,
      extras.sharePrefill ?? true,
    );
    chunk.forEach((i, j) => {
      const row = rows[i]!;
      const s = states[j]!;
      out[row.promptIndex * n + row.generationIndex] = {
        promptIndex: row.promptIndex,
        generationIndex: row.generationIndex,
        completionTokens: Int32Array.from(s.tokens),
        completionText: s.text,
        genLogprobs: Float32Array.from(s.logprobs),
        finishReason: s.done ?? 'length',
      };
    });
  }
  return out;
}

/**
 * Left-pad and prefill the rows' prompts: with `share`, each distinct prompt
 * once, then its cache rows and next-token logits are copied to every row that
 * asked for it. Returns a cache and `[rows, V]` logits the caller owns.
 */
function prefillRows(
  model: CausalLM,
  rows: Row[],
  fillId: number,
  share: boolean,
): { cache: KVCache; logits: tf.Tensor2D } {
  const source = new Map<number, number>();
  const expand = new Int32Array(rows.length);
  const prompts: ArrayLike<number>[] = [];
  rows.forEach((r, i) => {
    let u = share ? source.get(r.promptIndex) : undefined;
    if (u === undefined) {
      u = prompts.push(r.prompt) - 1;
      source.set(r.promptIndex, u);
    }
    expand[i] = u;
  });
  const b = prompts.length;
  let maxLen = 0;
  for (const p of prompts) maxLen = Math.max(maxLen, p.length);
  const ids = new Int32Array(b * maxLen).fill(fillId);
  const mask = new Int32Array(b * maxLen);
  prompts.forEach((p, i) => {
    const off = i * maxLen + maxLen - p.length;
    for (let t = 0; t < p.length; t++) {
      ids[off + t] = p[t]!;
      mask[off + t] = 1;
    }
  });
  const idsT = tf.tensor2d(ids, [b, maxLen], 'int32');
  const maskT = tf.tensor2d(mask, [b, maxLen], 'int32');
  let started: { cache: KVCache; logits: tf.Tensor2D };
  try {
    started = prefill(model, idsT, maskT);
  } finally {
    idsT.dispose();
    maskT.dispose();
  }
  if (b === rows.length) return started;
  let logits: tf.Tensor2D | null = null;
  try {
    logits = tf.tidy(() => tf.gather(started.logits, expand) as tf.Tensor2D);
    return { cache: selectCacheRows(model, started.cache, expand), logits };
  } catch (e) {
    logits?.dispose();
    started.cache.dispose();
    throw e;
  } finally {
    started.logits.dispose();
  }
}

/** Prefill one left-padded batch and decode it to the end; owns every tensor it makes. */
async function decodeBatch(
  model: CausalLM,
  tokenizer: Tokenizer,
  rows: Row[],
  params: SamplingParams,
  opts: GenerateOptions,
  onDevice: boolean,
  compact: boolean,
  sharePrefill: boolean,
): Promise<RowState[]> {
  const b = rows.length;
  const vocab = model.config.vocabSize;
  const padId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  const fillId = padId >= 0 && padId < vocab ? padId : 0;
  const stopIds = new Set<number>(opts.stop_token_ids ?? []);
  if (!opts.ignore_eos && tokenizer.eosTokenId !== null) stopIds.add(tokenizer.eosTokenId);
  const stops = opts.stop_strings;
  const maxStop = longestStop(stops);

  const states: RowState[] = rows.map(() => ({
    tokens: [],
    logprobs: [],
    text: '',
    done: null,
    stoppedByToken: false,
  }));
  const { cache: firstCache, logits: firstLogits } = prefillRows(model, rows, fillId, sharePrefill);
  let cache = firstCache;
  let logits: tf.Tensor2D | null = firstLogits;
  // slots[j] = the row in cache slot j; shrinks when finished rows are dropped
  let slots = Int32Array.from(rows, (_, i) => i);
  try {
    let next = new Int32Array(b);
    for (let step = 0; step < opts.max_new_tokens; step++) {
      // on the device: one draw per unfinished slot; else the whole [slots, V] logits
      const drawn: Array<SampledToken | null> | null = onDevice
        ? await sampleOnDevice(
            logits,
            params,
            Array.from(slots, (r) => (states[r]!.done === null ? rows[r]!.rng : null)),
          )
        : null;
      const data = drawn === null ? ((await logits.data()) as Float32Array) : null;
      logits.dispose();
      logits = null;
      let active = 0;
      for (let j = 0; j < slots.length; j++) {
        const r = slots[j]!;
        const s = states[r]!;
        if (s.done !== null) {
          next[j] = fillId;
          continue;
        }
        const { token, logprob } =
          drawn !== null
            ? drawn[j]!
            : sampleToken(data!.subarray(j * vocab, (j + 1) * vocab), params, rows[r]!.rng);
        s.tokens.push(token);
        s.logprobs.push(logprob);
        next[j] = token;
        if (stopIds.has(token)) {
          s.done = 'stop';
          s.stoppedByToken = true;
        } else if (stops.length > 0) {
          const before = s.text.length;
          s.text = tokenizer.decode(s.tokens, { skipSpecialTokens: true });
          const hit = findStopString(s.text, stops, before - maxStop + 1);
          if (hit !== null) {
            s.done = 'stop';
            s.text = s.text.slice(
              0,
              hit.index + (opts.include_stop_str_in_output ? hit.length : 0),
            );
          }
        }
        if (s.done === null) active++;
      }
      if (active === 0 || step === opts.max_new_tokens - 1) break;
      if (compact && active <= slots.length / 2 && slots.length - active >= 2) {
        // half the batch or more has finished: stop paying for its forward passes
        const keep = Int32Array.from(
          slots.map((r, j) => (states[r]!.done === null ? j : -1)).filter((j) => j >= 0),
        );
        cache = selectCacheRows(model, cache, keep);
        slots = Int32Array.from(keep, (j) => slots[j]!);
        next = Int32Array.from(keep, (j) => next[j]!);
      }
      logits = generateStep(model, cache, next);
    }
  } finally {
    logits?.dispose();
    cache.dispose();
  }
  for (const s of states) {
    if (s.done === 'stop' && !s.stoppedByToken) continue; // text already cut at the stop string
    const kept = s.stoppedByToken ? s.tokens.slice(0, -1) : s.tokens;
    s.text = tokenizer.decode(kept, { skipSpecialTokens: true });
  }
  return states;
}
