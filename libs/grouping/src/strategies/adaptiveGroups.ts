import { z } from 'zod';
import { RxrlUsageError } from '@rxrl/core/base';
import type { GroupingContext, GroupingStrategy } from './groupingInput';
import { getGroupingStrategy, parseStrategyOptions } from './strategyRegistry';

const phaseSchema = z.strictObject({
  /** This phase applies while `step / total_steps < until`; the last phase has none. */
  until: z.number().gt(0).lte(1).optional(),
  /** Registered strategy name for this phase. */
  strategy: z.string(),
  /** Options of that strategy. */
  options: z.record(z.string(), z.unknown()).default({}),
});

/** The guides' adaptive grouping: random for the first 30% of training, performance-based to 70%, then semantic. */
export const GUIDE_ADAPTIVE_SCHEDULE = [
  { until: 0.3, strategy: 'random' },
  { until: 0.7, strategy: 'performance' },
  { strategy: 'semantic' },
] as const;

export const adaptiveGroupsOptions = z.strictObject({
  /** Phases in training order; default the guides' `[{until: 0.3, strategy: random}, {until: 0.7, strategy: performance}, {strategy: semantic}]`. */
  schedule: z
    .array(phaseSchema)
    .min(1)
    .default(GUIDE_ADAPTIVE_SCHEDULE.map((p) => ({ ...p, options: {} })))
    .superRefine((phases, ctx) => {
      phases.forEach((p, i) => {
        const last = i === phases.length - 1;
        if (last && p.until !== undefined && p.until < 1) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'until'],
            message: 'the last phase must have no until (it runs to the end)',
          });
        }
        if (!last && p.until === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'until'],
            message: 'every phase but the last needs until',
          });
        }
        const prev = phases[i - 1]?.until;
        if (p.until !== undefined && prev !== undefined && !(p.until > prev)) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'until'],
            message: `must be greater than the previous phase's until (${prev})`,
          });
        }
        if (p.strategy === 'adaptive') {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'strategy'],
            message: 'adaptive cannot nest itself',
          });
          return;
        }
        try {
          parseStrategyOptions(getGroupingStrategy(p.strategy), p.options);
        } catch (e) {
          ctx.addIssue({ code: 'custom', path: [i], message: (e as Error).message });
        }
      });
    }),
});
export type AdaptiveOptions = z.infer<typeof adaptiveGroupsOptions>;

/** Training progress `step / totalSteps` in [0, 1]. */
export function trainingProgress({
  step,
  totalSteps,
}: Pick<GroupingContext, 'step' | 'totalSteps'>): number {
  if (!(totalSteps > 0)) {
    throw new RxrlUsageError(
      `adaptive grouping needs total_steps > 0 to know training progress, got ${totalSteps}`,
    );
  }
  return Math.min(1, Math.max(0, step / totalSteps));
}

/** The phase of `schedule` in force at this step: the first whose `until` exceeds the progress. */
export function activePhase(
  options: AdaptiveOptions,
  ctx: Pick<GroupingContext, 'step' | 'totalSteps'>,
) {
  const progress = trainingProgress(ctx);
  const phases = options.schedule;
  return (
    phases.find((p) => p.until === undefined || progress < p.until) ?? phases[phases.length - 1]!
  );
}

/** Switches strategy by training progress following `schedule` (e.g. random -> performance -> semantic). */
export const adaptiveGroups: GroupingStrategy<AdaptiveOptions> = (samples, options, ctx) => {
  const phase = activePhase(options, ctx);
  const entry = getGroupingStrategy(phase.strategy);
  return entry.fn(samples, parseStrategyOptions(entry, phase.options), ctx);
};

/** Whether the phase in force at this step reads embeddings. */
export function adaptiveNeedsEmbeddings(
  options: AdaptiveOptions,
  ctx: Pick<GroupingContext, 'step' | 'totalSteps'>,
): boolean {
  const phase = activePhase(options, ctx);
  const entry = getGroupingStrategy(phase.strategy);
  return entry.needsEmbeddings(parseStrategyOptions(entry, phase.options), ctx);
}
