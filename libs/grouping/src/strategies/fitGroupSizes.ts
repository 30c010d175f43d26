import { RxrlUsageError } from '@rxrl/core/base';
import type { GroupSizeBounds } from './groupingInput';

/** Relabels group ids to 0..G-1 in order of first appearance. */
export function relabelGroups(groupIds: ArrayLike<number>): Int32Array {
  const map = new Map<number, number>();
  const out = new Int32Array(groupIds.length);
  for (let i = 0; i < groupIds.length; i++) {
    const g = groupIds[i]!;
    let id = map.get(g);
    if (id === undefined) {
      id = map.size;
      map.set(g, id);
    }
    out[i] = id;
  }
  return out;
}

/** Members of each group (sample indices in ascending order), groups by relabelled id. */
export function groupMembers(groupIds: ArrayLike<number>): number[][] {
  const ids = relabelGroups(groupIds);
  const groups: number[][] = [];
  for (let i = 0; i < ids.length; i++) (groups[ids[i]!] ??= []).push(i);
  return groups;
}

/** Similarity of two samples (higher = belong together), used to choose where moved samples go. */
export type SampleAffinity = (i: number, j: number) => number;

/** Whether `n` samples can be split into groups whose sizes all lie in `bounds`. */
export function boundsFeasible(n: number, { min, max }: GroupSizeBounds): boolean {
  if (n === 0) return true;
  // k groups fit when k*min <= n <= k*max; the smallest candidate is ceil(n / max).
  const k = Math.max(1, Math.ceil(n / max));
  return k * min <= n;
}

/**
 * Number of groups for `n` samples aiming at `target` per group: `round(n / target)`
 * moved into the range `[ceil(n / max), floor(n / min)]` that the bounds allow
 * (when that range is empty the bounds cannot both be met, and only `max` is kept).
 */
export function chooseGroupCount(n: number, target: number, { min, max }: GroupSizeBounds): number {
  if (n === 0) return 0;
  let k = Math.max(1, Math.round(n / target));
  const lo = Math.max(1, Math.ceil(n / max));
  const hi = Math.floor(n / min);
  if (lo <= hi) k = Math.min(Math.max(k, lo), hi);
  else k = Math.max(k, lo); // max is a hard cap; min can only be met as far as n allows
  return Math.min(k, n);
}

/** Sizes of `k` groups over `n` samples that differ by at most one (larger first). */
export function balancedSizes(n: number, k: number): number[] {
  const base = Math.floor(n / k);
  const extra = n % k;
  return Array.from({ length: k }, (_, g) => base + (g < extra ? 1 : 0));
}

/** Group ids for samples taken in `order` and cut into consecutive runs of `sizes`. */
export function contiguousGroups(order: ArrayLike<number>, sizes: readonly number[]): Int32Array {
  const out = new Int32Array(order.length);
  let at = 0;
  sizes.forEach((size, g) => {
    for (let j = 0; j < size; j++) out[order[at++]!] = g;
  });
  return out;
}

/** Checks `min_group_size` / `max_group_size` and returns them as bounds. */
export function checkBounds(min: number, max: number | undefined): GroupSizeBounds {
  const hi = max ?? Number.POSITIVE_INFINITY;
  if (!(Number.isInteger(min) && min >= 1)) {
    throw new RxrlUsageError(`min_group_size must be an integer >= 1, got ${min}`);
  }
  if (!(hi >= min)) {
    throw new RxrlUsageError(`max_group_size (${max}) must be >= min_group_size (${min})`);
  }
  return { min, max: hi };
}

/**
 * Fits a grouping to the size bounds with as few moves as possible, keeping
 * groups that already fit untouched when it can:
 * 1. a group larger than `max` is cut into `ceil(size / max)` runs of near-equal size;
 * 2. while some group is smaller than `min`, the smallest one is dissolved into
 *    groups with room (undersized ones first, fullest first, so they reach `min`),
 *    or, when the others lack room for all its members, filled up to `min` with
 *    members taken from groups larger than `min` (largest first).
 * With an `affinity` a moved sample goes to (or is taken from) the most similar group
 * within those choices; sizes are decided the same way.
 * When neither is possible no grouping can meet the bounds (then n > (k-1)·max and
 * n < k·min for the current count k), and the undersized group is left as is.
 * Returns ids 0..G-1 in order of first appearance.
 */
export function fitGroupSizes(
  groupIds: ArrayLike<number>,
  bounds: GroupSizeBounds,
  affinity?: SampleAffinity,
): Int32Array {
  const { min, max } = bounds;
  let groups: number[][] = [];
  for (const members of groupMembers(groupIds)) {
    if (members.length <= max) groups.push(members);
    else {
      const sizes = balancedSizes(members.length, Math.ceil(members.length / max));
      let at = 0;
      for (const s of sizes) groups.push(members.slice(at, (at += s)));
    }
  }
  const stuck = new Set<number[]>();
  for (;;) {
    let u: number[] | undefined;
    for (const g of groups) {
      if (g.length < min && !stuck.has(g) && (u === undefined || g.length < u.length)) u = g;
    }
    if (u === undefined) break;
    const others = groups.filter((g) => g !== u);
    const room = others.reduce((s, g) => s + (max - g.length), 0);
    if (others.length > 0 && room >= u.length) {
      for (const member of u) {
        const target = pickTarget(others, min, max, member, affinity);
        target.push(member);
      }
      groups = others;
      continue;
    }
    const spare = others.reduce((s, g) => s + Math.max(0, g.length - min), 0);
    if (spare >= min - u.length) {
      while (u.length < min) {
        u.push(takeFromDonor(others, min, u, affinity));
      }
      continue;
    }
    stuck.add(u);
  }
  const out = new Int32Array(groupIds.length);
  groups.forEach((g, id) => g.forEach((i) => (out[i] = id)));
  return relabelGroups(out);
}

/**
 * The group a member of a dissolved group joins: among groups with room, undersized
 * ones first; within that class the most similar (with an affinity), then the fullest
 * undersized / the emptiest valid group, then the first.
 */
function pickTarget(
  groups: number[][],
  min: number,
  max: number,
  member: number,
  affinity?: SampleAffinity,
): number[] {
  const open = groups.filter((g) => g.length < max);
  const under = open.filter((g) => g.length < min);
  const pool = under.length > 0 ? under : open;
  let best = pool[0]!;
  let bestA = affinity ? meanAffinity(member, best, affinity) : 0;
  for (const g of pool.slice(1)) {
    const a = affinity ? meanAffinity(member, g, affinity) : 0;
    const bySize = under.length > 0 ? g.length > best.length : g.length < best.length;
    if (a > bestA || (a === bestA && bySize)) [best, bestA] = [g, a];
  }
  return best;
}

/**
 * Takes one member from a group larger than `min` for the undersized group `u`: with an
 * affinity the member most similar to `u`, else the last member of the largest group.
 */
function takeFromDonor(
  groups: number[][],
  min: number,
  u: number[],
  affinity?: SampleAffinity,
): number {
  const donors = groups.filter((g) => g.length > min);
  if (!affinity) {
    let donor = donors[0]!;
    for (const g of donors) if (g.length > donor.length) donor = g;
    return donor.pop()!;
  }
  let best: { g: number[]; k: number; a: number } | undefined;
  for (const g of donors) {
    g.forEach((m, k) => {
      const a = meanAffinity(m, u, affinity);
      if (best === undefined || a > best.a) best = { g, k, a };
    });
  }
  return best!.g.splice(best!.k, 1)[0]!;
}

function meanAffinity(member: number, group: readonly number[], affinity: SampleAffinity): number {
  let s = 0;
  for (const j of group) s += affinity(member, j);
  return group.length > 0 ? s / group.length : 0;
}
