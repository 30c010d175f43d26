/** Split `items` into consecutive chunks of `size` (the last may be shorter). */
export function microBatches<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size <= 0)
    throw new RangeError(`micro-batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
