import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@rxrl/core';
import { CausalLM } from './causalLM';
import { presetConfig, ARCHITECTURES } from './modelConfig';
import { generateStep, prefill } from './decode';

// Loops must keep tf.memory().numTensors flat: training steps (forward +
// tokenLogProbs + variableGrads over an explicit list + SGD update) and decode steps.
describe('no tensor leaks (wasm)', () => {
  beforeAll(async () => {
    await useBackend('wasm');
  });

  for (const arch of ARCHITECTURES) {
    it(`${arch}: 12 training steps and 2×16 decode steps leave numTensors unchanged`, () => {
      const policy = CausalLM.create(presetConfig(arch, 'tiny', 64), { seed: 1 });
      const reference = policy.frozenCopy();
      const vars = [...policy.trainableVariables().values()];
      const ids = tf.tensor2d(
        [
          [0, 0, 5, 6, 7, 8],
          [1, 2, 3, 4, 5, 6],
        ],
        undefined,
        'int32',
      );
      const mask = tf.tensor2d(
        [
          [0, 0, 1, 1, 1, 1],
          [1, 1, 1, 1, 1, 1],
        ],
        undefined,
        'int32',
      );
      const targets = tf.tensor2d(
        [
          [0, 5, 6, 7, 8, 9],
          [2, 3, 4, 5, 6, 7],
        ],
        undefined,
        'int32',
      );

      const trainStep = () => {
        const { value, grads } = policy.variableGrads(() =>
          tf.tidy(() => {
            const lp = policy.tokenLogProbs(ids, mask, targets);
            const refLp = reference.tokenLogProbs(ids, mask, targets);
            return tf.neg(tf.mean(tf.sub(lp, tf.mul(0.1, tf.sub(lp, refLp))))) as tf.Scalar;
          }),
        );
        expect(grads.size).toBe(vars.length);
        tf.tidy(() => {
          for (const [name, v] of policy.trainableVariables())
            v.assign(tf.sub(v, tf.mul(grads.get(name)!, 0.01)));
        });
        const loss = value.dataSync()[0]!;
        tf.dispose([value, ...grads.values()]);
        return loss;
      };
      const decode = () => {
        const { cache, logits } = prefill(policy, ids, mask);
        logits.dispose();
        for (let s = 0; s < 16; s++) generateStep(policy, cache, [s % 64, (3 * s) % 64]).dispose();
        cache.dispose();
      };

      // one warm-up of each (kernels may allocate persistent helpers on first use)
      const first = trainStep();
      decode();
      const before = tf.memory().numTensors;
      let last = first;
      for (let i = 0; i < 12; i++) last = trainStep();
      decode();
      decode();
      expect(tf.memory().numTensors).toBe(before);
      expect(last).toBeLessThan(first); // the steps did train
      tf.dispose([ids, mask, targets]);
      policy.dispose();
      reference.dispose();
    });
  }
});
