/*
 * One token per row of logits by inverting the CDF of softmax(logits / T) (with a
 * min-p cut) at a uniform draw: what @rxrl/rollout's inverseCdfOnDevice computes as
 * eleven TensorFlow.js ops over [rows, V], several of them (cumsum, lessEqual, the cast
 * and the int32 sum) JavaScript loops on the cpu kernels. Each step here rounds as the
 * native backend's kernel for that op does — float32 division and subtraction, the
 * vector exp, the row sum in float64 over eight lanes, the cumulative sum added in float64
 * and stored in float32 as the JavaScript cumsum does — so the same token and log-prob
 * come out (sampleRows.test.ts).
 */
#include <node_api.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "args.h"
#include "reduce.h"
#include "vexp.h"

/* max of a row, NaN winning as the native max reduction has it */
static float row_max_nan(const float *x, int64_t n) {
  float m = -INFINITY;
  for (int64_t j = 0; j < n; j++) {
    if (isnan(x[j])) return NAN;
    if (x[j] > m) m = x[j];
  }
  return m;
}

/* sampleRows(logits, rows, cols, temperature, minP, uniforms, tokens, logprobs) */
napi_value rxrl_sample_rows(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 8) {
    napi_throw_type_error(env, NULL, "rxrl_native: sampleRows(logits, rows, cols, temperature, minP, uniforms, tokens, logprobs)");
    return NULL;
  }
  float *x, *u, *lp;
  int32_t *tok;
  size_t xl, ul, tl, ll;
  int64_t rows, cols;
  double temperature, min_p;
  if (!rxrl_get_f32(env, argv[0], "logits", &x, &xl) || !rxrl_get_dim(env, argv[1], "rows", &rows) ||
      !rxrl_get_dim(env, argv[2], "cols", &cols) || napi_get_value_double(env, argv[3], &temperature) != napi_ok ||
      napi_get_value_double(env, argv[4], &min_p) != napi_ok || !rxrl_get_f32(env, argv[5], "uniforms", &u, &ul) ||
      !rxrl_get_i32(env, argv[6], "tokens", &tok, &tl) || !rxrl_get_f32(env, argv[7], "logprobs", &lp, &ll))
    return NULL;
  if ((size_t)(rows * cols) > xl || (size_t)rows > ul || (size_t)rows > tl || (size_t)rows > ll || cols < 1 ||
      !(temperature > 0)) {
    napi_throw_range_error(env, NULL, "rxrl_native: sampleRows: arrays shorter than their shapes, no columns or temperature <= 0");
    return NULL;
  }
  const float t = (float)temperature, mp = (float)min_p;
  bool oom = false;
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > PARALLEL_MIN_EXP)
  for (int64_t r = 0; r < rows; r++) {
    float *scaled = malloc((size_t)cols * sizeof(float) * 2);
    if (scaled == NULL) {
      oom = true;
      continue;
    }
    float *e = scaled + cols;
    const float *xr = x + r * cols;
    if (t == 1.0f)
      for (int64_t j = 0; j < cols; j++) scaled[j] = xr[j];
    else
      for (int64_t j = 0; j < cols; j++) scaled[j] = xr[j] / t;
    const float m = row_max_nan(scaled, cols);
    for (int64_t j = 0; j < cols; j++) e[j] = scaled[j] - m;
    rxrl_exp_inplace(e, cols);
    const float lse = m + logf((float)rxrl_sum_f64(e, cols));
    if (mp > 0)
      for (int64_t j = 0; j < cols; j++) e[j] = e[j] >= mp ? e[j] : 0.0f;
    /* cumulative sum in place, each step added in float64 and stored in float32 */
    for (int64_t j = 1; j < cols; j++) e[j] = (float)((double)e[j] + (double)e[j - 1]);
    const float target = u[r] * e[cols - 1];
    int64_t count = 0;
    for (int64_t j = 0; j < cols; j++) count += e[j] <= target;
    const int64_t token = count < cols - 1 ? count : cols - 1;
    tok[r] = (int32_t)token;
    lp[r] = scaled[token] - lse;
    free(scaled);
  }
  if (oom) {
    napi_throw_error(env, NULL, "rxrl_native: sampleRows: out of memory for a row");
    return NULL;
  }
  return NULL;
}
