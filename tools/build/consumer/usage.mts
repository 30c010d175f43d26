// A user's TypeScript program over the installed packages. `tsc --strict` type-checks it
// against their .d.ts (the @ts-expect-error lines prove the types are real, not `any`),
// then Node runs what tsc emitted and the packaging test checks the printed numbers.
import * as tf from '@tensorflow/tfjs-core';
import { z } from 'zod';
import { Rng, RxrlError } from '@rxrl/core/base';
import { useBackend } from '@rxrl/core';
import { applyOverrides, defineSections, parseRecipe } from '@rxrl/config';
import { clippedPgLoss, readMetrics } from '@rxrl/loss';
import { extractLastNumber } from '@rxrl/reward';

await useBackend('cpu');

const rng = new Rng(7);
const draws: number[] = [rng.int(100), rng.int(100)];

const sections = defineSections({ seed: z.int().min(0).default(42) });
const config = sections.validate(
  applyOverrides(parseRecipe('seed: 1\n', 'recipe.yaml'), ['seed=7']),
);
const seed: number = config.seed;

// NeMo RL's PPO case (row 0 of @rxrl/loss's quickstart)
const { loss, metrics } = tf.tidy(() =>
  clippedPgLoss(
    { ratio_clip_min: 0.2, ratio_clip_max: 0.28, reference_policy_kl_penalty: 0 },
    {
      currLogprobs: tf.tensor2d([[Math.log(0.5), 0, Math.log(1.5)]]),
      prevLogprobs: tf.tensor2d([[0, 0, 0]]),
      refLogprobs: tf.tensor2d([[0, 0, 0]]),
      advantages: tf.tensor1d([1]),
      tokenMask: tf.tensor2d([[1, 1, 1]]),
    },
  ),
);
const lossValue = (await loss.data())[0]!;
loss.dispose();
const m = await readMetrics(metrics);

const answer: string | null = extractLastNumber('so the answer is 42.');
const isError: boolean = new RxrlError('x') instanceof Error;

console.log(
  JSON.stringify({ draws, seed, lossValue, metricKeys: Object.keys(m).length, answer, isError }),
);

// Never called: each line must be a type error, which fails tsc if the types were `any`.
export function typeErrors(): void {
  // @ts-expect-error: Rng takes a numeric seed
  new Rng('seven');
  // @ts-expect-error: the loss takes tensors, not numbers
  clippedPgLoss({}, { currLogprobs: 1 });
  // @ts-expect-error: a validated seed is a number
  const s: string = config.seed;
  void s;
}
