// The vitest config Stryker runs (tools/mutation/stryker.config.mjs): the target
// library's own config with its root set to the library, as `npm test` runs it
// from there, without its JSON reporter, which would write outside the sandbox,
// with only the target's test files where it names them (targets.mjs `include`), and
// with a test file that fails to load counted as a failed test (./loadFailureReporter.mjs),
// each test file in a fresh module registry.
import { fileURLToPath } from 'node:url';
import loss from '../../libs/loss/vitest.config.ts';
import grouping from '../../libs/grouping/vitest.config.ts';
import optimizer from '../../libs/optimizer/vitest.config.ts';
import core from '../../libs/core/vitest.config.ts';
import LoadFailureReporter from './loadFailureReporter.mjs';
import { targets } from './targets.mjs';

const configs = { loss, grouping, optimizer, core };
const name = process.env.RXRL_MUTATION_TARGET;
const target = targets[name];
const base = configs[target.lib];
const root = fileURLToPath(new URL(`../../${target.dir}/`, import.meta.url));

export default {
  ...base,
  root,
  test: {
    ...base.test,
    include: target.include ?? base.test.include,
    // a fresh module registry for every test file: loss shares one (`isolate: false`) to load
    // tfjs once, but then a module-level value (a zod schema) keeps the variant first loaded and
    // its static mutants are never tested
    isolate: true,
    reporters: ['default', new LoadFailureReporter()],
  },
};
