import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import { gkdLoss, gkdLossOptionsSchema, readMetricsSync } from './index';
import { expectClose, t2 } from '../test/helpers';

const kl = (p: number[], q: number[]) => p.reduce((a, pv, i) => a + pv * Math.log(pv / q[i]!), 0);

for (const backend of TEST_BACKENDS) {
  describe(`gkdLoss on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('closed form on two tokens: student (½, ½), teacher (¾, ¼)', () => {
      const s = [0.5, 0.5];
      const t = [0.75, 0.25];
      const m = [0.625, 0.375]; // β = 0.5 mixture
      for (const [beta, want] of [
        [0, kl(t, s)], // 0.130812
        [1, kl(s, t)], // 0.143841
        [0.5, 0.5 * kl(t, m) + 0.5 * kl(s, m)], // 0.033822
      ] as const) {
        const r = gkdLoss(
          { beta },
          { studentLogits: t2([[0, 0]]), teacherLogits: t2([[Math.log(3), 0]]) },
        );
        expectClose(r.loss.dataSync()[0]!, want, 1e-6, `β ${beta}`);
        readMetricsSync(r.metrics);
        r.loss.dispose();
      }
      expect(() => gkdLossOptionsSchema.parse({ beta: 1.5 })).toThrow();
    });
  });
}
