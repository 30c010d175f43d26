#!/usr/bin/env node
// The `test-native` target: runs the calling library's suite again with
// RXRL_TEST_BACKEND=native, so every test written for the default (wasm)
// backend also runs on the native one with the same tolerances. Its JSON
// report goes beside the library's own as <lib>-native, which the closing
// summary (tools/test-summary.mjs) counts too. Without the addon it says so
// and passes, unless RXRL_REQUIRE_NATIVE=1 (as in .ci/run).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'libs/core/native/build/Release/rxrl_native.node');
const lib = basename(process.cwd());
if (!existsSync(addon)) {
  const msg = `test-native (${lib}): native addon not built (${relative(root, addon)})`;
  if (process.env.RXRL_REQUIRE_NATIVE === '1') {
    console.error(`${msg}, and RXRL_REQUIRE_NATIVE=1`);
    process.exit(1);
  }
  console.log(`${msg}; skipped. Build it with \`npm run build:native\`.`);
  process.exit(0);
}
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
// the library's vitest.config.ts names its report dir from RXRL_TEST_BACKEND
const r = spawnSync(process.execPath, [vitest, 'run'], {
  stdio: 'inherit',
  env: { ...process.env, RXRL_TEST_BACKEND: 'native' },
});
process.exit(r.status ?? 1);
