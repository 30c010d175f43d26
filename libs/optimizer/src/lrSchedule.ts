import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core';
import { nemoSchedulerFactor, NemoSchedulerListSchema } from './nemoScheduler';

/** A learning-rate schedule: the multiplier of the base lr at algorithm step `step` (0-based). */
export type LrFactor = (step: number) => number;

/** Built-in schedules, plus NeMo RL's `policy.scheduler` list. */
export const LrScheduleSchema = z.union([
  z
    .object({
      /** the base lr at every step */
      name: z.literal('constant'),
    })
    .strict(),
  z
    .object({
      /** linear warmup from `start_factor * lr` to `lr` over `warmup_steps`, then constant */
      name: z.literal('linear_warmup'),
      /** steps to reach the base lr */
      warmup_steps: z.number().int().nonnegative(),
      /** fraction of the base lr at step 0 */
      start_factor: z.number().min(0).max(1).default(0),
    })
    .strict(),
  z
    .object({
      /** linear warmup, then half-cosine decay from `lr` to `min_lr` at `total_steps`, then `min_lr` */
      name: z.literal('cosine'),
      /** steps of linear warmup from `start_factor * lr` */
      warmup_steps: z.number().int().nonnegative().default(0),
      /** fraction of the base lr at step 0 of the warmup */
      start_factor: z.number().min(0).max(1).default(0),
      /** step at which the decay reaches `min_lr` (counted from step 0, warmup included) */
      total_steps: z.number().int().positive(),
      /** floor of the decay (absolute lr, as NeMo RL's `policy.optimizer.min_lr` / Megatron) */
      min_lr: z.number().nonnegative().default(0),
    })
    .strict(),
  NemoSchedulerListSchema,
]);

/** Schedule options as written by a user. */
export type LrScheduleInput = z.input<typeof LrScheduleSchema>;

/** Builds the lr multiplier function of a schedule; `baseLr` is needed to turn `min_lr` into a factor. */
export function lrFactor(schedule: LrScheduleInput, baseLr: number): LrFactor {
  const parsed = LrScheduleSchema.safeParse(schedule);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new RxrlConfigError(`invalid lr schedule: ${issues}`);
  }
  const s = parsed.data;
  if (Array.isArray(s)) return nemoSchedulerFactor(s, baseLr);
  switch (s.name) {
    case 'constant':
      return () => 1;
    case 'linear_warmup':
      return (t) => warmup(t, s.warmup_steps, s.start_factor);
    case 'cosine': {
      if (s.total_steps <= s.warmup_steps)
        throw new RxrlConfigError('cosine schedule: total_steps must be > warmup_steps');
      const floor = s.min_lr / baseLr;
      return (t) => {
        if (t < s.warmup_steps) return warmup(t, s.warmup_steps, s.start_factor);
        const progress = Math.min((t - s.warmup_steps) / (s.total_steps - s.warmup_steps), 1);
        return floor + ((1 - floor) * (1 + Math.cos(Math.PI * progress))) / 2;
      };
    }
  }
}

function warmup(t: number, steps: number, start: number): number {
  if (steps === 0 || t >= steps) return 1;
  return start + ((1 - start) * t) / steps;
}

/** Serialisable scheduler state. */
export interface LrSchedulerState {
  step: number;
}

/**
 * Learning rate over algorithm steps: `lr` is the rate for the current step;
 * call `step()` once per algorithm step (the optimizer does it after each update).
 */
export class LrScheduler {
  private t = 0;
  private readonly factor: LrFactor;

  constructor(
    readonly baseLr: number,
    schedule: LrScheduleInput = { name: 'constant' },
  ) {
    this.factor = lrFactor(schedule, baseLr);
  }

  /** lr of the current step */
  get lr(): number {
    return this.baseLr * this.factor(this.t);
  }

  /** steps taken so far */
  get stepCount(): number {
    return this.t;
  }

  /** advance one algorithm step */
  step(): void {
    this.t++;
  }

  /** state for checkpoints */
  getState(): LrSchedulerState {
    return { step: this.t };
  }

  /** restore a state from {@link getState} */
  setState(state: LrSchedulerState): void {
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new RxrlConfigError(
        `lr scheduler state: step must be a non-negative integer, got ${state.step}`,
      );
    }
    this.t = state.step;
  }
}
