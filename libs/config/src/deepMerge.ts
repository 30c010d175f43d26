import type { LoadedConfig } from './loadedConfig';
import { getOwn, isPlainObject, setOwn, cloneValue } from './plainObject';
import type { KeyPath, SourceMap } from './source';

/**
 * Deep-merge two mappings; `over` wins. Mappings merge key by key, anything else
 * (lists included) is replaced whole. Inputs are not modified.
 */
export function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out = cloneValue(base);
  for (const [key, value] of Object.entries(over)) {
    const prev = getOwn(out, key);
    setOwn(
      out,
      key,
      isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : cloneValue(value),
    );
  }
  return out;
}

/** True when `over` decides the value at `keyPath` (defines it, or replaces an ancestor with a non-mapping). */
function shadows(over: unknown, keyPath: readonly string[]): boolean {
  let node = over;
  for (const segment of keyPath) {
    if (!isPlainObject(node)) return true;
    if (!Object.prototype.hasOwnProperty.call(node, segment)) return false;
    node = node[segment];
  }
  return true;
}

/** Merge two loaded configs, keeping the source of every key that survives. */
export function mergeLoaded(base: LoadedConfig, over: LoadedConfig): LoadedConfig {
  const sources: SourceMap = new Map();
  for (const [key, source] of base.sources) {
    const keyPath = key === '' ? [] : key.split('\u0000');
    if (keyPath.length > 0 && !shadows(over.value, keyPath)) sources.set(key, source);
  }
  for (const [key, source] of over.sources) sources.set(key, source);
  const files = [...over.files, ...base.files.filter((f) => !over.files.includes(f))];
  return { value: deepMerge(base.value, over.value), sources, files };
}

/** Read the value at a key path, or undefined when any step is missing. */
export function getAt(value: unknown, keyPath: KeyPath): unknown {
  let node = value;
  for (const segment of keyPath) {
    if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else if (isPlainObject(node)) node = getOwn(node, String(segment));
    else if (Array.isArray(node)) node = node[Number(segment)];
    else return undefined;
  }
  return node;
}

/** True when the key path exists (its last key is present, even with an undefined value). */
export function hasAt(value: unknown, keyPath: KeyPath): boolean {
  if (keyPath.length === 0) return value !== undefined;
  const parent = getAt(value, keyPath.slice(0, -1));
  const last = keyPath[keyPath.length - 1]!;
  if (Array.isArray(parent)) return Number(last) >= 0 && Number(last) < parent.length;
  return isPlainObject(parent) && Object.prototype.hasOwnProperty.call(parent, String(last));
}
