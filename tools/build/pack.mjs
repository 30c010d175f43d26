#!/usr/bin/env node
// `npm run packages [-- DEST]`: builds every package (build.mjs --all) and packs
// each workspace into a tarball in DEST (default dist/packages), what
// `npm publish` would upload. Prints one line per tarball: file, size, file count.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Builds and packs every workspace into `dest`; returns npm's description of each tarball. */
export function packAll(dest) {
  const build = spawnSync(
    process.execPath,
    [join(root, 'tools/build/build.mjs'), '--all', '--clean'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  if (build.status !== 0) throw new Error('build failed');
  mkdirSync(dest, { recursive: true });
  // prepack (a build per package) is skipped: everything was just built at once
  const r = spawnSync(
    'npm',
    ['pack', '--workspaces', '--ignore-scripts', '--json', '--pack-destination', dest],
    { cwd: root, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`npm pack failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dest = resolve(process.argv[2] ?? join(root, 'dist/packages'));
  for (const p of packAll(dest)) {
    console.log(
      `${join(dest, p.filename)}  ${(p.size / 1024).toFixed(0)} KiB, ${p.entryCount} files`,
    );
  }
}
