/*
 * Elementwise functions and last-axis reductions for the `native` backend.
 * The cpu backend's JavaScript versions were the largest remaining kernel
 * costs of a training step after the matrix products (sigmoid, exp, sum,
 * mean over [tokens, hidden] and [tokens, vocab] tensors).
 */
#include <node_api.h>
#include <math.h>
#include <string.h>
#include <stdbool.h>
#include <stdint.h>

#include "args.h"
#include "reduce.h"
#include "vexp.h"

enum {
  U_EXP = 0, U_NEG, U_SIGMOID, U_LOG, U_SQRT, U_RSQRT, U_SQUARE, U_ABS, U_TANH, U_RECIPROCAL,
  U_COUNT
};
enum { R_SUM = 0, R_MEAN, R_MAX, R_MIN, R_COUNT };

/* unary(op, x, out): out[i] = f(x[i]). */
napi_value rxrl_unary(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "rxrl_native: unary(op, x, out)");
    return NULL;
  }
  int64_t op;
  float *x, *out;
  size_t n, olen;
  if (!rxrl_get_dim(env, argv[0], "op", &op) || !rxrl_get_f32(env, argv[1], "x", &x, &n) ||
      !rxrl_get_f32(env, argv[2], "out", &out, &olen))
    return NULL;
  if (op >= U_COUNT || olen < n) {
    napi_throw_range_error(env, NULL, "rxrl_native: unary: unknown op or out too short");
    return NULL;
  }
  const int64_t total = (int64_t)n;
#define MAP(expr)                                                               \
  _Pragma("omp parallel for schedule(static) if (total > PARALLEL_MIN)")       \
  for (int64_t i = 0; i < total; i++) { const float v = x[i]; out[i] = (expr); }
  switch (op) {
    case U_EXP:
#pragma omp parallel for schedule(static) if (total > PARALLEL_MIN_EXP)
      for (int64_t i0 = 0; i0 < total; i0 += EXP_BLOCK) {
        const int64_t m = total - i0 < EXP_BLOCK ? total - i0 : EXP_BLOCK;
        if (out != x) memcpy(out + i0, x + i0, (size_t)m * sizeof(float));
        rxrl_exp_inplace(out + i0, m);
      }
      break;
    case U_NEG: MAP(-v); break;
    /* the form that cannot overflow: exp of a non-positive number only */
    case U_SIGMOID: MAP(v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v))); break;
    case U_LOG: MAP(logf(v)); break;
    case U_SQRT: MAP(sqrtf(v)); break;
    case U_RSQRT: MAP(1.0f / sqrtf(v)); break;
    case U_SQUARE: MAP(v * v); break;
    case U_ABS: MAP(fabsf(v)); break;
    case U_TANH: MAP(tanhf(v)); break;
    default: MAP(1.0f / v); break;
  }
#undef MAP
  return NULL;
}

/* reduceRows(op, x, out, rows, cols): out[r] = reduce(x[r, :]); sums in float64. */
napi_value rxrl_reduce_rows(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_type_error(env, NULL, "rxrl_native: reduceRows(op, x, out, rows, cols)");
    return NULL;
  }
  int64_t op, rows, cols;
  float *x, *out;
  size_t n, olen;
  if (!rxrl_get_dim(env, argv[0], "op", &op) || !rxrl_get_f32(env, argv[1], "x", &x, &n) ||
      !rxrl_get_f32(env, argv[2], "out", &out, &olen) || !rxrl_get_dim(env, argv[3], "rows", &rows) ||
      !rxrl_get_dim(env, argv[4], "cols", &cols))
    return NULL;
  if (op >= R_COUNT || (int64_t)n < rows * cols || (int64_t)olen < rows) {
    napi_throw_range_error(env, NULL, "rxrl_native: reduceRows: unknown op or arrays too short");
    return NULL;
  }
#pragma omp parallel for schedule(static) if (rows > 1 && rows * cols > PARALLEL_MIN)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    if (op == R_SUM || op == R_MEAN) {
      const double s = rxrl_sum_f64(xr, cols);
      out[r] = (float)(op == R_MEAN ? (cols > 0 ? s / (double)cols : NAN) : s);
    } else {
      /* NaN wins, as in the cpu backend's max/min */
      float m = op == R_MAX ? -INFINITY : INFINITY;
      for (int64_t j = 0; j < cols; j++) {
        const float v = xr[j];
        if (isnan(v)) { m = v; break; }
        if (op == R_MAX ? v > m : v < m) m = v;
      }
      out[r] = m;
    }
  }
  return NULL;
}
