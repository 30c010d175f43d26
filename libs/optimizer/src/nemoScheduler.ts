import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core';
import type { LrFactor } from './lrSchedule';

const entry = <N extends string, K extends z.ZodRawShape>(name: N, kwargs: K) =>
  z
    .object({
      /** torch scheduler class (the `torch.optim.lr_scheduler.` prefix is optional) */
      name: z.union([z.literal(name), z.literal(`torch.optim.lr_scheduler.${name}`)]),
      /** the scheduler's constructor arguments, as in torch */
      kwargs: z.object(kwargs).strict(),
    })
    .strict();

const LinearLR = entry('LinearLR', {
  /** factor at the first step (torch default 1/3) */
  start_factor: z
    .number()
    .gt(0)
    .max(1)
    .default(1 / 3),
  /** factor reached after total_iters */
  end_factor: z.number().min(0).max(1).default(1),
  /** steps of the ramp */
  total_iters: z.number().int().nonnegative().default(5),
});
const ConstantLR = entry('ConstantLR', {
  /** factor while t < total_iters (torch default 1/3) */
  factor: z
    .number()
    .min(0)
    .max(1)
    .default(1 / 3),
  /** steps the factor lasts; then the base lr */
  total_iters: z.number().int().nonnegative().default(5),
});
const CosineAnnealingLR = entry('CosineAnnealingLR', {
  /** half-period of the cosine in steps */
  T_max: z.number().int().positive(),
  /** floor (absolute lr) */
  eta_min: z.number().nonnegative().default(0),
});
const Milestones = z
  .object({
    /** steps at which the next scheduler of the list takes over (SequentialLR) */
    milestones: z.array(z.number().int().positive()),
  })
  .strict();

/**
 * NeMo RL's `policy.scheduler`: a list of torch schedulers, plus a
 * `{ milestones: [...] }` entry when there are several (torch SequentialLR), e.g.
 * `[{ name: torch.optim.lr_scheduler.LinearLR, kwargs: { start_factor: 0.1, end_factor: 1.0, total_iters: 50 } },
 *   { name: torch.optim.lr_scheduler.ConstantLR, kwargs: { factor: 1.0, total_iters: 10000000000 } },
 *   { milestones: [50] }]`.
 */
export const NemoSchedulerListSchema = z
  .array(z.union([LinearLR, ConstantLR, CosineAnnealingLR, Milestones]))
  .min(1);

type Entry = z.infer<typeof NemoSchedulerListSchema>[number];

// closed forms of torch's schedulers as multipliers of the base lr, at local step t
function closedForm(e: Exclude<Entry, { milestones: number[] }>, baseLr: number | null): LrFactor {
  const name = e.name.replace('torch.optim.lr_scheduler.', '');
  if (name === 'LinearLR') {
    const k = e.kwargs as z.infer<typeof LinearLR>['kwargs'];
    return (t) =>
      k.total_iters === 0
        ? k.end_factor
        : k.start_factor +
          ((k.end_factor - k.start_factor) * Math.min(t, k.total_iters)) / k.total_iters;
  }
  if (name === 'ConstantLR') {
    const k = e.kwargs as z.infer<typeof ConstantLR>['kwargs'];
    return (t) => (t < k.total_iters ? k.factor : 1);
  }
  const k = e.kwargs as z.infer<typeof CosineAnnealingLR>['kwargs'];
  if (baseLr === null)
    throw new RxrlConfigError('CosineAnnealingLR needs the base lr to express eta_min');
  const floor = k.eta_min / baseLr;
  // torch's closed form, periodic past T_max as torch is
  return (t) => floor + ((1 - floor) * (1 + Math.cos((Math.PI * t) / k.T_max))) / 2;
}

/**
 * Multiplier function of a NeMo RL scheduler list. With milestones m1 < m2 < ...,
 * scheduler i runs from milestone i (local step t - m_i), as torch's SequentialLR.
 */
export function nemoSchedulerFactor(
  list: z.infer<typeof NemoSchedulerListSchema>,
  baseLr: number | null = null,
): LrFactor {
  const scheds = list.filter(
    (e): e is Exclude<Entry, { milestones: number[] }> => !('milestones' in e),
  );
  const ms = list.filter((e): e is { milestones: number[] } => 'milestones' in e);
  if (ms.length > 1)
    throw new RxrlConfigError('policy.scheduler: only one {milestones: [...]} entry is allowed');
  const milestones = ms[0]?.milestones ?? [];
  if (scheds.length === 0) throw new RxrlConfigError('policy.scheduler: no scheduler in the list');
  if (milestones.length !== scheds.length - 1) {
    throw new RxrlConfigError(
      `policy.scheduler: ${scheds.length} schedulers need ${scheds.length - 1} milestones, got ${milestones.length}`,
    );
  }
  for (let i = 1; i < milestones.length; i++) {
    if (milestones[i]! <= milestones[i - 1]!)
      throw new RxrlConfigError('policy.scheduler: milestones must increase');
  }
  const fns = scheds.map((s) => closedForm(s, baseLr));
  return (t) => {
    let i = 0;
    while (i < milestones.length && t >= milestones[i]!) i++;
    return fns[i]!(i === 0 ? t : t - milestones[i - 1]!);
  };
}
