import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { RxrlConfigError, RxrlUsageError, useBackend } from '@rxrl/core';
import { fixture, maxRelErr } from '../test/fixture';
import { AdamW } from './adam';
import { clipByGlobalNorm } from './clipGradNorm';
import { createOptimizer } from './createOptimizer';
import { GradientAccumulator } from './gradientAccumulator';
import { LrScheduler } from './lrSchedule';
import type { NamedOptimizer } from './namedOptimizer';
import { SGD } from './sgd';

const h = fixture.hyper;
const names = Object.keys(fixture.shapes);
const chain = () =>
  new LrScheduler(h.lr, [
    { name: 'LinearLR', kwargs: { start_factor: 0.1, end_factor: 1.0, total_iters: 2 } },
    { name: 'ConstantLR', kwargs: { factor: 0.5, total_iters: 2 } },
    { milestones: [2] },
  ]);

/** Fixture variables as a record keyed by their logical names, inserted in `order`. */
function vars(order: string[] = names): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const n of order)
    out[n] = tf.variable(tf.tensor(fixture.initial[n]!, fixture.shapes[n]!), true);
  return out;
}
/** Fixture gradients of step t, keys inserted in `order`. */
function grads(t: number, order: string[] = names): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const n of order) out[n] = tf.tensor(fixture.grads[t]![n]!, fixture.shapes[n]!);
  return out;
}
function run(opt: NamedOptimizer, from: number, to: number, order?: string[]) {
  for (let t = from; t < to; t++) {
    const g = grads(t, order);
    opt.step(g);
    tf.dispose(Object.values(g));
  }
}
const values = (vs: Record<string, tf.Variable>) =>
  Object.fromEntries(names.map((n) => [n, Array.from(vs[n]!.dataSync())]));

describe('optimizers keyed by variable name', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });
  afterEach(() => tf.disposeVariables());

  it('AdamW is unaffected by the order of the variable list and of the gradient keys (tf.AdamOptimizer trap)', () => {
    const reversed = [...names].reverse();
    const a = vars(names);
    const b = vars(reversed);
    const optA = new AdamW(a, {
      lr: h.lr,
      betas: h.betas,
      eps: h.eps,
      weight_decay: h.weight_decay,
    });
    const optB = new AdamW(b, {
      lr: h.lr,
      betas: h.betas,
      eps: h.eps,
      weight_decay: h.weight_decay,
    });
    for (let t = 0; t < fixture.steps; t++) {
      run(optA, t, t + 1, names);
      // gradient key order flips every step as well
      run(optB, t, t + 1, t % 2 ? names : reversed);
    }
    expect(values(b)).toEqual(values(a));
    const ref = fixture.cases.adamw!.params_after.at(-1)!;
    for (const n of names) expect(maxRelErr(b[n]!.dataSync(), ref[n]!)).toBeLessThan(1e-6);
    optA.dispose();
    optB.dispose();
  });

  for (const kind of ['adamw', 'sgd'] as const) {
    it(`${kind}: save -> load into a fresh optimizer (permuted variables) -> continue equals uninterrupted`, () => {
      const make = (v: Record<string, tf.Variable>) =>
        kind === 'adamw'
          ? new AdamW(v, { lr: h.lr, weight_decay: h.weight_decay }, { scheduler: chain() })
          : new SGD(
              v,
              { lr: h.lr, momentum: 0.9, dampening: 0.1, weight_decay: h.weight_decay },
              { scheduler: chain() },
            );
      const full = vars();
      const optFull = make(full);
      run(optFull, 0, 6);

      const part = vars();
      const opt1 = make(part);
      run(opt1, 0, 3);
      const saved = opt1.getState();
      // the state is plain data: it survives the optimizer that made it
      opt1.dispose();
      expect(saved.step).toBe(3);
      expect(saved.schedule.step).toBe(3);
      expect(
        saved.variables['embed.weight']!.slots[kind === 'adamw' ? 'exp_avg' : 'momentum_buffer'],
      ).toBeInstanceOf(Float32Array);
      const resumed: Record<string, tf.Variable> = {};
      for (const n of [...names].reverse()) resumed[n] = part[n]!;
      const opt2 = make(resumed);
      opt2.loadState(saved);
      expect(opt2.lr).toBe(optFull.scheduler.baseLr * 0.5); // t = 3: ConstantLR segment
      run(opt2, 3, 6);
      expect(values(part)).toEqual(values(full));
      optFull.dispose();
      opt2.dispose();
    });
  }

  it('a variable without a gradient is skipped and its bias correction starts at its own first update', () => {
    const v = vars();
    const opt = new AdamW(v, { lr: 0.1, weight_decay: 0.5, eps: 0 });
    const p0 = Array.from(v['head.bias']!.dataSync());
    const g = grads(0);
    const { ['head.bias']: gh, ...rest } = g;
    opt.step(rest);
    expect(Array.from(v['head.bias']!.dataSync())).toEqual(p0);
    opt.step({ 'head.bias': gh! });
    // first Adam step: m/sqrt(v) after bias correction is sign(g): p1 = p0 (1 - lr wd) - lr sign(g)
    const gd = gh!.dataSync();
    const p1 = v['head.bias']!.dataSync();
    p0.forEach((p, i) => expect(p1[i]).toBeCloseTo(p * (1 - 0.05) - 0.1 * Math.sign(gd[i]!), 6));
    expect(opt.getState().variables['head.bias']!.step).toBe(1);
    tf.dispose(Object.values(g));
    opt.dispose();
  });

  it('leaves no tensor behind: steps keep the count flat and dispose() frees every slot', () => {
    const v = vars();
    const g = grads(0);
    const before = tf.memory().numTensors;
    const opt = new AdamW(v, { lr: 0.1 });
    opt.step(g);
    const afterFirst = tf.memory().numTensors;
    // two moment slots per variable, nothing else
    expect(afterFirst - before).toBe(2 * names.length);
    opt.step(g);
    opt.step(g);
    expect(tf.memory().numTensors).toBe(afterFirst);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(g));
  });

  it('parameter groups: lr_scale and weight_decay per group, first match wins', () => {
    const v = vars();
    const p0 = Object.fromEntries(names.map((n) => [n, Array.from(v[n]!.dataSync())]));
    const opt = new SGD(
      v,
      { lr: 0.1, weight_decay: 0.5 },
      {
        paramGroups: [
          { match: ['head.bias'], lr_scale: 0.5, weight_decay: 0 },
          { match: /norm/, weight_decay: 0 },
          { match: /bias/, lr_scale: 10 },
        ],
      },
    );
    run(opt, 0, 1);
    const g = fixture.grads[0]!;
    // plain SGD: p1 = p0 - lr_eff (g + wd p0)
    const want = (n: string, lr: number, wd: number) =>
      p0[n]!.map((p, i) => p - lr * (g[n]![i]! + wd * p));
    const check = (n: string, w: number[]) =>
      w.forEach((x, i) => expect(v[n]!.dataSync()[i]).toBeCloseTo(x, 6));
    check('head.bias', want('head.bias', 0.05, 0));
    check('layer.norm.weight', want('layer.norm.weight', 0.1, 0));
    check('embed.weight', want('embed.weight', 0.1, 0.5));
    opt.dispose();
  });

  it('no tensors leak over 100 steps of accumulate -> clip -> AdamW', () => {
    const v = vars();
    const opt = new AdamW(
      v,
      { lr: 1e-3 },
      { scheduler: new LrScheduler(1e-3, { name: 'cosine', total_steps: 100 }) },
    );
    const acc = new GradientAccumulator();
    const stepOnce = (t: number) => {
      for (let k = 0; k < 2; k++) acc.add(grads(t % fixture.steps), { dispose: true });
      const summed = acc.take();
      const { grads: clipped, gradNorm } = clipByGlobalNorm(summed, 1);
      expect(gradNorm).toBeGreaterThan(0);
      opt.step(clipped);
      tf.dispose([...Object.values(summed), ...Object.values(clipped)]);
    };
    stepOnce(0); // creates the moment slots
    const before = tf.memory().numTensors;
    for (let t = 1; t < 100; t++) stepOnce(t);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before - 2 * names.length);
  });

  it('names the key in usage and state errors', () => {
    const v = vars();
    const opt = new AdamW(v);
    const bad = { 'not.there': tf.zeros([1]) };
    expect(() => opt.step(bad)).toThrow(RxrlUsageError);
    expect(() => opt.step(bad)).toThrow(/not\.there/);
    const wrong = { 'head.bias': tf.zeros([4]) };
    expect(() => opt.step(wrong)).toThrow(/head\.bias.*shape/);
    run(opt, 0, 1);
    const s = opt.getState();
    const other = new AdamW({ 'head.bias': v['head.bias']! });
    expect(() => other.loadState(s)).toThrow(/embed\.weight/);
    expect(() => new SGD(v).loadState(s)).toThrow(RxrlConfigError);
    expect(() => new AdamW(v, { betas: [0.9, 1.5] as never })).toThrow(/adamw\.betas/);
    expect(() => new SGD(v, { nesterov: true })).toThrow(/nesterov/);
    tf.dispose([...Object.values(bad), ...Object.values(wrong)]);
    opt.dispose();
  });

  it('createOptimizer reads NeMo RL policy.optimizer sections', () => {
    const v = vars();
    const opt = createOptimizer(v, {
      name: 'torch.optim.AdamW',
      kwargs: {
        lr: h.lr,
        weight_decay: h.weight_decay,
        betas: h.betas,
        eps: h.eps,
        foreach: false,
        fused: false,
      },
    });
    expect(opt.kind).toBe('adamw');
    run(opt, 0, fixture.steps);
    const ref = fixture.cases.adamw!.params_after.at(-1)!;
    for (const n of names) expect(maxRelErr(v[n]!.dataSync(), ref[n]!)).toBeLessThan(1e-6);
    expect(() => createOptimizer(v, { name: 'torch.optim.RMSprop' })).toThrow(
      /policy\.optimizer\.name/,
    );
    opt.dispose();
  });
});
