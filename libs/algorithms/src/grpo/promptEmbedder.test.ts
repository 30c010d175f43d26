import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { firstValueFrom, of } from 'rxjs';
import {
  emptyContext,
  listVectorFromRows,
  makeRecordBatch,
  readInt32Column,
} from '@rxrl/core/base';
import { formGroupsStage } from '@rxrl/grouping';
import { useBackend } from '@rxrl/core';
import { HfTokenizer } from '@rxrl/data';
import { CausalLM, loadPretrained, presetConfig } from '@rxrl/model';
import { PromptEmbedder } from './promptEmbedder';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

beforeAll(async () => {
  await useBackend('wasm');
});

/** The final hidden state of every token of `ids` run alone (the `model.norm` site), [T][D]. */
function hiddenStates(model: CausalLM, ids: number[]): Float32Array[] {
  let rows: Float32Array[] = [];
  tf.tidy(() =>
    model.withProbe(
      (site, x) => {
        if (site !== 'model.norm') return;
        const d = x.shape[x.shape.length - 1]!;
        const flat = x.dataSync() as Float32Array;
        rows = ids.map((_, t) => flat.slice(t * d, (t + 1) * d));
      },
      () => model.logits(tf.tensor2d([ids], [1, ids.length], 'int32')),
    ),
  );
  return rows;
}

/** The mean of `rows`, by hand. */
function mean(rows: Float32Array[]): number[] {
  return Array.from(rows[0]!, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
}

const promptBatch = (prompts: number[][]) =>
  makeRecordBatch({
    prompt_id: Int32Array.from(prompts, (_, i) => i),
    prompt_tokens: listVectorFromRows(prompts),
  });

describe('PromptEmbedder', () => {
  let model: CausalLM;
  beforeAll(() => {
    model = CausalLM.create(presetConfig('qwen3', 'tiny', 40), { seed: 3 });
  });
  afterAll(() => model.dispose());

  it("a row is the mean of the prompt's final hidden states (padding masked), as by hand", () => {
    const embedder = PromptEmbedder.forPolicy(model, { cacheSize: 16, microBatchSize: 8 });
    // prompts of 2, 5 and 3 tokens share one right-padded forward pass
    const prompts = [
      [7, 8],
      [1, 2, 3, 4, 5],
      [9, 9, 4],
    ];
    const rows = embedder.embedBatch(promptBatch(prompts));
    expect(embedder.stats).toEqual({ hits: 0, misses: 3, forwardPasses: 1 });
    prompts.forEach((ids, i) => {
      const byHand = mean(hiddenStates(model, ids));
      expect(rows[i]!.length).toBe(64);
      byHand.forEach((v, j) => expect(rows[i]![j]).toBeCloseTo(v, 5));
    });
    // padding changed nothing: the 2-token prompt alone pools the same
    const alone = PromptEmbedder.forPolicy(model, { cacheSize: 0, microBatchSize: 8 });
    const single = alone.embedBatch(promptBatch([[7, 8]]))[0]!;
    single.forEach((v, j) => expect(rows[0]![j]).toBeCloseTo(v, 5));
  });

  it('caches per prompt: a seen prompt costs no forward pass; the least recently used leaves first', () => {
    const embedder = PromptEmbedder.forPolicy(model, { cacheSize: 2, microBatchSize: 2 });
    const spy = vi.spyOn(model, 'meanPooledHidden');
    const a = [1, 2];
    const b = [3, 4, 5];
    const c = [6];
    // four generations of two prompts: two prompts computed in one pass, the repeats from the batch
    const first = embedder.embedBatch(promptBatch([a, a, b, b]));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(first[1]).toBe(first[0]);
    expect(embedder.stats).toEqual({ hits: 0, misses: 2, forwardPasses: 1 });
    // the same prompts again: both from the cache (all four rows), no forward pass
    const again = embedder.embedBatch(promptBatch([b, b, a, a]));
    expect(spy).toHaveBeenCalledTimes(1);
    expect(again[2]).toBe(first[0]);
    expect(again[0]).toBe(first[2]);
    expect(embedder.stats).toEqual({ hits: 2, misses: 2, forwardPasses: 1 });
    // a third prompt evicts the least recently used (b, last used before a); a stays, b is recomputed
    embedder.embedBatch(promptBatch([c]));
    embedder.embedBatch(promptBatch([a]));
    expect(spy).toHaveBeenCalledTimes(2);
    embedder.embedBatch(promptBatch([b]));
    expect(spy).toHaveBeenCalledTimes(3);
    expect(embedder.stats).toEqual({ hits: 3, misses: 4, forwardPasses: 3 });
    // five new prompts with micro-batches of two: three passes
    embedder.embedBatch(promptBatch([[11], [12], [13], [14], [15]]));
    expect(spy).toHaveBeenCalledTimes(6);
    spy.mockRestore();
  });

  it('leaves no tensor behind', () => {
    const embedder = PromptEmbedder.forPolicy(model, { cacheSize: 4, microBatchSize: 2 });
    const before = tf.memory().numTensors;
    embedder.embedBatch(promptBatch([[1], [2, 3], [4, 5, 6]]));
    embedder.embedBatch(promptBatch([[1], [7]]));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an embedding model directory: its own tokenizer over prompt_text, cached by text; it frees what it loaded', async () => {
    const dir = path.join(root, 'models/arith-sft');
    const embedder = await PromptEmbedder.fromDirectory(dir, { cacheSize: 8, microBatchSize: 8 });
    const tokenizer = await HfTokenizer.fromDirectory(dir);
    const texts = ['12+7=', '3-1=', '12+7='];
    const batch = makeRecordBatch({ prompt_id: Int32Array.of(0, 1, 2), prompt_text: texts });
    const rows = embedder.embedBatch(batch);
    expect(rows[2]).toBe(rows[0]);
    expect(embedder.stats).toEqual({ hits: 0, misses: 2, forwardPasses: 1 });
    // by hand: that model's final hidden states over the text's tokens, averaged
    const same = await loadPretrained(dir);
    const ids = tokenizer.encode('3-1=', { addSpecialTokens: false });
    mean(hiddenStates(same, ids)).forEach((v, j) => expect(rows[1]![j]).toBeCloseTo(v, 5));
    same.dispose();
    expect(rows[0]!.length).toBe(embedder.dimension);
    const before = tf.memory().numTensors;
    embedder.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });

  it('grouping.form_groups with similarity_threshold over policy embeddings: groups and diversity metrics as by hand', async () => {
    const embedder = PromptEmbedder.forPolicy(model, { cacheSize: 8, microBatchSize: 8 });
    const [A, B, C] = [
      [4, 5, 6],
      [4, 5, 7],
      [30, 2],
    ];
    const unit = [A, B, C].map((ids) => {
      const m = mean(hiddenStates(model, ids));
      const norm = Math.hypot(...m);
      return m.map((v) => v / norm);
    });
    const cos = (i: number, j: number) => unit[i]!.reduce((s, v, k) => s + v * unit[j]![k]!, 0);
    // name the prompts so that B is the nearer to A, and put the threshold between the two
    const [near, far] = cos(0, 1) >= cos(0, 2) ? [1, 2] : [2, 1];
    const threshold = (cos(0, near) + Math.max(cos(0, far), cos(far, near))) / 2;
    expect(cos(0, near)).toBeGreaterThan(threshold);
    const prompts = [A, C, B].map((_, i) => [A, B, C][[0, far, near][i]!]!);
    // two generations per prompt; rows: a a f f n n
    const batch = makeRecordBatch({
      prompt_id: Int32Array.of(0, 0, 1, 1, 2, 2),
      prompt_tokens: listVectorFromRows([0, 0, 1, 1, 2, 2].map((p) => prompts[p]!)),
      reward: Float32Array.of(1, 0, 0, 0, 1, 1),
      completion_text: ['5', '6', '1', '2', '7', '7'],
      group_id: Int32Array.of(0, 0, 1, 1, 2, 2),
    });
    const metrics: Record<string, number> = {};
    const stage = formGroupsStage.create(
      formGroupsStage.schema.parse({
        strategy: 'semantic',
        options: { similarity_threshold: threshold },
        replace_group_id: true,
      }),
      { ...emptyContext((m) => Object.assign(metrics, m)), services: { embedder: embedder.embed } },
    );
    const before = tf.memory().numTensors;
    const out = await firstValueFrom(of(batch).pipe(stage));
    expect(tf.memory().numTensors).toBe(before);
    // row 0 anchors: its sibling (cos 1) and the near prompt's two rows (cos above the
    // threshold) join it; the far prompt's rows form the second group
    expect(Array.from(readInt32Column(out, 'group_id'))).toEqual([0, 0, 1, 1, 0, 0]);
    expect(embedder.stats).toEqual({ hits: 0, misses: 3, forwardPasses: 1 });
    const dAN = 1 - cos(0, near);
    expect(metrics['train/grouping/num_groups']).toBe(2);
    expect(metrics['train/grouping/group_size_mean']).toBe(3);
    expect(metrics['train/grouping/group_size_min']).toBe(2);
    expect(metrics['train/grouping/group_size_max']).toBe(4);
    // rewards 1, 0, 1, 1: Bessel std 0.5; 0, 0: 0 (a zero-std group)
    expect(metrics['train/grouping/reward_std_mean']).toBeCloseTo(0.25, 6);
    expect(metrics['train/grouping/zero_std_fraction']).toBe(0.5);
    // group 0: 4 of its 6 pairs cross between the two prompts; group 1: one prompt, distance 0
    expect(metrics['train/grouping/embedding_spread']).toBeCloseTo(((4 * dAN) / 6 + 0) / 2, 5);
    // '5', '6', '7', '7': 3 of 4 distinct; '1', '2': 2 of 2
    expect(metrics['train/grouping/distinct_completion_fraction']).toBeCloseTo((3 / 4 + 1) / 2, 12);
  });
});
