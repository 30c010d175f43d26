// The steps after tsc that make a package's dist/ loadable by plain Node ESM
// (see build.mjs). Idempotent: a specifier that already names a file is kept.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';

import ts from 'typescript';

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

/**
 * The specifier Node resolves to the emitted file: `spec.js` for a module,
 * `spec/index.js` for a directory; unchanged when it already has an extension
 * that exists. Throws when neither exists, so a broken import fails the build.
 */
export function withExtension(spec, fromFile) {
  const base = join(dirname(fromFile), spec);
  if (/\.(m?js|json)$/.test(spec) && existsSync(base)) return spec;
  if (existsSync(`${base}.js`)) return `${spec}.js`;
  if (existsSync(join(base, 'index.js'))) return `${spec.replace(/\/$/, '')}/index.js`;
  throw new Error(`build: ${fromFile}: cannot resolve '${spec}' to an emitted file`);
}

/**
 * Rewrites one file's relative module specifiers (imports, re-exports, `import()`
 * in code and in .d.ts types; TypeScript's scanner finds them, so comments and
 * strings are left alone); returns the new text.
 */
export function rewriteSpecifiers(text, fromFile) {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  let out = text;
  for (const f of [...importedFiles].sort((a, b) => b.pos - a.pos)) {
    if (!/^\.\.?(\/|$)/.test(f.fileName)) continue; // ./x, ../x, . and ..
    // f.pos is the opening quote's offset (f.end = f.pos + the name's length)
    const start = f.pos + (/['"`]/.test(text[f.pos]) ? 1 : 0);
    if (text.slice(start, start + f.fileName.length) !== f.fileName) {
      throw new Error(`build: ${fromFile}: specifier '${f.fileName}' not found at offset ${f.pos}`);
    }
    out =
      out.slice(0, start) +
      withExtension(f.fileName, fromFile) +
      out.slice(start + f.fileName.length);
  }
  return out;
}

/** Finishes `packageDir`/dist: specifiers with extensions, src/**\/*.mjs copied in. */
export function finishDist(packageDir) {
  const src = join(packageDir, 'src');
  const dist = join(packageDir, 'dist');
  for (const file of walk(src)) {
    if (!file.endsWith('.mjs') || /\.test\.mjs$/.test(file)) continue;
    const to = join(dist, relative(src, file));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(file, to);
  }
  for (const file of walk(dist)) {
    if (!/\.(d\.ts|js)$/.test(file)) continue; // tsc's output; the copied .mjs are written by hand
    const text = readFileSync(file, 'utf8');
    const next = rewriteSpecifiers(text, file);
    if (next !== text) writeFileSync(file, next);
  }
}
