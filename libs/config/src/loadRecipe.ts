import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { RxrlConfigError } from '@rxrl/core/base';
import { mergeLoaded } from './deepMerge';
import type { LoadedConfig } from './loadedConfig';
import { isPlainObject } from './plainObject';
import {
  displayPath,
  dropSourcesBelow,
  formatSource,
  pathKey,
  type Source,
  type SourceMap,
} from './source';

export interface LoadRecipeOptions {
  /** file paths in messages are shown relative to this directory (default: the working directory) */
  displayRoot?: string;
}

/** The key a recipe uses to extend other recipes. */
export const DEFAULTS_KEY = 'defaults';

/**
 * Load a YAML recipe and the recipes it extends through `defaults:` (one path or a
 * list, relative to the recipe). Defaults are merged in order, then the recipe
 * itself on top; the `defaults` key is removed. Every key keeps the file and line
 * it was set on, for error messages.
 */
export function loadRecipe(file: string, options: LoadRecipeOptions = {}): LoadedConfig {
  const root = options.displayRoot ?? process.cwd();
  return loadChain(path.resolve(file), root, [], undefined);
}

function loadChain(
  abs: string,
  root: string,
  stack: string[],
  from: { source: Source } | undefined,
): LoadedConfig {
  const shown = displayPath(abs, root);
  if (stack.includes(abs)) {
    const cycle = [...stack.slice(stack.indexOf(abs)), abs]
      .map((f) => displayPath(f, root))
      .join(' -> ');
    throw new RxrlConfigError(`${formatSource(from!.source)} ${DEFAULTS_KEY}: cycle ${cycle}`);
  }
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    const why =
      (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new RxrlConfigError(
      from
        ? `${formatSource(from.source)} ${DEFAULTS_KEY}: cannot read ${shown} (${why})`
        : `cannot read recipe ${shown} (${why})`,
    );
  }
  const own = parseRecipe(text, shown);
  const defaults = takeDefaults(own, shown);
  let merged: LoadedConfig | undefined;
  for (const entry of defaults) {
    const next = loadChain(
      path.resolve(path.dirname(abs), entry.file),
      root,
      [...stack, abs],
      entry,
    );
    merged = merged ? mergeLoaded(merged, next) : next;
  }
  return merged ? mergeLoaded(merged, own) : own;
}

/** Remove `defaults` from a parsed recipe and return the files it names, with their sources. */
function takeDefaults(config: LoadedConfig, shown: string): { file: string; source: Source }[] {
  if (!Object.prototype.hasOwnProperty.call(config.value, DEFAULTS_KEY)) return [];
  const raw = config.value[DEFAULTS_KEY];
  const keySource = config.sources.get(pathKey([DEFAULTS_KEY])) ?? { kind: 'file', file: shown };
  const list = raw === null ? [] : Array.isArray(raw) ? raw : [raw];
  const entries = list.map((file, i) => {
    if (typeof file !== 'string' || file === '') {
      throw new RxrlConfigError(
        `${formatSource(keySource)} ${DEFAULTS_KEY}: expected a recipe path or a list of recipe paths, got ${JSON.stringify(raw)}`,
      );
    }
    const source = Array.isArray(raw)
      ? (config.sources.get(pathKey([DEFAULTS_KEY, i])) ?? keySource)
      : keySource;
    return { file, source };
  });
  delete config.value[DEFAULTS_KEY];
  dropSourcesBelow(config.sources, [DEFAULTS_KEY]);
  config.sources.delete(pathKey([DEFAULTS_KEY]));
  return entries;
}

/**
 * Parse one YAML recipe (no `defaults` resolution). `file` is the name used in
 * messages. An empty document is an empty recipe.
 */
export function parseRecipe(text: string, file: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const line = lineCounter.linePos(err.pos[0]).line;
    const col = lineCounter.linePos(err.pos[0]).col;
    const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new RxrlConfigError(`${file}:${line} invalid YAML: ${what} (column ${col})`);
  }
  const value: unknown = doc.toJS({ maxAliasCount: 1000 }) ?? {};
  if (!isPlainObject(value)) {
    const kind = Array.isArray(value) ? 'a list' : `${JSON.stringify(value)}`;
    throw new RxrlConfigError(
      `${file}:1 a recipe must be a mapping of sections (policy:, grpo:, ...), got ${kind}`,
    );
  }
  const sources: SourceMap = new Map([['', { kind: 'file', file }]]);
  recordPositions(doc.contents, [], file, lineCounter, sources);
  return { value, sources, files: [file] };
}

function recordPositions(
  node: Node | null | undefined | unknown,
  keyPath: (string | number)[],
  file: string,
  lines: LineCounter,
  sources: SourceMap,
): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined || key === '<<') continue;
      const at = (pair.key as Node).range?.[0];
      const childPath = [...keyPath, key];
      if (at !== undefined)
        sources.set(pathKey(childPath), { kind: 'file', file, line: lines.linePos(at).line });
      recordPositions(pair.value, childPath, file, lines, sources);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => {
      const childPath = [...keyPath, i];
      const at = (item as Node | null)?.range?.[0];
      if (at !== undefined)
        sources.set(pathKey(childPath), { kind: 'file', file, line: lines.linePos(at).line });
      recordPositions(item, childPath, file, lines, sources);
    });
  }
}
