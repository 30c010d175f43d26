// Independent float64 reference implementations of the loss formulas, written
// from the papers / NeMo RL / TRL definitions on plain arrays, used to check
// the tensor code and to take central finite differences.
import type { ClippedPgLossOptions, DpoLossOptions } from '../src/index';

export type M = number[][];
const EPS = 1e-8;
const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);
export const logSigmoid = (x: number) =>
  x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const clip = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const fin = (x: number) => (Number.isFinite(x) ? x : 0);

/** Deterministic pseudo-random numbers in [lo, hi), rounded to float32. */
export function randoms(seed: number, n: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out.push(Math.fround(lo + ((s >>> 0) / 4294967296) * (hi - lo)));
  }
  return out;
}
export function matrix(seed: number, B: number, T: number, lo = -1, hi = 1): M {
  const r = randoms(seed, B * T, lo, hi);
  return Array.from({ length: B }, (_, b) => r.slice(b * T, (b + 1) * T));
}

/** Central differences of f at x (a matrix), step h. */
export function finiteDiff(f: (x: M) => number, x: M, h = 1e-5): M {
  return x.map((row, b) =>
    row.map((_, t) => {
      const xp = x.map((r) => r.slice());
      const xm = x.map((r) => r.slice());
      xp[b]![t]! += h;
      xm[b]![t]! -= h;
      return (f(xp) - f(xm)) / (2 * h);
    }),
  );
}

export function refNll(
  lp: M,
  tokenMask: M,
  sampleMask?: number[],
  globalValidToks?: number,
): number {
  let num = 0;
  let den = 0;
  lp.forEach((row, b) =>
    row.forEach((v, t) => {
      const m = tokenMask[b]![t]! * (sampleMask?.[b] ?? 1);
      num += v * m;
      den += m;
    }),
  );
  return -num / ((globalValidToks ?? den) + EPS);
}

export interface PgData {
  curr: M;
  prev?: M;
  gen?: M;
  ref?: M;
  adv: number[] | M;
  tokenMask: M;
  sampleMask?: number[];
  rewards?: number[];
  globalValidToks?: number;
  globalValidSeqs?: number;
  globalPositiveToks?: number;
  entropies?: M;
  policyEntropies?: M;
}

/** torch.quantile(values, q) with linear interpolation. */
export function quantile(values: number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  const pos = q * (v.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, v.length - 1);
  return v[lo]! + (v[hi]! - v[lo]!) * (pos - lo);
}

/**
 * NeMo RL ClippedPGLossFn in float64. `live` is the policy log-prob that is
 * differentiated; `d.curr` is its detached value (stop-gradient uses).
 */
export function refClippedPg(
  o: ClippedPgLossOptions,
  d: PgData,
  live: M = d.curr,
): { loss: number; metrics: Record<string, number> } {
  const B = d.curr.length;
  const T = d.curr[0]!.length;
  const sm = d.sampleMask ?? Array(B).fill(1);
  const tm = d.tokenMask;
  const mask = tm.map((r, b) => r.map((v) => v * sm[b]!));
  const A = (b: number, t: number) =>
    Array.isArray(d.adv[b]) ? (d.adv[b] as number[])[t]! : (d.adv[b] as number);
  const prev = o.force_on_policy_ratio ? d.curr : d.prev!;
  const gen = d.gen ?? prev;
  const nTok = d.globalValidToks ?? sum(mask.map(sum));
  const nSeq = d.globalValidSeqs ?? sum(sm);
  const map = (f: (b: number, t: number) => number): M =>
    Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => f(b, t)));
  const tokMean = (x: M) =>
    sum(x.map((r, b) => sum(r.map((v, t) => v * mask[b]![t]!)))) / (nTok + EPS);
  const rowMean = (x: M, b: number) =>
    sum(x[b]!.map((v, t) => v * tm[b]![t]!)) / (sum(tm[b]!) + EPS);
  const agg = o.loss_aggregation ?? (o.token_level_loss ? 'dapo' : 'grpo');
  const reduce = (x: M): number => {
    const masked = sum(x.map((r, b) => sum(r.map((v, t) => v * mask[b]![t]!))));
    if (agg === 'dapo') return masked / (nTok + EPS);
    if (agg === 'bnpo') return masked / (sum(mask.map(sum)) + EPS);
    if (agg === 'dr_grpo')
      return masked / ((d.globalValidSeqs ?? B) * o.max_completion_length! + EPS);
    return sum(sm.map((s, b) => s * rowMean(x, b))) / (nSeq + EPS);
  };
  // NeMo RL calculate_kl with importance weights: the weight is detached where the input clamp
  // is active, multiplied in before the output clamp. `w` is a function of the live log-prob.
  const klEst = (
    lp: number,
    lref: number,
    w: (x: number) => number,
    inC: number | null,
    outC: number | null,
  ) => {
    let logr = lref - lp;
    let wt = w(lp);
    if (inC != null && Math.abs(logr) > inC) {
      logr = clip(logr, -inC, inC);
      wt = w(NaN); // detached: the weight at the detached log-prob
    }
    let k =
      o.reference_policy_kl_type === 'k1'
        ? -logr
        : o.reference_policy_kl_type === 'k2'
          ? (logr * logr) / 2
          : Math.exp(logr) - 1 - logr;
    k *= wt;
    if (outC != null) k = clip(k, -outC, outC);
    return k;
  };
  const beta = o.reference_policy_kl_penalty;
  let kl = 0;
  if (beta !== 0) {
    kl = reduce(
      map((b, t) => {
        const c = d.curr[b]![t]!;
        // weight exp(x − sg(x)) (1 in value), or π/π_gen, both differentiated; NaN = detached
        const w = (x: number) => {
          const v = Number.isNaN(x) ? c : x;
          return fin(Math.exp(o.use_on_policy_kl_approximation ? v - gen[b]![t]! : v - c));
        };
        return (
          beta *
          klEst(live[b]![t]!, d.ref![b]![t]!, w, o.kl_input_clamp_value, o.kl_output_clamp_value)
        );
      }),
    );
  }
  let ratio: M;
  let clamped: M;
  if (o.force_on_policy_ratio) {
    ratio = map((b, t) => Math.exp(live[b]![t]! - d.curr[b]![t]!));
    clamped = ratio;
  } else if (!o.disable_ppo_ratio) {
    const lr = map((b, t) => live[b]![t]! - prev[b]![t]!);
    ratio = o.sequence_level_importance_ratios
      ? map((b) => Math.exp(rowMean(lr, b)))
      : map((b, t) => Math.exp(lr[b]![t]!));
    clamped = map((b, t) => clip(ratio[b]![t]!, 1 - o.ratio_clip_min, 1 + o.ratio_clip_max));
  } else {
    ratio = live;
    clamped = live;
  }
  // detached clamped ratio for CISPO
  const clampedDet = map((b, t) =>
    clip(Math.exp(d.curr[b]![t]! - prev[b]![t]!), 1 - o.ratio_clip_min, 1 + o.ratio_clip_max),
  );
  const sapoGate = (r: number, a: number) => {
    const tau = a > 0 ? o.sapo_temperature_pos : o.sapo_temperature_neg;
    return (sigmoid(tau * (r - 1)) * 4) / tau;
  };
  let cl = map((b, t) =>
    o.use_cispo
      ? -A(b, t) * clampedDet[b]![t]! * live[b]![t]!
      : o.use_sapo
        ? -A(b, t) * sapoGate(ratio[b]![t]!, A(b, t))
        : Math.max(
            -A(b, t) * (o.delta !== null ? Math.min(ratio[b]![t]!, o.delta) : ratio[b]![t]!),
            -A(b, t) * clamped[b]![t]!,
          ),
  );
  if (o.ratio_clip_c !== null)
    cl = map((b, t) =>
      A(b, t) < 0 ? Math.min(cl[b]![t]!, -A(b, t) * o.ratio_clip_c!) : cl[b]![t]!,
    );
  let w: M = o.sequence_level_importance_ratios
    ? map((b) => fin(Math.exp(sum(prev[b]!.map((p, t) => (p - gen[b]![t]!) * mask[b]![t]!)))))
    : map((b, t) => fin(Math.exp(prev[b]![t]! - gen[b]![t]!)));
  const metrics: Record<string, number> = {};
  const hi = o.truncated_importance_sampling_ratio!;
  const lo = o.truncated_importance_sampling_ratio_min ?? 0;
  if (o.truncated_importance_sampling_type === 'tis') w = map((b, t) => clip(w[b]![t]!, lo, hi));
  if (o.truncated_importance_sampling_type === 'icepop') {
    const kept = map((b, t) => (w[b]![t]! >= lo && w[b]![t]! <= hi ? 1 : 0));
    metrics['is_oob_ratio'] = 1 - tokMean(kept);
    w = map((b, t) => w[b]![t]! * kept[b]![t]!);
  }
  if (o.truncated_importance_sampling_type === 'seq-mask-tis') {
    const keptSeq = sm.map((_, b) => {
      const g = Math.exp(
        rowMean(
          map((bb, t) => fin(prev[bb]![t]! - gen[bb]![t]!)),
          b,
        ),
      );
      return g >= lo && g <= hi ? 1 : 0;
    });
    metrics['is_oob_ratio'] = sum(keptSeq.map((k, b) => (1 - k) * sm[b]!)) / (nSeq + EPS);
    w = map((b, t) => w[b]![t]! * keptSeq[b]!);
  }
  let weighted = o.use_importance_sampling_correction ? map((b, t) => w[b]![t]! * cl[b]![t]!) : cl;
  if (o.top_entropy_quantile < 1) {
    // TRL get_high_entropy_mask: keep valid tokens with entropy ≥ the (1 − ρ) quantile of the valid ones
    const valid: number[] = [];
    map((b, t) => (mask[b]![t]! > 0 ? valid.push(d.entropies![b]![t]!) : 0));
    const thr = quantile(valid, 1 - o.top_entropy_quantile);
    const keep = map((b, t) => (mask[b]![t]! > 0 && d.entropies![b]![t]! >= thr ? 1 : 0));
    metrics['entropy_mask_ratio'] = 1 - tokMean(keep);
    weighted = map((b, t) => weighted[b]![t]! * keep[b]![t]!);
  }
  if (o.off_policy_mask_threshold !== null) {
    // DeepSeek-V3.2 Eq. 9: drop a sample with A < 0 whose mean log(π_gen/π) exceeds δ
    const seqKl = (b: number) =>
      rowMean(
        map((bb, t) => gen[bb]![t]! - d.curr[bb]![t]!),
        b,
      );
    const keep = map((b, t) => (A(b, t) >= 0 || seqKl(b) <= o.off_policy_mask_threshold! ? 1 : 0));
    metrics['off_policy_mask_ratio'] = 1 - tokMean(keep);
    weighted = map((b, t) => weighted[b]![t]! * keep[b]![t]!);
  }
  const actor = reduce(weighted);
  let nll = 0;
  if (o.positive_example_nll_weight > 0) {
    const pm = map((b, t) => mask[b]![t]! * (d.rewards![b]! > 0 ? 1 : 0));
    const den = d.globalPositiveToks ?? sum(pm.map(sum));
    nll = -sum(live.map((r, b) => sum(r.map((v, t) => v * pm[b]![t]!)))) / (den + EPS);
  }
  const entropyLoss = o.entropy_coef !== 0 ? -o.entropy_coef * reduce(d.policyEntropies!) : 0;
  const loss = actor + kl + o.positive_example_nll_weight * nll + entropyLoss;
  if (d.policyEntropies) metrics['entropy'] = tokMean(d.policyEntropies);
  Object.assign(metrics, {
    loss,
    actor_loss: actor,
    kl_loss: kl,
    nll_loss: o.positive_example_nll_weight * nll,
    entropy_loss: entropyLoss,
    probs_ratio: tokMean(ratio),
    probs_ratio_clamped: tokMean(clamped),
    kl_penalty: beta !== 0 ? kl / beta : 0,
    token_mult_prob_error: tokMean(
      map((b, t) => Math.exp(Math.abs(gen[b]![t]! - prev[b]![t]!) * mask[b]![t]!)),
    ),
    gen_kl_error: tokMean(map((b, t) => klEst(gen[b]![t]!, prev[b]![t]!, () => 1, null, null))),
    approx_entropy: -tokMean(
      map((b, t) => Math.exp(d.curr[b]![t]! - gen[b]![t]!) * d.curr[b]![t]!),
    ),
    positive_nll_loss: nll,
  });
  if (!o.sequence_level_importance_ratios) metrics['sampling_importance_ratio'] = tokMean(w);
  return { loss, metrics };
}

export interface DpoData {
  pc: number[];
  pr: number[];
  rc: number[];
  rr: number[];
  lenC?: number[];
  lenR?: number[];
  sampleMask?: number[];
  globalValidPairs?: number;
  /** per-token chosen log-probs and mask, for loss_type sft */
  chosenTok?: M;
  chosenMask?: M;
  globalChosenToks?: number;
  bcoMean?: number;
  bcoCount?: number;
}

/** TRL dpo_loss per variant + NeMo RL's weighting / SFT term, float64. `live` replaces pc, pr (differentiated). */
export function refDpo(
  o: DpoLossOptions,
  d: DpoData,
  live?: { pc: number[]; pr: number[]; chosenTok?: M },
): { loss: number; metrics: Record<string, number> } {
  const B = d.pc.length;
  const pc = live?.pc ?? d.pc;
  const pr = live?.pr ?? d.pr;
  const sm = d.sampleMask ?? Array(B).fill(1);
  const nP = d.globalValidPairs ?? sum(sm);
  const mean = (x: number[]) => sum(x.map((v, i) => v * sm[i]!)) / (nP + EPS);
  const beta = o.reference_policy_kl_penalty;
  const eps = o.label_smoothing;
  const lenC = (d.lenC ?? Array(B).fill(1)).map((l) => Math.max(l, 1));
  const lenR = (d.lenR ?? Array(B).fill(1)).map((l) => Math.max(l, 1));
  const avg = o.preference_average_log_probs;
  const rcv = o.reference_free ? Array(B).fill(0) : d.rc;
  const rrv = o.reference_free ? Array(B).fill(0) : d.rr;
  const clr = pc.map((v, i) => (v - rcv[i]!) / (avg ? lenC[i]! : 1));
  const rlr = pr.map((v, i) => (v - rrv[i]!) / (avg ? lenR[i]! : 1));
  const a = o.f_alpha_divergence_coef;
  const score = (x: number) =>
    o.f_divergence_type === 'forward_kl'
      ? -Math.exp(-x)
      : o.f_divergence_type === 'js_divergence'
        ? logSigmoid(x)
        : o.f_divergence_type === 'alpha_divergence' && Math.abs(a - 1) >= 1e-6
          ? Math.exp(Math.min((a - 1) * x, 80)) / (a - 1)
          : x;
  const cs = clr.map(score);
  const rs = rlr.map(score);
  const bd = cs.map((c, i) => beta * (c - rs[i]!));
  const smooth = (x: number) => -logSigmoid(x) * (1 - eps) - logSigmoid(-x) * eps;
  const sortAsc = (x: number[]) => x.slice().sort((p, q) => p - q);
  const types = Array.isArray(o.loss_type) ? o.loss_type : [o.loss_type];
  const weights = o.loss_weights ?? types.map(() => 1);
  const metrics: Record<string, number> = {};
  let pref = 0;
  types.forEach((t, k) => {
    let l: number;
    switch (t) {
      case 'sigmoid':
        l = mean(bd.map(smooth));
        break;
      case 'hinge':
        l = mean(bd.map((x) => Math.max(0, 1 - x)));
        break;
      case 'ipo':
        l = mean(cs.map((c, i) => (c / lenC[i]! - rs[i]! / lenR[i]! - 1 / (2 * beta)) ** 2));
        break;
      case 'exo_pair':
        l = mean(
          bd.map(
            (x) =>
              sigmoid(x) * (logSigmoid(x) - Math.log1p(-eps)) +
              sigmoid(-x) * (logSigmoid(-x) - Math.log(eps)),
          ),
        );
        break;
      case 'nca_pair':
        l = mean(
          cs.map(
            (c, i) =>
              -logSigmoid(beta * c) -
              0.5 * logSigmoid(-beta * c) -
              0.5 * logSigmoid(-beta * rs[i]!),
          ),
        );
        break;
      case 'robust':
        l = mean(
          bd.map((x) => (-(1 - eps) * logSigmoid(x) + eps * logSigmoid(-x)) / (1 - 2 * eps)),
        );
        break;
      case 'bco_pair': {
        // running mean from the detached rewards
        const dc = d.pc.map((v, i) => beta * score((v - rcv[i]!) / (avg ? lenC[i]! : 1)));
        const dr = d.pr.map((v, i) => beta * score((v - rrv[i]!) / (avg ? lenR[i]! : 1)));
        const lm = (x: number[]) => sum(x.map((v, i) => v * sm[i]!)) / (sum(sm) + EPS);
        const batchMean = (lm(dc) + lm(dr)) / 2;
        const count = (d.bcoCount ?? 1e-24) + 1;
        const m = (d.bcoMean ?? 0) + (batchMean - (d.bcoMean ?? 0)) / count;
        metrics['bco_mean'] = m;
        l = mean(cs.map((c, i) => -logSigmoid(beta * c - m) - logSigmoid(-(beta * rs[i]! - m))));
        break;
      }
      case 'sppo_hard':
        l = mean(cs.map((c, i) => (c - 0.5 / beta) ** 2 + (rs[i]! + 0.5 / beta) ** 2));
        break;
      case 'aot': {
        const plr = sortAsc(pc.map((v, i) => (v - pr[i]!) / (avg ? lenC[i]! : 1)));
        const rlr2 = sortAsc(rcv.map((v, i) => (v - rrv[i]!) / (avg ? lenC[i]! : 1)));
        l = mean(plr.map((v, i) => smooth(beta * (v - rlr2[i]!))));
        break;
      }
      case 'aot_unpaired': {
        const c = sortAsc(clr);
        const r = sortAsc(rlr);
        l = mean(c.map((v, i) => smooth(beta * (v - r[i]!))));
        break;
      }
      case 'apo_zero':
        l = mean(clr.map((c, i) => 1 - sigmoid(beta * c) + sigmoid(beta * rlr[i]!)));
        break;
      case 'apo_down':
        l = mean(clr.map((c, i) => sigmoid(beta * c) + 1 - sigmoid(bd[i]!)));
        break;
      case 'discopop':
        l = mean(
          bd.map((x) => {
            const m = sigmoid(x / o.discopop_tau);
            return -logSigmoid(x) * (1 - m) + Math.exp(-x) * m;
          }),
        );
        break;
      case 'sigmoid_norm':
        l = mean(cs.map((c, i) => -logSigmoid(beta * (c / lenC[i]! - rs[i]! / lenR[i]!))));
        break;
      case 'sft': {
        const tok = live?.chosenTok ?? d.chosenTok!;
        let num = 0;
        let den = 0;
        tok.forEach((r, b) =>
          r.forEach((v, t) => {
            const m = d.chosenMask![b]![t]! * sm[b]!;
            num += v * m;
            den += m;
          }),
        );
        l = -num / ((d.globalChosenToks ?? den) + EPS);
        break;
      }
    }
    metrics[`preference_loss/${t}`] = l;
    pref += weights[k]! * l;
  });
  let sft = 0;
  if (o.sft_loss_weight > 0)
    sft = mean(pc.map((v, i) => -v / (o.sft_average_log_probs ? lenC[i]! : 1)));
  const loss = o.preference_loss_weight * pref + o.sft_loss_weight * sft;
  Object.assign(metrics, {
    loss,
    preference_loss: pref,
    sft_loss: sft,
    accuracy: mean(clr.map((c, i) => (c > rlr[i]! ? 1 : 0))),
    rewards_chosen_mean: mean(clr),
    rewards_rejected_mean: mean(rlr),
    reward_gap: mean(clr) - mean(rlr),
  });
  return { loss, metrics };
}
