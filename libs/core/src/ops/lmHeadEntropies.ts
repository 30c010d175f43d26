import * as tf from '@tensorflow/tfjs-core';
import './kernelGradients';
import { customOp } from './customOp';
import { logitsChunkRows, matMulAT, type LmHeadLogProbsOptions } from './lmHeadLogProbs';
import { logSumExpLastAxis } from './logSoftmax';
import { directMatMulIsFast } from './matMulRouting';

/**
 * Entropy `H_i = −Σ_v p_iv·log p_iv` of `p_i = softmax(hidden_i·W / T)` for every
 * row, differentiable in `hidden` and `head`, never holding more than one chunk
 * of `[chunkRows, V]` logits — the entropy bonus of a policy-gradient loss over a
 * large vocabulary. The forward keeps only `H` and the row log-sum-exp; the
 * backward recomputes each chunk's logits and uses
 * `∂H/∂z_v = −p_v·(log p_v + H)` (z the scaled logits), so its memory matches
 * {@link lmHeadTokenLogProbs}'s.
 *
 * `hidden` `[N, D]`, `head` `[D, V]` (or `[V, D]` with `vocabMajor`); returns `[N]`.
 */
export function lmHeadTokenEntropies(
  hidden: tf.Tensor2D,
  head: tf.Tensor2D,
  options: LmHeadLogProbsOptions = {},
): tf.Tensor1D {
  const vocabMajor = options.vocabMajor ?? false;
  const [n, d] = hidden.shape;
  const vocab = vocabMajor ? head.shape[0] : head.shape[1];
  if (hidden.rank !== 2 || head.rank !== 2 || (vocabMajor ? head.shape[1] : head.shape[0]) !== d) {
    throw new Error(
      `lmHeadTokenEntropies: expected hidden [N,D] and head ${vocabMajor ? '[V,D]' : '[D,V]'}, got ${JSON.stringify(hidden.shape)} and ${JSON.stringify(head.shape)}`,
    );
  }
  const rows = options.chunkRows ?? logitsChunkRows(vocab);
  const temperature = options.temperature ?? 1;
  if (!Number.isInteger(rows) || rows <= 0 || !(temperature > 0) || !Number.isFinite(temperature))
    throw new Error(
      `lmHeadTokenEntropies: chunkRows must be a positive integer and temperature a positive number, got ${rows}, ${temperature}`,
    );
  const invT = 1 / temperature;
  const chunks: Array<[number, number]> = [];
  for (let start = 0; start < n; start += rows) chunks.push([start, Math.min(rows, n - start)]);
  const fast = directMatMulIsFast();
  const chunkLogits = (hs: tf.Tensor2D, w: tf.Tensor2D, headDV: tf.Tensor2D | null) => {
    const z = headDV !== null ? tf.matMul(hs, headDV) : tf.matMul(hs, w, false, vocabMajor);
    return invT === 1 ? z : tf.mul(z, invT);
  };
  const rowsOf = <X extends tf.Tensor>(x: X, start: number, size: number): X =>
    (size === n ? x : tf.slice(x, start, size)) as X;

  const f = customOp(([h, w], save) => {
    const hh = h as tf.Tensor2D;
    const ww = w as tf.Tensor2D;
    const headDV = vocabMajor && !fast ? (tf.transpose(ww) as tf.Tensor2D) : null;
    const lseParts: tf.Tensor[] = [];
    const entParts: tf.Tensor[] = [];
    for (const [start, size] of chunks) {
      const [lse, ent] = tf.tidy(() => {
        const z = chunkLogits(rowsOf(hh, start, size), ww, headDV);
        const l = logSumExpLastAxis(z); // [size, 1]
        const p = tf.exp(tf.sub(z, l));
        // H = lse − Σ p·z
        return [
          tf.reshape(l, [size]),
          tf.reshape(tf.sub(l, tf.sum(tf.mul(p, z), -1, true)), [size]),
        ];
      });
      lseParts.push(lse);
      entParts.push(ent);
    }
    headDV?.dispose();
    const lse = lseParts.length === 1 ? lseParts[0]! : tf.concat(lseParts);
    const ent = entParts.length === 1 ? entParts[0]! : tf.concat(entParts);
    save([hh, ww, lse, ent]);
    return {
      value: ent,
      gradFunc: (dy, saved) => {
        const [hs, ws, lses, ents] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        const headDVb = vocabMajor && !fast ? (tf.transpose(ws) as tf.Tensor2D) : null;
        const headVD = !vocabMajor && !fast ? (tf.transpose(ws) as tf.Tensor2D) : null;
        const dhParts: tf.Tensor[] = [];
        let dw: tf.Tensor2D | null = null;
        for (const [start, size] of chunks) {
          const hc = rowsOf(hs, start, size);
          // g = ∂(Σ dy·H)/∂(hW) = −p·(log p + H)·dy / T, one [size, V] chunk at a time
          const g = tf.tidy(() => {
            const logp = tf.sub(
              chunkLogits(hc, ws, headDVb),
              tf.reshape(rowsOf(lses, start, size), [size, 1]),
            );
            const scale = tf.reshape(tf.mul(rowsOf(dy, start, size), -invT), [size, 1]);
            const plus = tf.add(logp, tf.reshape(rowsOf(ents, start, size), [size, 1]));
            return tf.mul(tf.mul(tf.exp(logp), plus), scale) as tf.Tensor2D;
          });
          const [dh, dwPart] = tf.tidy(() => [
            headVD !== null ? tf.matMul(g, headVD) : tf.matMul(g, ws, false, !vocabMajor),
            vocabMajor ? matMulAT(g, hc, fast) : matMulAT(hc, g, fast),
          ]);
          tf.dispose([g, ...(hc === hs ? [] : [hc])]);
          dhParts.push(dh);
          if (dw === null) dw = dwPart as tf.Tensor2D;
          else {
            const sum = tf.add(dw, dwPart) as tf.Tensor2D;
            tf.dispose([dw, dwPart]);
            dw = sum;
          }
        }
        tf.dispose([headDVb, headVD].filter((x): x is tf.Tensor2D => x !== null));
        return [dhParts.length === 1 ? dhParts[0]! : tf.concat(dhParts), dw!];
      },
    };
  });
  return f(hidden, head) as tf.Tensor1D;
}
