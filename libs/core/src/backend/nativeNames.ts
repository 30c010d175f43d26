/** Name of the `native` backend (see nativeBackend.ts); kept import-free so the ops layer can test for it without loading the cpu backend. */
export const NATIVE_BACKEND = 'native';

/**
 * Kernel `RxrlLogSumExp`, registered on the native backend only: `log Σ exp(x)`
 * over the last axis, keeping that axis as size 1.
 */
export const LOG_SUM_EXP_KERNEL = 'RxrlLogSumExp';

/**
 * Fused kernels registered on the native backend only (native/src/fused.c):
 * `RxrlSwiglu` {gate, up} → gate·σ(gate)·up; `RxrlSwigluGrad` {gate, up, dy} →
 * [dgate, dup]; `RxrlRmsNorm` {x, weight} (attr eps) → x·rsqrt(mean(x²) + eps)·weight
 * over the last axis; `RxrlRmsNormGrad` {x, weight, dy} (attr eps) → [dx, dweight].
 */
export const SWIGLU_KERNEL = 'RxrlSwiglu';
export const SWIGLU_GRAD_KERNEL = 'RxrlSwigluGrad';
export const RMS_NORM_KERNEL = 'RxrlRmsNorm';
export const RMS_NORM_GRAD_KERNEL = 'RxrlRmsNormGrad';

/**
 * Attention's softmax, fused (native/src/rowops.c): `RxrlAttentionSoftmax`
 * {scores [B, H, T, S], bias? [B or 1, T, S]} (attrs batch, heads, t, s, scale) →
 * softmax(scores·scale + bias) per row; `RxrlSoftmaxGrad` {p, dp} (attr scale) →
 * p·(dp − Σ dp·p)·scale per row of the last axis.
 */
export const ATTENTION_SOFTMAX_KERNEL = 'RxrlAttentionSoftmax';
export const SOFTMAX_GRAD_KERNEL = 'RxrlSoftmaxGrad';

/**
 * `RxrlLogitsGrad` {z [rows, V], lse [rows], targets int32 [rows], scale [rows]} →
 * (one-hot(targets) − exp(z − lse))·scale per row: the LM head backward's
 * logits gradient in one pass (native/src/rowops.c).
 */
export const LOGITS_GRAD_KERNEL = 'RxrlLogitsGrad';

/**
 * The LM head's token log-probs in one kernel each way (native/src/lmhead.c), the
 * logits of one chunk of rows at a time in a scratch buffer instead of a tensor:
 * `RxrlLmHead` {hidden [N, D], head [D, V] or [V, D], targets int32 [N]} (attrs
 * vocabMajor, invT, chunkRows) → [value [N], lse [N], ticket int32 [1]]; `RxrlLmHeadGrad`
 * {hidden, head, targets, lse, dy, ticket} (the same attrs and headGrad) → [dHidden] or
 * [dHidden, dHead]. The ticket names the forward whose logits the scratch may still hold.
 */
export const LM_HEAD_KERNEL = 'RxrlLmHead';
export const LM_HEAD_GRAD_KERNEL = 'RxrlLmHeadGrad';

/**
 * `RxrlSampleRows` {logits [B, V], uniforms float32 [B]} (attrs temperature, minP) →
 * [tokens int32 [B], logprobs float32 [B]]: one token per row by inverting the CDF of
 * softmax(logits / T), min-p applied, at each row's uniform (native/src/sample.c).
 */
export const SAMPLE_ROWS_KERNEL = 'RxrlSampleRows';
