import { defineConfig } from 'vitest/config';

// forks, not threads: the tfjs wasm backend keeps per-process state.
export default defineConfig({
  test: {
    name: '@rxrl/config',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    watch: false,
    reporters: [
      'default',
      ['json', { outputFile: '../../dist/test-results/libs/config/results.json' }],
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
