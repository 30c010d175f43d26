import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// forks, not threads: the tfjs wasm backend keeps per-process state.
// RXRL_TEST_BACKEND=webgpu (tools/gpu/test-webgpu.sh) reports beside the default run, not over it.
const backend = process.env['RXRL_TEST_BACKEND'];
const suffix = backend ? `-${backend}` : '';

export default defineConfig({
  // @rxrl packages resolve to their TypeScript sources here, not to a build (tsconfig.base.json)
  ssr: { resolve: { conditions: ['@rxrl/source', ...defaultServerConditions] } },
  test: {
    // ...and so do the Node processes tests start (a CLI run, a killed writer)
    env: { NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --conditions=@rxrl/source`.trim() },
    name: '@rxrl/app-cli',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    watch: false,
    reporters: [
      'default',
      ['json', { outputFile: `../../dist/test-results/apps/cli${suffix}/results.json` }],
    ],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
