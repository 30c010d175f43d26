// The libraries `npm run mutation` mutates: the numerical core, where a wrong
// sign or a dropped mask trains a worse model without failing anything.
// Each target mutates its sources (never its tests) and runs its library's vitest
// config (./vitest.config.mjs), or only the test files `include` names; Stryker runs
// only the tests that cover each mutant.

/** @type {Record<string, { mutate: string[]; vitestConfig: string; dir: string; lib: string; include?: string[] }>} */
export const targets = {
  loss: {
    mutate: ['libs/loss/src/**/*.ts', '!libs/loss/src/**/*.test.ts', '!libs/loss/src/index.ts'],
    vitestConfig: 'libs/loss/vitest.config.ts',
    dir: 'libs/loss',
    lib: 'loss',
  },
  grouping: {
    // the advantage estimators, reward scaling and shaping; the grouping strategies are not numerical
    mutate: [
      'libs/grouping/src/advantages/**/*.ts',
      '!libs/grouping/src/advantages/**/*.test.ts',
      '!libs/grouping/src/advantages/index.ts',
    ],
    vitestConfig: 'libs/grouping/vitest.config.ts',
    dir: 'libs/grouping',
    lib: 'grouping',
  },
  optimizer: {
    mutate: [
      'libs/optimizer/src/**/*.ts',
      '!libs/optimizer/src/**/*.test.ts',
      '!libs/optimizer/src/index.ts',
    ],
    vitestConfig: 'libs/optimizer/vitest.config.ts',
    dir: 'libs/optimizer',
    lib: 'optimizer',
  },
  core: {
    // the differentiable ops layer only (backends and I/O have their own suites);
    // kernelGradients.ts is the next target
    mutate: [
      'libs/core/src/ops/**/*.ts',
      '!libs/core/src/ops/**/*.test.ts',
      '!libs/core/src/ops/**/*.testkit.ts',
      '!libs/core/src/ops/index.ts',
      '!libs/core/src/ops/kernelGradients.ts',
    ],
    vitestConfig: 'libs/core/vitest.config.ts',
    dir: 'libs/core',
    lib: 'core',
  },
  'core-gradients': {
    // The kernel gradients of the ops layer. They are registered when the module is
    // imported, so about 115 of their mutants are static: Stryker reruns every test
    // file that imports them (all of core's, ~400 tests) for each, and a timed-out one
    // restarts the runner: hours on 2 cores. Judged instead by the gradient tables that
    // exist for them (finite differences, exact affine derivatives and closed forms on
    // every backend), which kill a static mutant in seconds.
    mutate: ['libs/core/src/ops/kernelGradients.ts'],
    vitestConfig: 'libs/core/vitest.config.ts',
    dir: 'libs/core',
    lib: 'core',
    include: ['src/ops/kernelGradients*.test.ts'],
  },
};
