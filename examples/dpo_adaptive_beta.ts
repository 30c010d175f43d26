/**
 * Adaptive-β DPO: β is not a constant but a schedule evaluated every step —
 * (a) a linear ramp 0.05 → 0.5, and (b) a reward-gap controller that raises β
 * while the previous step's reward margin is below a target and lowers it above
 * (the adaptive-KL rule of Ziegler et al. 2019 applied to DPO's β). The
 * objective reads β from the schedule and passes it to dpoLoss; `train/beta`
 * is logged through the loss metrics.
 *
 *   node --import tsx examples/dpo_adaptive_beta.ts
 */
import { controllerSchedule, dpoLoss, linearSchedule, type Schedule } from '@rxrl/loss';
import type { DpoObjective } from '@rxrl/algorithms';
import { runDpoExample, summary } from './dpo_setup';
import { exampleSteps, isMain } from './isMain';

const STEPS = exampleSteps(15);

/** DPO whose β is `schedule`'s value at each step (a controller reads the previous step's reward margin). */
export function withBeta(schedule: Schedule): DpoObjective {
  return (inputs, ctx) => {
    // the controller reads the previous step's metrics; asking again within a step does not update it twice
    const beta = schedule.value(ctx.step, {
      reward_margin: ctx.previous['train/reward_margin'] ?? NaN,
    });
    const r = dpoLoss({ reference_policy_kl_penalty: beta }, inputs);
    return { loss: r.loss, metrics: { ...r.metrics, beta } };
  };
}

const betas = (label: string) => (step: number, m: Record<string, number>) => {
  if (step % 3 === 0 || step === 1)
    console.log(
      `  ${label} step ${step}: beta ${m['train/beta']!.toFixed(4)}, train reward margin ${m['train/reward_margin']!.toFixed(3)}`,
    );
};

/** The reward-gap controller: raises β while the margin is below 1.0, lowers it above (β from 0.1, in [0.01, 1]). */
export function rewardGapController(): Schedule {
  return controllerSchedule({
    type: 'controller',
    initial: 0.1,
    metric: 'reward_margin',
    target: 1.0,
    horizon: 2,
    clip: 0.5,
    direction: -1,
    min: 0.01,
    max: 1,
  });
}

if (isMain(import.meta.url)) {
  console.log('(a) linear schedule 0.05 -> 0.5');
  const linear = await runDpoExample({
    steps: STEPS,
    objective: withBeta(linearSchedule({ start: 0.05, end: 0.5, end_step: STEPS })),
    log: betas('linear'),
  });
  console.log(`  ${summary(linear.before, linear.after)}`);

  console.log('(b) reward-gap controller: target margin 1.0, beta starts at 0.1');
  const controller = rewardGapController();
  const adaptive = await runDpoExample({
    steps: STEPS,
    objective: withBeta(controller),
    log: betas('controller'),
  });
  console.log(`  ${summary(adaptive.before, adaptive.after)}`);
}
