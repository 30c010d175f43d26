/*
 * Fused layer ops for the `native` backend: SwiGLU and RMS norm, forward and
 * backward, one pass each. Op by op, SwiGLU's backward is nine elementwise
 * kernels over [tokens, intermediate] (each a fresh array) and RMS norm's a
 * dozen; these read their inputs once and write only their results. The
 * forward passes round as the op-by-op versions do (the same float32 steps).
 */
#include <node_api.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "args.h"
#include "reduce.h"
#include "vexp.h"

/* s = σ(x) over one block, as mapreduce.c's sigmoid rounds it (exp of a non-positive
   number only: e^−x for x ≥ 0, e^x below), the exps in one vector pass */
static inline void sigmoid_block(const float *x, float *s, int64_t n) {
  for (int64_t j = 0; j < n; j++) s[j] = -fabsf(x[j]);
  rxrl_exp_inplace(s, n);
  /* a select, not a branch: on random signs the branch was mispredicted half the time */
  for (int64_t j = 0; j < n; j++) s[j] = (x[j] >= 0 ? 1.0f : s[j]) / (1.0f + s[j]);
}

/* swigluForward(gate, up, out): out = gate·σ(gate)·up */
napi_value rxrl_swiglu_forward(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  float *g, *u, *out;
  size_t n, un, on;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) {
    napi_throw_type_error(env, NULL, "rxrl_native: swigluForward(gate, up, out)");
    return NULL;
  }
  if (!rxrl_get_f32(env, argv[0], "gate", &g, &n) || !rxrl_get_f32(env, argv[1], "up", &u, &un) ||
      !rxrl_get_f32(env, argv[2], "out", &out, &on))
    return NULL;
  if (un != n || on != n) {
    napi_throw_range_error(env, NULL, "rxrl_native: swiglu: gate, up and out differ in length");
    return NULL;
  }
  const int64_t total = (int64_t)n;
#pragma omp parallel for schedule(static) if (total > PARALLEL_MIN_EXP)
  for (int64_t i0 = 0; i0 < total; i0 += EXP_BLOCK) {
    const int64_t n = total - i0 < EXP_BLOCK ? total - i0 : EXP_BLOCK;
    float s[EXP_BLOCK];
    sigmoid_block(g + i0, s, n);
    for (int64_t j = 0; j < n; j++) {
      const float silu = g[i0 + j] * s[j];
      out[i0 + j] = silu * u[i0 + j];
    }
  }
  return NULL;
}

/* swigluBackward(gate, up, dy, dgate, dup): the gradients of gate·σ(gate)·up */
napi_value rxrl_swiglu_backward(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  float *g, *u, *dy, *dg, *du;
  size_t n, un, dn, gn, ugn;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    napi_throw_type_error(env, NULL, "rxrl_native: swigluBackward(gate, up, dy, dgate, dup)");
    return NULL;
  }
  if (!rxrl_get_f32(env, argv[0], "gate", &g, &n) || !rxrl_get_f32(env, argv[1], "up", &u, &un) ||
      !rxrl_get_f32(env, argv[2], "dy", &dy, &dn) || !rxrl_get_f32(env, argv[3], "dgate", &dg, &gn) ||
      !rxrl_get_f32(env, argv[4], "dup", &du, &ugn))
    return NULL;
  if (un != n || dn != n || gn != n || ugn != n) {
    napi_throw_range_error(env, NULL, "rxrl_native: swiglu: arrays differ in length");
    return NULL;
  }
  const int64_t total = (int64_t)n;
#pragma omp parallel for schedule(static) if (total > PARALLEL_MIN_EXP)
  for (int64_t i0 = 0; i0 < total; i0 += EXP_BLOCK) {
    const int64_t n = total - i0 < EXP_BLOCK ? total - i0 : EXP_BLOCK;
    float sg[EXP_BLOCK];
    sigmoid_block(g + i0, sg, n);
    for (int64_t j = 0; j < n; j++) {
      const int64_t i = i0 + j;
      const float x = g[i], s = sg[j], d = dy[i];
      du[i] = d * (x * s);
      /* d silu / dx = σ(x)·(1 + x·(1 − σ(x))) */
      dg[i] = d * u[i] * (s * (1.0f + x * (1.0f - s)));
    }
  }
  return NULL;
}

/* 1/√(mean(x²) + eps) of one row, the mean summed in float64 */
static inline float row_rstd(const float *x, int64_t d, float eps) {
  const float ms = (float)(rxrl_dot_f64(x, x, d) / (double)d);
  return 1.0f / sqrtf(ms + eps);
}

static bool norm_args(napi_env env, napi_value *argv, float **x, size_t *n, float **w, size_t *d,
                      float *eps) {
  double e;
  if (!rxrl_get_f32(env, argv[0], "x", x, n) || !rxrl_get_f32(env, argv[1], "weight", w, d))
    return false;
  if (napi_get_value_double(env, argv[2], &e) != napi_ok || *d == 0 || *n % *d != 0) {
    napi_throw_range_error(env, NULL, "rxrl_native: rmsNorm: eps must be a number and x rows of weight's length");
    return false;
  }
  *eps = (float)e;
  return true;
}

/* rmsNormForward(x, weight, eps, out): out = x·rsqrt(mean(x²) + eps)·weight per row of weight's length */
napi_value rxrl_rms_norm_forward(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  float *x, *w, *out, eps;
  size_t n, d, on;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_type_error(env, NULL, "rxrl_native: rmsNormForward(x, weight, eps, out)");
    return NULL;
  }
  if (!norm_args(env, argv, &x, &n, &w, &d, &eps) || !rxrl_get_f32(env, argv[3], "out", &out, &on))
    return NULL;
  if (on != n) {
    napi_throw_range_error(env, NULL, "rxrl_native: rmsNorm: out differs from x in length");
    return NULL;
  }
  const int64_t rows = (int64_t)(n / d), D = (int64_t)d;
#pragma omp parallel for schedule(static) if ((int64_t)n > PARALLEL_MIN)
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * D;
    float *o = out + r * D;
    const float rs = row_rstd(xr, D, eps);
    for (int64_t j = 0; j < D; j++) o[j] = (xr[j] * rs) * w[j];
  }
  return NULL;
}

/*
 * rmsNormBackward(x, weight, eps, dy, dx, dweight): with r = rsqrt(mean(x²) + eps)
 * per row, dx = r·w·dy − x·r³·mean(w·dy·x) and dweight = Σ_rows dy·x·r.
 */
napi_value rxrl_rms_norm_backward(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  float *x, *w, *dy, *dx, *dw, eps;
  size_t n, d, dn, xn, wn;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) {
    napi_throw_type_error(env, NULL, "rxrl_native: rmsNormBackward(x, weight, eps, dy, dx, dweight)");
    return NULL;
  }
  if (!norm_args(env, argv, &x, &n, &w, &d, &eps) || !rxrl_get_f32(env, argv[3], "dy", &dy, &dn) ||
      !rxrl_get_f32(env, argv[4], "dx", &dx, &xn) || !rxrl_get_f32(env, argv[5], "dweight", &dw, &wn))
    return NULL;
  if (dn != n || xn != n || wn != d) {
    napi_throw_range_error(env, NULL, "rxrl_native: rmsNorm: dy, dx or dweight has the wrong length");
    return NULL;
  }
  const int64_t rows = (int64_t)(n / d), D = (int64_t)d;
  double *acc = calloc((size_t)D, sizeof(double));
  if (acc == NULL) {
    napi_throw_error(env, NULL, "rxrl_native: rmsNorm: out of memory");
    return NULL;
  }
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * D, *g = dy + r * D;
    float *o = dx + r * D;
    const float rs = row_rstd(xr, D, eps);
    double dot = 0;
    for (int64_t j = 0; j < D; j++) {
      dot += (double)(w[j] * g[j]) * (double)xr[j];
      acc[j] += (double)g[j] * (double)xr[j] * (double)rs;
    }
    const float c = (float)(dot / (double)D) * rs * rs * rs;
    for (int64_t j = 0; j < D; j++) o[j] = rs * w[j] * g[j] - xr[j] * c;
  }
  for (int64_t j = 0; j < D; j++) dw[j] = (float)acc[j];
  free(acc);
  return NULL;
}
