/*
 * Optimizer kernels for the `native` backend. The Adam step as TensorFlow.js
 * ops is fourteen passes over every parameter, each allocating a fresh array
 * (a 0.5B-parameter model: ~28 GB of new pages per step, most of the step's
 * time); here it is one pass, in place. Every operation rounds to float32 in
 * the same order as the op-by-op version (optimizer/src/adam.ts), so the two
 * give identical bits; GCC in ISO C mode (-std=c11) does not contract a*b+c
 * into an FMA, which would break that.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>

#include "args.h"

enum {
  ADAM_SCALE_GRAD = 1,     /* g = grad * c[C_SCALE] (global-norm clipping) */
  ADAM_L2 = 2,             /* g = g + p * c[C_L2] (Adam's coupled weight decay) */
  ADAM_DECOUPLED = 4,      /* p = p * c[C_DECAY] before the step (AdamW) */
};
enum { C_SCALE = 0, C_L2, C_B1, C_OMB1, C_B2, C_OMB2, C_BC2, C_EPS, C_DECAY, C_STEP, C_COUNT };

/*
 * adamUpdate(p, g, m, v, c, flags): in place,
 *   m = m*b1 + g*(1-b1);  v = v*b2 + g²*(1-b2)
 *   p = p*decay − (m / (sqrt(v)/bc2 + eps)) * step
 * with c = Float32Array [scale, l2, b1, 1-b1, b2, 1-b2, bc2, eps, decay, step].
 */
napi_value rxrl_adam_update(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 6) {
    napi_throw_type_error(env, NULL, "rxrl_native: adamUpdate(p, g, m, v, constants, flags)");
    return NULL;
  }
  float *p, *g, *m, *v, *c;
  size_t np, ng, nm, nv, nc;
  int64_t flags;
  if (!rxrl_get_f32(env, argv[0], "p", &p, &np) || !rxrl_get_f32(env, argv[1], "g", &g, &ng) ||
      !rxrl_get_f32(env, argv[2], "m", &m, &nm) || !rxrl_get_f32(env, argv[3], "v", &v, &nv) ||
      !rxrl_get_f32(env, argv[4], "constants", &c, &nc) ||
      !rxrl_get_dim(env, argv[5], "flags", &flags))
    return NULL;
  if (ng != np || nm != np || nv != np || nc < C_COUNT) {
    napi_throw_range_error(env, NULL, "rxrl_native: adamUpdate: p, g, m, v differ in length");
    return NULL;
  }
  const float scale = c[C_SCALE], l2 = c[C_L2], b1 = c[C_B1], omb1 = c[C_OMB1], b2 = c[C_B2],
              omb2 = c[C_OMB2], bc2 = c[C_BC2], eps = c[C_EPS], decay = c[C_DECAY],
              step = c[C_STEP];
  const int scaled = (flags & ADAM_SCALE_GRAD) != 0, coupled = (flags & ADAM_L2) != 0,
            decoupled = (flags & ADAM_DECOUPLED) != 0;
  const int64_t total = (int64_t)np;
#pragma omp parallel for schedule(static) if (total > PARALLEL_MIN)
  for (int64_t i = 0; i < total; i++) {
    const float pi = p[i];
    float gi = g[i];
    if (scaled) gi = gi * scale;
    if (coupled) gi = gi + pi * l2;
    const float mi = m[i] * b1 + gi * omb1;
    const float gg = gi * gi;
    const float vi = v[i] * b2 + gg * omb2;
    const float denom = sqrtf(vi) / bc2 + eps;
    const float base = decoupled ? pi * decay : pi;
    const float upd = (mi / denom) * step;
    m[i] = mi;
    v[i] = vi;
    p[i] = base - upd;
  }
  return NULL;
}

/*
 * sumSquares(x): Σ x[i]² with each square rounded to float32 and the sum kept
 * in float64, in index order — the bits of the native backend's
 * sum(square(x)) over a whole tensor, without the squared copy.
 */
napi_value rxrl_sum_squares(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, NULL, "rxrl_native: sumSquares(x)");
    return NULL;
  }
  float *x;
  size_t n;
  if (!rxrl_get_f32(env, argv[0], "x", &x, &n)) return NULL;
  double s = 0;
  for (size_t i = 0; i < n; i++) {
    const float sq = x[i] * x[i];
    s += sq;
  }
  napi_value out;
  if (napi_create_double(env, (double)(float)s, &out) != napi_ok) return NULL;
  return out;
}
