// The optimizer library's edges: config errors that name the key, schedule and
// state validation, parameter-group and layer-name rules, with expected values
// worked out by hand.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { RxrlConfigError, useBackend } from '@rxrl/core';
import { Adam, AdamW } from './adam';
import { clipByGlobalNorm, clipCoefficient } from './clipGradNorm';
import { createOptimizer } from './createOptimizer';
import { layerGroup } from './layerGradNorms';
import { LrScheduler, lrFactor } from './lrSchedule';
import { nemoSchedulerFactor, NemoSchedulerListSchema } from './nemoScheduler';
import { SgdOptionsSchema } from './optimizerOptions';
import { isNormOrBias, resolveHyper } from './paramGroups';
import { SGD } from './sgd';
import { toVariableMap } from './namedVariables';

const vars = () => ({ w: tf.variable(tf.tensor1d([1, 2]), true, `w${Math.random()}`) });

describe('optimizer edges', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  it('createOptimizer builds the named optimizer, with or without the torch.optim prefix', () => {
    expect(createOptimizer(vars(), { name: 'torch.optim.AdamW' })).toBeInstanceOf(AdamW);
    expect(createOptimizer(vars(), { name: 'Adam', kwargs: { lr: 0.1 } })).toBeInstanceOf(Adam);
    expect(
      createOptimizer(vars(), { name: 'torch.optim.SGD', kwargs: { lr: 0.1 } }),
    ).toBeInstanceOf(SGD);
  });

  it('createOptimizer errors name the key', () => {
    const err = (c: Parameters<typeof createOptimizer>[1]) => {
      try {
        createOptimizer(vars(), c);
      } catch (e) {
        expect(e).toBeInstanceOf(RxrlConfigError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err({ name: 'torch.optim.RMSprop' })).toBe(
      'policy.optimizer.name: expected torch.optim.AdamW, Adam or SGD',
    );
    expect(err({ name: 'xtorch.optim.Adam' })).toBe(
      'policy.optimizer.name: expected torch.optim.AdamW, Adam or SGD',
    );
    expect(err({ name: 'SGD', kwargs: { lr: 0.1, betas: [0.9, 0.99] } })).toBe(
      'policy.optimizer.kwargs.betas: not a keyword argument of torch.optim.SGD',
    );
    expect(err({ name: 'AdamW', kwargs: { momentum: 0.9 } })).toBe(
      'policy.optimizer.kwargs.momentum: not a keyword argument of torch.optim.AdamW',
    );
    expect(err({ name: 'Adam', kwargs: { lr: -1 } })).toMatch(/^policy\.optimizer\.kwargs\.lr: /);
    expect(err({ name: 'SGD', kwargs: { lr: -1 } })).toMatch(/^policy\.optimizer\.kwargs\.lr: /);
  });

  it('SGD keeps a momentum buffer only with momentum; nesterov needs momentum and no dampening', () => {
    const v = vars();
    const plain = new SGD(v, { lr: 0.1 });
    plain.step({ w: tf.tensor1d([1, 1]) });
    expect(Object.keys(plain.getState().variables['w']?.slots ?? {})).toEqual([]);
    const mom = new SGD(vars(), { lr: 0.1, momentum: 0.9 });
    mom.step({ w: tf.tensor1d([1, 1]) });
    expect(Object.keys(Object.values(mom.getState().variables)[0]!.slots)).toEqual([
      'momentum_buffer',
    ]);
    const r = SgdOptionsSchema.safeParse({ nesterov: true });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(['nesterov']);
    expect(SgdOptionsSchema.safeParse({ nesterov: true, momentum: 0.9 }).success).toBe(true);
    // torch.optim.SGD: "Nesterov momentum requires a momentum and zero dampening"
    const damped = SgdOptionsSchema.safeParse({ nesterov: true, momentum: 0.9, dampening: 0.1 });
    expect(damped.success).toBe(false);
    expect(damped.error!.issues[0]!.path).toEqual(['nesterov']);
    expect(
      () => new SGD(vars(), { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }),
    ).toThrow(/nesterov/);
  });

  it('getState copies by default; loadState checks shapes and slot sizes', () => {
    const v = vars();
    const a = new AdamW(v, { lr: 0.1 });
    a.step({ w: tf.tensor1d([1, 1]) });
    const name = Object.keys(a.getState().variables)[0]!;
    const s = a.getState();
    s.variables[name]!.slots['exp_avg']![0] = 123;
    expect(a.getState().variables[name]!.slots['exp_avg']![0]).not.toBe(123);
    expect(a.stepCount).toBe(1);
    const b = new AdamW(v, { lr: 0.1 });
    const wrongShape = structuredClone(a.getState());
    wrongShape.variables[name]!.shape = [1, 2];
    expect(() => b.loadState(wrongShape)).toThrow(/has shape \[1,2\], the variable is \[2\]/);
    const short = structuredClone(a.getState());
    short.variables[name]!.slots['exp_avg'] = new Float32Array(1);
    expect(() => b.loadState(short)).toThrow(/slot 'exp_avg' is missing or has the wrong size/);
    const missing = structuredClone(a.getState());
    delete missing.variables[name]!.slots['exp_avg_sq'];
    expect(() => b.loadState(missing)).toThrow(/slot 'exp_avg_sq' is missing/);
    b.loadState(a.getState());
    expect(Array.from(b.getState().variables[name]!.slots['exp_avg']!)).toEqual(
      Array.from(a.getState().variables[name]!.slots['exp_avg']!),
    );
  });

  it('a scheduler whose base lr differs from the optimizer lr is an error; gradScale 0 is allowed', () => {
    expect(() => new AdamW(vars(), { lr: 0.1 }, { scheduler: new LrScheduler(0.2) })).toThrow(
      'optimizer lr 0.1 differs from its scheduler',
    );
    const v = vars();
    const sgd = new SGD(v, { lr: 0.5 });
    sgd.step({ w: tf.tensor1d([1, 1]) }, { gradScale: 0 });
    expect(Array.from(Object.values(v)[0]!.dataSync())).toEqual([1, 2]);
    expect(() => sgd.step({ w: tf.tensor1d([1, 1]) }, { gradScale: -1 })).toThrow(/gradScale/);
  });

  it('toVariableMap rejects a repeated name and a non-float32 variable', () => {
    const a = tf.variable(tf.tensor1d([1]), true, `dup${Math.random()}`);
    expect(() => toVariableMap([a, a])).toThrow(/appears twice/);
    const i = tf.variable(tf.tensor1d([1], 'int32'), true, `int${Math.random()}`);
    expect(() => toVariableMap({ i })).toThrow(
      "variable 'i' has dtype int32; optimizers need float32",
    );
  });

  it('clipping needs a positive max norm', () => {
    expect(() => clipCoefficient(1, 0)).toThrow('max_grad_norm must be > 0, got 0');
    expect(() => clipCoefficient(1, -1)).toThrow(/max_grad_norm must be > 0/);
    expect(() => clipByGlobalNorm({ w: tf.tensor1d([1]) }, 0)).toThrow(
      'max_grad_norm must be > 0, got 0',
    );
    expect(clipCoefficient(3, 1.5)).toBeCloseTo(0.5, 6);
  });
});

describe('lr schedules and NeMo RL scheduler lists', () => {
  it('cosine decays to min_lr as an absolute lr (min_lr / base lr as a factor)', () => {
    const f = lrFactor({ name: 'cosine', total_steps: 4, min_lr: 0.01 }, 0.1);
    // factor 0.1 + 0.9·(1 + cos(π t/4))/2
    expect(f(4)).toBeCloseTo(0.1, 12);
    expect(f(2)).toBeCloseTo(0.55, 12);
  });

  it('cosine warmup from start_factor; start_factor in [0, 1]', () => {
    const f = lrFactor({ name: 'cosine', total_steps: 6, warmup_steps: 2, start_factor: 0.5 }, 1);
    expect([0, 1, 2].map(f)).toEqual([0.5, 0.75, 1]);
    expect(() =>
      lrFactor({ name: 'cosine', total_steps: 6, warmup_steps: 2, start_factor: 1.5 }, 1),
    ).toThrow(/start_factor/);
  });

  it('linear warmup: start_factor in [0, 1]', () => {
    const f = lrFactor({ name: 'linear_warmup', warmup_steps: 4, start_factor: 0.5 }, 1);
    expect([0, 2, 4].map(f)).toEqual([0.5, 0.75, 1]);
    expect(() =>
      lrFactor({ name: 'linear_warmup', warmup_steps: 4, start_factor: 1.5 }, 1),
    ).toThrow(/start_factor/);
  });

  it('scheduler state: a non-negative integer step; the step count is kept', () => {
    const s = new LrScheduler(1);
    s.setState({ step: 0 });
    s.step();
    expect(s.stepCount).toBe(1);
    expect(() => s.setState({ step: -1 })).toThrow(/non-negative integer, got -1/);
    expect(() => s.setState({ step: 1.5 })).toThrow(/got 1.5/);
  });

  it('torch defaults: LinearLR starts at 1/3 over 5 steps, ConstantLR is 1/3 for 5 steps', () => {
    const lin = nemoSchedulerFactor(
      NemoSchedulerListSchema.parse([{ name: 'LinearLR', kwargs: {} }]),
    );
    expect(lin(0)).toBeCloseTo(1 / 3, 12);
    expect(lin(5)).toBe(1);
    const c = nemoSchedulerFactor(
      NemoSchedulerListSchema.parse([{ name: 'ConstantLR', kwargs: {} }]),
    );
    expect([c(4), c(5)]).toEqual([1 / 3, 1]);
    const zero = nemoSchedulerFactor(
      NemoSchedulerListSchema.parse([
        { name: 'LinearLR', kwargs: { start_factor: 0.2, end_factor: 0.5, total_iters: 0 } },
      ]),
    );
    expect(zero(0)).toBe(0.5);
  });

  it('scheduler list errors', () => {
    const parse = (l: unknown) => NemoSchedulerListSchema.parse(l);
    const lin = { name: 'LinearLR', kwargs: {} };
    expect(() =>
      nemoSchedulerFactor(parse([{ name: 'CosineAnnealingLR', kwargs: { T_max: 4 } }])),
    ).toThrow('CosineAnnealingLR needs the base lr to express eta_min');
    expect(() =>
      nemoSchedulerFactor(parse([lin, lin, { milestones: [2] }, { milestones: [2] }])),
    ).toThrow('only one {milestones: [...]} entry is allowed');
    expect(() => nemoSchedulerFactor(parse([{ milestones: [] }]))).toThrow(
      'no scheduler in the list',
    );
    expect(() => nemoSchedulerFactor(parse([lin, lin, lin, { milestones: [3, 3] }]))).toThrow(
      'milestones must increase',
    );
    expect(() => nemoSchedulerFactor(parse([lin, lin, lin, { milestones: [4, 3] }]))).toThrow(
      'milestones must increase',
    );
    const ok = nemoSchedulerFactor(parse([lin, lin, lin, { milestones: [2, 3] }]));
    // third scheduler from step 3: local step 0
    expect(ok(3)).toBeCloseTo(1 / 3, 12);
    expect(parse([{ name: 'LinearLR', kwargs: { end_factor: 0.5 } }])).toHaveLength(1);
  });
});

describe('parameter groups and layer names', () => {
  it('norms and biases: a part named ln or ln_<i>, or containing norm; not ln inside a word', () => {
    expect(isNormOrBias('h.0.ln.weight')).toBe(true);
    expect(isNormOrBias('h.0.ln_1.weight')).toBe(true);
    expect(isNormOrBias('model.kiln_1.weight')).toBe(false);
    expect(isNormOrBias('model.norm.weight')).toBe(true);
    expect(isNormOrBias('mlp.bias')).toBe(true);
  });

  it("a group's weight decay replaces the optimizer's; 0 too", () => {
    expect(resolveHyper('x', [{ match: ['x'], weight_decay: 0.5 }], 0.1)).toEqual({
      weightDecay: 0.5,
      lrScale: 1,
    });
    expect(resolveHyper('x', [{ match: ['x'], weight_decay: 0 }], 0.1).weightDecay).toBe(0);
  });

  it('layerGroup: blocks anywhere in the name, prefixes only at the start, suffixes only at the end', () => {
    expect(layerGroup('layers.3.mlp.weight')).toBe('layers.3');
    expect(layerGroup('model.layers.12.attn.q.weight')).toBe('layers.12');
    expect(layerGroup('xlayers.3.mlp.weight')).toBe('xlayers.3.mlp');
    expect(layerGroup('lm.model.head.weight')).toBe('lm.model.head');
    expect(layerGroup('model.weight_proj')).toBe('weight_proj');
    expect(layerGroup('lm_head.weight.scale')).toBe('lm_head.weight.scale');
  });
});
