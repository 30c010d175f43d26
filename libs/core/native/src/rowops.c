/*
 * Row-wise reductions over the last axis of a row-major float32 matrix, for
 * the `native` TensorFlow.js backend: softmax, log-softmax and log-sum-exp.
 * Over a 150k-entry vocabulary these are the costliest kernels after the
 * matrix products; the JavaScript versions make five passes over the data on
 * one core, these make two (max, then exp-and-sum) with rows split over cores.
 */
#include <node_api.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "args.h"
#include "reduce.h"
#include "vexp.h"

/* Row max and log(sum(exp(x - max))) in two passes; the row stays in cache. */
void rxrl_row_lse(const float *x, int64_t cols, float *max_out, float *lse_out) {
  const float m = rxrl_max_f32(x, cols);
  if (m == -INFINITY || isnan(m)) {
    /* All -inf rows give -inf; NaN propagates (a comparison skips NaN, so sum instead). */
    const double s = rxrl_sum_f64(x, cols);
    *max_out = m;
    *lse_out = isnan(s) ? NAN : m;
    return;
  }
  double s = 0;
  float e[EXP_BLOCK];
  for (int64_t j0 = 0; j0 < cols; j0 += EXP_BLOCK) {
    const int64_t n = cols - j0 < EXP_BLOCK ? cols - j0 : EXP_BLOCK;
    for (int64_t j = 0; j < n; j++) e[j] = x[j0 + j] - m;
    rxrl_exp_inplace(e, n);
    s += rxrl_sum_f64(e, n);
  }
  *max_out = m;
  *lse_out = m + (float)log(s);
}

/*
 * out = exp(x − max) / Σ exp(x − max), one exp per entry. Not exp(x − lse): where
 * the max is large (a row masked with −1e9 everywhere) lse = max + log(n) rounds
 * back to max in float32 and every entry would come out 1.
 */
static void row_softmax(const float *x, float *out, int64_t cols) {
  float m = rxrl_max_f32(x, cols);
  if (m == -INFINITY || isnan(m)) {
    float lse;
    rxrl_row_lse(x, cols, &m, &lse);
    for (int64_t j = 0; j < cols; j++) out[j] = x[j] - lse;
    rxrl_exp_inplace(out, cols);
    return;
  }
  for (int64_t j = 0; j < cols; j++) out[j] = x[j] - m;
  rxrl_exp_inplace(out, cols);
  const double s = rxrl_sum_f64(out, cols);
  const float inv = (float)(1.0 / s);
  for (int64_t j = 0; j < cols; j++) out[j] *= inv;
}

/* softmaxRows(x, out, rows, cols, log): out = softmax(x) or log_softmax(x) per row. */
napi_value rxrl_softmax_rows(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_type_error(env, NULL, "rxrl_native: softmaxRows(x, out, rows, cols, log)");
    return NULL;
  }
  float *x, *out;
  size_t xlen, olen;
  int64_t rows, cols;
  bool want_log = false;
  if (!rxrl_get_f32(env, argv[0], "x", &x, &xlen) || !rxrl_get_f32(env, argv[1], "out", &out, &olen) ||
      !rxrl_get_dim(env, argv[2], "rows", &rows) || !rxrl_get_dim(env, argv[3], "cols", &cols) ||
      napi_get_value_bool(env, argv[4], &want_log) != napi_ok)
    return NULL;
  if ((size_t)(rows * cols) > xlen || (size_t)(rows * cols) > olen) {
    napi_throw_range_error(env, NULL, "rxrl_native: x or out is shorter than rows*cols");
    return NULL;
  }
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > PARALLEL_MIN_EXP)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *orow = out + r * cols;
    if (want_log) {
      float m, lse;
      rxrl_row_lse(xr, cols, &m, &lse);
      for (int64_t j = 0; j < cols; j++) orow[j] = xr[j] - lse;
    } else {
      row_softmax(xr, orow, cols);
    }
  }
  return NULL;
}

/* logSumExpRows(x, out, rows, cols): out[r] = log(sum(exp(x[r, :]))). */
napi_value rxrl_log_sum_exp_rows(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "rxrl_native: logSumExpRows(x, out, rows, cols)");
    return NULL;
  }
  float *x, *out;
  size_t xlen, olen;
  int64_t rows, cols;
  if (!rxrl_get_f32(env, argv[0], "x", &x, &xlen) || !rxrl_get_f32(env, argv[1], "out", &out, &olen) ||
      !rxrl_get_dim(env, argv[2], "rows", &rows) || !rxrl_get_dim(env, argv[3], "cols", &cols))
    return NULL;
  if ((size_t)(rows * cols) > xlen || (size_t)rows > olen) {
    napi_throw_range_error(env, NULL, "rxrl_native: x is shorter than rows*cols or out than rows");
    return NULL;
  }
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > PARALLEL_MIN_EXP)
  for (int64_t r = 0; r < rows; r++) {
    float m;
    rxrl_row_lse(x + r * cols, cols, &m, &out[r]);
  }
  return NULL;
}

/*
 * attentionSoftmax(scores, bias, out, batch, heads, t, s, biasBatch, scale):
 * out = softmax(scores·scale + bias) over each row of s, scores and out
 * [batch, heads, t, s], bias [biasBatch, t, s] (biasBatch 1 or batch; shared
 * by every head) or null. Rounds as mul, add, softmax op by op do, in one pass
 * over the scores instead of three.
 */
napi_value rxrl_attention_softmax(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 9) {
    napi_throw_type_error(env, NULL,
                          "rxrl_native: attentionSoftmax(scores, bias, out, batch, heads, t, s, biasBatch, scale)");
    return NULL;
  }
  float *x, *bias = NULL, *out;
  size_t xlen, blen = 0, olen;
  int64_t batch, heads, t, s, bb;
  double scale;
  napi_valuetype bt;
  if (!rxrl_get_f32(env, argv[0], "scores", &x, &xlen) || napi_typeof(env, argv[1], &bt) != napi_ok ||
      (bt != napi_null && !rxrl_get_f32(env, argv[1], "bias", &bias, &blen)) ||
      !rxrl_get_f32(env, argv[2], "out", &out, &olen) || !rxrl_get_dim(env, argv[3], "batch", &batch) ||
      !rxrl_get_dim(env, argv[4], "heads", &heads) || !rxrl_get_dim(env, argv[5], "t", &t) ||
      !rxrl_get_dim(env, argv[6], "s", &s) || !rxrl_get_dim(env, argv[7], "biasBatch", &bb) ||
      napi_get_value_double(env, argv[8], &scale) != napi_ok)
    return NULL;
  const int64_t rows = batch * heads * t;
  if ((size_t)(rows * s) > xlen || (size_t)(rows * s) > olen ||
      (bias != NULL && ((bb != 1 && bb != batch) || (size_t)(bb * t * s) > blen))) {
    napi_throw_range_error(env, NULL, "rxrl_native: attentionSoftmax: arrays shorter than their shapes");
    return NULL;
  }
  const float sc = (float)scale;
#pragma omp parallel for schedule(static) if (rows > 1 && rows * s > PARALLEL_MIN_EXP)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t bi = r / (heads * t), i = r % t;
    const float *xr = x + r * s;
    const float *br = bias != NULL ? bias + ((bb == 1 ? 0 : bi) * t + i) * s : NULL;
    float *o = out + r * s;
    for (int64_t j = 0; j < s; j++) {
      const float v = xr[j] * sc;
      o[j] = br != NULL ? v + br[j] : v;
    }
    row_softmax(o, o, s);
  }
  return NULL;
}

/*
 * softmaxGradRows(p, dp, out, rows, cols, scale): the gradient of softmax rows
 * p = softmax(z) given dL/dp, times scale: out = p·(dp − Σ_j dp·p)·scale, the
 * row sum in float64 (as the sum reduction), rounded as the op-by-op chain.
 */
napi_value rxrl_softmax_grad_rows(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) {
    napi_throw_type_error(env, NULL, "rxrl_native: softmaxGradRows(p, dp, out, rows, cols, scale)");
    return NULL;
  }
  float *p, *dp, *out;
  size_t plen, dlen, olen;
  int64_t rows, cols;
  double scale;
  if (!rxrl_get_f32(env, argv[0], "p", &p, &plen) || !rxrl_get_f32(env, argv[1], "dp", &dp, &dlen) ||
      !rxrl_get_f32(env, argv[2], "out", &out, &olen) || !rxrl_get_dim(env, argv[3], "rows", &rows) ||
      !rxrl_get_dim(env, argv[4], "cols", &cols) || napi_get_value_double(env, argv[5], &scale) != napi_ok)
    return NULL;
  if ((size_t)(rows * cols) > plen || (size_t)(rows * cols) > dlen || (size_t)(rows * cols) > olen) {
    napi_throw_range_error(env, NULL, "rxrl_native: softmaxGradRows: arrays shorter than rows*cols");
    return NULL;
  }
  const float sc = (float)scale;
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > PARALLEL_MIN)
  for (int64_t r = 0; r < rows; r++) {
    const float *pr = p + r * cols, *gr = dp + r * cols;
    float *o = out + r * cols;
    const float d = (float)rxrl_dot_f64(gr, pr, cols);
    for (int64_t j = 0; j < cols; j++) o[j] = (pr[j] * (gr[j] - d)) * sc;
  }
  return NULL;
}

void rxrl_logits_grad_row(const float *z, float *out, int64_t cols, float lse, int64_t target,
                          float scale) {
  for (int64_t j = 0; j < cols; j++) out[j] = z[j] - lse;
  rxrl_exp_inplace(out, cols);
  for (int64_t j = 0; j < cols; j++) out[j] = ((j == target ? 1.0f : 0.0f) - out[j]) * scale;
}

/*
 * logitsGradRows(z, lse, targets, scale, out, rows, cols): the gradient of the
 * token log-prob log softmax(z)[target] with respect to the logits z, times
 * scale per row: out[r, j] = ([j == targets[r]] − exp(z[r, j] − lse[r]))·scale[r].
 * One pass instead of sub, exp, one-hot, cast, sub and mul over [rows, vocab]
 * in the LM head's backward; rounds as that chain does.
 */
napi_value rxrl_logits_grad_rows(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7) {
    napi_throw_type_error(env, NULL, "rxrl_native: logitsGradRows(z, lse, targets, scale, out, rows, cols)");
    return NULL;
  }
  float *z, *lse, *scale, *out;
  int32_t *targets;
  size_t zlen, llen, tlen, slen, olen;
  int64_t rows, cols;
  if (!rxrl_get_f32(env, argv[0], "z", &z, &zlen) || !rxrl_get_f32(env, argv[1], "lse", &lse, &llen) ||
      !rxrl_get_i32(env, argv[2], "targets", &targets, &tlen) ||
      !rxrl_get_f32(env, argv[3], "scale", &scale, &slen) || !rxrl_get_f32(env, argv[4], "out", &out, &olen) ||
      !rxrl_get_dim(env, argv[5], "rows", &rows) || !rxrl_get_dim(env, argv[6], "cols", &cols))
    return NULL;
  if ((size_t)(rows * cols) > zlen || (size_t)(rows * cols) > olen || (size_t)rows > llen ||
      (size_t)rows > tlen || (size_t)rows > slen) {
    napi_throw_range_error(env, NULL, "rxrl_native: logitsGradRows: arrays shorter than their shapes");
    return NULL;
  }
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > PARALLEL_MIN_EXP)
  for (int64_t r = 0; r < rows; r++) {
    const float *zr = z + r * cols, l = lse[r], sc = scale[r];
    float *o = out + r * cols;
    const int64_t t = targets[r];
    rxrl_logits_grad_row(zr, o, cols, l, t, sc);
  }
  return NULL;
}
