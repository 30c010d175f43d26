// The libraries `npm run mutation` mutates: the numerical core, where a wrong
// sign or a dropped mask trains a worse model without failing anything.
// Each target mutates its sources (never its tests) and runs its own vitest
// config (./vitest.config.mjs); Stryker runs only the tests that cover each mutant.

/** @type {Record<string, { mutate: string[]; vitestConfig: string; dir: string }>} */
export const targets = {
  loss: {
    mutate: ['libs/loss/src/**/*.ts', '!libs/loss/src/**/*.test.ts', '!libs/loss/src/index.ts'],
    vitestConfig: 'libs/loss/vitest.config.ts',
    dir: 'libs/loss',
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
  },
  optimizer: {
    mutate: [
      'libs/optimizer/src/**/*.ts',
      '!libs/optimizer/src/**/*.test.ts',
      '!libs/optimizer/src/index.ts',
    ],
    vitestConfig: 'libs/optimizer/vitest.config.ts',
    dir: 'libs/optimizer',
  },
  core: {
    // the differentiable ops layer only (backends and I/O have their own suites)
    mutate: [
      'libs/core/src/ops/**/*.ts',
      '!libs/core/src/ops/**/*.test.ts',
      '!libs/core/src/ops/**/*.testkit.ts',
      '!libs/core/src/ops/index.ts',
    ],
    vitestConfig: 'libs/core/vitest.config.ts',
    dir: 'libs/core',
  },
};
