import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    name: 'packaging',
    include: ['*.test.ts'],
    pool: 'forks',
    watch: false,
    reporters: [
      'default',
      ['json', { outputFile: '../../dist/test-results/tools/build/results.json' }],
    ],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
