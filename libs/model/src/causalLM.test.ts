import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, useBackend } from '@rxrl/core';
import { CausalLM } from './causalLM';
import { loadPretrained } from './pretrained';
import { presetConfig } from './modelConfig';
import { FIXTURE_ARCHS, FIXTURE_DIR } from '../test/fixtures';

const ids2d = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');

describe('CausalLM', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('create: same seed gives the same weights, HF names, HF init statistics', () => {
    const cfg = presetConfig('qwen2', 'tiny', 64);
    const a = CausalLM.create(cfg, { seed: 42 });
    const b = CausalLM.create(cfg, { seed: 42 });
    const c = CausalLM.create(cfg, { seed: 43 });
    const q = 'model.layers.1.self_attn.q_proj.weight';
    const va = a.trainableVariables();
    expect(va.get(q)!.shape).toEqual([64, 64]);
    expect(va.get('model.layers.0.self_attn.k_proj.weight')!.shape).toEqual([64, 32]); // [in, out], 2 kv heads × 16
    expect(va.has('model.layers.0.self_attn.k_proj.bias')).toBe(true);
    expect(va.has('lm_head.weight')).toBe(false); // qwen2 preset ties
    expect(Array.from(b.trainableVariables().get(q)!.dataSync())).toEqual(
      Array.from(va.get(q)!.dataSync()),
    );
    expect(Array.from(c.trainableVariables().get(q)!.dataSync())).not.toEqual(
      Array.from(va.get(q)!.dataSync()),
    );
    // normal(0, 0.02) matrices, ones for norms, zeros for biases
    const w = Array.from(va.get('model.layers.0.mlp.up_proj.weight')!.dataSync());
    const mean = w.reduce((s, x) => s + x, 0) / w.length;
    const std = Math.sqrt(w.reduce((s, x) => s + (x - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    expect(Array.from(va.get('model.norm.weight')!.dataSync()).every((x) => x === 1)).toBe(true);
    expect(
      Array.from(va.get('model.layers.0.self_attn.q_proj.bias')!.dataSync()).every((x) => x === 0),
    ).toBe(true);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('tokenEntropies equals −Σ p log p of softmax(logits / τ) (float64 in JS), for any chunk size', async () => {
    const model = await loadPretrained(path.join(FIXTURE_DIR, 'llama'));
    const V = model.config.vocabSize;
    const ids = ids2d([
      [3, 9, 27, 81, 50],
      [7, 7, 1, 2, 3],
    ]);
    const mask = ids2d([
      [1, 1, 1, 1, 1],
      [0, 0, 1, 1, 1],
    ]);
    const logits = model.logits(ids, mask).dataSync();
    for (const [tau, chunkSize] of [
      [1, undefined],
      [0.7, 3],
    ] as const) {
      const got = model.tokenEntropies(ids, mask, { temperature: tau, chunkSize });
      expect(got.shape).toEqual([2, 5]);
      const g = got.dataSync();
      for (let r = 0; r < 10; r++) {
        let max = -Infinity;
        for (let j = 0; j < V; j++) max = Math.max(max, logits[r * V + j]! / tau);
        let z = 0;
        for (let j = 0; j < V; j++) z += Math.exp(logits[r * V + j]! / tau - max);
        let h = 0;
        for (let j = 0; j < V; j++) {
          const lp = logits[r * V + j]! / tau - max - Math.log(z);
          h -= Math.exp(lp) * lp;
        }
        expect(g[r]).toBeCloseTo(h, 4);
      }
      got.dispose();
    }
    tf.dispose([ids, mask]);
    model.dispose();
  });

  it('withProbe sees every named site of a forward pass in order, and only inside withProbe', async () => {
    const model = await loadPretrained(path.join(FIXTURE_DIR, 'llama'));
    const ids = ids2d([[3, 9, 27]]);
    const sites: string[] = [];
    const lp = model.withProbe(
      (site) => sites.push(site),
      () => model.tokenLogProbs(ids, null, ids),
    );
    const layer = (i: number) =>
      ['input_layernorm', 'self_attn', 'self_attn.o_proj', 'post_attention_layernorm', 'mlp'].map(
        (m) => `model.layers.${i}.${m}`,
      );
    expect(sites).toEqual([
      'model.embed_tokens',
      ...Array.from({ length: model.config.numLayers }, (_, i) => [
        ...layer(i),
        `model.layers.${i}`,
      ]).flat(),
      'model.norm',
      'lm_head',
    ]);
    const n = sites.length;
    tf.dispose([lp, model.tokenLogProbs(ids, null, ids)]);
    expect(sites).toHaveLength(n);
    tf.dispose(ids);
    model.dispose();
  });

  it('tokenLogProbsAndEntropies: one pass gives tokenLogProbs, tokenEntropies and the entropy gradient of full logits', async () => {
    const model = await loadPretrained(path.join(FIXTURE_DIR, 'llama'));
    const ids = ids2d([
      [3, 9, 27, 81, 50],
      [7, 7, 1, 2, 3],
    ]);
    const mask = ids2d([
      [1, 1, 1, 1, 1],
      [0, 0, 1, 1, 1],
    ]);
    const targets = ids2d([
      [9, 27, 81, 50, 0],
      [7, 1, 2, 3, 0],
    ]);
    const both = model.tokenLogProbsAndEntropies(ids, mask, targets, { chunkSize: 3 });
    const lp = model.tokenLogProbs(ids, mask, targets);
    const ent = model.tokenEntropies(ids, mask);
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) =>
      Math.max(...Array.from(tf.tidy(() => tf.abs(tf.sub(a, b))).dataSync()));
    expect(maxDiff(both.logprobs, lp)).toBeLessThan(1e-5);
    expect(maxDiff(both.entropies, ent)).toBeLessThan(1e-5);
    tf.dispose([both.logprobs, both.entropies, lp, ent]);
    const before = tf.memory().numTensors; // after the model's lazily built caches
    // gradient of Σ H w.r.t. every weight equals that of the unchunked −Σ p log p of model.logits
    const vars = [...model.trainableVariables().values()];
    const chunked = tf.variableGrads(
      () => tf.sum(model.tokenLogProbsAndEntropies(ids, mask, targets, { chunkSize: 2 }).entropies),
      vars,
    );
    const full = tf.variableGrads(() => {
      const logp = tf.logSoftmax(model.logits(ids, mask));
      return tf.neg(tf.sum(tf.mul(tf.exp(logp), logp))) as tf.Scalar;
    }, vars);
    let num = 0;
    let den = 0;
    for (const k of Object.keys(full.grads)) {
      const a = chunked.grads[k]!.dataSync();
      const b = full.grads[k]!.dataSync();
      for (let i = 0; i < a.length; i++) {
        num += (a[i]! - b[i]!) ** 2;
        den += b[i]! ** 2;
      }
    }
    expect(den).toBeGreaterThan(0);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-4);
    tf.dispose([
      chunked.value,
      full.value,
      ...Object.values(chunked.grads),
      ...Object.values(full.grads),
    ]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask, targets]);
    model.dispose();
  });

  it('tokenLogProbs equals log_softmax(logits)[target] (float64 in JS), for any chunk size', async () => {
    const model = await loadPretrained(path.join(FIXTURE_DIR, 'llama'));
    const V = model.config.vocabSize;
    const ids = ids2d([
      [3, 9, 27, 81, 50],
      [7, 7, 1, 2, 3],
    ]);
    const mask = ids2d([
      [1, 1, 1, 1, 1],
      [0, 0, 1, 1, 1],
    ]);
    const targets = ids2d([
      [9, 27, 81, 50, 0],
      [0, 1, 2, 3, 95],
    ]);
    const logits = model.logits(ids, mask).dataSync();
    const tgt = targets.dataSync();
    const want: number[] = [];
    for (let r = 0; r < 10; r++) {
      let max = -Infinity;
      for (let j = 0; j < V; j++) max = Math.max(max, logits[r * V + j]!);
      let z = 0;
      for (let j = 0; j < V; j++) z += Math.exp(logits[r * V + j]! - max);
      want.push(logits[r * V + tgt[r]!]! - max - Math.log(z));
    }
    for (const chunkSize of [undefined, 3, 1]) {
      const lp = model.tokenLogProbs(ids, mask, targets, { chunkSize });
      expect(lp.shape).toEqual([2, 5]);
      const got = lp.dataSync();
      for (let r = 0; r < 10; r++) expect(got[r]).toBeCloseTo(want[r]!, 4);
      lp.dispose();
    }
    expect(() => model.tokenLogProbs(ids, mask, targets, { chunkSize: 0 })).toThrow(
      /chunkSize must be a positive integer/,
    );
    // at temperature τ: log_softmax(logits / τ)[target], as a sampler at τ draws
    const tau = 0.6;
    const lpT = model.tokenLogProbs(ids, mask, targets, { temperature: tau, chunkSize: 3 });
    const gotT = lpT.dataSync();
    for (let r = 0; r < 10; r++) {
      let max = -Infinity;
      for (let j = 0; j < V; j++) max = Math.max(max, logits[r * V + j]! / tau);
      let z = 0;
      for (let j = 0; j < V; j++) z += Math.exp(logits[r * V + j]! / tau - max);
      expect(gotT[r]).toBeCloseTo(logits[r * V + tgt[r]!]! / tau - max - Math.log(z), 4);
    }
    lpT.dispose();
    expect(() => model.tokenLogProbs(ids, mask, targets, { temperature: 0 })).toThrow(
      /temperature must be a positive number/,
    );
    tf.dispose([ids, mask, targets]);
    model.dispose();
  });

  it('frozenCopy: same logits, no trainable variables, unaffected by later updates of the policy', () => {
    const model = CausalLM.create(presetConfig('gpt2', 'tiny', 48), { seed: 5 });
    const ref = model.frozenCopy();
    expect(ref.trainableVariables().size).toBe(0);
    expect(ref.variables().size).toBe(model.variables().size);
    const ids = ids2d([[1, 2, 3, 4, 5, 6]]);
    const before = model.logits(ids).dataSync();
    expect(Array.from(ref.logits(ids).dataSync())).toEqual(Array.from(before));
    const wte = model.trainableVariables().get('transformer.wte.weight')!;
    wte.assign(tf.mul(wte, 2));
    expect(Array.from(model.logits(ids).dataSync())).not.toEqual(Array.from(before));
    expect(Array.from(ref.logits(ids).dataSync())).toEqual(Array.from(before));
    // the native optimizer writes a weight's own array in place (dataSync hands
    // it out on cpu/native): the copy must not share it
    (
      model.trainableVariables().get('transformer.h.0.mlp.c_fc.weight')!.dataSync() as Float32Array
    ).fill(0);
    expect(Array.from(ref.logits(ids).dataSync())).toEqual(Array.from(before));
    model.dispose();
    ref.dispose();
    ids.dispose();
  });

  it("meanPooledHidden: projecting it through the tied head gives the mean of the real tokens' logits", () => {
    // logits = h·Eᵀ is linear in h, so mean_t(h)·Eᵀ = mean_t(logits) over real tokens
    const model = CausalLM.create(presetConfig('qwen3', 'tiny', 40), { seed: 9 });
    const ids = ids2d([
      [0, 0, 5, 6, 7],
      [1, 2, 3, 4, 5],
    ]);
    const mask = ids2d([
      [0, 0, 1, 1, 1],
      [1, 1, 1, 1, 1],
    ]);
    const pooled = model.meanPooledHidden(ids, mask);
    expect(pooled.shape).toEqual([2, 64]);
    const emb = model.variables().get('model.embed_tokens.weight')!;
    const projected = tf.matMul(pooled, emb, false, true).dataSync();
    const logits = model.logits(ids, mask).dataSync();
    const m = mask.dataSync();
    for (let b = 0; b < 2; b++) {
      for (let j = 0; j < 40; j++) {
        let s = 0;
        let n = 0;
        for (let t = 0; t < 5; t++) {
          if (!m[b * 5 + t]) continue;
          s += logits[(b * 5 + t) * 40 + j]!;
          n++;
        }
        expect(projected[b * 40 + j]).toBeCloseTo(s / n, 4);
      }
    }
    // left padding does not change the pooled vector of the real tokens
    const alone = model.meanPooledHidden(ids2d([[5, 6, 7]])).dataSync();
    for (let i = 0; i < 64; i++) expect(pooled.dataSync()[i]).toBeCloseTo(alone[i]!, 4);
    model.dispose();
  });

  for (const arch of FIXTURE_ARCHS) {
    it(`${arch}: the gradient of Σ w·logp w.r.t. every weight matches central differences along a random direction`, async () => {
      const model = await loadPretrained(path.join(FIXTURE_DIR, arch));
      const vars = model.trainableVariables();
      const ids = ids2d([
        [4, 8, 15, 16, 23],
        [42, 42, 1, 2, 3],
      ]);
      const mask = ids2d([
        [1, 1, 1, 1, 1],
        [0, 1, 1, 1, 1],
      ]);
      const targets = ids2d([
        [8, 15, 16, 23, 42],
        [0, 1, 2, 3, 4],
      ]);
      const weights = tf.tensor2d([
        [1, -0.5, 2, 0.3, 1],
        [0, 1, 1, -1, 0.5],
      ]);
      const objective = () =>
        tf.tidy(
          () => tf.sum(tf.mul(model.tokenLogProbs(ids, mask, targets), weights)) as tf.Scalar,
        );
      const { grads, value } = tf.variableGrads(objective, [...vars.values()]);
      value.dispose();
      const rng = new Rng(17);
      const eps = 1e-3;
      const evalAt = (v: tf.Variable, base: tf.Tensor, u: tf.Tensor, step: number) => {
        v.assign(tf.tidy(() => tf.add(base, tf.mul(u, step))));
        const f = objective();
        const x = f.dataSync()[0]!;
        f.dispose();
        return x;
      };
      for (const [name, v] of vars) {
        const u = tf.tensor(rng.fillNormal(new Float32Array(v.size)), v.shape);
        const analytic = tf.tidy(() => tf.sum(tf.mul(grads[v.name]!, u)).dataSync()[0]!);
        const base = v.clone();
        const numeric = (evalAt(v, base, u, eps) - evalAt(v, base, u, -eps)) / (2 * eps);
        v.assign(base);
        expect(
          Math.abs(analytic - numeric),
          `${name}: analytic ${analytic}, numeric ${numeric}`,
        ).toBeLessThan(1e-2 * Math.abs(numeric) + 5e-3);
        tf.dispose([u, base]);
      }
      tf.dispose([ids, mask, targets, weights, ...Object.values(grads)]);
      model.dispose();
    });
  }
});
