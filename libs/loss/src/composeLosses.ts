import * as tf from '@tensorflow/tfjs-core';
import type { LossResult, Metrics } from './lossResult';
import { metric } from './masked';
import { makeSchedule, type Schedule, type ScheduleSpec } from './schedules';

/** One named term of a composed loss: its result and a coefficient (number, schedule spec or Schedule). */
export interface LossTerm {
  result: LossResult;
  weight?: number | ScheduleSpec | Schedule;
}

function isSchedule(w: unknown): w is Schedule {
  return typeof w === 'object' && w !== null && typeof (w as Schedule).value === 'function';
}

/**
 * Weighted sum of named losses: loss = Σ c_name(step, metrics)·loss_name.
 * Each component's metrics come back prefixed `<name>/`, with
 * `<name>/weight` the coefficient used; `loss` is the total. `metrics` are the
 * previous step's read metrics that drive controller schedules. Pass the
 * same Schedule objects every step so controllers keep their state.
 * The component results are consumed: their tensors move into the output.
 */
export function composeLosses(
  terms: Record<string, LossTerm>,
  ctx: { step: number; metrics?: Record<string, number> } = { step: 0 },
): LossResult {
  const names = Object.keys(terms);
  if (names.length === 0) throw new Error('composeLosses: give at least one named loss');
  const weights = names.map((n) => {
    const w = terms[n]!.weight ?? 1;
    if (!isSchedule(w) && typeof w === 'object' && w.type === 'controller') {
      // a controller rebuilt on every call would never move: it must persist across steps
      throw new Error(
        `composeLosses: weight of '${n}' is a controller spec; build it once with makeSchedule(spec) and pass that Schedule every step`,
      );
    }
    const c =
      typeof w === 'number'
        ? w
        : (isSchedule(w) ? w : makeSchedule(w)).value(ctx.step, ctx.metrics);
    if (!Number.isFinite(c))
      throw new Error(`composeLosses: weight of '${n}' is ${c}; expected a finite number`);
    return c;
  });
  const metrics: Metrics = {};
  const loss = tf.tidy(() => {
    let total = tf.scalar(0);
    names.forEach((n, i) => {
      total = tf.add(total, tf.mul(terms[n]!.result.loss, weights[i]!));
    });
    return total as tf.Scalar;
  });
  names.forEach((n, i) => {
    const r = terms[n]!.result;
    for (const [k, v] of Object.entries(r.metrics)) metrics[`${n}/${k}`] = v;
    metrics[`${n}/weight`] = weights[i]!;
    if (!(`${n}/loss` in metrics))
      metrics[`${n}/loss`] = tf.tidy(() => metric(() => r.loss, r.loss));
    r.loss.dispose();
  });
  metrics['loss'] = tf.tidy(() => metric(() => loss, loss));
  return { loss, metrics };
}
