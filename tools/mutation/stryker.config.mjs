// StrykerJS configuration for `npm run mutation [-- <target>]` (tools/mutation/run.mjs
// sets RXRL_MUTATION_TARGET). Targets and their files: ./targets.mjs.
//
// Score: string literals are not mutated (`excludedMutations`): they are error
// messages and schema descriptions, which no numerical bug hides in. Numeric
// constants and swapped tf.* calls are not mutated by Stryker at all; the hand-made
// mutants in ./handMutants.mjs cover those (`npm run mutation -- hand`).
// Survivors judged equivalent are listed, with the reason, in each library's README
// under "Mutation testing".
import { targets } from './targets.mjs';

const name = process.env.RXRL_MUTATION_TARGET;
const target = targets[name];
if (!target) {
  throw new Error(
    `RXRL_MUTATION_TARGET must be one of ${Object.keys(targets).join(', ')} (got ${name})`,
  );
}
const out = `reports/mutation/${name}`;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // the library's own vitest config, rooted at the library (./vitest.config.mjs)
  vitest: { configFile: 'tools/mutation/vitest.config.mjs', related: true },
  mutate: target.mutate,
  mutator: { excludedMutations: ['StringLiteral'] },
  coverageAnalysis: 'perTest',
  // 2 cores: one test runner; RXRL_MUTATION_CONCURRENCY=2 on an idle machine
  concurrency: Number(process.env.RXRL_MUTATION_CONCURRENCY ?? 1),
  // reruns only the mutants whose code or covering tests changed since the last run
  incremental: true,
  incrementalFile: `${out}/stryker-incremental.json`,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `${out}/mutation.html` },
  jsonReporter: { fileName: `${out}/mutation.json` },
  clearTextReporter: {
    allowColor: false,
    logTests: false,
    reportMutants: true,
    reportScoreTable: true,
  },
  // the sandbox is a copy of the repository; these are large and no test reads them
  ignorePatterns: ['models', 'runs', 'dist', 'reports', '.nx', 'bench', 'apps/*/test/fixtures'],
  tempDirName: '.stryker-tmp',
  // tfjs tests on a shared 2-core machine: generous absolute slack
  timeoutMS: 30_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 30,
  thresholds: { high: 90, low: 80, break: null },
};
