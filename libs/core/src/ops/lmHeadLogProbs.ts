import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import { matMulAccumulateInPlace } from '../backend/nativeInPlace';
import { LOGITS_GRAD_KERNEL } from '../backend/nativeNames';
import { fusedKernelFor } from './activations';
import { customOp, frozenGradient, isFrozen } from './customOp';
import { logSumExpLastAxis } from './logSoftmax';
import { nativeLmHeadAvailable, nativeLmHeadTokenLogProbs } from './lmHeadNative';
import { directMatMulIsFast } from './matMulRouting';

/** Bytes one chunk's `[rows, V]` float32 logits may take when the chunk size is automatic. */
export const LOGITS_CHUNK_TARGET_BYTES = 64 * 1024 * 1024;

/**
 * Rows per chunk so that one chunk's `[rows, V]` float32 logits stay within
 * `targetBytes` (default 64 MiB): 110 rows for a 151,936-token vocabulary,
 * the whole micro-batch for small ones.
 */
export function logitsChunkRows(vocab: number, targetBytes = LOGITS_CHUNK_TARGET_BYTES): number {
  return Math.max(1, Math.floor(targetBytes / (4 * vocab)));
}

/** Options of {@link lmHeadTokenLogProbs}. */
export interface LmHeadLogProbsOptions {
  /** Rows of logits formed at a time, forward and backward; default {@link logitsChunkRows}. */
  chunkRows?: number;
  /** Log-probs of `softmax(logits / temperature)` (default 1). */
  temperature?: number;
  /**
   * The head is stored `[V, D]` (a tied embedding table) rather than `[D, V]`
   * (an `[in, out]` linear weight); no transposed copy is kept either way.
   */
  vocabMajor?: boolean;
}

/**
 * `log softmax(hidden·W / T)[i, targets[i]]` for every row, never holding more
 * than one chunk of logits: the forward keeps only the row log-sum-exp `[N]`,
 * and the backward recomputes each chunk's logits to form
 * `(onehot − softmax)·dy / T`, from which it takes the chunk's `dHidden` and
 * adds its share of `dW`. Peak memory is a few `[chunkRows, V]` buffers plus
 * the head gradient, instead of the `[N, V]` logits a plain `linear` +
 * `tokenLogProbs` keeps on the tape for its backward pass.
 *
 * `hidden` `[N, D]`, `head` `[D, V]` (or `[V, D]` with `vocabMajor`), `targets`
 * int32 `[N]`; returns `[N]`. Differentiable in `hidden` and `head`.
 *
 * @example
 * const lp = lmHeadTokenLogProbs(h, lmHead, targets, { chunkRows: 128 });
 */
export function lmHeadTokenLogProbs(
  hidden: tf.Tensor2D,
  head: tf.Tensor2D,
  targets: tf.Tensor1D,
  options: LmHeadLogProbsOptions = {},
): tf.Tensor1D {
  const vocabMajor = options.vocabMajor ?? false;
  const [n, d] = hidden.shape;
  const vocab = vocabMajor ? head.shape[0] : head.shape[1];
  if (hidden.rank !== 2 || head.rank !== 2 || (vocabMajor ? head.shape[1] : head.shape[0]) !== d) {
    throw new Error(
      `lmHeadTokenLogProbs: expected hidden [N,D] and head ${vocabMajor ? '[V,D]' : '[D,V]'}, got ${JSON.stringify(hidden.shape)} and ${JSON.stringify(head.shape)}`,
    );
  }
  if (targets.rank !== 1 || targets.dtype !== 'int32' || targets.shape[0] !== n) {
    throw new Error(
      `lmHeadTokenLogProbs: expected targets as int32 [${n}], got ${targets.dtype} ${JSON.stringify(targets.shape)}`,
    );
  }
  const rows = options.chunkRows ?? logitsChunkRows(vocab);
  if (!Number.isInteger(rows) || rows <= 0)
    throw new Error(`lmHeadTokenLogProbs: chunkRows must be a positive integer, got ${rows}`);
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0) || !Number.isFinite(temperature))
    throw new Error(
      `lmHeadTokenLogProbs: temperature must be a positive number, got ${temperature}`,
    );
  const invT = 1 / temperature;
  if (nativeLmHeadAvailable(hidden, head))
    return nativeLmHeadTokenLogProbs(hidden, head, targets, { vocabMajor, invT, chunkRows: rows });
  const chunks: Array<[number, number]> = [];
  for (let start = 0; start < n; start += rows) chunks.push([start, Math.min(rows, n - start)]);
  // wasm is fast only for non-transposed products: transpose the head once per pass, not per chunk
  const fast = directMatMulIsFast();

  /** Scaled logits `[size, V]` of the rows `hs`, with `headDV` the head as `[D, V]` when materialised. */
  const chunkLogits = (hs: tf.Tensor2D, w: tf.Tensor2D, headDV: tf.Tensor2D | null) => {
    const z = headDV !== null ? tf.matMul(hs, headDV) : tf.matMul(hs, w, false, vocabMajor);
    return invT === 1 ? z : tf.mul(z, invT);
  };
  const rowsOf = <T extends tf.Tensor>(x: T, start: number, size: number): T =>
    (size === n ? x : tf.slice(x, start, size)) as T;

  const f = customOp(([h, w, t], save) => {
    const hh = h as tf.Tensor2D;
    const ww = w as tf.Tensor2D;
    const tt = t as tf.Tensor1D;
    const frozen = isFrozen(ww);
    const headDV = vocabMajor && !fast ? (tf.transpose(ww) as tf.Tensor2D) : null;
    const lseParts: tf.Tensor[] = [];
    const valueParts: tf.Tensor[] = [];
    for (const [start, size] of chunks) {
      const [lse, value] = tf.tidy(() => {
        const z = chunkLogits(rowsOf(hh, start, size), ww, headDV);
        const l = tf.reshape(logSumExpLastAxis(z), [size]);
        const flat = tf.add(
          tf.mul(tf.range(0, size, 1, 'int32'), tf.scalar(vocab, 'int32')),
          rowsOf(tt, start, size),
        );
        return [l, tf.sub(tf.gather(tf.reshape(z, [size * vocab]), flat), l)];
      });
      lseParts.push(lse);
      valueParts.push(value);
    }
    headDV?.dispose();
    const lse = lseParts.length === 1 ? lseParts[0]! : tf.concat(lseParts);
    save([hh, ww, tt, lse]);
    return {
      value: valueParts.length === 1 ? valueParts[0]! : tf.concat(valueParts),
      gradFunc: (dy, saved) => {
        const [hs, ws, ts, lses] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        const headDVb = vocabMajor && !fast ? (tf.transpose(ws) as tf.Tensor2D) : null;
        // dHidden = g·Wᵀ: plain with a [V, D] head; transpose a [D, V] head once on wasm
        const headVD = !vocabMajor && !fast ? (tf.transpose(ws) as tf.Tensor2D) : null;
        // (one-hot − softmax)·dy/T of one chunk: one native pass, or five ops elsewhere
        const fusedGrad = fusedKernelFor(LOGITS_GRAD_KERNEL, hs, ws);
        const logitsGradOpByOp = (
          hc: tf.Tensor2D,
          w: tf.Tensor2D,
          headDV: tf.Tensor2D | null,
          t: tf.Tensor1D,
          l: tf.Tensor1D,
          g: tf.Tensor,
          start: number,
          size: number,
        ): tf.Tensor2D => {
          // nested scopes free each [size, V] buffer as soon as the next one exists
          const p = tf.tidy(() =>
            tf.exp(
              tf.sub(chunkLogits(hc, w, headDV), tf.reshape(rowsOf(l, start, size), [size, 1])),
            ),
          );
          const out = tf.tidy(() => {
            // int32 one-hot then cast: wasm's OneHot writes int bits into a float32 output
            const onehot = tf.cast(tf.oneHot(rowsOf(t, start, size), vocab), 'float32');
            const scale = tf.reshape(
              invT === 1 ? rowsOf(g, start, size) : tf.mul(rowsOf(g, start, size), invT),
              [size, 1],
            );
            return tf.mul(tf.sub(onehot, p), scale) as tf.Tensor2D;
          });
          p.dispose();
          return out;
        };
        const dhParts: tf.Tensor[] = [];
        let dw: tf.Tensor2D | null = null;
        for (const [start, size] of chunks) {
          const hc = rowsOf(hs, start, size);
          const g = fusedGrad
            ? tf.tidy(() => {
                const dyc = rowsOf(dy, start, size);
                return tf.engine().runKernel(LOGITS_GRAD_KERNEL, {
                  z: chunkLogits(hc, ws, headDVb),
                  lse: rowsOf(lses, start, size),
                  targets: rowsOf(ts, start, size),
                  scale: invT === 1 ? dyc : tf.mul(dyc, invT),
                }) as tf.Tensor2D;
              })
            : logitsGradOpByOp(hc, ws, headDVb, ts, lses, dy, start, size);
          dhParts.push(
            tf.tidy(() =>
              headVD !== null ? tf.matMul(g, headVD) : tf.matMul(g, ws, false, !vocabMajor),
            ),
          );
          // a frozen head (LoRA's tied embedding) needs no [V, D] product; on native the
          // chunks' products add into one buffer in place instead of a new sum per chunk
          const [ga, gb] = vocabMajor ? [g, hc] : [hc, g];
          if (frozen) dw ??= frozenGradient(ws.shape) as tf.Tensor2D;
          else if (dw === null || !matMulAccumulateInPlace(dw, ga, gb, true, false)) {
            const part = tf.tidy(() => matMulAT(ga, gb, fast));
            if (dw === null) dw = part;
            else {
              const sum = tf.add(dw, part) as tf.Tensor2D;
              tf.dispose([dw, part]);
              dw = sum;
            }
          }
          tf.dispose([g, ...(hc === hs ? [] : [hc])]);
        }
        tf.dispose([headDVb, headVD].filter((x): x is tf.Tensor2D => x !== null));
        return [dhParts.length === 1 ? dhParts[0]! : tf.concat(dhParts), dw!, tf.zeros(ts.shape)];
      },
    };
  });
  return f(hidden, head, targets) as tf.Tensor1D;
}

/** `aᵀ·b` for 2-D operands: a transposed product where that is fast, else a materialised transpose. */
export function matMulAT(a: tf.Tensor2D, b: tf.Tensor2D, fast: boolean): tf.Tensor2D {
  return fast ? tf.matMul(a, b, true, false) : tf.matMul(tf.transpose(a), b);
}
