import {
  DEFAULT_ZERO_STD_RTOL,
  indexGroups,
  isZeroStd,
  momentStats,
  type RewardArray,
} from './groupStats';

/** Which samples DAPO's dynamic sampling keeps. */
export interface DynamicSamplingResult {
  /** 1 for each sample of a kept group */
  keep: Uint8Array;
  /** indices of the kept samples, in order */
  keptIndices: Int32Array;
  numGroups: number;
  numKeptGroups: number;
  /** numKeptGroups / numGroups (1 for an empty batch) */
  keptFraction: number;
}

/**
 * DAPO dynamic sampling (Yu et al. 2025, arXiv 2503.14476): drop every group
 * whose valid rewards are all equal (std zero or a float32 residue of zero), and
 * groups with fewer than two valid rewards; they carry no GRPO gradient.
 */
export function dynamicSamplingFilter(
  rewards: RewardArray,
  groupIds: Int32Array,
  zeroStdRtol: number = DEFAULT_ZERO_STD_RTOL,
): DynamicSamplingResult {
  const groups = indexGroups(groupIds, rewards.length);
  const keep = new Uint8Array(rewards.length);
  let kept = 0;
  for (const idx of groups.members) {
    const s = momentStats(rewards, idx);
    if (s.count < 2 || isZeroStd(s.std, s.scale, zeroStdRtol)) continue;
    kept++;
    for (const i of idx) keep[i] = 1;
  }
  const keptIndices: number[] = [];
  keep.forEach((k, i) => k && keptIndices.push(i));
  const numGroups = groups.members.length;
  return {
    keep,
    keptIndices: Int32Array.from(keptIndices),
    numGroups,
    numKeptGroups: kept,
    keptFraction: numGroups === 0 ? 1 : kept / numGroups,
  };
}
