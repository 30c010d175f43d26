// Packed rows over a batch of several rows: each row's segments are read from its
// own slice of segmentIds, causal or not, and every segment of every row equals
// attention over that segment alone (attention.test.ts covers one causal row).
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../base/rng';
import { TEST_BACKENDS, useBackend } from '../testing';
import { attention } from './attention';
import { f32, maxAbsDiff, randn } from './gradCheck.testkit';

describe.each(TEST_BACKENDS)('attention over packed rows on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it.each([true, false])(
    'two rows with different segment layouts (causal %s): each segment equals attention over it alone',
    (causal) => {
      const rng = new Rng(35);
      const [b, t, hq, hkv, dh] = [2, 5, 2, 1, 4];
      // row 0: lengths 2 and 3; row 1: lengths 3 and 1, then a pad
      const seg = Int32Array.from([1, 1, 2, 2, 2, 1, 1, 1, 2, 0]);
      const make = (h: number) =>
        tf.tensor4d(Float32Array.from(f32(randn(rng, b * t * h * dh))), [b, t, h, dh]);
      const [q, k, v] = [make(hq), make(hkv), make(hkv)];
      const packed = tf.tidy(() => attention(q, k, v, { segmentIds: seg, causal }));
      const rows = packed.arraySync();
      const segments: Array<[number, number, number]> = [
        [0, 0, 2],
        [0, 2, 3],
        [1, 0, 3],
        [1, 3, 1],
      ];
      for (const [row, start, len] of segments) {
        const part = (x: tf.Tensor4D) =>
          tf.slice(x, [row, start, 0, 0], [1, len, -1, -1]) as tf.Tensor4D;
        const alone = tf.tidy(() => attention(part(q), part(k), part(v), { causal }));
        const got = Float32Array.from(rows[row]!.slice(start, start + len).flat(2));
        expect(maxAbsDiff(got, alone.dataSync())).toBeLessThan(1e-6);
        alone.dispose();
      }
      tf.dispose([q, k, v, packed]);
    },
  );
});
