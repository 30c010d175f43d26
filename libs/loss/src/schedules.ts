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
]);
export type ScheduleSpec = z.input<typeof scheduleSchema>;

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

/** Build a schedule from a number (constant) or a validated spec. */
export function makeSchedule(spec: number | ScheduleSpec): Schedule {
  if (typeof spec === 'number') return constantSchedule(spec);
  const s = scheduleSchema.parse(spec);
  if (s.type === 'constant') return constantSchedule(s.value);
  if (s.type === 'linear') return linearSchedule(s);
  return controllerSchedule(s);
}
