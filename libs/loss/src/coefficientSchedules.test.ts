import { describe, expect, it } from 'vitest';
import { CoefficientSchedules, coefficientSchedulesSchema } from './coefficientSchedules';
import { makeSchedule, type ScheduleSpec } from './schedules';

describe('schedules: cosine, step, band, PI', () => {
  it('cosine 1 → 0 over steps 0..4: 1, 0.853553, 0.5, 0.146447, 0, then 0', () => {
    const s = makeSchedule({ type: 'cosine', start: 1, end: 0, end_step: 4 });
    const v = [0, 1, 2, 3, 4, 9].map((t) => s.value(t));
    [1, 0.8535534, 0.5, 0.1464466, 0, 0].forEach((x, i) => expect(v[i]).toBeCloseTo(x, 6));
  });

  it('step: 0.1 with milestones [2, 4] and gamma 0.5 → 0.1, 0.1, 0.05, 0.05, 0.025', () => {
    const s = makeSchedule({ type: 'step', initial: 0.1, milestones: [4, 2], gamma: 0.5 });
    expect([0, 1, 2, 3, 4].map((t) => s.value(t))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
  });

  it('band ±10% around 0.05: above ×1.5, inside holds, below ÷1.5, bounded', () => {
    const s = makeSchedule({
      type: 'band',
      initial: 0.1,
      metric: 'kl',
      target: 0.05,
      tolerance: 0.1,
      factor: 1.5,
      max: 0.2,
    });
    const seq = [0.08, 0.052, 0.04, 0.09, 0.09, 0.09].map((kl, t) => s.value(t + 1, { kl }));
    [0.15, 0.15, 0.1, 0.15, 0.2, 0.2].forEach((x, i) => expect(seq[i]).toBeCloseTo(x, 12));
    expect(s.value(6, { kl: 0.01 })).toBeCloseTo(0.2, 12); // the same step again: no second update
  });

  it('PI: c = 0.1 + 0.5·e + 0.1·Σe on e = (m − 1)/1, with anti-windup at max 0.3', () => {
    const s = makeSchedule({
      type: 'pi',
      initial: 0.1,
      metric: 'm',
      target: 1,
      kp: 0.5,
      ki: 0.1,
      max: 0.3,
    });
    // e 0.2: 0.1 + 0.1 + 0.02 = 0.22; e 0.2: 0.1 + 0.1 + 0.04 = 0.24; e 1: raw 0.1 + 0.5 + 0.14 → 0.3, Σ held at 0.4
    // e −0.2: 0.1 − 0.1 + 0.1·0.2 = 0.02
    const v = [1.2, 1.2, 2, 0.8].map((m, t) => s.value(t + 1, { m }));
    [0.22, 0.24, 0.3, 0.02].forEach((x, i) => expect(v[i]).toBeCloseTo(x, 12));
    expect(s.getState()).toEqual({ value: v[3], last_step: 4, integral: expect.closeTo(0.2, 12) });
  });

  for (const spec of [
    { type: 'band', initial: 0.1, metric: 'm', target: 0.5, tolerance: 0.05, factor: 1.2 },
    { type: 'pi', initial: 0.1, metric: 'm', target: 0.5, kp: 0.3, ki: 0.2 },
    { type: 'controller', initial: 0.1, metric: 'm', target: 0.5, horizon: 5 },
  ] as ScheduleSpec[]) {
    it(`${spec.type}: save at step 5 and restore into a fresh one continues bit-identically`, () => {
      const m = (t: number) => ({ m: 0.5 + 0.4 * Math.sin(t) });
      const a = makeSchedule(spec);
      const full = Array.from({ length: 10 }, (_, t) => a.value(t, m(t)));
      const b = makeSchedule(spec);
      for (let t = 0; t < 5; t++) b.value(t, m(t));
      const c = makeSchedule(spec);
      c.setState(JSON.parse(JSON.stringify(b.getState())));
      const resumed = Array.from({ length: 5 }, (_, i) => c.value(i + 5, m(i + 5)));
      expect(resumed).toEqual(full.slice(5));
      expect(new Set(full).size).toBeGreaterThan(3); // it did move
    });
  }
});

describe('CoefficientSchedules', () => {
  const config = {
    loss_fn: { entropy_coef: 0, reference_policy_kl_penalty: 0.01, use_sapo: false },
    grpo: { n: 1 },
  };

  it('sets each scheduled key path per step on a copy; the original is untouched', () => {
    const spec = coefficientSchedulesSchema.parse({
      'loss_fn.entropy_coef': { type: 'linear', start: 0.02, end: 0, end_step: 4 },
      'loss_fn.reference_policy_kl_penalty': {
        type: 'band',
        initial: 0.01,
        metric: 'train/kl_penalty',
        target: 0.05,
        factor: 2,
      },
    });
    const s = new CoefficientSchedules(spec, config);
    const v1 = s.values(1, { 'train/kl_penalty': 0.2 });
    expect(v1).toEqual({
      'loss_fn.entropy_coef': 0.015,
      'loss_fn.reference_policy_kl_penalty': 0.02,
    });
    const c = CoefficientSchedules.apply(config, v1);
    expect(c).toEqual({
      loss_fn: { entropy_coef: 0.015, reference_policy_kl_penalty: 0.02, use_sapo: false },
      grpo: { n: 1 },
    });
    expect(config.loss_fn.entropy_coef).toBe(0);
    expect(c.grpo).toBe(config.grpo);
  });

  it('a path that is not a number of the recipe is an error naming it', () => {
    expect(
      () =>
        new CoefficientSchedules({ 'loss_fn.use_sapo': { type: 'constant', value: 1 } }, config),
    ).toThrow(/schedules\.loss_fn\.use_sapo: not a numeric coefficient/);
    expect(
      () => new CoefficientSchedules({ 'loss_fn.nope': { type: 'constant', value: 1 } }, config),
    ).toThrow(/loss_fn\.nope/);
    expect(
      coefficientSchedulesSchema.safeParse({ entropy_coef: { type: 'constant', value: 1 } })
        .success,
    ).toBe(false);
  });
});

describe('CoefficientSchedules state and key paths', () => {
  const config = { loss_fn: { entropy_coef: 0, kl: 0.1, nested: null as null | number } };

  it('size, getState and setState round-trip each schedule; a missing key keeps its start', () => {
    const spec = {
      'loss_fn.kl': { type: 'controller', initial: 0.1, metric: 'm', target: 1, horizon: 10 },
      'loss_fn.entropy_coef': { type: 'band', initial: 1, metric: 'm', target: 1 },
    } as const;
    const a = new CoefficientSchedules(spec, config);
    expect(a.size).toBe(2);
    a.values(1, { m: 2 });
    a.values(2, { m: 2 });
    const state = JSON.parse(JSON.stringify(a.getState()));
    expect(state).toEqual({
      'loss_fn.kl': { value: expect.closeTo(0.10404, 12), last_step: 2 },
      'loss_fn.entropy_coef': { value: expect.closeTo(1.21, 12), last_step: 2 },
    });
    const b = new CoefficientSchedules(spec, config);
    b.setState({ 'loss_fn.kl': state['loss_fn.kl'] });
    expect(b.values(2, { m: 2 })).toEqual({
      'loss_fn.kl': expect.closeTo(0.10404, 12), // restored, step 2 already counted
      'loss_fn.entropy_coef': expect.closeTo(1.1, 12), // fresh: its first update
    });
  });

  it('key paths: dotted identifiers only, the whole key', () => {
    const ok = (k: string) =>
      coefficientSchedulesSchema.safeParse({ [k]: { type: 'constant', value: 1 } }).success;
    expect(ok('loss_fn.entropy_coef')).toBe(true);
    expect(ok('a.b.c')).toBe(true);
    expect(ok('1loss.x')).toBe(false);
    expect(ok('loss_fn.kl extra')).toBe(false);
    expect(ok(' loss_fn.kl')).toBe(false);
  });

  it('a path through a null or a number is not a coefficient', () => {
    const c = { loss_fn: { kl: 0.1, nested: null } };
    for (const path of ['loss_fn.nested.x', 'loss_fn.kl.x'])
      expect(() => new CoefficientSchedules({ [path]: { type: 'constant', value: 1 } }, c)).toThrow(
        /not a numeric coefficient/,
      );
  });
});
