// @rxrl/core's install script, so it runs both for `npm install` in the rxrl
// repository and where @rxrl/core is installed as a package: builds the native
// backend's addon where a C compiler and OpenBLAS's headers are present, and
// prints one line saying what it did or why it skipped. It never fails the
// install: without the addon every command runs on wasm, as before.
// (`npm install --ignore-scripts`, or RXRL_SKIP_NATIVE=1, skips it the same way.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// paths in messages are relative to where `npm install` was run
const root = process.env.INIT_CWD ?? process.cwd();
const addon = join(here, 'build/Release/rxrl_native.node');
const enable = `apt-get install -y libopenblas-dev && node ${relative(root, join(here, 'build.mjs'))}`;
const say = (line) => console.log(`rxrl: ${line}`);

function newestSource() {
  const files = ['binding.gyp', ...readdirSync(join(here, 'src')).map((f) => join('src', f))];
  return Math.max(...files.map((f) => statSync(join(here, f)).mtimeMs));
}

if (['1', 'true'].includes((process.env.RXRL_SKIP_NATIVE ?? '').toLowerCase())) {
  say('native backend not built (RXRL_SKIP_NATIVE is set); runs use wasm');
  process.exit(0);
}
const headers = ['/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h', '/usr/include/cblas.h'];
if (!headers.some(existsSync)) {
  say(
    `native backend not built: OpenBLAS headers are missing; runs use wasm (4 GiB ceiling). Enable it: ${enable}`,
  );
  process.exit(0);
}
if (spawnSync('cc', ['--version'], { stdio: 'ignore' }).status !== 0) {
  say(
    `native backend not built: no C compiler (cc); runs use wasm. Enable it: apt-get install -y build-essential && ${enable}`,
  );
  process.exit(0);
}
if (existsSync(addon) && statSync(addon).mtimeMs >= newestSource()) {
  say(`native backend up to date (${relative(root, addon)})`);
  process.exit(0);
}
const r = spawnSync(process.execPath, [join(here, 'build.mjs')], { encoding: 'utf8' });
if (r.status === 0 && existsSync(addon)) {
  say(`native backend built (${relative(root, addon)}): runs use it by default (--backend native)`);
} else {
  const log = join(here, 'build/native-build.log');
  mkdirSync(dirname(log), { recursive: true });
  writeFileSync(log, `${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  say(
    `native backend build failed (log: ${relative(root, log)}); runs use wasm. Retry: node ${relative(root, join(here, 'build.mjs'))}`,
  );
}
process.exit(0);
