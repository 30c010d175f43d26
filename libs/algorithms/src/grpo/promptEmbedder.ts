import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import { COLUMNS, RxrlDataError, readListColumn, type Tokenizer } from '@rxrl/core/base';
import { HfTokenizer } from '@rxrl/data';
import type { Embedder } from '@rxrl/grouping';
import { loadPretrained, type CausalLM } from '@rxrl/model';

/** How a {@link PromptEmbedder} caches and batches. */
export interface PromptEmbedderOptions {
  /** prompts whose embedding is kept (least recently used dropped first); 0: no cache */
  cacheSize: number;
  /** prompts per forward pass */
  microBatchSize: number;
}

/** Counts since the embedder was made; the trainer logs them per step. */
export interface PromptEmbedderStats {
  /** distinct prompts of a batch answered from the cache */
  hits: number;
  /** distinct prompts of a batch computed */
  misses: number;
  /** forward passes of the model (one per micro-batch of missed prompts) */
  forwardPasses: number;
}

/** Where a prompt's tokens come from: the batch's `prompt_tokens` (the policy's), or `prompt_text` tokenised by the embedding model's own tokenizer. */
type PromptSource = { kind: 'tokens' } | { kind: 'text'; tokenizer: Tokenizer };

/**
 * Prompt embeddings for grouping (`grouping.form_groups`'s `embedder` service): the
 * model's last hidden state (after the final norm), mean-pooled over the prompt's
 * tokens — padding masked out, so a prompt pools the same alone or in a padded batch.
 * Every generation of a prompt gets its prompt's row. Rows are cached per prompt
 * (keyed by its token ids, or by its text for an embedding model with its own
 * tokenizer), least recently used dropped past `cacheSize`, so a prompt is embedded
 * once while it stays in the cache. With the policy as the model, a cached row is the
 * hidden state of the policy when the prompt was first embedded.
 */
export class PromptEmbedder {
  private readonly cache = new Map<string, Float32Array>();
  readonly stats: PromptEmbedderStats = { hits: 0, misses: 0, forwardPasses: 0 };

  private constructor(
    private readonly model: CausalLM,
    private readonly source: PromptSource,
    private readonly options: PromptEmbedderOptions,
    /** the model was loaded for this embedder, which frees it */
    private readonly owned: boolean,
  ) {}

  /** The policy's own hidden states over the batch's `prompt_tokens`. */
  static forPolicy(model: CausalLM, options: PromptEmbedderOptions): PromptEmbedder {
    return new PromptEmbedder(model, { kind: 'tokens' }, options, false);
  }

  /**
   * An embedding model from a Hugging Face model directory our model library loads
   * (Llama / Qwen2 / Qwen3 / GPT-2 layouts), with the tokenizer in that directory;
   * prompts are read from `prompt_text` and tokenised without special tokens.
   */
  static async fromDirectory(
    dir: string,
    options: PromptEmbedderOptions,
    baseDir = process.cwd(),
  ): Promise<PromptEmbedder> {
    const resolved = path.resolve(baseDir, dir);
    const model = await loadPretrained(resolved, { tokenizerDir: resolved });
    try {
      const tokenizer = await HfTokenizer.fromDirectory(resolved);
      return new PromptEmbedder(model, { kind: 'text', tokenizer }, options, true);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  /** Width of a row: the model's hidden size. */
  get dimension(): number {
    return this.model.config.hiddenSize;
  }

  /** The {@link Embedder} to hand the grouping stage: one row per batch row. */
  readonly embed: Embedder = (batch) => Promise.resolve(this.embedBatch(batch));

  /** One row per batch row (synchronous; see {@link embed}). */
  embedBatch(batch: RecordBatch): Float32Array[] {
    const prompts = this.promptsOf(batch);
    return this.embedPrompts(prompts);
  }

  /** One row per prompt, each given as its key and token ids; a repeated key shares its row. */
  embedPrompts(prompts: readonly { key: string; ids: ArrayLike<number> }[]): Float32Array[] {
    const out = new Array<Float32Array>(prompts.length);
    // the batch's distinct prompts, each with its rows (the generations of one prompt)
    const distinct = new Map<string, number[]>();
    prompts.forEach((p, i) => {
      const rows = distinct.get(p.key);
      if (rows) rows.push(i);
      else distinct.set(p.key, [i]);
    });
    const missing: string[] = [];
    for (const [key, rows] of distinct) {
      const hit = this.cache.get(key);
      if (!hit) {
        missing.push(key);
        continue;
      }
      // refresh its place: the least recently used leave first
      this.cache.delete(key);
      this.cache.set(key, hit);
      this.stats.hits++;
      for (const i of rows) out[i] = hit;
    }
    for (let at = 0; at < missing.length; at += this.options.microBatchSize) {
      const chunk = missing.slice(at, at + this.options.microBatchSize);
      // a prompt's ids are read (for text: tokenised) only here, on a miss
      const rows = this.pooled(chunk.map((k) => prompts[distinct.get(k)![0]!]!.ids));
      chunk.forEach((key, j) => {
        this.stats.misses++;
        for (const i of distinct.get(key)!) out[i] = rows[j]!;
        this.remember(key, rows[j]!);
      });
    }
    return out;
  }

  /** Frees the embedding model when this embedder loaded it (never the policy). */
  dispose(): void {
    this.cache.clear();
    if (this.owned) this.model.dispose();
  }

  private remember(key: string, row: Float32Array): void {
    if (this.options.cacheSize === 0) return;
    this.cache.set(key, row);
    while (this.cache.size > this.options.cacheSize)
      this.cache.delete(this.cache.keys().next().value!);
  }

  /** Masked mean of the last hidden state over each sequence's tokens: right-padded, one forward pass. */
  private pooled(seqs: readonly ArrayLike<number>[]): Float32Array[] {
    const b = seqs.length;
    const t = Math.max(1, ...seqs.map((s) => s.length));
    const ids = new Int32Array(b * t);
    const mask = new Int32Array(b * t);
    seqs.forEach((s, r) => {
      for (let j = 0; j < s.length; j++) {
        ids[r * t + j] = s[j]!;
        mask[r * t + j] = 1;
      }
    });
    this.stats.forwardPasses++;
    const values = tf.tidy(() =>
      this.model.meanPooledHidden(
        tf.tensor2d(ids, [b, t], 'int32'),
        tf.tensor2d(mask, [b, t], 'int32'),
      ),
    );
    const flat = values.dataSync() as Float32Array;
    values.dispose();
    const d = flat.length / b;
    return Array.from({ length: b }, (_, r) => flat.slice(r * d, (r + 1) * d));
  }

  /** Each row's prompt: key and token ids. */
  private promptsOf(batch: RecordBatch): { key: string; ids: ArrayLike<number> }[] {
    if (this.source.kind === 'tokens') {
      if (!batch.getChild(COLUMNS.promptTokens))
        throw new RxrlDataError(
          `prompt embeddings: the batch has no '${COLUMNS.promptTokens}' column`,
          { field: COLUMNS.promptTokens },
        );
      const { values, offsets } = readListColumn(batch, COLUMNS.promptTokens, 'int32');
      return Array.from({ length: batch.numRows }, (_, i) => {
        const ids = values.subarray(offsets[i]!, offsets[i + 1]!);
        return { key: ids.join(','), ids };
      });
    }
    const texts = batch.getChild(COLUMNS.promptText);
    if (!texts)
      throw new RxrlDataError(
        `prompt embeddings from an embedding model: the batch has no '${COLUMNS.promptText}' column`,
        { field: COLUMNS.promptText },
      );
    const tokenizer = this.source.tokenizer;
    return Array.from({ length: batch.numRows }, (_, i) => {
      const text = (texts.get(i) as string | null) ?? '';
      // tokenised only on a miss
      let ids: number[] | undefined;
      return {
        key: text,
        get ids() {
          return (ids ??= tokenizer.encode(text, { addSpecialTokens: false }));
        },
      };
    });
  }
}
