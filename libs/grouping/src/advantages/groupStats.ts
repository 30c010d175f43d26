/**
 * Per-group reward statistics, computed in float64 from float32 rewards.
 *
 * Rewards that are NaN count as missing (TRL: a reward function may return
 * None): they are left out of every sum and count, and their advantage is 0.
 */

/** Reward arrays accepted everywhere in this module. */
export type RewardArray = Float32Array | Float64Array;

/** Dense group layout: which group each sample is in, and each group's members. */
export interface GroupIndex {
  /** dense group index (0..numGroups-1) of each sample */
  readonly groupOf: Int32Array;
  /** the original group id of each dense group, in first-seen order */
  readonly groupIds: Int32Array;
  /** sample indices of each dense group */
  readonly members: Int32Array[];
}

/** Maps arbitrary int32 group ids (e.g. `group_id` or `prompt_id`) to dense groups. */
export function indexGroups(groupIds: Int32Array, length: number): GroupIndex {
  if (groupIds.length !== length) {
    throw new RangeError(
      `group ids have length ${groupIds.length} but rewards have length ${length}`,
    );
  }
  const dense = new Map<number, number>();
  const groupOf = new Int32Array(length);
  const ids: number[] = [];
  const members: number[][] = [];
  for (let i = 0; i < length; i++) {
    const id = groupIds[i]!;
    let g = dense.get(id);
    if (g === undefined) {
      g = ids.length;
      dense.set(id, g);
      ids.push(id);
      members.push([]);
    }
    groupOf[i] = g;
    members[g]!.push(i);
  }
  return {
    groupOf,
    groupIds: Int32Array.from(ids),
    members: members.map((m) => Int32Array.from(m)),
  };
}

/**
 * Default tolerance of the zero-std rule: a std at or below
 * `zero_std_rtol * max|r|` (over the rewards it was computed from) is treated
 * as zero. 1e-6 is about 8 float32 ulps of the largest reward, which is the
 * size of the spurious spread float32 rounding leaves on rewards that are
 * "equal" (e.g. 0.1 summed in different orders, or 1 and 1 + 2^-23).
 */
export const DEFAULT_ZERO_STD_RTOL = 1e-6;

/** True when `std` is zero or a float32 residue of zero relative to `scale` (max |reward|). */
export function isZeroStd(
  std: number,
  scale: number,
  rtol: number = DEFAULT_ZERO_STD_RTOL,
): boolean {
  return !(std > rtol * scale) || !Number.isFinite(std);
}

/** Statistics of a set of rewards, NaNs skipped. */
export interface MomentStats {
  count: number;
  mean: number;
  /**
   * Bessel-corrected (n - 1) standard deviation. With fewer than two valid values it
   * is 0, deliberately unlike TRL's `nanstd` / `torch.std` (NaN there): a lone
   * sample then gets advantage 0 and counts as a zero-std group, where TRL's
   * advantage would be NaN.
   */
  std: number;
  /** max |r| over the valid rewards, the scale the zero-std rule compares against */
  scale: number;
}

/**
 * Mean, Bessel-corrected std and scale of `values[idx]` (all values when idx is
 * omitted), skipping NaN. No valid value: count 0, mean 0, std 0; one: std 0
 * (TRL's nanstd gives NaN for both, see {@link MomentStats.std}).
 */
export function momentStats(
  values: ArrayLike<number>,
  idx?: ArrayLike<number>,
  skip = -1,
): MomentStats {
  const n = idx ? idx.length : values.length;
  let count = 0;
  let sum = 0;
  let scale = 0;
  for (let k = 0; k < n; k++) {
    const i = idx ? idx[k]! : k;
    if (i === skip) continue;
    const r = values[i]!;
    if (Number.isNaN(r)) continue;
    count++;
    sum += r;
    if (Math.abs(r) > scale) scale = Math.abs(r);
  }
  const mean = count > 0 ? sum / count : 0;
  // Two-pass variance: the one-pass E[r^2] - E[r]^2 form leaves exactly the
  // residue the zero-std rule has to catch.
  let ss = 0;
  for (let k = 0; k < n; k++) {
    const i = idx ? idx[k]! : k;
    if (i === skip) continue;
    const r = values[i]!;
    if (Number.isNaN(r)) continue;
    ss += (r - mean) * (r - mean);
  }
  const std = count > 1 ? Math.sqrt(ss / (count - 1)) : 0;
  return { count, mean, std, scale };
}

/** Per-sample baseline and std, as NeMo RL's `calculate_baseline_and_std_per_prompt`. */
export interface BaselineAndStd {
  /** baseline each sample is compared with (NaN for a missing reward) */
  baseline: Float64Array;
  /** Bessel-corrected std matching the baseline (over the group, or over the others with leave-one-out) */
  std: Float64Array;
  /** whether `std` is zero or a float32 residue of zero for that sample */
  zeroStd: Uint8Array;
}

/**
 * Baseline and std per sample. Without leave-one-out both are over the sample's
 * whole group. With leave-one-out both are over the *other* valid samples of the
 * group, so neither depends on the sample's own reward (NeMo RL). A sample whose
 * group has no other valid sample gets its own reward as baseline (advantage 0).
 */
export function baselineAndStd(
  rewards: RewardArray,
  groups: GroupIndex,
  leaveOneOut: boolean,
  zeroStdRtol: number = DEFAULT_ZERO_STD_RTOL,
): BaselineAndStd {
  const n = rewards.length;
  const baseline = new Float64Array(n);
  const std = new Float64Array(n);
  const zeroStd = new Uint8Array(n);
  for (const idx of groups.members) {
    const whole = leaveOneOut ? undefined : momentStats(rewards, idx);
    for (let k = 0; k < idx.length; k++) {
      const i = idx[k]!;
      const r = rewards[i]!;
      if (Number.isNaN(r)) {
        baseline[i] = Number.NaN;
        zeroStd[i] = 1;
        continue;
      }
      const s = whole ?? momentStats(rewards, idx, i);
      if (s.count === 0 || (s.count === 1 && !leaveOneOut)) {
        // alone in its group: no baseline to compare with
        baseline[i] = r;
        zeroStd[i] = 1;
        continue;
      }
      baseline[i] = s.mean;
      std[i] = s.std;
      zeroStd[i] = isZeroStd(s.std, s.scale, zeroStdRtol) ? 1 : 0;
    }
  }
  return { baseline, std, zeroStd };
}
