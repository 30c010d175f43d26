import { describe, expect, it } from 'vitest';
import { RxrlConfigError } from '@rxrl/core';
import { fixture } from '../test/fixture';
import { LrScheduler } from './lrSchedule';

const lrs = (s: LrScheduler, n: number) =>
  Array.from({ length: n }, () => {
    const lr = s.lr;
    s.step();
    return lr;
  });
const expectClose = (got: number[], want: number[]) => {
  expect(got.length).toBe(want.length);
  want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 12));
};

describe('NeMo RL policy.scheduler lists (against torch, fixture)', () => {
  it('LinearLR -> ConstantLR with milestones', () => {
    const s = new LrScheduler(1e-2, [
      {
        name: 'torch.optim.lr_scheduler.LinearLR',
        kwargs: { start_factor: 0.1, end_factor: 1.0, total_iters: 2 },
      },
      { name: 'torch.optim.lr_scheduler.ConstantLR', kwargs: { factor: 0.5, total_iters: 2 } },
      { milestones: [2] },
    ]);
    expectClose(lrs(s, 8), fixture.schedules.nemo_linear_constant!);
  });
  it('CosineAnnealingLR alone, periodic past T_max as torch', () => {
    const s = new LrScheduler(1e-2, [
      { name: 'CosineAnnealingLR', kwargs: { T_max: 4, eta_min: 1e-3 } },
    ]);
    expectClose(lrs(s, 6), fixture.schedules['cosine_T4_min1e-3']!);
  });
  it('LinearLR warmup -> CosineAnnealingLR', () => {
    const s = new LrScheduler(1e-2, [
      { name: 'LinearLR', kwargs: { start_factor: 0.1, end_factor: 1.0, total_iters: 2 } },
      { name: 'CosineAnnealingLR', kwargs: { T_max: 4, eta_min: 1e-3 } },
      { milestones: [2] },
    ]);
    expectClose(lrs(s, 8), fixture.schedules['linear_warmup2_cosine4_min1e-3']!);
  });
  it('the NeMo RL default shape (ConstantLR factor 1 for 1e10 iters) is constant after warmup', () => {
    const s = new LrScheduler(5e-6, [
      {
        name: 'torch.optim.lr_scheduler.LinearLR',
        kwargs: { start_factor: 0.1, end_factor: 1.0, total_iters: 50 },
      },
      {
        name: 'torch.optim.lr_scheduler.ConstantLR',
        kwargs: { factor: 1.0, total_iters: 10000000000 },
      },
      { milestones: [50] },
    ]);
    const all = lrs(s, 60);
    expect(all[0]).toBeCloseTo(5e-7, 18);
    expect(all[25]).toBeCloseTo(5e-6 * (0.1 + (0.9 * 25) / 50), 18);
    expect(all.slice(50)).toEqual(Array(10).fill(5e-6));
  });
  it('rejects a list whose milestones do not match its schedulers', () => {
    expect(
      () =>
        new LrScheduler(1e-2, [
          { name: 'LinearLR', kwargs: { total_iters: 2 } },
          { name: 'ConstantLR', kwargs: {} },
        ]),
    ).toThrow(/2 schedulers need 1 milestones/);
    expect(() => new LrScheduler(1e-2, [{ name: 'StepLR', kwargs: {} } as never])).toThrow(
      RxrlConfigError,
    );
  });
});

describe('built-in schedules', () => {
  it('constant', () => expect(lrs(new LrScheduler(0.1), 3)).toEqual([0.1, 0.1, 0.1]));
  it('linear warmup from start_factor, then constant', () => {
    expectClose(
      lrs(new LrScheduler(1, { name: 'linear_warmup', warmup_steps: 4 }), 6),
      [0, 0.25, 0.5, 0.75, 1, 1],
    );
    expectClose(
      lrs(new LrScheduler(1, { name: 'linear_warmup', warmup_steps: 2, start_factor: 0.5 }), 3),
      [0.5, 0.75, 1],
    );
  });
  it('cosine with warmup decays to min_lr at total_steps and stays there', () => {
    const s = new LrScheduler(1, { name: 'cosine', warmup_steps: 2, total_steps: 6, min_lr: 0.1 });
    // decay progress p = (t-2)/4: lr = 0.1 + 0.9 (1 + cos(pi p)) / 2
    const c = (p: number) => 0.1 + (0.9 * (1 + Math.cos(Math.PI * p))) / 2;
    expectClose(lrs(s, 9), [0, 0.5, 1, c(0.25), 0.55, c(0.75), 0.1, 0.1, 0.1]);
  });
  it('state round-trips', () => {
    const a = new LrScheduler(1, { name: 'linear_warmup', warmup_steps: 4 });
    lrs(a, 3);
    const b = new LrScheduler(1, { name: 'linear_warmup', warmup_steps: 4 });
    b.setState(a.getState());
    expect(b.lr).toBe(a.lr);
    expect(b.lr).toBe(0.75);
  });
  it('rejects bad options with the key named', () => {
    expect(() => new LrScheduler(1, { name: 'cosine', total_steps: 0 } as never)).toThrow(
      /total_steps/,
    );
    expect(() => new LrScheduler(1, { name: 'cosine', warmup_steps: 5, total_steps: 5 })).toThrow(
      /total_steps/,
    );
  });
});
