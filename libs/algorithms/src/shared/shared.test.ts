import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { BuiltinTokenizer } from '@rxrl/data';
import { nllLoss, stopGradient } from '@rxrl/loss';
import { CausalLM, presetConfig } from '@rxrl/model';
import { AdamW } from '@rxrl/optimizer';
import { NonFiniteError, stateFileBytes } from '@rxrl/pipeline';
import { accumulatedStep } from './accumulatedStep';
import { EpochSampler } from './epochSampler';
import { greedyDecode } from './greedyDecode';
import { lmBatchArrays, lmBatchTensors, type LmSequence } from './lmBatch';
import { loadPolicyState, savePolicyState } from './policyState';

const tok = new BuiltinTokenizer();
const tiny = () => ({
  ...presetConfig('llama', 'tiny', tok.vocabSize),
  hiddenSize: 32,
  intermediateSize: 64,
  numLayers: 1,
  numHeads: 2,
  numKvHeads: 2,
  headDim: 16,
  maxPositionEmbeddings: 32,
});
const seqs = ['12+7=19', '3-5=-2', '40+41=81', '9*9=81'].map((s) => {
  const tokens = [tok.bosTokenId, ...tok.encode(s, { addSpecialTokens: false }), tok.eosTokenId];
  return { tokens, mask: tokens.map(() => 1) };
});

beforeAll(async () => {
  await useBackend('wasm');
});

describe('EpochSampler', () => {
  it('each epoch is a permutation cut into full batches; (epoch, position) resumes it', () => {
    const s = new EpochSampler(10, 3, 7);
    const e0 = [...s.batches(0, 0)];
    expect(e0).toHaveLength(3); // 10 = 3·3 + 1 dropped
    const seen = e0.flat();
    expect(new Set(seen).size).toBe(9);
    expect(seen.every((i) => i >= 0 && i < 10)).toBe(true);
    expect([...s.batches(0, 1)]).toEqual(e0.slice(1));
    expect([...s.batches(1, 0)]).not.toEqual(e0);
    expect([...new EpochSampler(10, 3, 7).batches(1, 0)]).toEqual([...s.batches(1, 0)]);
    expect([...new EpochSampler(4, 2, 7, false).batches(0, 0)]).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});

describe('accumulatedStep per-layer gradient norms', () => {
  it('every 2nd update: one norm per layer group, combining to grad_norm (before clipping)', () => {
    const model = CausalLM.create(tiny(), { seed: 1 });
    const opt = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-3 });
    const step = () =>
      accumulatedStep({
        model,
        optimizer: opt,
        microBatches: [seqs],
        maxGradNorm: 1e-3, // clipping must not change what is reported
        gradNormPerLayerEvery: 2,
        loss: (mb) => {
          const t = lmBatchTensors(lmBatchArrays(mb, 0));
          return nllLoss({
            logprobs: model.tokenLogProbs(t.ids, t.attention, t.targets),
            tokenMask: t.tokenMask,
          });
        },
      });
    const seen = [step(), step(), step()].map((m) =>
      Object.keys(m).filter((k) => k.startsWith('grad_norm/')),
    );
    expect(seen[1]).toEqual([]);
    expect(seen[2]).toEqual(seen[0]);
    const layers = model.config.numLayers;
    expect(seen[0]).toEqual(
      expect.arrayContaining([
        ...Array.from({ length: layers }, (_, i) => `grad_norm/layers.${i}`),
        'grad_norm/embed_tokens',
        'grad_norm/norm',
      ]),
    );
    const m = step(); // update 3: none; update 4 below
    expect(Object.keys(m).some((k) => k.startsWith('grad_norm/'))).toBe(false);
    const m4 = step();
    const parts = Object.entries(m4).filter(([k]) => k.startsWith('grad_norm/'));
    expect(Math.hypot(...parts.map(([, v]) => v))).toBeCloseTo(m4['grad_norm']!, 4);
    expect(m4['grad_norm']!).toBeGreaterThan(1e-3);
    model.dispose();
  });
});

describe('a non-finite step names where it started', () => {
  const nll = (model: CausalLM) => (mb: readonly LmSequence[]) => {
    const t = lmBatchTensors(lmBatchArrays(mb, 0));
    return nllLoss({
      logprobs: model.tokenLogProbs(t.ids, t.attention, t.targets),
      tokenMask: t.tokenMask,
    });
  };
  const failure = (run: () => unknown): NonFiniteError => {
    try {
      run();
    } catch (e) {
      expect(e).toBeInstanceOf(NonFiniteError);
      return e as NonFiniteError;
    }
    throw new Error('expected a NonFiniteError');
  };

  it('an Inf planted in layer 1 up_proj: the first non-finite site is model.layers.1.mlp of micro-batch 0; weights untouched', () => {
    const model = CausalLM.create({ ...tiny(), numLayers: 2 }, { seed: 1 });
    const vars = model.trainableVariables();
    const w = vars.get('model.layers.1.mlp.up_proj.weight')!;
    const buf = w.bufferSync();
    buf.set(Infinity, 0, 0);
    w.assign(buf.toTensor());
    const opt = new AdamW(Object.fromEntries(vars), { lr: 1e-3 });
    const before = vars.get('model.layers.0.mlp.up_proj.weight')!.dataSync().slice();
    const err = failure(() =>
      accumulatedStep({
        model,
        optimizer: opt,
        microBatches: [seqs.slice(0, 2), seqs.slice(2)],
        maxGradNorm: 1,
        loss: nll(model),
      }),
    );
    expect(err.origin).toMatch(
      /^first non-finite value: micro-batch 0, forward, at model\.layers\.1\.mlp \(\d+ of \d+ values\)$/,
    );
    expect(err.message).toContain('the update was not applied; first non-finite value');
    expect(vars.get('model.layers.0.mlp.up_proj.weight')!.dataSync()).toEqual(before);
    model.dispose();
  });

  it('finite activations with a non-finite loss term: named as the loss; finite forward with an infinite gradient: the layers of the backward pass', () => {
    const model = CausalLM.create(tiny(), { seed: 1 });
    const opt = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-3 });
    const logLoss = failure(() =>
      accumulatedStep({
        model,
        optimizer: opt,
        microBatches: [seqs],
        maxGradNorm: 1,
        loss: (mb) => {
          const r = nll(model)(mb);
          const bad = tf.log(tf.neg(tf.abs(r.loss))) as tf.Scalar; // log of a negative number
          return {
            loss: bad,
            metrics: {
              loss: stopGradient(bad) as tf.Scalar,
              log_term: stopGradient(bad) as tf.Scalar,
              nll: r.loss,
            },
          };
        },
      }),
    );
    expect(logLoss.origin).toMatch(
      /micro-batch 0, the model's activations and log-probs are finite; the loss is not \(.*log_term/,
    );
    const sqrtLoss = failure(() =>
      accumulatedStep({
        model,
        optimizer: opt,
        microBatches: [seqs],
        maxGradNorm: 1,
        loss: (mb) => {
          const t = lmBatchTensors(lmBatchArrays(mb, 0));
          const lp = model.tokenLogProbs(t.ids, t.attention, t.targets);
          // value 0, gradient ½/√0 = ∞
          const z = tf.sum(tf.sqrt(tf.sub(lp, stopGradient(lp)))) as tf.Scalar;
          return { loss: z, metrics: {} };
        },
      }),
    );
    expect(sqrtLoss.metric).toBe('grad_norm');
    expect(sqrtLoss.origin).toMatch(
      /^the forward pass and the loss are finite; the backward pass is not: non-finite gradients in .*layers\.0/,
    );
    model.dispose();
  });
});

describe('policy state', () => {
  it('a save / load round trip resumes training exactly (weights, AdamW moments, lr schedule)', () => {
    const model = CausalLM.create(tiny(), { seed: 1 });
    const opt = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-2 });
    const step = () =>
      accumulatedStep({
        model,
        optimizer: opt,
        microBatches: [seqs],
        maxGradNorm: 1,
        loss: (mb) => {
          const t = lmBatchTensors(lmBatchArrays(mb, 0));
          return nllLoss({
            logprobs: model.tokenLogProbs(t.ids, t.attention, t.targets),
            tokenMask: t.tokenMask,
          });
        },
      })['loss']!;
    step();
    // copied now: the saved pieces view the live weights and moments
    const files = stateFileBytes(savePolicyState(model, opt));
    // the same state in 4 KiB shards (a 0.6B model's moments need several 2 GiB ones)
    const sharded = stateFileBytes(savePolicyState(model, opt, { shardBytes: 4096 }));
    const shardNames = Object.keys(sharded).filter((f) => f.startsWith('optimizer-'));
    expect(shardNames.length).toBeGreaterThan(2);
    expect(Object.keys(sharded)).not.toContain('optimizer.safetensors');
    const first = [step(), step()];
    loadPolicyState(model, opt, files);
    const again = [step(), step()];
    loadPolicyState(model, opt, sharded);
    const fromShards = [step(), step()];
    expect(again[0]).toBe(first[0]);
    expect(again[1]).toBe(first[1]);
    expect(fromShards).toEqual(first);
    expect(first[1]).not.toBe(first[0]);
    opt.dispose();
    model.dispose();
  });
});

describe('greedyDecode', () => {
  it('matches argmax over full recomputation, for left-padded prompts of different lengths', () => {
    const model = CausalLM.create(tiny(), { seed: 4 });
    const prompts = [
      [1, 20, 21, 22],
      [1, 30],
    ];
    const got = greedyDecode(model, prompts, { maxNewTokens: 4, eosTokenId: null, padTokenId: 0 });
    const want = prompts.map((p) => {
      const ids = [...p];
      for (let i = 0; i < 4; i++) {
        const next = tf.tidy(() => {
          const logits = model.logits(tf.tensor2d(ids, [1, ids.length], 'int32'));
          return tf.argMax(tf.squeeze(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, -1])));
        });
        ids.push(next.dataSync()[0]!);
        next.dispose();
      }
      return ids.slice(p.length);
    });
    expect(got).toEqual(want);
    const n0 = tf.memory().numTensors;
    greedyDecode(model, prompts, { maxNewTokens: 3, eosTokenId: 2, padTokenId: 0 });
    expect(tf.memory().numTensors).toBe(n0);
    model.dispose();
  });
});
