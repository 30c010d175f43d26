// Builds the optional OpenBLAS matMul addon with node-gyp, offline: Node's own
// headers (next to the node binary) are used instead of downloading them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cblas = '/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h';
if (!existsSync(cblas) && !existsSync('/usr/include/cblas.h')) {
  console.error(
    `rxrl native matMul: OpenBLAS headers not found; install them with \`apt-get install libopenblas-dev\``,
  );
  process.exit(1);
}

function findNodeGyp() {
  const npmDir = resolve(process.execPath, '../../lib/node_modules/npm');
  for (const candidate of [
    () => createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'),
    () => join(npmDir, 'node_modules/node-gyp/bin/node-gyp.js'),
  ]) {
    try {
      const p = candidate();
      if (existsSync(p)) return p;
    } catch {
      // not installed there; try the next place
    }
  }
  return null;
}

const gyp = findNodeGyp();
if (!gyp) {
  console.error(
    'rxrl native matMul: node-gyp not found (it ships with npm); install it with `npm install -g node-gyp`',
  );
  process.exit(1);
}
const nodeDir = resolve(process.execPath, '../..');
const args = [gyp, 'rebuild', '-C', here];
if (existsSync(join(nodeDir, 'include/node/node_api.h'))) args.push(`--nodedir=${nodeDir}`);
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
