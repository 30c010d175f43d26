/*
 * The LM head's token log-probs, forward and backward, with the logits of one chunk of
 * rows at a time in a scratch buffer that lives as long as the thread. Built from the
 * kernels the op-by-op path runs (the same products, log-sum-exp and logits gradient,
 * in the same float32 steps), so both give the same bits. What changes: no `[rows, V]`
 * tensor is allocated per chunk. Each was fresh memory, and first-touch page faults on a
 * fresh 32 MB array cost about as much as the product that filled it (13 ms against 15 ms
 * at 1024 × 64 × 8192 on one core).
 */
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "args.h"
#include "gemm.h"
#include "vexp.h"

struct scratch {
  float *p;
  size_t cap;
};

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void free_scratch(void *s) {
  free(((struct scratch *)s)->p);
  free(s);
}

static void make_key(void) { pthread_key_create(&scratch_key, free_scratch); }

/* n floats owned by the calling thread (a worker thread has its own), or NULL */
static float *scratch(size_t n) {
  pthread_once(&scratch_once, make_key);
  struct scratch *s = pthread_getspecific(scratch_key);
  if (s == NULL) {
    s = calloc(1, sizeof *s);
    if (s == NULL || pthread_setspecific(scratch_key, s) != 0) {
      free(s);
      return NULL;
    }
  }
  if (s->cap < n) {
    free(s->p);
    s->p = malloc(n * sizeof(float));
    s->cap = s->p == NULL ? 0 : n;
  }
  return s->p;
}

struct head_args {
  float *h, *w;
  int32_t *t;
  int64_t n, d, v, chunk;
  bool vocab_major;
  float inv_t;
};

/* (h, w, targets, n, d, v, vocabMajor, invT, chunkRows): the arguments both entry points
   start with, checked; false with a JS exception pending */
static bool head_args(napi_env env, napi_value *argv, struct head_args *a) {
  size_t hl, wl, tl;
  double inv_t;
  if (!rxrl_get_f32(env, argv[0], "hidden", &a->h, &hl) || !rxrl_get_f32(env, argv[1], "head", &a->w, &wl) ||
      !rxrl_get_i32(env, argv[2], "targets", &a->t, &tl) || !rxrl_get_dim(env, argv[3], "n", &a->n) ||
      !rxrl_get_dim(env, argv[4], "d", &a->d) || !rxrl_get_dim(env, argv[5], "v", &a->v) ||
      napi_get_value_bool(env, argv[6], &a->vocab_major) != napi_ok ||
      napi_get_value_double(env, argv[7], &inv_t) != napi_ok || !rxrl_get_dim(env, argv[8], "chunkRows", &a->chunk))
    return false;
  if ((size_t)(a->n * a->d) > hl || (size_t)(a->d * a->v) > wl || (size_t)a->n > tl || a->chunk < 1 || a->v < 1) {
    napi_throw_range_error(env, NULL, "rxrl_native: lmHead: arrays shorter than their shapes, or chunkRows/v < 1");
    return false;
  }
  for (int64_t i = 0; i < a->n; i++) {
    if (a->t[i] < 0 || a->t[i] >= a->v) {
      napi_throw_range_error(env, NULL, "rxrl_native: lmHead: a target id is outside the vocabulary");
      return false;
    }
  }
  a->inv_t = (float)inv_t;
  return true;
}

/* z = (hidden rows [start, start + size) · head) · invT into the scratch */
static void chunk_logits(const struct head_args *a, int64_t start, int64_t size, float *z) {
  rxrl_gemm(size, a->v, a->d, a->h + start * a->d, a->w, z, false, a->vocab_major, false);
  if (a->inv_t != 1.0f) {
    const int64_t total = size * a->v;
#pragma omp parallel for schedule(static) if (total > PARALLEL_MIN)
    for (int64_t i = 0; i < total; i++) z[i] *= a->inv_t;
  }
}

/* lmHeadForward(hidden, head, targets, n, d, v, vocabMajor, invT, chunkRows, lse, value):
   lse[i] = log Σ_j exp(z[i, j]), value[i] = z[i, targets[i]] − lse[i] */
napi_value rxrl_lm_head_forward(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 11) {
    napi_throw_type_error(env, NULL,
                          "rxrl_native: lmHeadForward(hidden, head, targets, n, d, v, vocabMajor, invT, chunkRows, lse, value)");
    return NULL;
  }
  struct head_args a;
  float *lse, *value;
  size_t ll, vl;
  if (!head_args(env, argv, &a) || !rxrl_get_f32(env, argv[9], "lse", &lse, &ll) ||
      !rxrl_get_f32(env, argv[10], "value", &value, &vl))
    return NULL;
  if ((size_t)a.n > ll || (size_t)a.n > vl) {
    napi_throw_range_error(env, NULL, "rxrl_native: lmHeadForward: lse or value shorter than n");
    return NULL;
  }
  const int64_t rows = a.chunk < a.n ? a.chunk : a.n;
  float *z = scratch((size_t)(rows * a.v));
  if (z == NULL && a.n > 0) {
    napi_throw_error(env, NULL, "rxrl_native: lmHead: out of memory for one chunk of logits");
    return NULL;
  }
  for (int64_t start = 0; start < a.n; start += rows) {
    const int64_t size = a.n - start < rows ? a.n - start : rows;
    chunk_logits(&a, start, size, z);
#pragma omp parallel for schedule(static) if (size > 1 && size * a.v > PARALLEL_MIN_EXP)
    for (int64_t r = 0; r < size; r++) {
      const float *zr = z + r * a.v;
      float m, l;
      rxrl_row_lse(zr, a.v, &m, &l);
      lse[start + r] = l;
      value[start + r] = zr[a.t[start + r]] - l;
    }
  }
  return NULL;
}

/* lmHeadBackward(hidden, head, targets, n, d, v, vocabMajor, invT, chunkRows, lse, dy, dHidden, dHead|null):
   with g = (one-hot(targets) − exp(z − lse))·(dy·invT) per row, dHidden = g·headᵀ
   (g·head when vocab-major) and dHead = hiddenᵀ·g (gᵀ·hidden), summed over the chunks */
napi_value rxrl_lm_head_backward(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 13) {
    napi_throw_type_error(env, NULL,
                          "rxrl_native: lmHeadBackward(hidden, head, targets, n, d, v, vocabMajor, invT, chunkRows, lse, dy, dHidden, dHead)");
    return NULL;
  }
  struct head_args a;
  float *lse, *dy, *dh, *dw = NULL;
  size_t ll, yl, hl, wl = 0;
  napi_valuetype wt;
  if (!head_args(env, argv, &a) || !rxrl_get_f32(env, argv[9], "lse", &lse, &ll) ||
      !rxrl_get_f32(env, argv[10], "dy", &dy, &yl) || !rxrl_get_f32(env, argv[11], "dHidden", &dh, &hl) ||
      napi_typeof(env, argv[12], &wt) != napi_ok || (wt != napi_null && !rxrl_get_f32(env, argv[12], "dHead", &dw, &wl)))
    return NULL;
  if ((size_t)a.n > ll || (size_t)a.n > yl || (size_t)(a.n * a.d) > hl || (dw != NULL && (size_t)(a.d * a.v) > wl)) {
    napi_throw_range_error(env, NULL, "rxrl_native: lmHeadBackward: lse, dy, dHidden or dHead shorter than its shape");
    return NULL;
  }
  const int64_t rows = a.chunk < a.n ? a.chunk : a.n;
  float *g = scratch((size_t)(rows * a.v));
  if (g == NULL && a.n > 0) {
    napi_throw_error(env, NULL, "rxrl_native: lmHead: out of memory for one chunk of logits");
    return NULL;
  }
  for (int64_t start = 0; start < a.n; start += rows) {
    const int64_t size = a.n - start < rows ? a.n - start : rows;
    chunk_logits(&a, start, size, g);
#pragma omp parallel for schedule(static) if (size > 1 && size * a.v > PARALLEL_MIN_EXP)
    for (int64_t r = 0; r < size; r++) {
      float *o = g + r * a.v;
      const float l = lse[start + r], sc = dy[start + r] * a.inv_t;
      const int64_t t = a.t[start + r];
      for (int64_t j = 0; j < a.v; j++) o[j] = o[j] - l;
      rxrl_exp_inplace(o, a.v);
      for (int64_t j = 0; j < a.v; j++) o[j] = ((j == t ? 1.0f : 0.0f) - o[j]) * sc;
    }
    const float *hc = a.h + start * a.d;
    rxrl_gemm(size, a.d, a.v, g, a.w, dh + start * a.d, false, !a.vocab_major, false);
    if (dw != NULL) {
      if (a.vocab_major)
        rxrl_gemm(a.v, a.d, size, g, hc, dw, true, false, start > 0);
      else
        rxrl_gemm(a.d, a.v, size, hc, g, dw, true, false, start > 0);
    }
  }
  if (dw != NULL && a.n == 0)
    for (int64_t i = 0; i < a.d * a.v; i++) dw[i] = 0.0f;
  return NULL;
}
