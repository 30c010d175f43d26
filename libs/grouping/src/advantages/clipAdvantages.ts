/** Clamps advantages to [low, high] in place and returns how many were clipped. */
export function clipAdvantagesInPlace(
  advantages: Float32Array | Float64Array,
  low: number,
  high: number,
): number {
  if (!(low <= high))
    throw new RangeError(`advantage_clip: low (${low}) must be <= high (${high})`);
  let clipped = 0;
  for (let i = 0; i < advantages.length; i++) {
    const a = advantages[i]!;
    if (a < low) {
      advantages[i] = low;
      clipped++;
    } else if (a > high) {
      advantages[i] = high;
      clipped++;
    }
  }
  return clipped;
}
