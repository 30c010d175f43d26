import { parse as parseYaml } from 'yaml';
import { RxrlConfigError } from '@rxrl/core/base';
import type { LoadedConfig } from './loadedConfig';
import { cloneValue, getOwn, isPlainObject, setOwn } from './plainObject';
import { dropSourcesBelow, formatKeyPath, pathKey, type Source } from './source';

/** One parsed `key.path=value` command-line argument. */
export interface Override {
  /** the argument as typed, for messages */
  text: string;
  /** the key path, split on `.` */
  keyPath: string[];
  /** the coerced value */
  value: unknown;
}

const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Coerce the text after `=` the way a YAML recipe would read it, but predictably:
 * empty → `''`; `null`/`~` → null; `true`/`false` → booleans; decimal numbers
 * (`3`, `-0.5`, `1e-6`) → numbers; `[...]` / `{...}` → lists / mappings (YAML flow
 * syntax, items coerced the same way); a quoted string → its contents; anything
 * else stays the literal string (no comment stripping, no other YAML tags).
 */
export function coerceOverrideValue(text: string, forMessages = text): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return '';
  if (/^(?:null|Null|NULL|~)$/.test(trimmed)) return null;
  if (/^(?:true|True|TRUE)$/.test(trimmed)) return true;
  if (/^(?:false|False|FALSE)$/.test(trimmed)) return false;
  if (NUMBER.test(trimmed)) return Number(trimmed);
  const first = trimmed[0];
  if (first === '[' || first === '{' || first === '"' || first === "'") {
    try {
      return parseYaml(trimmed, { schema: 'core', prettyErrors: false });
    } catch (err) {
      const what = (err as Error).message
        .split('\n')[0]!
        .replace(/ at line \d+, column \d+:?$/, '');
      throw new RxrlConfigError(
        `command line ${forMessages}: cannot parse the value ${trimmed}: ${what}`,
      );
    }
  }
  return text;
}

/** Parse `key.path=value`. Splits at the first `=`, so values may contain `=`. */
export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  if (eq < 0) {
    throw new RxrlConfigError(`command line ${text}: an override must look like key.path=value`);
  }
  const keyText = text.slice(0, eq).trim();
  const keyPath = keyText.split('.');
  if (keyText === '' || keyPath.some((segment) => segment === '')) {
    throw new RxrlConfigError(
      `command line ${text}: '${keyText}' is not a key path (expected names joined by '.')`,
    );
  }
  return { text, keyPath, value: coerceOverrideValue(text.slice(eq + 1), text) };
}

/**
 * Apply `key.path=value` overrides in order on top of a loaded config, creating
 * missing sections as needed (validation rejects keys no schema knows). Each
 * overridden key (and everything under it) is recorded as coming from the
 * command line. The input config is not modified.
 */
export function applyOverrides(
  config: LoadedConfig,
  overrides: readonly (string | Override)[],
): LoadedConfig {
  const value = cloneValue(config.value);
  const sources = new Map(config.sources);
  for (const raw of overrides) {
    const override = typeof raw === 'string' ? parseOverride(raw) : raw;
    setPath(value, override);
    const source: Source = { kind: 'command line', override: override.text };
    dropSourcesBelow(sources, override.keyPath);
    // sections the override created (not set in any file) are reported as command line too
    for (let n = 1; n < override.keyPath.length; n++) {
      const key = pathKey(override.keyPath.slice(0, n));
      if (!sources.has(key)) sources.set(key, source);
    }
    sources.set(pathKey(override.keyPath), source);
    markSubtree(override.value, override.keyPath, source, sources);
  }
  return { value, sources, files: [...config.files] };
}

function markSubtree(
  node: unknown,
  keyPath: (string | number)[],
  source: Source,
  sources: Map<string, Source>,
): void {
  const entries: [string | number, unknown][] = Array.isArray(node)
    ? node.map((v, i) => [i, v])
    : isPlainObject(node)
      ? Object.entries(node)
      : [];
  for (const [key, child] of entries) {
    sources.set(pathKey([...keyPath, key]), source);
    markSubtree(child, [...keyPath, key], source, sources);
  }
}

function setPath(root: Record<string, unknown>, override: Override): void {
  let node: unknown = root;
  const { keyPath } = override;
  for (let i = 0; i < keyPath.length; i++) {
    const segment = keyPath[i]!;
    const last = i === keyPath.length - 1;
    if (Array.isArray(node)) {
      const index = Number(segment);
      if (!/^\d+$/.test(segment) || index > node.length) {
        throw new RxrlConfigError(
          `command line ${override.text}: ${formatKeyPath(keyPath.slice(0, i))} is a list of ${node.length} items; '${segment}' is not an index from 0 to ${node.length}`,
        );
      }
      if (last) node[index] = override.value;
      else {
        if (node[index] === undefined || node[index] === null) node[index] = {};
        node = node[index];
      }
    } else if (isPlainObject(node)) {
      if (last) setOwn(node, segment, override.value);
      else {
        const next = getOwn(node, segment);
        if (next === undefined || next === null) setOwn(node, segment, {});
        node = getOwn(node, segment);
      }
    } else {
      throw new RxrlConfigError(
        `command line ${override.text}: ${formatKeyPath(keyPath.slice(0, i))} is ${JSON.stringify(node)}, not a section with keys`,
      );
    }
  }
}
