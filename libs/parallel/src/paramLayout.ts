import { RxrlUsageError } from '@rxrl/core/base';

/** One variable's place in a flat parameter buffer. */
export interface ParamSlot {
  /** HF name of the variable */
  name: string;
  /** shape as the model stores it */
  shape: number[];
  /** first element in the flat buffer */
  offset: number;
  /** element count */
  size: number;
}

/**
 * Where each trainable variable lives in a flat float32 buffer: variables in
 * the model's order, back to back. Every replica builds the same layout from
 * the same config, and the trainer checks that they agree before any step.
 */
export class ParamLayout {
  readonly slots: readonly ParamSlot[];
  /** total element count */
  readonly total: number;

  constructor(vars: Iterable<{ name: string; shape: readonly number[] }>) {
    const slots: ParamSlot[] = [];
    let offset = 0;
    const seen = new Set<string>();
    for (const { name, shape } of vars) {
      if (seen.has(name))
        throw new RxrlUsageError(`parameter layout: variable '${name}' appears twice`);
      seen.add(name);
      const size = shape.reduce((a, b) => a * b, 1);
      slots.push({ name, shape: [...shape], offset, size });
      offset += size;
    }
    this.slots = slots;
    this.total = offset;
  }

  /** Plain data for postMessage. */
  toJSON(): { name: string; shape: number[] }[] {
    return this.slots.map(({ name, shape }) => ({ name, shape }));
  }

  /** Throws naming the first variable where `other` differs from this layout. */
  assertSame(other: ParamLayout, what: string): void {
    const n = Math.max(this.slots.length, other.slots.length);
    for (let i = 0; i < n; i++) {
      const a = this.slots[i];
      const b = other.slots[i];
      if (!a || !b || a.name !== b.name || a.shape.join() !== b.shape.join()) {
        const desc = (s?: ParamSlot) => (s ? `${s.name} [${s.shape}]` : 'nothing');
        throw new RxrlUsageError(
          `${what}: parameter ${i} is ${desc(b)}, expected ${desc(a)} (replicas must be built from the same config)`,
        );
      }
    }
  }
}

/** `[lo, hi)` of part `i` when `n` items are split into `parts` near-equal contiguous ranges. */
export function partRange(n: number, parts: number, i: number): [number, number] {
  return [Math.floor((i * n) / parts), Math.floor(((i + 1) * n) / parts)];
}

/**
 * Which worker owns each variable when the optimizer is sharded: largest
 * variables first, each to the least-loaded worker (by element count), so the
 * optimizer work splits near-evenly. Deterministic, so every thread agrees.
 */
export function variableOwners(layout: ParamLayout, workers: number): Map<string, number> {
  const load = new Array<number>(workers).fill(0);
  const owners = new Map<string, number>();
  const bySize = [...layout.slots].sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : 1));
  for (const s of bySize) {
    let w = 0;
    for (let i = 1; i < workers; i++) if (load[i]! < load[w]!) w = i;
    owners.set(s.name, w);
    load[w]! += s.size;
  }
  return owners;
}
