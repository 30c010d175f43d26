import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';

/** libs/optimizer/test/fixtures/optimizer_parity.json, written by tools/reference/optimizer/adamw_fixture.py */
export interface ParityFixture {
  steps: number;
  shapes: Record<string, number[]>;
  initial: Record<string, number[]>;
  grads: Record<string, number[]>[];
  hyper: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  cases: Record<string, { lrs: number[]; params_after: Record<string, number[]>[] }>;
  schedules: Record<string, number[]>;
  clip: { max_norm: number; grad_norm: number; clipped: Record<string, number[]> };
}

export const fixture: ParityFixture = JSON.parse(
  readFileSync(fileURLToPath(new URL('./fixtures/optimizer_parity.json', import.meta.url)), 'utf8'),
);

let serial = 0;
/** Fresh variables with the fixture's names (suffixed so tfjs's global name registry never clashes). */
export function makeVariables(order?: string[]): {
  vars: tf.Variable[];
  key: (name: string) => string;
} {
  const suffix = `#${serial++}`;
  const names = order ?? Object.keys(fixture.shapes);
  const vars = names.map((n) =>
    tf.variable(tf.tensor(fixture.initial[n]!, fixture.shapes[n]!, 'float32'), true, n + suffix),
  );
  return { vars, key: (name) => name + suffix };
}

/** Gradients of fixture step t keyed by the variables' names. */
export function gradsAt(t: number, key: (name: string) => string): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [n, data] of Object.entries(fixture.grads[t]!))
    out[key(n)] = tf.tensor(data, fixture.shapes[n]!, 'float32');
  return out;
}

/** Largest |got - want| / max(|want|, floor) over all entries. */
export function maxRelErr(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  floor = Number.MIN_VALUE,
): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / Math.max(Math.abs(want[i]!), floor));
  }
  return worst;
}
