import { z } from 'zod';

/**
 * A coefficient that may change with the step or with metrics. `value` is
 * called once per step with the previous step's metrics (plain numbers);
 * `getState` / `setState` round-trip through JSON for checkpoints.
 */
export interface Schedule {
  value(step: number, metrics?: Record<string, number>): number;
  getState(): Record<string, number | null>;
  setState(state: Record<string, number | null>): void;
}

/** Schedule specs as they appear in YAML recipes. */
export const scheduleSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('constant'),
      /** the coefficient */
      value: z.number(),
    })
    .strict(),
  z
    .object({
      type: z.literal('linear'),
      /** value at and before start_step */
      start: z.number(),
      /** value at and after end_step */
      end: z.number(),
      /** first step of the ramp */
      start_step: z.number().int().min(0).default(0),
      /** last step of the ramp */
      end_step: z.number().int().positive(),
    })
    .strict(),
  z
    .object({
      type: z.literal('controller'),
      /** coefficient before any update */
      initial: z.number().positive(),
      /** metric that drives it, e.g. `reward_gap` or `kl_penalty` */
      metric: z.string().min(1),
      /** value of the metric the controller steers toward */
      target: z.number(),
      /** steps to close the error: c ← c·(1 + clip(err)·1/horizon) (Ziegler et al. 2019 adaptive KL, https://arxiv.org/abs/1909.08593) */
      horizon: z.number().positive().default(10000),
      /** bound of the relative error per update */
      clip: z.number().positive().default(0.2),
      /** +1: the coefficient grows while the metric is above target (a KL penalty); −1: grows while below (a β that widens a reward gap) */
      direction: z.union([z.literal(1), z.literal(-1)]).default(1),
      /** lower bound of the coefficient */
      min: z.number().min(0).default(0),
      /** upper bound of the coefficient */
      max: z.number().positive().default(Number.MAX_VALUE),
    })
    .strict(),
  z
    .object({
      type: z.literal('cosine'),
      /** value at and before start_step */
      start: z.number(),
      /** value at and after end_step */
      end: z.number(),
      start_step: z.number().int().min(0).default(0),
      end_step: z.number().int().positive(),
    })
    .strict(),
  z
    .object({
      type: z.literal('step'),
      /** value before the first milestone */
      initial: z.number(),
      /** steps (ascending) at which the value is multiplied by gamma (torch MultiStepLR) */
      milestones: z.array(z.number().int().min(0)).min(1),
      gamma: z.number().default(0.1),
    })
    .strict(),
  z
    .object({
      type: z.literal('band'),
      /** coefficient before any update */
      initial: z.number().positive(),
      /** metric that drives it (the previous step's, by its logged name) */
      metric: z.string().min(1),
      target: z.number(),
      /** the band: no change while |m − target| ≤ tolerance·|target| (the guides' ±x%) */
      tolerance: z.number().min(0).default(0.1),
      /** multiply (metric above the band, direction 1) or divide (below) by this each step */
      factor: z.number().gt(1).default(1.1),
      direction: z.union([z.literal(1), z.literal(-1)]).default(1),
      min: z.number().min(0).default(0),
      max: z.number().positive().default(Number.MAX_VALUE),
    })
    .strict(),
  z
    .object({
      type: z.literal('pi'),
      /** coefficient at zero error */
      initial: z.number(),
      metric: z.string().min(1),
      target: z.number(),
      /** proportional gain on the relative error (m − target)/|target| */
      kp: z.number().min(0).default(0.1),
      /** integral gain on the sum of relative errors */
      ki: z.number().min(0).default(0.01),
      direction: z.union([z.literal(1), z.literal(-1)]).default(1),
      min: z.number().default(0),
      max: z.number().default(Number.MAX_VALUE),
    })
    .strict(),
]);
export type ScheduleSpec = z.input<typeof scheduleSchema>;
type Spec<T extends string> = Extract<z.infer<typeof scheduleSchema>, { type: T }>;

/** A fixed coefficient. */
export function constantSchedule(value: number): Schedule {
  return { value: () => value, getState: () => ({}), setState: () => {} };
}

/** Linear ramp from `start` to `end` between `start_step` and `end_step`. */
export function linearSchedule(spec: {
  start: number;
  end: number;
  start_step?: number;
  end_step: number;
}): Schedule {
  const s0 = spec.start_step ?? 0;
  if (spec.end_step <= s0)
    throw new Error(`linearSchedule: end_step (${spec.end_step}) must be after start_step (${s0})`);
  return {
    value(step) {
      const f = Math.min(1, Math.max(0, (step - s0) / (spec.end_step - s0)));
      return spec.start + (spec.end - spec.start) * f;
    },
    getState: () => ({}),
    setState: () => {},
  };
}

/**
 * Proportional controller on a metric (the adaptive-KL rule): each new step
 * with the metric present updates c ← c·(1 + direction·clip((m − target)/|target|)/horizon),
 * bounded to [min, max]. Asking twice for the same step updates once.
 */
export function controllerSchedule(
  spec: Extract<z.infer<typeof scheduleSchema>, { type: 'controller' }>,
): Schedule {
  let current = spec.initial;
  let lastStep: number | null = null;
  const scale = Math.abs(spec.target) > 0 ? Math.abs(spec.target) : 1;
  return {
    value(step, metrics) {
      const m = metrics?.[spec.metric];
      if (m !== undefined && Number.isFinite(m) && (lastStep === null || step > lastStep)) {
        const err = Math.min(spec.clip, Math.max(-spec.clip, (m - spec.target) / scale));
        current = Math.min(
          spec.max,
          Math.max(spec.min, current * (1 + (spec.direction * err) / spec.horizon)),
        );
        lastStep = step;
      }
      return current;
    },
    getState: () => ({ value: current, last_step: lastStep }),
    setState(state) {
      if (typeof state['value'] !== 'number')
        throw new Error('controllerSchedule.setState: state.value must be a number');
      current = state['value'];
      lastStep = (state['last_step'] as number | null) ?? null;
    },
  };
}

/** Half-cosine from `start` to `end` between `start_step` and `end_step` (cosine annealing). */
export function cosineSchedule(spec: Spec<'cosine'>): Schedule {
  const s0 = spec.start_step;
  if (spec.end_step <= s0)
    throw new Error(`cosineSchedule: end_step (${spec.end_step}) must be after start_step (${s0})`);
  return {
    value(step) {
      const f = Math.min(1, Math.max(0, (step - s0) / (spec.end_step - s0)));
      return spec.end + ((spec.start - spec.end) * (1 + Math.cos(Math.PI * f))) / 2;
    },
    getState: () => ({}),
    setState: () => {},
  };
}

/** `initial · gamma^(milestones passed)`: torch's MultiStepLR for any coefficient. */
export function stepSchedule(spec: Spec<'step'>): Schedule {
  const ms = [...spec.milestones].sort((a, b) => a - b);
  return {
    value: (step) => spec.initial * spec.gamma ** ms.filter((m) => step >= m).length,
    getState: () => ({}),
    setState: () => {},
  };
}

/** Shared state handling of the metric-driven schedules: one update per new step. */
function metricDriven(
  initial: number,
  metricName: string,
  update: (current: number, m: number) => number,
  extra: {
    get: () => Record<string, number | null>;
    set: (s: Record<string, number | null>) => void;
  } = {
    get: () => ({}),
    set: () => {},
  },
): Schedule {
  let current = initial;
  let lastStep: number | null = null;
  return {
    value(step, metrics) {
      const m = metrics?.[metricName];
      if (m !== undefined && Number.isFinite(m) && (lastStep === null || step > lastStep)) {
        current = update(current, m);
        lastStep = step;
      }
      return current;
    },
    getState: () => ({ value: current, last_step: lastStep, ...extra.get() }),
    setState(state) {
      if (typeof state['value'] !== 'number')
        throw new Error('schedule.setState: state.value must be a number');
      current = state['value'];
      lastStep = (state['last_step'] as number | null) ?? null;
      extra.set(state);
    },
  };
}

/**
 * The guides' adaptive band: while the metric is more than `tolerance`·|target| above
 * the target the coefficient is multiplied by `factor` each step (divided when below;
 * `direction: -1` swaps them), inside the band it holds; bounded to [min, max].
 */
export function bandSchedule(spec: Spec<'band'>): Schedule {
  const width = spec.tolerance * Math.abs(spec.target);
  return metricDriven(spec.initial, spec.metric, (c, m) => {
    const side = m > spec.target + width ? 1 : m < spec.target - width ? -1 : 0;
    const next = c * spec.factor ** (side * spec.direction);
    return Math.min(spec.max, Math.max(spec.min, next));
  });
}

/**
 * PI controller: c = initial + direction·(kp·e + ki·Σe), e = (m − target)/|target|
 * (target 0: m − target), bounded to [min, max]; the integral stops growing while the
 * output is saturated (anti-windup), so it recovers as soon as the error changes sign.
 */
export function piSchedule(spec: Spec<'pi'>): Schedule {
  const scale = Math.abs(spec.target) > 0 ? Math.abs(spec.target) : 1;
  let integral = 0;
  const out = (e: number, i: number) => spec.initial + spec.direction * (spec.kp * e + spec.ki * i);
  return metricDriven(
    spec.initial,
    spec.metric,
    (_c, m) => {
      const e = (m - spec.target) / scale;
      const raw = out(e, integral + e);
      const clamped = Math.min(spec.max, Math.max(spec.min, raw));
      if (clamped === raw) integral += e;
      return Math.min(spec.max, Math.max(spec.min, out(e, integral)));
    },
    {
      get: () => ({ integral }),
      set: (s) => {
        integral = typeof s['integral'] === 'number' ? s['integral'] : 0;
      },
    },
  );
}

/** Build a schedule from a number (constant) or a validated spec. */
export function makeSchedule(spec: number | ScheduleSpec): Schedule {
  if (typeof spec === 'number') return constantSchedule(spec);
  const s = scheduleSchema.parse(spec);
  switch (s.type) {
    case 'constant':
      return constantSchedule(s.value);
    case 'linear':
      return linearSchedule(s);
    case 'cosine':
      return cosineSchedule(s);
    case 'step':
      return stepSchedule(s);
    case 'band':
      return bandSchedule(s);
    case 'pi':
      return piSchedule(s);
    case 'controller':
      return controllerSchedule(s);
  }
}
