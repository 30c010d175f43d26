import * as tf from '@tensorflow/tfjs-core';
import type { Rng, Tokenizer } from '@rxrl/core/base';
import { generateStep, prefill, type CausalLM } from '@rxrl/model';
import type { FinishReason } from '../generate';
import { sampleToken } from '../sampling/sampleToken';
import type { SamplingParams } from '../sampling/samplingParams';
import { findStopString, longestStop } from '../stopStrings';
import { logSumExp, topLogprobs, type TokenLogprob } from './topLogprobs';

/** One sequence to decode: a prompt and how to sample its continuation. */
export interface SequenceSpec {
  prompt: readonly number[];
  params: SamplingParams;
  /** Most new tokens; 0 finishes at once with 'length'. */
  maxTokens: number;
  /** Stop strings (the text is cut before the first match). */
  stop: readonly string[];
  /** Token ids that end the sequence (kept as its last token, left out of the text). */
  stopTokenIds: ReadonlySet<number>;
  /** Keep a matched stop string at the end of the text. */
  includeStopStr: boolean;
  /** This sequence's own random stream, so batching with other requests changes nothing. */
  rng: Rng;
  /** Alternatives per token to record (0 = only the sampled token); null records no log-probs. */
  topLogprobs: number | null;
  /** Called after every new token (streaming). */
  onToken?: (state: SequenceState) => void;
  /** Polled before the prefill and at each decode step: a cancelled sequence (client gone) stops early. */
  cancelled?: () => boolean;
}

/** A sequence as it decodes; final once `finishReason` is set. */
export interface SequenceState {
  tokens: number[];
  /** Per token, its log-prob at the sampling temperature (when `topLogprobs` is not null). */
  logprobs: number[];
  /** Per token, the `topLogprobs` most likely alternatives. */
  top: TokenLogprob[][];
  /** Decoded completion (special tokens skipped); cut at a stop string once finished. */
  text: string;
  finishReason: FinishReason | null;
  stoppedByToken: boolean;
}

/** A queued job skipped because its client had gone. */
export class CancelledError extends Error {
  constructor() {
    super('cancelled: the client closed the connection');
    this.name = 'CancelledError';
  }
}

interface Item {
  spec: SequenceSpec;
  state: SequenceState;
  resolve(s: SequenceState): void;
  reject(e: unknown): void;
}
type Job = { kind: 'seq'; item: Item } | { kind: 'task'; run(): Promise<void> };

/**
 * The server's single model worker: a FIFO of jobs run one at a time (the
 * model is single-threaded). Sequences queued while a batch decodes (from any
 * number of requests) are decoded together in the next batch of up to
 * `maxBatchSize` rows, left-padded, with one KV cache.
 */
export class Engine {
  private readonly queue: Job[] = [];
  private running = false;
  /** Counters since start: decoded batches, sequences, generated tokens, sequences cut short because their client left. */
  readonly stats = { batches: 0, sequences: 0, tokens: 0, cancelled: 0 };

  constructor(
    readonly model: CausalLM,
    readonly tokenizer: Tokenizer,
    readonly maxBatchSize: number,
  ) {}

  /** Decode every spec; resolves with their final states in order. */
  generate(specs: readonly SequenceSpec[]): Promise<SequenceState[]> {
    const done = specs.map(
      (spec) =>
        new Promise<SequenceState>((resolve, reject) => {
          const state: SequenceState = {
            tokens: [],
            logprobs: [],
            top: [],
            text: '',
            finishReason: null,
            stoppedByToken: false,
          };
          this.queue.push({ kind: 'seq', item: { spec, state, resolve, reject } });
        }),
    );
    this.kick();
    return Promise.all(done);
  }

  /**
   * Run `fn` alone on the model, in queue order (e.g. scoring a prompt). When
   * `cancelled()` is true by its turn, `fn` is skipped and the promise rejects
   * with {@link CancelledError}.
   */
  exclusive<T>(fn: () => T | Promise<T>, cancelled?: () => boolean): Promise<T> {
    const p = new Promise<T>((resolve, reject) => {
      this.queue.push({
        kind: 'task',
        run: async () => {
          if (cancelled?.()) {
            this.stats.cancelled++;
            return reject(new CancelledError());
          }
          await Promise.resolve().then(fn).then(resolve, reject);
        },
      });
    });
    this.kick();
    return p;
  }

  /** Jobs waiting (not counting the batch decoding now); a sequence is one job. */
  get pending(): number {
    return this.queue.length;
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    // let requests that arrive in the same tick join the first batch
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const first = this.queue[0]!;
        if (first.kind === 'task') {
          this.queue.shift();
          await first.run();
          continue;
        }
        // a sequence whose client has gone is dropped here, before it costs a prefill
        const items: Item[] = [];
        while (items.length < this.maxBatchSize && this.queue[0]?.kind === 'seq') {
          const it = (this.queue.shift() as { item: Item }).item;
          if (it.spec.cancelled?.()) {
            it.state.finishReason = 'length';
            this.stats.cancelled++;
            it.resolve(it.state);
          } else items.push(it);
        }
        if (items.length === 0) continue;
        try {
          await decodeBatch(this.model, this.tokenizer, items, this.stats);
          for (const it of items) it.resolve(it.state);
        } catch (e) {
          for (const it of items) it.reject(e);
        }
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
    }
  }
}

/** Record a sampled token in `state` and decide whether it ends the sequence. */
function pushToken(
  spec: SequenceSpec,
  state: SequenceState,
  tokenizer: Tokenizer,
  logits: Float32Array,
  maxStop: number,
): void {
  const { token, logprob } = sampleToken(logits, spec.params, spec.rng);
  state.tokens.push(token);
  if (spec.topLogprobs !== null) {
    state.logprobs.push(logprob);
    const t = spec.params.temperature;
    state.top.push(
      topLogprobs(logits, spec.topLogprobs, t, spec.topLogprobs > 0 ? logSumExp(logits, t) : 0),
    );
  }
  if (spec.stopTokenIds.has(token)) {
    state.finishReason = 'stop';
    state.stoppedByToken = true;
    state.text = tokenizer.decode(state.tokens.slice(0, -1), { skipSpecialTokens: true });
    return;
  }
  if (spec.stop.length === 0 && !spec.onToken && state.tokens.length < spec.maxTokens) return;
  const before = state.text.length;
  state.text = tokenizer.decode(state.tokens, { skipSpecialTokens: true });
  const hit =
    spec.stop.length > 0 ? findStopString(state.text, spec.stop, before - maxStop + 1) : null;
  if (hit !== null) {
    state.finishReason = 'stop';
    state.text = state.text.slice(0, hit.index + (spec.includeStopStr ? hit.length : 0));
  } else if (state.tokens.length >= spec.maxTokens) {
    state.finishReason = 'length';
  }
}

/** Prefill the batch's prompts (left-padded) and decode until every row has finished; owns its tensors. */
async function decodeBatch(
  model: CausalLM,
  tokenizer: Tokenizer,
  items: Item[],
  stats: Engine['stats'],
): Promise<void> {
  const rows = items.filter((it) => {
    if (it.spec.maxTokens > 0) return true;
    it.state.finishReason = 'length';
    return false;
  });
  if (rows.length === 0) return;
  const b = rows.length;
  stats.batches++;
  stats.sequences += b;
  const vocab = model.config.vocabSize;
  const pad = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  const fill = pad >= 0 && pad < vocab ? pad : 0;
  const maxStops = rows.map((r) => longestStop(r.spec.stop));
  let maxLen = 0;
  for (const r of rows) maxLen = Math.max(maxLen, r.spec.prompt.length);
  const ids = new Int32Array(b * maxLen).fill(fill);
  const mask = new Int32Array(b * maxLen);
  rows.forEach((r, i) => {
    const off = i * maxLen + maxLen - r.spec.prompt.length;
    ids.set(r.spec.prompt, off);
    mask.fill(1, off, off + r.spec.prompt.length);
  });
  const idsT = tf.tensor2d(ids, [b, maxLen], 'int32');
  const maskT = tf.tensor2d(mask, [b, maxLen], 'int32');
  let started: ReturnType<typeof prefill>;
  try {
    started = prefill(model, idsT, maskT);
  } finally {
    idsT.dispose();
    maskT.dispose();
  }
  const { cache } = started;
  let logits: tf.Tensor2D | null = started.logits;
  try {
    const next = new Int32Array(b);
    for (;;) {
      const data = (await logits.data()) as Float32Array;
      logits.dispose();
      logits = null;
      // on cpu/wasm data() resolves without a turn of the event loop: yield one, so hang-ups are seen,
      // /health answers and new requests queue for the next batch while this one decodes
      await new Promise((r) => setImmediate(r));
      let active = 0;
      rows.forEach((r, i) => {
        const s = r.state;
        if (s.finishReason === null && r.spec.cancelled?.()) {
          s.finishReason = 'length';
          stats.cancelled++;
        }
        if (s.finishReason !== null) {
          next[i] = fill;
          return;
        }
        pushToken(r.spec, s, tokenizer, data.subarray(i * vocab, (i + 1) * vocab), maxStops[i]!);
        next[i] = s.tokens[s.tokens.length - 1]!;
        stats.tokens++;
        r.spec.onToken?.(s);
        if (s.finishReason === null) active++;
      });
      if (active === 0) break;
      logits = generateStep(model, cache, next);
    }
  } finally {
    logits?.dispose();
    cache.dispose();
  }
}

/**
 * Log-probs of every prompt token given the ones before it (the first has
 * none: null), with `k` alternatives each — what `echo` + `logprobs` returns.
 * One full forward pass; float64 log-softmax over the float32 logits.
 */
export async function promptLogprobs(
  model: CausalLM,
  prompt: readonly number[],
  k: number,
): Promise<{ logprobs: (number | null)[]; top: (TokenLogprob[] | null)[] }> {
  const t = prompt.length;
  const vocab = model.config.vocabSize;
  const logitsT = tf.tidy(() =>
    model.logits(tf.tensor2d(Int32Array.from(prompt), [1, t], 'int32')),
  );
  let data: Float32Array;
  try {
    data = (await logitsT.data()) as Float32Array;
  } finally {
    logitsT.dispose();
  }
  const logprobs: (number | null)[] = [null];
  const top: (TokenLogprob[] | null)[] = [null];
  for (let i = 1; i < t; i++) {
    const row = data.subarray((i - 1) * vocab, i * vocab);
    const logZ = logSumExp(row, 1);
    logprobs.push(row[prompt[i]!]! - logZ);
    top.push(topLogprobs(row, k, 1, logZ));
  }
  return { logprobs, top };
}
