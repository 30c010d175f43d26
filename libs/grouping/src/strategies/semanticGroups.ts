import { z } from 'zod';
import type { Rng } from '@rxrl/core/base';
import { dot, unitRows } from './embeddings';
import { groupCountFor, groupSizeShape } from './groupCount';
import type { GroupingStrategy } from './groupingInput';

export const semanticGroupsOptions = z.strictObject({
  ...groupSizeShape,
  /** Most Lloyd iterations of spherical k-means after the k-means++ seeding. */
  max_iter: z.int().min(0).default(25),
  /**
   * The guides' `similarity_threshold`: instead of k-means, anchored grouping — each group
   * starts at the first sample not yet grouped and takes the ungrouped samples whose cosine
   * similarity to it is at least this, most similar first, up to `group_size` members
   * (given) or `max_group_size`. A sample with no partner that similar forms a group alone
   * (advantage 0: it teaches nothing, like the samples the guide's code drops) unless
   * `min_group_size` merges it as the size fitting does (into another undersized group
   * first, else the most similar group with room). null: k-means.
   */
  similarity_threshold: z.number().min(-1).max(1).nullable().default(null),
});

/**
 * Groups by cosine similarity of embeddings: spherical k-means (unit rows,
 * centroid = normalised mean) seeded by k-means++ from `ctx.rng` with D = 1 - cos.
 * A cluster larger than `max_group_size` is clustered again on its own members into
 * `ceil(size / max)` parts (recursively), so a cut runs inside a cluster rather than
 * across two; members that are all alike are cut by a capacity-aware assignment.
 * Deterministic for a given seed.
 */
export const semanticGroups: GroupingStrategy<z.infer<typeof semanticGroupsOptions>> = (
  samples,
  options,
  ctx,
) => {
  const rows = unitRows(samples, 'semantic');
  const n = rows.length;
  const out = new Int32Array(n);
  if (n === 0) return out;
  if (options.similarity_threshold !== null) {
    return anchoredGroups(
      rows,
      options.similarity_threshold,
      Math.min(options.group_size ?? Number.POSITIVE_INFINITY, ctx.bounds.max),
    );
  }
  const k = groupCountFor(samples, options.group_size, ctx);
  let next = 0;
  const place = (members: number[], parts: number) => {
    const sub = members.map((i) => rows[i]!);
    const centers = kMeansPlusPlus(sub, parts, ctx.rng);
    const labels = lloyd(sub, centers, options.max_iter);
    const clusters: number[][] = centers.map(() => []);
    labels.forEach((c, j) => clusters[c]!.push(members[j]!));
    const nonEmpty = clusters.filter((c) => c.length > 0);
    if (nonEmpty.length === 1 && parts > 1) {
      // k-means could not separate them (identical rows): cut by capacity instead.
      const cut = capacityAssign(sub, centers, Math.ceil(members.length / parts));
      const base = next;
      cut.forEach((c, j) => (out[members[j]!] = base + c));
      next += parts;
      return;
    }
    for (const c of nonEmpty) {
      if (c.length <= ctx.bounds.max) {
        for (const i of c) out[i] = next;
        next++;
      } else place(c, Math.ceil(c.length / ctx.bounds.max));
    }
  };
  place(
    Array.from({ length: n }, (_, i) => i),
    k,
  );
  return out;
};

/** Lloyd iterations of spherical k-means; returns the label of each row (centres updated in place). */
function lloyd(rows: Float64Array[], centers: Float64Array[], maxIter: number): Int32Array {
  const n = rows.length;
  const k = centers.length;
  const assign = new Int32Array(n).fill(-1);
  for (let it = 0; it <= maxIter; it++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestS = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) {
        const s = dot(rows[i]!, centers[c]!);
        if (s > bestS) [best, bestS] = [c, s];
      }
      if (assign[i] !== best) [assign[i], changed] = [best, true];
    }
    if (!changed || it === maxIter) break;
    updateCenters(rows, assign, centers);
  }
  return assign;
}

/** k-means++ seeding: each next centre drawn with probability proportional to (1 - max cos)^2. */
function kMeansPlusPlus(rows: Float64Array[], k: number, rng: Rng): Float64Array[] {
  const n = rows.length;
  const chosen = [rng.int(n)];
  const dist = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  while (chosen.length < k) {
    const last = rows[chosen[chosen.length - 1]!]!;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = Math.max(0, 1 - dot(rows[i]!, last));
      dist[i] = Math.min(dist[i]!, d * d);
      total += dist[i]!;
    }
    let next: number;
    if (total > 0) next = rng.categorical(dist, total);
    else next = [...Array(n).keys()].find((i) => !chosen.includes(i))!;
    chosen.push(next);
  }
  return chosen.map((i) => Float64Array.from(rows[i]!));
}

/** Centroid = normalised mean of its members; an empty cluster keeps its centre. */
function updateCenters(rows: Float64Array[], assign: Int32Array, centers: Float64Array[]): void {
  const dim = rows[0]!.length;
  const sums = centers.map(() => new Float64Array(dim));
  const counts = new Int32Array(centers.length);
  assign.forEach((c, i) => {
    counts[c]!++;
    const s = sums[c]!;
    const r = rows[i]!;
    for (let j = 0; j < dim; j++) s[j]! += r[j]!;
  });
  sums.forEach((s, c) => {
    if (counts[c] === 0) return;
    const norm = Math.sqrt(dot(s, s));
    if (norm > 0) for (let j = 0; j < dim; j++) centers[c]![j] = s[j]! / norm;
  });
}

/** Most-similar-first assignment of samples to centres holding at most `cap` each. */
function capacityAssign(rows: Float64Array[], centers: Float64Array[], cap: number): Int32Array {
  const n = rows.length;
  const k = centers.length;
  const pairs: { i: number; c: number; s: number }[] = [];
  for (let i = 0; i < n; i++)
    for (let c = 0; c < k; c++) pairs.push({ i, c, s: dot(rows[i]!, centers[c]!) });
  pairs.sort((a, b) => b.s - a.s || a.i - b.i || a.c - b.c);
  const out = new Int32Array(n).fill(-1);
  const load = new Int32Array(k);
  let left = n;
  for (const { i, c } of pairs) {
    if (left === 0) break;
    if (out[i] !== -1 || load[c]! >= cap) continue;
    out[i] = c;
    load[c]!++;
    left--;
  }
  return out;
}

/**
 * The guides' semantic grouping with a similarity threshold: in batch order, each
 * ungrouped sample anchors a group of itself and the ungrouped samples j with
 * cos(anchor, j) >= `threshold`, most similar first (ties: lower index), at most `cap` in all.
 */
export function anchoredGroups(
  rows: readonly Float64Array[],
  threshold: number,
  cap: number,
): Int32Array {
  const n = rows.length;
  const out = new Int32Array(n).fill(-1);
  let next = 0;
  for (let a = 0; a < n; a++) {
    if (out[a] !== -1) continue;
    const near: { j: number; s: number }[] = [];
    for (let j = a + 1; j < n; j++) {
      if (out[j] !== -1) continue;
      const s = dot(rows[a]!, rows[j]!);
      if (s >= threshold) near.push({ j, s });
    }
    near.sort((x, y) => y.s - x.s || x.j - y.j);
    out[a] = next;
    for (const { j } of near.slice(0, Math.max(0, cap - 1))) out[j] = next;
    next++;
  }
  return out;
}
