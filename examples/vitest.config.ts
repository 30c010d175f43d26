import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// forks, not threads: the tfjs wasm backend keeps per-process state.
export default defineConfig({
  // @rxrl packages resolve to their TypeScript sources here, not to a build (tsconfig.base.json)
  ssr: { resolve: { conditions: ['@rxrl/source', ...defaultServerConditions] } },
  test: {
    // ...and so do the example scripts the tests start
    env: { NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --conditions=@rxrl/source`.trim() },
    name: 'examples',
    include: ['*.test.ts'],
    pool: 'forks',
    watch: false,
    reporters: ['default', ['json', { outputFile: '../dist/test-results/examples/results.json' }]],
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
