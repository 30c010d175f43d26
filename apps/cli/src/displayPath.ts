import * as path from 'node:path';

/**
 * A path as messages show it: relative to `cwd` when it lies inside it ("." for
 * `cwd` itself), absolute otherwise — `../../tmp/run` says less than `/tmp/run`.
 */
export function displayPath(cwd: string, p: string): string {
  const abs = path.resolve(cwd, p);
  const rel = path.relative(cwd, abs);
  if (rel === '') return '.';
  return rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel;
}
