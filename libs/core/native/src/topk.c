/*
 * The k largest entries of each row, for the `native` backend's TopK (greedy
 * and top-k/nucleus sampling over a 151,936-token vocabulary). The cpu
 * backend's TopK makes a {value, index} object per entry and sorts; this
 * keeps a sorted buffer of the k best per row, so an entry below the row's
 * k-th best costs one comparison. Order as the cpu kernel's: value
 * descending, ties by lower index first.
 */
#include <node_api.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "args.h"

/* one row: vals/idx get its k best, descending; NaN ranks above every number (as tf's sort) */
static void row_topk(const float *x, int64_t cols, int64_t k, float *vals, int32_t *idx) {
  int64_t n = 0;
  for (int64_t j = 0; j < cols; j++) {
    const float v = x[j];
    /* v beats entry p when it is larger, or NaN over a number (ties: the earlier index stays ahead) */
#define BEATS(v, p) ((isnan(v) && !isnan(vals[p])) || (v) > vals[p])
    if (n == k && !BEATS(v, k - 1)) continue;
    int64_t p = n < k ? n : k - 1;
    while (p > 0 && BEATS(v, p - 1)) {
      vals[p] = vals[p - 1];
      idx[p] = idx[p - 1];
      p--;
    }
#undef BEATS
    vals[p] = v;
    idx[p] = (int32_t)j;
    if (n < k) n++;
  }
}

/* topkRows(x, rows, cols, k, values, indices): values/indices [rows, k] of each row's k largest. */
napi_value rxrl_topk_rows(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) {
    napi_throw_type_error(env, NULL, "rxrl_native: topkRows(x, rows, cols, k, values, indices)");
    return NULL;
  }
  float *x, *vals;
  int32_t *idx;
  size_t xlen, vlen, ilen;
  int64_t rows, cols, k;
  if (!rxrl_get_f32(env, argv[0], "x", &x, &xlen) || !rxrl_get_dim(env, argv[1], "rows", &rows) ||
      !rxrl_get_dim(env, argv[2], "cols", &cols) || !rxrl_get_dim(env, argv[3], "k", &k) ||
      !rxrl_get_f32(env, argv[4], "values", &vals, &vlen) ||
      !rxrl_get_i32(env, argv[5], "indices", &idx, &ilen))
    return NULL;
  if (k > cols || (size_t)(rows * cols) > xlen || (size_t)(rows * k) > vlen ||
      (size_t)(rows * k) > ilen) {
    napi_throw_range_error(env, NULL, "rxrl_native: k > cols, or x, values or indices too short");
    return NULL;
  }
  if (k == 0) return NULL;
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > PARALLEL_MIN)
  for (int64_t r = 0; r < rows; r++) row_topk(x + r * cols, cols, k, vals + r * k, idx + r * k);
  return NULL;
}
