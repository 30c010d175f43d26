import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { BuiltinTokenizer, ArithmeticTask } from '@rxrl/data';
import { CausalLM, LoraAdapter, presetConfig } from '@rxrl/model';
import { AdamW, SGD } from '@rxrl/optimizer';
import { sftExamples } from './sftExamples';
import { sftDataSchema, sftSchema } from './sftOptions';
import { nllLoss } from '@rxrl/loss';
import { SftTrainer, type SftObjective } from './sftTrainer';
import { lmBatchArrays, lmBatchTensors } from '../shared/lmBatch';
import { greedyDecode } from '../shared/greedyDecode';
import { tokenizeKeys } from '../shared/stepGraph';

const tok = new BuiltinTokenizer();
const tinyConfig = () => ({
  ...presetConfig('llama', 'tiny', tok.vocabSize),
  hiddenSize: 32,
  intermediateSize: 64,
  numLayers: 1,
  numHeads: 2,
  numKvHeads: 2,
  headDim: 16,
  maxPositionEmbeddings: 32,
});
const data = sftDataSchema.parse({ loss_mask: 'completion_only' });
const sft = sftSchema.parse({
  val_micro_batch_size: 3,
  val_generation: { num_prompts: 4, max_new_tokens: 4 },
});
const task = new ArithmeticTask({ operators: ['+', '-'], max_digits: 2, seed: 3 });
const examples = (n: number) => sftExamples(tok, task.sftRows('train', n), data, 32).examples;

function trainer(
  model: CausalLM,
  opt: SGD | AdamW,
  train = examples(8),
  micro = 8,
  global = 8,
  objective?: SftObjective,
) {
  return new SftTrainer({
    ...(objective ? { objective } : {}),
    model,
    tokenizer: tok,
    optimizer: opt,
    policy: { train_global_batch_size: global, train_micro_batch_size: micro, max_grad_norm: null },
    sft,
    train,
    val: examples(6),
    seed: 0,
  });
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('SftTrainer', () => {
  it('sft.loss_type dft: the step loss is Σ p·(−log p) over the loss tokens / their count, micro-batched', async () => {
    const train = examples(8);
    const model = CausalLM.create(tinyConfig(), { seed: 9 });
    // by hand from the model's token log-probs before the step
    const a = lmBatchArrays(train, tok.padTokenId ?? tok.eosTokenId ?? 0);
    const [lp, mask] = tf.tidy(() => {
      const t = lmBatchTensors(a);
      return [
        model.tokenLogProbs(t.ids, t.attention, t.targets).dataSync(),
        t.tokenMask.dataSync(),
      ];
    });
    let num = 0;
    let nll = 0;
    let n = 0;
    lp!.forEach((v, i) => {
      if (!mask![i]) return;
      num += -Math.exp(v) * v;
      nll -= v;
      n++;
    });
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.5 });
    const t = new SftTrainer({
      model,
      tokenizer: tok,
      optimizer: opt,
      policy: { train_global_batch_size: 8, train_micro_batch_size: 3, max_grad_norm: null },
      sft: { ...sft, loss_type: sftSchema.parse({ loss_type: 'dft' }).loss_type },
      train,
      val: examples(6),
      seed: 0,
    });
    const m = (await t.trainStep([0, 1, 2, 3, 4, 5, 6, 7], 1)).metrics;
    expect(m['train/loss']).toBeCloseTo(num / n, 5);
    expect(m['train/loss']).toBeLessThan(nll / n); // p < 1 shrinks every token's term
    model.dispose();
  });

  it('takes a custom objective: the NLL by hand gives the same step, a doubled loss twice the gradient', async () => {
    const train = examples(8);
    const step = async (objective?: SftObjective) => {
      const model = CausalLM.create(tinyConfig(), { seed: 5 });
      const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.5 });
      const m = (
        await trainer(model, opt, train, 4, 8, objective).trainStep([0, 1, 2, 3, 4, 5, 6, 7], 7)
      ).metrics;
      opt.dispose();
      model.dispose();
      return m;
    };
    const seen: number[] = [];
    const byHand = await step((inputs, ctx) => {
      seen.push(ctx.step, ctx.examples.length);
      return nllLoss(inputs);
    });
    const builtIn = await step();
    expect(seen).toEqual([7, 4, 7, 4]);
    for (const k of ['train/loss', 'train/grad_norm', 'train/num_unmasked_tokens'])
      expect(byHand[k], k).toBe(builtIn[k]);
    const doubled = await step((inputs) => {
      const r = nllLoss(inputs);
      return { ...r, loss: tf.mul(r.loss, 2) as tf.Scalar };
    });
    expect(doubled['train/grad_norm']! / builtIn['train/grad_norm']!).toBeCloseTo(2, 5);
  });

  it('a micro-batched step (4 x 2) equals one full-batch step: loss, grad norm and updated weights', async () => {
    const train = examples(8);
    // different lengths in one batch: the global token normaliser is what makes micro-batches add up
    expect(new Set(train.map((e) => e.tokens.length)).size).toBeGreaterThan(1);
    const run = async (micro: number) => {
      const model = CausalLM.create(tinyConfig(), { seed: 5 });
      const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.5 });
      const t = trainer(model, opt, train, micro, 8);
      const m = (await t.trainStep([0, 1, 2, 3, 4, 5, 6, 7], 1)).metrics;
      const w = new Map(
        [...model.trainableVariables()].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]),
      );
      const before = CausalLM.create(tinyConfig(), { seed: 5 });
      const moved = [...before.trainableVariables()].reduce(
        (s, [k, v]) => s + Math.abs(w.get(k)![0]! - v.dataSync()[0]!),
        0,
      );
      before.dispose();
      opt.dispose();
      model.dispose();
      return { m, w, moved };
    };
    const full = await run(8);
    const micro = await run(2);
    expect(full.moved).toBeGreaterThan(1e-4); // the step really changed the weights
    expect(Math.abs(micro.m['train/loss']! - full.m['train/loss']!)).toBeLessThan(1e-5);
    expect(Math.abs(micro.m['train/grad_norm']! - full.m['train/grad_norm']!)).toBeLessThan(1e-5);
    expect(micro.m['train/num_unmasked_tokens']).toBe(full.m['train/num_unmasked_tokens']);
    let maxDiff = 0;
    for (const [k, a] of full.w) {
      const b = micro.w.get(k)!;
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    }
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('the loss is the token-mean NLL of the completion tokens (checked against tokenLogProbs by hand)', async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 2 });
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 1e-9 });
    const train = examples(4);
    const t = trainer(model, opt, train, 2, 4);
    let nll = 0;
    let count = 0;
    for (const e of train) {
      const L = e.tokens.length;
      const lp = tf.tidy(() =>
        model.tokenLogProbs(
          tf.tensor2d(e.tokens.slice(0, L - 1), [1, L - 1], 'int32'),
          null,
          tf.tensor2d(e.tokens.slice(1), [1, L - 1], 'int32'),
        ),
      );
      const v = lp.dataSync();
      lp.dispose();
      for (let i = 1; i < L; i++) {
        if (!e.mask[i]) continue;
        nll -= v[i - 1]!;
        count++;
      }
    }
    const m = (await t.trainStep([0, 1, 2, 3], 1)).metrics;
    expect(m['train/num_unmasked_tokens']).toBe(count);
    expect(m['train/loss']).toBeCloseTo(nll / count, 5);
    opt.dispose();
    model.dispose();
  });

  it('validation/loss is a graph: the held-out token-mean NLL by hand (whatever the training loss), the same from raw rows, no update', async () => {
    const rows = task.sftRows('train', 8);
    const train = sftExamples(tok, rows, data, 32).examples;
    const valRows = rows.slice(0, 6);
    const val = sftExamples(tok, valRows, data, 32).examples;
    const model = CausalLM.create(tinyConfig(), { seed: 4 });
    // by hand, in float64: every held-out example's completion-token log-probs, one forward each
    let nll = 0;
    let count = 0;
    for (const e of val) {
      const L = e.tokens.length;
      const v = tf.tidy(() =>
        model
          .tokenLogProbs(
            tf.tensor2d(e.tokens.slice(0, L - 1), [1, L - 1], 'int32'),
            null,
            tf.tensor2d(e.tokens.slice(1), [1, L - 1], 'int32'),
          )
          .dataSync(),
      );
      for (let i = 1; i < L; i++) {
        if (!e.mask[i]) continue;
        nll -= v[i - 1]!;
        count++;
      }
    }
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.5 });
    const policy = { train_global_batch_size: 8, train_micro_batch_size: 4, max_grad_norm: null };
    const dft = { ...sft, loss_type: sftSchema.parse({ loss_type: 'dft' }).loss_type };
    const tokenized = new SftTrainer({
      model,
      tokenizer: tok,
      optimizer: opt,
      policy,
      sft: dft,
      train,
      val,
      seed: 0,
    });
    const raw = new SftTrainer({
      model,
      tokenizer: tok,
      optimizer: opt,
      policy,
      sft: dft,
      train,
      val,
      trainRows: rows,
      valRows,
      seed: 0,
      graph: [
        { stage: 'data.tokenize', options: { rows: 'sft', ...tokenizeKeys(data, 32) } },
        { stage: 'loss.dft', options: { micro_batch_size: 4 } },
        { stage: 'optimizer.step' },
      ],
    });
    const weights = () => [...model.trainableVariables().values()].map((w) => w.dataSync().slice());
    const before = weights();
    // val_micro_batch_size 3: two forward passes, normalised over all six examples' tokens
    const a = (await tokenized.validate(0)).metrics['validation/loss']!;
    const b = (await raw.validate(0)).metrics['validation/loss']!;
    expect(a).toBeCloseTo(nll / count, 5);
    expect(b).toBe(a);
    expect(weights()).toEqual(before);
    // the raw trainer's validation graph is subscribed once: a second pass gives the same
    expect((await raw.validate(1)).metrics['validation/loss']).toBe(a);
    expect(
      () =>
        new SftTrainer({
          model,
          tokenizer: tok,
          optimizer: opt,
          policy,
          sft,
          train,
          val,
          trainRows: rows,
          seed: 0,
          graph: [{ stage: 'data.tokenize' }, { stage: 'loss.nll' }, { stage: 'optimizer.step' }],
        }),
    ).toThrow('a graph starting with data.tokenize needs trainRows and valRows');
    tokenized.dispose();
    raw.dispose();
    opt.dispose();
    model.dispose();
  });

  it('overfits a tiny set: training loss falls below a third of its start', async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 1 });
    const opt = new AdamW(Object.fromEntries(model.trainableVariables()), {
      lr: 1e-2,
      weight_decay: 0,
    });
    const t = trainer(model, opt, examples(8), 4, 8);
    const losses: number[] = [];
    for (let s = 1; s <= 40; s++)
      losses.push((await t.trainStep([0, 1, 2, 3, 4, 5, 6, 7], s)).metrics['train/loss']!);
    expect(losses[0]).toBeGreaterThan(3);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 3);
    opt.dispose();
    model.dispose();
  });

  it('keeps tf.memory().numTensors flat over train steps and validations', async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 1 });
    const opt = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-3 });
    const t = trainer(model, opt, examples(8), 2, 4);
    await t.trainStep([0, 1, 2, 3], 1); // creates the optimizer slots
    const v0 = (await t.validate(1)).metrics;
    expect(v0['validation/accuracy']).toBeGreaterThanOrEqual(0);
    const n0 = tf.memory().numTensors;
    for (let s = 2; s <= 4; s++) {
      await t.trainStep([4, 5, 6, 7], s);
      await t.validate(s);
    }
    expect(tf.memory().numTensors).toBe(n0);
    opt.dispose();
    model.dispose();
  });
});

describe('SftTrainer with LoRA', () => {
  it('a short SFT with adapters on the built-in task lowers the loss; the base weights stay bit-identical', async () => {
    // a frozen random head of std 0.02 bounds the logits (|logit| < 0.02·D): a wider init leaves the adapters room
    const model = CausalLM.create({ ...tinyConfig(), initializerRange: 0.2 }, { seed: 1 });
    const base = new Map(
      [...model.variables()].map(([k, v]) => [k, Float32Array.from(v.dataSync() as Float32Array)]),
    );
    model.attachAdapter(
      LoraAdapter.create(
        model,
        { r: 8, lora_alpha: 16, target_modules: 'all-linear' },
        { seed: 0 },
      ),
    );
    const trainable = [...model.trainableVariables().keys()];
    expect(trainable.every((n) => /\.lora_[AB]\.weight$/.test(n))).toBe(true);
    const opt = new AdamW(Object.fromEntries(model.trainableVariables()), {
      lr: 2e-2,
      weight_decay: 0,
    });
    const t = trainer(model, opt, examples(8), 4, 8);
    const losses: number[] = [];
    for (let s = 1; s <= 30; s++)
      losses.push((await t.trainStep([0, 1, 2, 3, 4, 5, 6, 7], s)).metrics['train/loss']!);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 3);
    for (const [k, v] of model.variables()) {
      if (!base.has(k)) continue;
      expect(Buffer.from((v.dataSync() as Float32Array).buffer), k).toEqual(
        Buffer.from(base.get(k)!.buffer),
      );
    }
    // the adapter moved: B is no longer zero
    const b = model.variables().get('model.layers.0.mlp.down_proj.lora_B.weight')!;
    expect(Math.max(...Array.from(b.dataSync()).map(Math.abs))).toBeGreaterThan(0);
    opt.dispose();
    model.dispose();
  });

  it("validation is a graph: greedy completions as greedyDecode's, scored by the reward the recipe names", async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 4 });
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 1e-3 });
    const pad = tok.padTokenId ?? tok.eosTokenId ?? 0;
    // the reference: greedy decoding by hand; every other answer set to what it decodes
    const val = examples(6);
    const greedy = greedyDecode(
      model,
      val.map((e) => Array.from(e.prompt)),
      { maxNewTokens: 4, eosTokenId: tok.eosTokenId, padTokenId: pad },
    ).map((c) => tok.decode(c, { skipSpecialTokens: true }));
    const rigged = val.map((e, i) => ({ ...e, answer: i % 2 === 0 ? ` ${greedy[i]} ` : 'none' }));
    const withReward = (reward?: Record<string, unknown>) =>
      new SftTrainer({
        model,
        tokenizer: tok,
        optimizer: opt,
        policy: { train_global_batch_size: 2, train_micro_batch_size: 2, max_grad_norm: null },
        sft: sftSchema.parse({
          val_micro_batch_size: 3,
          val_generation: { num_prompts: 6, max_new_tokens: 4, ...(reward ? { reward } : {}) },
        }),
        train: examples(2),
        val: rigged,
        seed: 0,
      });
    // default reward.exact_match (trimmed): the even rows match, the odd ones do not
    const exact = await withReward().validate(0);
    expect(exact.metrics['validation/accuracy']).toBe(0.5);
    expect(exact.samples!.map((x) => x['correct'])).toEqual([true, false, true, false]);
    expect(exact.samples!.map((x) => x['completion'])).toEqual(greedy.slice(0, 4));
    // exact match without trimming: the padded answers no longer match
    const untrimmed = await withReward({
      stage: 'reward.exact_match',
      options: { trim: false },
    }).validate(0);
    expect(untrimmed.metrics['validation/accuracy']).toBe(0);
    // a reward that is not a verifier: its mean, no accuracy (linear length penalty on characters)
    const length = await withReward({
      stage: 'reward.length',
      options: { target_length: 0, max_length: 100, unit: 'chars' },
    }).validate(0);
    expect(length.metrics).not.toHaveProperty('validation/accuracy');
    const byHand = greedy.reduce((a, g) => a - Math.min(1, g.length / 100), 0) / greedy.length;
    expect(length.metrics['validation/reward']).toBeCloseTo(byHand, 6);
    expect(length.samples![0]).toHaveProperty('reward');
    // a stage that is no reward is refused at its key
    expect(() =>
      sftSchema.parse({ val_generation: { reward: { stage: 'rollout.generate' } } }),
    ).toThrow(/must name a reward stage/);
    opt.dispose();
    model.dispose();
  });
});
