import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { TEST_BACKENDS, useBackend } from '@rxrl/core';
import {
  Adam,
  AdamW,
  SGD,
  LrScheduler,
  isNormOrBias,
  type LrScheduleInput,
  type NamedOptimizer,
} from '../src/index';
import { fixture, gradsAt, makeVariables, maxRelErr } from './fixture';

// Parity with torch.optim (float64 reference, tools/reference/optimizer/adamw_fixture.py).
const h = fixture.hyper;
const nemoChain: LrScheduleInput = [
  {
    name: 'torch.optim.lr_scheduler.LinearLR',
    kwargs: { start_factor: 0.1, end_factor: 1.0, total_iters: 2 },
  },
  { name: 'torch.optim.lr_scheduler.ConstantLR', kwargs: { factor: 0.5, total_iters: 2 } },
  { milestones: [2] },
];
const cases: Record<string, (vars: tf.Variable[]) => NamedOptimizer> = {
  adamw: (v) =>
    new AdamW(v, { lr: h.lr, betas: h.betas, eps: h.eps, weight_decay: h.weight_decay }),
  adamw_no_decay_groups: (v) =>
    new AdamW(
      v,
      { lr: h.lr, betas: h.betas, eps: h.eps, weight_decay: h.weight_decay },
      { paramGroups: [{ match: (n) => isNormOrBias(n.split('#')[0]!), weight_decay: 0 }] },
    ),
  adamw_nemo_scheduler: (v) =>
    new AdamW(
      v,
      { lr: h.lr, betas: h.betas, eps: h.eps, weight_decay: h.weight_decay },
      { scheduler: new LrScheduler(h.lr, nemoChain) },
    ),
  adam_l2: (v) =>
    new Adam(v, { lr: h.lr, betas: h.betas, eps: h.eps, weight_decay: h.weight_decay }),
  sgd_momentum: (v) =>
    new SGD(v, { lr: h.lr, momentum: 0.9, dampening: 0.1, weight_decay: h.weight_decay }),
  sgd_nesterov: (v) =>
    new SGD(v, { lr: h.lr, momentum: 0.9, nesterov: true, weight_decay: h.weight_decay }),
};

for (const backend of TEST_BACKENDS) {
  describe(`torch.optim parity (${backend})`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });
    afterAll(() => tf.disposeVariables());

    for (const [name, make] of Object.entries(cases)) {
      it(`${name}: params after each of ${fixture.steps} steps within 1e-6 relative`, () => {
        const ref = fixture.cases[name]!;
        const { vars, key } = makeVariables();
        const opt = make(vars);
        let worst = 0;
        for (let t = 0; t < fixture.steps; t++) {
          expect(opt.lr).toBeCloseTo(ref.lrs[t]!, 12);
          const g = gradsAt(t, key);
          opt.step(g);
          tf.dispose(Object.values(g));
          for (const v of vars) {
            const n = v.name.split('#')[0]!;
            worst = Math.max(worst, maxRelErr(v.dataSync(), ref.params_after[t]![n]!));
          }
        }
        expect(worst).toBeLessThan(1e-6);
        opt.dispose();
        vars.forEach((v) => v.dispose());
      });
    }

    it('the decay exclusion matters: grouped and ungrouped AdamW differ on norm and bias only', () => {
      const a = fixture.cases.adamw!.params_after.at(-1)!;
      const b = fixture.cases.adamw_no_decay_groups!.params_after.at(-1)!;
      expect(a['embed.weight']).toEqual(b['embed.weight']);
      expect(maxRelErr(a['layer.norm.weight']!, b['layer.norm.weight']!)).toBeGreaterThan(1e-5);
      expect(maxRelErr(a['head.bias']!, b['head.bias']!)).toBeGreaterThan(1e-5);
    });
  });
}
