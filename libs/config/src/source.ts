import * as path from 'node:path';

/** Where a configuration value came from: a line of a recipe file, or a command-line override. */
export type Source =
  { kind: 'file'; file: string; line?: number } | { kind: 'command line'; override: string };

/** A key path into the configuration; numbers index lists. */
export type KeyPath = readonly (string | number)[];

/** Source of every key path that has one, keyed by `pathKey(path)`. */
export type SourceMap = Map<string, Source>;

// A separator that cannot appear in YAML keys typed by people, so `a.b` as one key stays one segment.
const SEP = '\u0000';

/** Map key for a key path. */
export function pathKey(keyPath: KeyPath): string {
  return keyPath.map(String).join(SEP);
}

/**
 * Key path as users write it in overrides: `grpo.num_generations_per_prompt`, list
 * items as `.0`; a key that is empty or holds dots, spaces or quotes is shown as JSON.
 */
export function formatKeyPath(keyPath: KeyPath): string {
  if (keyPath.length === 0) return '(root)';
  return keyPath
    .map((s) => (typeof s === 'number' || /^[\w\-/+@]+$/.test(s) ? String(s) : JSON.stringify(s)))
    .join('.');
}

/** `configs/grpo.yaml:12`, `configs/grpo.yaml` or `command line`. */
export function formatSource(source: Source | undefined): string {
  if (!source) return '';
  if (source.kind === 'command line') return 'command line';
  return source.line === undefined ? source.file : `${source.file}:${source.line}`;
}

/**
 * The source of a key path, or of its nearest ancestor that has one (a missing key
 * is reported where its section was written).
 */
export function sourceAt(sources: SourceMap, keyPath: KeyPath): Source | undefined {
  for (let n = keyPath.length; n >= 0; n--) {
    const found = sources.get(pathKey(keyPath.slice(0, n)));
    if (found) return found;
  }
  return undefined;
}

/** Drop the sources of every path strictly below `keyPath` (its subtree was replaced). */
export function dropSourcesBelow(sources: SourceMap, keyPath: KeyPath): void {
  const prefix = pathKey(keyPath) + SEP;
  for (const key of [...sources.keys()]) {
    if (keyPath.length === 0 ? key !== '' : key.startsWith(prefix)) sources.delete(key);
  }
}

/** A file path as shown in messages: relative to `root` when inside it, else absolute. */
export function displayPath(file: string, root: string): string {
  const rel = path.relative(root, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(file);
}
