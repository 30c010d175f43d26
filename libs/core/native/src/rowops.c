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

/* Row max and log(sum(exp(x - max))) in two passes; the row stays in cache. */
static void row_lse(const float *x, int64_t cols, float *max_out, float *lse_out) {
  float m = -INFINITY;
  for (int64_t j = 0; j < cols; j++)
    if (x[j] > m) m = x[j];
  if (m == -INFINITY || isnan(m)) {
    /* All -inf rows give -inf; NaN propagates (a comparison skips NaN, so sum instead). */
    double s = 0;
    for (int64_t j = 0; j < cols; j++) s += x[j];
    *max_out = m;
    *lse_out = isnan(s) ? NAN : m;
    return;
  }
  double s = 0;
  for (int64_t j = 0; j < cols; j++) s += expf(x[j] - m);
  *max_out = m;
  *lse_out = m + (float)log(s);
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
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > PARALLEL_MIN)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *orow = out + r * cols;
    float m, lse;
    row_lse(xr, cols, &m, &lse);
    if (want_log)
      for (int64_t j = 0; j < cols; j++) orow[j] = xr[j] - lse;
    else
      for (int64_t j = 0; j < cols; j++) orow[j] = expf(xr[j] - lse);
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
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > PARALLEL_MIN)
  for (int64_t r = 0; r < rows; r++) {
    float m;
    row_lse(x + r * cols, cols, &m, &out[r]);
  }
  return NULL;
}
