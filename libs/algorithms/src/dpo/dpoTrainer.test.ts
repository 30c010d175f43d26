import * as tf from '@tensorflow/tfjs-core';
import type { RecordBatch } from 'apache-arrow';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '@rxrl/core';
import { BuiltinTokenizer } from '@rxrl/data';
import { CausalLM, presetConfig } from '@rxrl/model';
import { AdamW, SGD } from '@rxrl/optimizer';
import type { PreferencePair } from './dpoExamples';
import { preferenceObjectiveLoss } from '@rxrl/loss';
import { DpoTrainer } from './dpoTrainer';
import { dpoSchema } from './dpoOptions';

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
const enc = (s: string) => Int32Array.from(tok.encode(s, { addSpecialTokens: false }));
const pair = (prompt: string, chosen: string, rejected: string): PreferencePair => ({
  prompt: Int32Array.from([tok.bosTokenId, ...enc(prompt)]),
  chosen: Int32Array.from([...enc(chosen), tok.eosTokenId]),
  rejected: Int32Array.from([...enc(rejected), tok.eosTokenId]),
  weight: 1,
});
const PAIRS = [
  pair('1+2=', '3', '4'),
  pair('12+9=', '21', '12'),
  pair('7-9=', '-2', '2'),
  pair('40+5=', '45', '54'),
];
const MORE = [
  pair('3+3=', '6', '7'),
  pair('9+9=', '18', '81'),
  pair('20-1=', '19', '91'),
  pair('6+7=', '13', '12'),
];

/** Σ log p(completion | prompt) of one unpadded sequence, read by hand from tokenLogProbs. */
function seqLogp(model: CausalLM, prompt: Int32Array, completion: Int32Array): number {
  const toks = [...prompt, ...completion];
  const L = toks.length;
  const lp = tf.tidy(() =>
    model.tokenLogProbs(
      tf.tensor2d(toks.slice(0, L - 1), [1, L - 1], 'int32'),
      null,
      tf.tensor2d(toks.slice(1), [1, L - 1], 'int32'),
    ),
  );
  const v = lp.dataSync();
  lp.dispose();
  let s = 0;
  for (let t = prompt.length; t < L; t++) s += v[t - 1]!;
  return s;
}

function trainer(
  model: CausalLM,
  reference: CausalLM | null,
  opt: SGD | AdamW,
  pairs: PreferencePair[],
  micro: number,
  beta = 0.5,
) {
  return new DpoTrainer({
    model,
    reference,
    tokenizer: tok,
    optimizer: opt,
    policy: {
      train_global_batch_size: pairs.length,
      train_micro_batch_size: micro,
      max_grad_norm: null,
    },
    val: { val_batches: null, val_global_batch_size: 64, val_micro_batch_size: 3 },
    loss: { reference_policy_kl_penalty: beta, sft_loss_weight: 0.3 },
    trainPairs: pairs,
    valPairs: pairs,
    seed: 0,
  });
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('DpoTrainer', () => {
  it('dpo.objective kto: z₀ from mismatched pairs (prompt i, completions of i + 1) and the KTO loss by hand', async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 21 });
    const other = CausalLM.create(tinyConfig(), { seed: 22 });
    const reference = other.frozenCopy();
    other.dispose();
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.1 });
    const beta = 0.5;
    const n = PAIRS.length;
    const rho = (m: CausalLM, r: CausalLM, p: Int32Array, c: Int32Array) =>
      seqLogp(m, p, c) - seqLogp(r, p, c);
    let klSum = 0;
    PAIRS.forEach((p, i) => {
      const q = PAIRS[(i + 1) % n]!;
      klSum +=
        rho(model, reference, p.prompt, q.chosen) + rho(model, reference, p.prompt, q.rejected);
    });
    const z0 = Math.max(0, klSum / (2 * n));
    const sig = (x: number) => 1 / (1 + Math.exp(-x));
    let loss = 0;
    for (const p of PAIRS) {
      loss += 1 - sig(beta * (rho(model, reference, p.prompt, p.chosen) - z0));
      loss += 1 - sig(beta * (z0 - rho(model, reference, p.prompt, p.rejected)));
    }
    const spec = dpoSchema.parse({ objective: { name: 'kto', beta } }).objective!;
    const t = new DpoTrainer({
      model,
      reference,
      tokenizer: tok,
      optimizer: opt,
      policy: { train_global_batch_size: 4, train_micro_batch_size: 3, max_grad_norm: null },
      val: { val_batches: null, val_global_batch_size: 64, val_micro_batch_size: 3 },
      loss: {},
      objective: (inputs, ctx) => preferenceObjectiveLoss(spec, inputs, ctx),
      mismatchedKl: true,
      trainPairs: PAIRS,
      valPairs: PAIRS,
      seed: 0,
    });
    const m = (await t.trainStep([0, 1, 2, 3], 1)).metrics;
    expect(z0).toBeGreaterThan(0); // the case exercises the reference point
    expect(m['train/kl']).toBeCloseTo(z0, 4);
    expect(m['train/loss']).toBeCloseTo(loss / (2 * n), 5);
    model.dispose();
    reference.dispose();
    opt.dispose();
  });

  it('dpo.objective orpo: micro-batches 3 + 1 give the hand-computed global ORPO loss', async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 13 });
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.1 });
    const beta = 0.5;
    const logOdds = (a: number) => a - Math.log1p(-Math.exp(a));
    let nll = 0;
    let toks = 0;
    let ratio = 0;
    for (const p of PAIRS) {
      const c = seqLogp(model, p.prompt, p.chosen);
      const r = seqLogp(model, p.prompt, p.rejected);
      nll -= c;
      toks += p.chosen.length;
      const x = logOdds(c / p.chosen.length) - logOdds(r / p.rejected.length);
      ratio += -Math.log1p(Math.exp(-x)); // log σ(x)
    }
    const spec = dpoSchema.parse({ objective: { name: 'orpo', beta } }).objective!;
    const t = new DpoTrainer({
      model,
      reference: null,
      tokenizer: tok,
      optimizer: opt,
      policy: { train_global_batch_size: 4, train_micro_batch_size: 3, max_grad_norm: null },
      val: { val_batches: null, val_global_batch_size: 64, val_micro_batch_size: 3 },
      loss: {},
      objective: (inputs) => preferenceObjectiveLoss(spec, inputs),
      trainPairs: PAIRS,
      valPairs: PAIRS,
      seed: 0,
    });
    const m = (await t.trainStep([0, 1, 2, 3], 1)).metrics;
    expect(m['train/nll_loss']).toBeCloseTo(nll / toks, 4);
    expect(m['train/loss']).toBeCloseTo(nll / toks - (beta * ratio) / PAIRS.length, 4);
    expect(() => dpoSchema.parse({ objective: { name: 'kto', beta: 0 } })).toThrow(/beta/);
    model.dispose();
    opt.dispose();
  });

  it('validation is a graph (π_ref → loss.dpo over the held-out pairs, micro-batches 3 + 1): its metrics match a hand computation, and raw rows through data.tokenize give the same', async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 21 });
    const other = CausalLM.create(tinyConfig(), { seed: 22 });
    const reference = other.frozenCopy();
    other.dispose();
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.1 });
    const beta = 0.5;
    let loss = 0;
    let acc = 0;
    let sft = 0;
    for (const p of MORE) {
      const dc = seqLogp(model, p.prompt, p.chosen) - seqLogp(reference, p.prompt, p.chosen);
      const dr = seqLogp(model, p.prompt, p.rejected) - seqLogp(reference, p.prompt, p.rejected);
      loss += Math.log1p(Math.exp(-beta * (dc - dr)));
      acc += dc > dr ? 1 : 0;
      sft -= seqLogp(model, p.prompt, p.chosen);
    }
    const n = MORE.length;
    const base = {
      model,
      reference,
      tokenizer: tok,
      optimizer: opt,
      policy: { train_global_batch_size: 4, train_micro_batch_size: 2, max_grad_norm: null },
      val: { val_batches: null, val_global_batch_size: 64, val_micro_batch_size: 3 },
      loss: { reference_policy_kl_penalty: beta, sft_loss_weight: 0.3 },
      seed: 0,
    };
    const tokens = new DpoTrainer({ ...base, trainPairs: PAIRS, valPairs: MORE });
    const v = (await tokens.validate(0)).metrics;
    expect(v['validation/preference_loss']).toBeCloseTo(loss / n, 4);
    expect(v['validation/accuracy']).toBeCloseTo(acc / n, 6);
    expect(v['validation/sft_loss']).toBeCloseTo(sft / n, 4);
    expect(v['validation/loss']).toBeCloseTo(loss / n + 0.3 * (sft / n), 4);
    // the same pairs as dataset rows, tokenised by the graphs' data.tokenize node
    const rowsOf = (ps: PreferencePair[]) =>
      ps.map((p) => ({
        prompt: tok.decode(p.prompt, { skipSpecialTokens: true }),
        chosen: tok.decode(p.chosen, { skipSpecialTokens: true }),
        rejected: tok.decode(p.rejected, { skipSpecialTokens: true }),
      }));
    const numbered = (ps: PreferencePair[]) => ps.map((p, i) => ({ ...p, row: i }));
    const raw = new DpoTrainer({
      ...base,
      graph: [
        { stage: 'data.tokenize', options: { rows: 'preference', max_length: 32 } },
        { stage: 'policy.reference_logprobs', options: { micro_batch_size: 2 } },
        {
          stage: 'loss.dpo',
          options: { reference_policy_kl_penalty: beta, sft_loss_weight: 0.3, micro_batch_size: 2 },
        },
        { stage: 'optimizer.step', options: { max_grad_norm: null } },
      ],
      trainPairs: numbered(PAIRS),
      valPairs: numbered(MORE),
      trainRows: rowsOf(PAIRS),
      valRows: rowsOf(MORE),
    });
    expect((await raw.validate(0)).metrics).toEqual(v);
    tokens.dispose();
    raw.dispose();
    opt.dispose();
    reference.dispose();
    model.dispose();
  });

  it('step metrics match a hand computation of the DPO loss, rewards, accuracy and margin', async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 11 });
    const other = CausalLM.create(tinyConfig(), { seed: 12 });
    const reference = other.frozenCopy();
    other.dispose();
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.1 });
    const beta = 0.5;
    let loss = 0;
    let acc = 0;
    let rc = 0;
    let rr = 0;
    let sft = 0;
    for (const p of PAIRS) {
      const dc = seqLogp(model, p.prompt, p.chosen) - seqLogp(reference, p.prompt, p.chosen);
      const dr = seqLogp(model, p.prompt, p.rejected) - seqLogp(reference, p.prompt, p.rejected);
      loss += Math.log1p(Math.exp(-beta * (dc - dr))); // −log σ(β(Δc − Δr))
      acc += dc > dr ? 1 : 0;
      rc += dc;
      rr += dr;
      sft -= seqLogp(model, p.prompt, p.chosen);
    }
    const n = PAIRS.length;
    const t = trainer(model, reference, opt, PAIRS, 3, beta);
    const m = (await t.trainStep([0, 1, 2, 3], 1)).metrics;
    expect(m['train/preference_loss']).toBeCloseTo(loss / n, 4);
    expect(m['train/accuracy']).toBeCloseTo(acc / n, 6);
    expect(m['train/rewards_chosen_mean']).toBeCloseTo(rc / n, 4);
    expect(m['train/rewards_rejected_mean']).toBeCloseTo(rr / n, 4);
    expect(m['train/reward_margin']).toBeCloseTo((rc - rr) / n, 4);
    // NeMo RL: the SFT term is each chosen response's summed NLL, averaged over pairs
    expect(m['train/sft_loss']).toBeCloseTo(sft / n, 4);
    expect(m['train/loss']).toBeCloseTo(loss / n + 0.3 * (sft / n), 4);
    opt.dispose();
    reference.dispose();
    model.dispose();
  });

  it("a reward.pair node before loss.dpo: the step's bonus and margin columns enter h = β·Δ + bonus_c − bonus_r − margin, in training and validation", async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 11 });
    const other = CausalLM.create(tinyConfig(), { seed: 12 });
    const reference = other.frozenCopy();
    other.dispose();
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.1 });
    const beta = 0.5;
    // the third pair's row says its chosen answer is wrong (and its rejected one right)
    const answers = ['3', '21', '2', '45'];
    const pairs = PAIRS.map((p, i) => ({ ...p, row: i, source: { answer: answers[i] } }));
    const bonusC = [2, 2, 0, 2]; // math, weight 2, chosen side only
    const margin = [0.5, 0.5, -0.5, 0.5]; // exact_match, weight 0.5: score_c − score_r
    let loss = 0;
    let total = 0;
    pairs.forEach((p, i) => {
      const dc = seqLogp(model, p.prompt, p.chosen) - seqLogp(reference, p.prompt, p.chosen);
      const dr = seqLogp(model, p.prompt, p.rejected) - seqLogp(reference, p.prompt, p.rejected);
      const h = beta * (dc - dr) + bonusC[i]! - margin[i]!;
      loss += Math.log1p(Math.exp(-h));
      total += h;
    });
    const n = pairs.length;
    const t = new DpoTrainer({
      model,
      reference,
      tokenizer: tok,
      optimizer: opt,
      policy: { train_global_batch_size: 4, train_micro_batch_size: 3, max_grad_norm: null },
      val: { val_batches: null, val_global_batch_size: 64, val_micro_batch_size: 3 },
      loss: {},
      graph: [
        { stage: 'policy.reference_logprobs', options: { micro_batch_size: 3 } },
        {
          stage: 'reward.pair',
          options: { name: 'math', type: 'math', weight: 2, sides: ['chosen'] },
        },
        {
          stage: 'reward.pair',
          options: { name: 'exact', type: 'exact_match', weight: 0.5, output: 'margin' },
        },
        {
          stage: 'loss.dpo',
          options: { reference_policy_kl_penalty: beta, sft_loss_weight: 0, micro_batch_size: 3 },
        },
        { stage: 'optimizer.step', options: { max_grad_norm: null } },
      ],
      trainPairs: pairs,
      valPairs: pairs,
      seed: 0,
      shuffle: false,
    });
    // the source's batches carry the texts the scoring nodes read
    const [first] = t.sampler.batches(0, 0) as Iterable<RecordBatch>;
    expect(first!.getChild('chosen_text')!.toArray()).toEqual(['3', '21', '-2', '45']);
    const v = (await t.validate(0)).metrics;
    const n0 = tf.memory().numTensors;
    const m = (await t.trainStep([0, 1, 2, 3], 1)).metrics;
    for (const [prefix, r] of [
      ['train/', m],
      ['validation/', v],
    ] as const) {
      expect(r[`${prefix}loss`]).toBeCloseTo(loss / n, 4);
      expect(r[`${prefix}bonus/math/chosen`]).toBeCloseTo(6 / 4, 5);
      expect(r[`${prefix}bonus/math/rejected`]).toBe(0);
      expect(r[`${prefix}margin/exact`]).toBeCloseTo(1 / 4, 5);
      expect(r[`${prefix}total_reward_gap`]).toBeCloseTo(total / n, 4);
      expect(r[`${prefix}pair/math/chosen_mean`]).toBeCloseTo(3 / 4, 6);
    }
    // no tensor left behind by the columns' tensors, in steps or validations
    await t.validate(1);
    for (let s = 2; s <= 3; s++) await t.trainStep([0, 1, 2, 3], s);
    expect(tf.memory().numTensors).toBe(n0);
    t.dispose();
    opt.dispose();
    reference.dispose();
    model.dispose();
  });

  it("the default graph's batches carry the token columns only (no texts decoded)", () => {
    const model = CausalLM.create(tinyConfig(), { seed: 3 });
    const reference = model.frozenCopy();
    const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.1 });
    const t = trainer(model, reference, opt, PAIRS, 2);
    const [first] = t.sampler.batches(0, 0) as Iterable<RecordBatch>;
    expect(first!.schema.fields.map((f) => f.name)).toEqual([
      'prompt_tokens',
      'chosen_tokens',
      'rejected_tokens',
      'sample_mask',
    ]);
    t.dispose();
    opt.dispose();
    reference.dispose();
    model.dispose();
  });

  it('raises preference accuracy and margin on a tiny set; the frozen reference never moves', async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 3 });
    const reference = model.frozenCopy();
    const refBefore = [...reference.variables()].map(
      ([k, v]) => [k, v.dataSync().slice()] as const,
    );
    const opt = new AdamW(Object.fromEntries(model.trainableVariables()), {
      lr: 5e-3,
      weight_decay: 0,
    });
    const pairs = [...PAIRS, ...MORE];
    const t = trainer(model, reference, opt, pairs, 4, 0.5);
    const before = (await t.validate(0)).metrics;
    // policy == reference: every implicit reward is 0, so no pair is ranked right yet
    expect(before['validation/accuracy']).toBe(0);
    expect(Math.abs(before['validation/reward_margin']!)).toBeLessThan(1e-5);
    expect(before['validation/preference_loss']).toBeCloseTo(Math.log(2), 4);
    for (let s = 1; s <= 15; s++) await t.trainStep([0, 1, 2, 3, 4, 5, 6, 7], s);
    const after = (await t.validate(15)).metrics;
    expect(after['validation/accuracy']).toBe(1);
    expect(after['validation/reward_margin']).toBeGreaterThan(1);
    expect(after['validation/preference_loss']).toBeLessThan(0.5);
    expect(reference.trainableVariables().size).toBe(0);
    for (const [k, v] of refBefore)
      expect(Array.from(reference.variables().get(k)!.dataSync())).toEqual(Array.from(v));
    const moved = [...model.variables()].some(
      ([k, v]) => v.dataSync()[0] !== reference.variables().get(k)!.dataSync()[0],
    );
    expect(moved).toBe(true);
    opt.dispose();
    reference.dispose();
    model.dispose();
  });

  it('a micro-batched step equals the full-batch step', async () => {
    const run = async (micro: number) => {
      const model = CausalLM.create(tinyConfig(), { seed: 4 });
      const reference = CausalLM.create(tinyConfig(), { seed: 5 });
      const frozen = reference.frozenCopy();
      reference.dispose();
      const opt = new SGD(Object.fromEntries(model.trainableVariables()), { lr: 0.5 });
      const m = (await trainer(model, frozen, opt, PAIRS, micro).trainStep([0, 1, 2, 3], 1))
        .metrics;
      const w = [...model.trainableVariables().values()].map((v) => v.dataSync().slice());
      opt.dispose();
      frozen.dispose();
      model.dispose();
      return { m, w };
    };
    const a = await run(4);
    const b = await run(1);
    for (const k of ['train/loss', 'train/accuracy', 'train/reward_margin', 'train/grad_norm'])
      expect(Math.abs(a.m[k]! - b.m[k]!)).toBeLessThan(1e-5);
    let d = 0;
    a.w.forEach((x, i) => x.forEach((v, j) => (d = Math.max(d, Math.abs(v - b.w[i]![j]!)))));
    expect(d).toBeLessThan(1e-5);
  });

  it('keeps tf.memory().numTensors flat over steps and validations', async () => {
    const model = CausalLM.create(tinyConfig(), { seed: 3 });
    const reference = model.frozenCopy();
    const opt = new AdamW(Object.fromEntries(model.trainableVariables()), { lr: 1e-3 });
    const t = trainer(model, reference, opt, PAIRS, 2);
    await t.trainStep([0, 1, 2, 3], 1);
    await t.validate(1);
    const n0 = tf.memory().numTensors;
    for (let s = 2; s <= 4; s++) {
      await t.trainStep([0, 1, 2, 3], s);
      await t.validate(s);
    }
    expect(tf.memory().numTensors).toBe(n0);
    opt.dispose();
    reference.dispose();
    model.dispose();
  });
});
