#!/usr/bin/env node
// Builds publishable JavaScript for one package (run in its directory, as its
// `build` / `prepack` script) or, with --all, for every package (--clean empties
// their dist/ first): `tsc -b` on the package's tsconfig.lib.json (ESM, .d.ts and
// source maps into dist/, referenced packages first), then two steps tsc does not do:
//  - relative specifiers get the file extension Node's ESM loader needs
//    ('./rng' -> './rng.js', './ops' -> './ops/index.js'): the sources keep the
//    workspace's extensionless style, which tsx, vitest and tsc (Bundler) accept;
//  - the plain-JS worker entries (src/**/*.mjs) are copied next to the built code.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finishDist } from './finishDist.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

/** The package directories a tsconfig.lib.json builds: itself and, transitively, its references. */
function closure(dir, seen = new Set()) {
  if (seen.has(dir)) return seen;
  seen.add(dir);
  const config = JSON.parse(readFileSync(join(dir, 'tsconfig.lib.json'), 'utf8'));
  for (const ref of config.references ?? []) closure(resolve(dir, dirname(ref.path)), seen);
  return seen;
}

function packageDirs() {
  const workspaces = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces;
  const dirs = [];
  for (const pattern of workspaces) {
    const parent = join(root, pattern.replace(/\/\*$/, ''));
    for (const name of spawnSync('ls', [parent], { encoding: 'utf8' }).stdout.split('\n')) {
      if (!name) continue;
      try {
        readFileSync(join(parent, name, 'tsconfig.lib.json'));
        dirs.push(join(parent, name));
      } catch {
        // no tsconfig.lib.json: a package with nothing to compile (a bin-only app)
      }
    }
  }
  return dirs;
}

const dirs = process.argv.includes('--all') ? packageDirs() : [process.cwd()];
// --clean (packing, prepack): start from an empty dist/, so a file whose source was
// removed or excluded since the last build is not published
if (process.argv.includes('--clean')) {
  for (const d of dirs) rmSync(join(d, 'dist'), { recursive: true, force: true });
}
const r = spawnSync(
  process.execPath,
  [tsc, '-b', ...dirs.map((d) => join(d, 'tsconfig.lib.json'))],
  { stdio: 'inherit' },
);
if (r.status !== 0) process.exit(r.status ?? 1);
const built = new Set();
for (const d of dirs) for (const c of closure(d)) built.add(c);
for (const d of built) finishDist(d);
