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
 * Cosine similarity of a sample to a group's members on average, `dot(row_i, Σ rows_g) / |g|`,
 * with each group's row sum kept up to date as members move (so a move costs O(dim), not O(|g|·dim)).
 */
class GroupSimilarity {
  private sums = new Map<number[], Float64Array>();
  constructor(private rows: readonly Float64Array[]) {}

  toGroup(member: number, g: number[]): number {
    if (g.length === 0) return 0;
    const row = this.rows[member]!;
    const sum = this.sumOf(g);
    let s = 0;
    for (let j = 0; j < row.length; j++) s += row[j]! * sum[j]!;
    return s / g.length;
  }

  /** Moves `member` into `to` (and out of `from`), keeping the sums. */
  moved(member: number, to: number[], from?: number[]): void {
    const row = this.rows[member]!;
    const add = this.sums.get(to);
    if (add) for (let j = 0; j < row.length; j++) add[j]! += row[j]!;
    const sub = from && this.sums.get(from);
    if (sub) for (let j = 0; j < row.length; j++) sub[j]! -= row[j]!;
  }

  private sumOf(g: number[]): Float64Array {
    let sum = this.sums.get(g);
    if (!sum) {
      sum = new Float64Array(this.rows[0]!.length);
      for (const i of g) {
        const row = this.rows[i]!;
        for (let j = 0; j < row.length; j++) sum[j]! += row[j]!;
      }
      this.sums.set(g, sum);
    }
    return sum;
  }
}

/**
 * Fits a grouping to the size bounds with as few moves as possible, keeping
 * groups that already fit untouched when it can:
 * 1. a group larger than `max` is cut into `ceil(size / max)` runs of near-equal size;
 * 2. while some group is smaller than `min`, the smallest one is dissolved into
 *    groups with room (undersized ones first, fullest first, so they reach `min`),
 *    or, when the others lack room for all its members, filled up to `min` with
 *    members taken from groups larger than `min` (largest first).
 * With unit embedding `rows`, a moved sample goes to (or is taken from) the group most
 * similar on average within those choices; sizes are decided the same way.
 * When neither is possible no grouping can meet the bounds (then n > (k-1)·max and
 * n < k·min for the current count k), and the undersized group is left as is.
 * Returns ids 0..G-1 in order of first appearance.
 */
export function fitGroupSizes(
  groupIds: ArrayLike<number>,
  bounds: GroupSizeBounds,
  rows?: readonly Float64Array[],
): Int32Array {
  const { min, max } = bounds;
  const sim = rows && rows.length > 0 ? new GroupSimilarity(rows) : undefined;
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
        const target = pickTarget(others, min, max, member, sim);
        sim?.moved(member, target);
        target.push(member);
      }
      groups = others;
      continue;
    }
    const spare = others.reduce((s, g) => s + Math.max(0, g.length - min), 0);
    if (spare >= min - u.length) {
      while (u.length < min) takeFromDonor(others, min, u, sim);
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
 * ones first; within that class the most similar (with embeddings), then the fullest
 * undersized / the emptiest valid group, then the first.
 */
function pickTarget(
  groups: number[][],
  min: number,
  max: number,
  member: number,
  sim?: GroupSimilarity,
): number[] {
  const open = groups.filter((g) => g.length < max);
  const under = open.filter((g) => g.length < min);
  const pool = under.length > 0 ? under : open;
  let best = pool[0]!;
  let bestA = sim ? sim.toGroup(member, best) : 0;
  for (const g of pool.slice(1)) {
    const a = sim ? sim.toGroup(member, g) : 0;
    const bySize = under.length > 0 ? g.length > best.length : g.length < best.length;
    if (a > bestA || (a === bestA && bySize)) [best, bestA] = [g, a];
  }
  return best;
}

/**
 * Moves one member of a group larger than `min` into the undersized group `u`: with
 * embeddings the member most similar to `u`, else the last member of the largest group.
 */
function takeFromDonor(groups: number[][], min: number, u: number[], sim?: GroupSimilarity): void {
  const donors = groups.filter((g) => g.length > min);
  let from = donors[0]!;
  let k = from.length - 1;
  if (!sim) {
    for (const g of donors) if (g.length > from.length) [from, k] = [g, g.length - 1];
  } else {
    let bestA = Number.NEGATIVE_INFINITY;
    for (const g of donors) {
      g.forEach((m, at) => {
        const a = sim.toGroup(m, u);
        if (a > bestA) [from, k, bestA] = [g, at, a];
      });
    }
  }
  const member = from[k]!;
  sim?.moved(member, u, from);
  from.splice(k, 1);
  u.push(member);
}
