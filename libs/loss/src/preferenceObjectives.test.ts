import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import {
  objectiveNeedsMismatchedKl,
  objectiveNeedsReference,
  orpoLoss,
  preferenceObjectiveLoss,
  preferenceObjectiveSchema,
  readMetricsSync,
} from './index';
import { expectClose, t1 } from '../test/helpers';

const sig = (x: number) => 1 / (1 + Math.exp(-x));

describe('preference objectives a recipe can name', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  const pairs = () => ({
    policyChosenLogps: t1([-1, -2]),
    policyRejectedLogps: t1([-3, -2.5]),
    referenceChosenLogps: t1([-2, -2]),
    referenceRejectedLogps: t1([-2, -2]),
    chosenLengths: t1([2, 1]),
    rejectedLengths: t1([3, 2]),
  });
  const value = (f: () => { loss: tf.Scalar; metrics: Record<string, unknown> }) =>
    tf.tidy(() => f().loss.dataSync()[0]!);

  it('orpo by name is orpoLoss', () => {
    const a = value(() => preferenceObjectiveLoss({ name: 'orpo', beta: 0.2 }, pairs()));
    const b = value(() => orpoLoss({ beta: 0.2 }, pairs()));
    expectClose(a, b, 1e-7, 'orpo');
    expect(objectiveNeedsReference({ name: 'orpo' })).toBe(false);
  });

  it('kto apo_zero_unpaired on pairs: chosen desirable, rejected undesirable, mean over 2B samples', () => {
    // ρ: chosen [1, 0], rejected [−1, −0.5]; β 0.5
    const want = (1 - sig(0.5) + (1 - sig(0)) + sig(-0.5) + sig(-0.25)) / 4;
    const r = tf.tidy(() =>
      preferenceObjectiveLoss({ name: 'kto', beta: 0.5, loss_type: 'apo_zero_unpaired' }, pairs()),
    );
    expectClose(r.loss.dataSync()[0]!, want, 1e-6, 'loss');
    const m = readMetricsSync(r.metrics);
    expect(m['num_desirable']).toBe(2);
    expect(m['accuracy']).toBe(1); // chosen ρ [1, 0] above rejected [−1, −0.5]
    r.loss.dispose();
    expect(objectiveNeedsReference({ name: 'kto' })).toBe(true);
  });

  it('kto on per-sequence log-probs [B] ignores token masks given beside them', () => {
    const masks = {
      chosenMask: tf.tensor2d([
        [1, 1, 0],
        [1, 0, 0],
      ]) as tf.Tensor2D,
      rejectedMask: tf.tensor2d([
        [1, 0, 0],
        [1, 1, 1],
      ]) as tf.Tensor2D,
    };
    const spec = { name: 'kto', beta: 0.5, loss_type: 'apo_zero_unpaired' } as const;
    // ρ: chosen [1, 0], rejected [−1, −0.5], as in the test above
    const want = (1 - sig(0.5) + (1 - sig(0)) + sig(-0.5) + sig(-0.25)) / 4;
    expectClose(
      value(() => preferenceObjectiveLoss(spec, { ...pairs(), ...masks })),
      want,
      1e-6,
      'with masks',
    );
    tf.dispose(Object.values(masks));
  });

  it('names the key of a bad spec; kto takes z₀ from the context', () => {
    const bad = preferenceObjectiveSchema.safeParse({ name: 'kto', beta: -1 });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path).toEqual(['beta']);
    expect(objectiveNeedsMismatchedKl({ name: 'kto' })).toBe(true);
    expect(objectiveNeedsMismatchedKl({ name: 'kto', loss_type: 'apo_zero_unpaired' })).toBe(false);
    expect(() => tf.tidy(() => preferenceObjectiveLoss({ name: 'kto' }, pairs()).loss)).toThrow(
      /reference point/,
    );
    // ρ: chosen [1, 0], rejected [−1, −0.5]; β 0.5, z₀ 0.2
    const want = (1 - sig(0.4) + (1 - sig(-0.1)) + (1 - sig(0.6)) + (1 - sig(0.35))) / 4;
    const got = value(() =>
      preferenceObjectiveLoss({ name: 'kto', beta: 0.5 }, pairs(), { klReferencePoint: 0.2 }),
    );
    expectClose(got, want, 1e-6, 'kto with z0');
    expect(preferenceObjectiveSchema.safeParse({ name: 'simpo' }).success).toBe(false);
    expect(preferenceObjectiveSchema.parse({ name: 'cpo', loss_type: 'simpo' })).toMatchObject({
      cpo_alpha: 1,
      simpo_gamma: 0.5,
    });
  });
});
