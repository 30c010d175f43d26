import type { StateFiles } from './trainingAlgorithm';

/**
 * Each file of a saved state as one byte array of its own — text encoded,
 * pieces joined and copied — as `loadState` takes them back and as a test
 * keeps a snapshot (the pieces of a save may view live tensors).
 */
export function stateFileBytes(files: StateFiles): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const [name, value] of Object.entries(files)) {
    if (typeof value === 'string') out[name] = new TextEncoder().encode(value);
    else {
      const pieces = value instanceof Uint8Array ? [value] : value;
      const joined = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
      let off = 0;
      for (const p of pieces) {
        joined.set(p, off);
        off += p.length;
      }
      out[name] = joined;
    }
  }
  return out;
}
