import { defineConfig } from 'vitest/config';

// forks, not threads: the tfjs wasm backend keeps per-process state.
export default defineConfig({
  test: {
    name: '@rxrl/algorithms',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    // the long-run test measures the heap after a full collection (test/faults/longRun.test.ts)
    execArgv: ['--expose-gc'],
    watch: false,
    reporters: [
      'default',
      ['json', { outputFile: '../../dist/test-results/libs/algorithms/results.json' }],
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
