import { defineConfig } from 'vitest/config';

// forks, not threads: the tfjs wasm backend keeps per-process state.
export default defineConfig({
  test: {
    name: '@rxrl/loss',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    // one fork for all files: tfjs and the wasm module load once
    isolate: false,
    watch: false,
    reporters: [
      'default',
      ['json', { outputFile: '../../dist/test-results/libs/loss/results.json' }],
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
