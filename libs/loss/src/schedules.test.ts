// Each schedule's value at chosen steps, computed by hand from the formula in its doc
// comment, on ranges and targets chosen so that a wrong sign, a swapped operand or a
// forgotten offset gives a different number (ramps that start away from 0 and step 0,
// controller targets other than 1).
import { describe, expect, it } from 'vitest';
import {
  bandSchedule,
  constantSchedule,
  controllerSchedule,
  cosineSchedule,
  linearSchedule,
  makeSchedule,
  piSchedule,
  scheduleSchema,
  stepSchedule,
} from './schedules';

const controller = (o: Record<string, unknown>) =>
  controllerSchedule(scheduleSchema.parse({ type: 'controller', ...o }) as never);

describe('linearSchedule', () => {
  it('2 → 6 over steps 10..14: 2 before, 3, 4, 5 on the way, 6 after', () => {
    const s = linearSchedule({ start: 2, end: 6, start_step: 10, end_step: 14 });
    expect([0, 10, 11, 12, 13, 14, 30].map((t) => s.value(t))).toEqual([2, 2, 3, 4, 5, 6, 6]);
  });

  it('a falling ramp 0.5 → −0.3 over 0..4: −0.2 per step', () => {
    const s = makeSchedule({ type: 'linear', start: 0.5, end: -0.3, end_step: 4 });
    [0.5, 0.3, 0.1, -0.1, -0.3, -0.3].forEach((x, t) => expect(s.value(t)).toBeCloseTo(x, 12));
  });

  it('end_step not after start_step is an error naming both', () => {
    expect(() => linearSchedule({ start: 0, end: 1, start_step: 5, end_step: 5 })).toThrow(
      /end_step \(5\) must be after start_step \(5\)/,
    );
    expect(() => linearSchedule({ start: 0, end: 1, end_step: 0 })).toThrow(/start_step \(0\)/);
  });

  it('has no state', () => {
    const s = linearSchedule({ start: 1, end: 0, end_step: 2 });
    expect(s.getState()).toEqual({});
    s.setState({ value: 7 });
    expect(s.value(1)).toBe(0.5);
  });
});

describe('cosineSchedule', () => {
  it('0 → 1 over steps 2..6: ½(1 − cos πf) on the way', () => {
    const s = makeSchedule({ type: 'cosine', start: 0, end: 1, start_step: 2, end_step: 6 });
    // f = 0.25: (1 − cos(π/4))/2 = 0.1464466; f = 0.5: 0.5; f = 0.75: 0.8535534
    [0, 0, 0, 0.1464466, 0.5, 0.8535534, 1, 1].forEach((x, t) =>
      expect(s.value(t)).toBeCloseTo(x, 7),
    );
  });

  it('end_step not after start_step is an error', () => {
    expect(() =>
      cosineSchedule({ type: 'cosine', start: 0, end: 1, start_step: 3, end_step: 2 }),
    ).toThrow(/end_step \(2\) must be after start_step \(3\)/);
  });
});

describe('stepSchedule and constantSchedule', () => {
  it('gamma 3 from 2 at milestones 1 and 3: 2, 6, 6, 18', () => {
    const s = stepSchedule({ initial: 2, milestones: [3, 1], gamma: 3 } as never);
    expect([0, 1, 2, 3, 10].map((t) => s.value(t))).toEqual([2, 6, 6, 18, 18]);
  });

  it('the default gamma is 0.1', () => {
    const s = makeSchedule({ type: 'step', initial: 5, milestones: [2] });
    expect(s.value(1)).toBe(5);
    expect(s.value(2)).toBeCloseTo(0.5, 12);
  });

  it('a number and a constant spec are constants without state', () => {
    for (const s of [makeSchedule(0.25), makeSchedule({ type: 'constant', value: 0.25 })]) {
      expect([0, 7, 1e6].map((t) => s.value(t, { m: 9 }))).toEqual([0.25, 0.25, 0.25]);
      expect(s.getState()).toEqual({});
    }
    const c = constantSchedule(3);
    c.setState({ value: 1 });
    expect(c.value(0)).toBe(3);
  });
});

describe('controllerSchedule: c ← c·(1 + direction·clip((m − target)/|target|)/horizon)', () => {
  it('target 0.5, horizon 10: m 0.55 → relative error 0.1 → ×1.01; m 0.3 → −0.4 clipped to −0.2 → ×0.98', () => {
    const s = controller({ initial: 2, metric: 'kl', target: 0.5, horizon: 10 });
    expect(s.value(0)).toBe(2); // no metric yet
    expect(s.value(1, { kl: 0.55 })).toBeCloseTo(2.02, 12);
    expect(s.value(2, { kl: 0.3 })).toBeCloseTo(2.02 * 0.98, 12);
    expect(s.getState()).toEqual({ value: expect.closeTo(1.9796, 12), last_step: 2 });
  });

  it('a negative target scales by |target|: target −2, m −1.6 → error 0.2 → ×1.02', () => {
    const s = controller({ initial: 1, metric: 'm', target: -2, horizon: 10, clip: 0.5 });
    expect(s.value(1, { m: -1.6 })).toBeCloseTo(1.02, 12);
  });

  it('target 0 uses the plain difference: m 0.03 → ×(1 + 0.03/3)', () => {
    const s = controller({ initial: 1, metric: 'm', target: 0, horizon: 3 });
    expect(s.value(1, { m: 0.03 })).toBeCloseTo(1.01, 12);
  });

  it('direction −1 grows the coefficient while the metric is below target', () => {
    const s = controller({ initial: 1, metric: 'gap', target: 4, horizon: 2, direction: -1 });
    // error (3 − 4)/4 = −0.25, clipped to −0.2; ×(1 + 0.2/2)
    expect(s.value(1, { gap: 3 })).toBeCloseTo(1.1, 12);
  });

  it('the clip bounds the error on both sides (default 0.2)', () => {
    const up = controller({ initial: 1, metric: 'm', target: 1, horizon: 1 });
    expect(up.value(1, { m: 100 })).toBeCloseTo(1.2, 12);
    const down = controller({ initial: 1, metric: 'm', target: 1, horizon: 1 });
    expect(down.value(1, { m: -100 })).toBeCloseTo(0.8, 12);
  });

  it('stays in [min, max]', () => {
    const s = controller({ initial: 1, metric: 'm', target: 1, horizon: 1, min: 0.9, max: 1.1 });
    expect(s.value(1, { m: 5 })).toBe(1.1);
    expect(s.value(2, { m: 0.95 })).toBeCloseTo(1.045, 12); // ×0.95
    expect(s.value(3, { m: -5 })).toBe(0.9); // ×0.8 = 0.836, raised to min
  });

  it('updates once per new step and ignores a missing or non-finite metric', () => {
    const s = controller({ initial: 1, metric: 'm', target: 1, horizon: 10 });
    expect(s.value(5, { m: 1.1 })).toBeCloseTo(1.01, 12);
    expect(s.value(5, { m: 1.1 })).toBeCloseTo(1.01, 12); // same step
    expect(s.value(4, { m: 1.1 })).toBeCloseTo(1.01, 12); // an earlier step
    expect(s.value(6, { m: Number.NaN })).toBeCloseTo(1.01, 12);
    expect(s.value(7, { other: 3 })).toBeCloseTo(1.01, 12);
    expect(s.value(8, { m: 1.1 })).toBeCloseTo(1.0201, 12);
  });

  it('setState restores value and last step; a bad state is an error', () => {
    const s = controller({ initial: 1, metric: 'm', target: 1, horizon: 10 });
    s.setState({ value: 3, last_step: 9 });
    expect(s.value(9, { m: 2 })).toBe(3); // step 9 already counted
    expect(s.value(10, { m: 1.1 })).toBeCloseTo(3.03, 12);
    s.setState({ value: 2 });
    expect(s.getState()).toEqual({ value: 2, last_step: null });
    expect(() => s.setState({ value: null })).toThrow(/state.value must be a number/);
  });
});

describe('bandSchedule', () => {
  it('direction −1: below the band multiplies, above divides, inside holds', () => {
    const s = bandSchedule(
      scheduleSchema.parse({
        type: 'band',
        initial: 1,
        metric: 'm',
        target: 2,
        tolerance: 0.25,
        factor: 2,
        direction: -1,
      }) as never,
    );
    // band [1.5, 2.5]: 1.4 below → ×2; 2.5 on the edge holds; 2.6 above → ÷2; 1.5 holds
    expect([1.4, 2.5, 2.6, 1.5].map((m, t) => s.value(t, { m }))).toEqual([2, 2, 1, 1]);
  });

  it('defaults: tolerance 0.1, factor 1.1, bounds [0, MAX]', () => {
    const s = makeSchedule({ type: 'band', initial: 1, metric: 'm', target: 10 });
    expect(s.value(0, { m: 11 })).toBe(1); // on the edge 10 + 1
    expect(s.value(1, { m: 11.5 })).toBeCloseTo(1.1, 12);
    expect(s.value(2, { m: 8.5 })).toBeCloseTo(1, 12);
  });

  it('setState without a value is an error', () => {
    const s = makeSchedule({ type: 'band', initial: 1, metric: 'm', target: 10 });
    expect(() => s.setState({})).toThrow(/state.value must be a number/);
    s.setState({ value: 4, last_step: 3 });
    expect(s.value(3, { m: 100 })).toBe(4);
    expect(s.getState()).toEqual({ value: 4, last_step: 3 });
  });
});

describe('piSchedule: c = initial + direction·(kp·e + ki·Σe), e = (m − target)/|target|', () => {
  it('target 4: e = (5 − 4)/4 = 0.25 → 1 + 0.4·0.25 + 0.2·0.25 = 1.15, then 1 + 0.1 + 0.1 = 1.2', () => {
    const s = piSchedule(
      scheduleSchema.parse({
        type: 'pi',
        initial: 1,
        metric: 'm',
        target: 4,
        kp: 0.4,
        ki: 0.2,
      }) as never,
    );
    expect(s.value(1, { m: 5 })).toBeCloseTo(1.15, 12);
    expect(s.value(2, { m: 5 })).toBeCloseTo(1.2, 12);
    expect(s.getState()).toEqual({ value: expect.closeTo(1.2, 12), last_step: 2, integral: 0.5 });
  });

  it('target 0 and direction −1: e = m; defaults kp 0.1, ki 0.01; bounded below by min', () => {
    const s = makeSchedule({ type: 'pi', initial: 1, metric: 'm', target: 0, direction: -1 });
    // 1 − (0.1·2 + 0.01·2) = 0.78
    expect(s.value(1, { m: 2 })).toBeCloseTo(0.78, 12);
    const low = makeSchedule({ type: 'pi', initial: 0.1, metric: 'm', target: 0, direction: -1 });
    expect(low.value(1, { m: 5 })).toBe(0); // 0.1 − 0.55 → min 0
    // the integral did not wind up while saturated: e = −1 → 0.1 − (0.1·(−1) + 0.01·(−1)) = 0.21
    // (wound up to Σe = 5 − 1 it would be 0.16)
    expect(low.value(2, { m: -1 })).toBeCloseTo(0.21, 12);
  });

  it('setState restores the integral (0 when absent)', () => {
    const spec = { type: 'pi', initial: 1, metric: 'm', target: 1, kp: 0, ki: 1 } as const;
    const s = makeSchedule(spec);
    s.setState({ value: 1, last_step: 0, integral: 2 });
    expect(s.value(1, { m: 2 })).toBeCloseTo(4, 12); // 1 + (2 + 1)
    s.setState({ value: 1, last_step: 0 });
    expect(s.value(1, { m: 2 })).toBeCloseTo(2, 12);
  });
});

describe('scheduleSchema', () => {
  it('fills the controller defaults: horizon 10000, clip 0.2, direction 1, bounds [0, MAX]', () => {
    expect(
      scheduleSchema.parse({ type: 'controller', initial: 1, metric: 'kl', target: 0.1 }),
    ).toEqual({
      type: 'controller',
      initial: 1,
      metric: 'kl',
      target: 0.1,
      horizon: 10000,
      clip: 0.2,
      direction: 1,
      min: 0,
      max: Number.MAX_VALUE,
    });
  });

  it('rejects unknown keys and a non-positive controller initial value', () => {
    expect(() => makeSchedule({ type: 'constant', value: 1, extra: 2 } as never)).toThrow();
    expect(() =>
      makeSchedule({ type: 'controller', initial: 0, metric: 'kl', target: 0.1 }),
    ).toThrow();
  });
});

describe('schedule edge cases', () => {
  it('a controller updates on its first call even at step 0', () => {
    const s = controller({ initial: 1, metric: 'm', target: 1, horizon: 10 });
    expect(s.value(0, { m: 1.1 })).toBeCloseTo(1.01, 12);
  });

  it('cosine: end_step equal to start_step is an error too', () => {
    expect(() =>
      cosineSchedule({ type: 'cosine', start: 0, end: 1, start_step: 3, end_step: 3 }),
    ).toThrow(/end_step \(3\) must be after start_step \(3\)/);
  });

  it('cosine and step schedules have an empty state', () => {
    expect(makeSchedule({ type: 'cosine', start: 1, end: 0, end_step: 2 }).getState()).toEqual({});
    expect(makeSchedule({ type: 'step', initial: 1, milestones: [1] }).getState()).toEqual({});
  });

  it('band and PI hold without metrics, with a non-finite metric and with the metric missing', () => {
    for (const spec of [
      { type: 'band', initial: 1, metric: 'kl', target: 1 },
      { type: 'pi', initial: 1, metric: 'kl', target: 1 },
    ] as const) {
      const s = makeSchedule(spec);
      expect(s.value(0)).toBe(1);
      expect(s.value(1, { kl: Number.NaN })).toBe(1);
      expect(s.value(2, { other: 5 })).toBe(1);
      expect(s.getState()['last_step']).toBeNull();
    }
  });

  it('PI anti-windup tests the integral with this step’s error added: saturated → held', () => {
    // e = 0.5: 0.1 + 1·(0 + 0.5) = 0.6 > max 0.5, so Σe stays 0 and c = 0.1 + 0 = 0.1 (clamped)
    const s = makeSchedule({
      type: 'pi',
      initial: 0.1,
      metric: 'm',
      target: 1,
      kp: 0,
      ki: 1,
      min: -10,
      max: 0.5,
    });
    expect(s.value(1, { m: 1.5 })).toBeCloseTo(0.1, 12);
    expect(s.getState()['integral']).toBe(0);
  });

  it('schema bounds: band min ≥ 0, metric names of any length, start_step ≥ 0', () => {
    expect(
      makeSchedule({
        type: 'band',
        initial: 1,
        metric: 'train/kl_penalty',
        target: 1,
        min: 0.5,
      }).value(0, { 'train/kl_penalty': 0 }),
    ).toBeCloseTo(1 / 1.1, 12);
    expect(() =>
      makeSchedule({ type: 'band', initial: 1, metric: 'm', target: 1, min: -1 }),
    ).toThrow();
    expect(() => makeSchedule({ type: 'band', initial: 1, metric: '', target: 1 })).toThrow();
    expect(() =>
      makeSchedule({ type: 'linear', start: 0, end: 1, start_step: -1, end_step: 3 }),
    ).toThrow();
  });
});
