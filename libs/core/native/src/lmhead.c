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
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "args.h"
#include "gemm.h"
#include "vexp.h"

struct scratch {
  float *p;
  size_t cap;
  /* the forward call whose logits the buffer still holds (0: none) and what it computed
     them from, so that its backward can skip the recompute when nothing ran in between */
  int32_t holds;
  const float *h, *w;
  int64_t n, d, v;
  float inv_t;
  bool vocab_major;
};

/* Chunks whose logits the forward keeps for the backward: the memory estimate
   (@rxrl/model's estimateRunMemory) counts six [chunkRows, V] buffers for the head. */
#define KEEP_CHUNKS 6

/* backward passes that reused / recomputed their logits, process-wide (lmHeadStats) */
static int64_t reused = 0, recomputed = 0;

/* tickets handed out by forwards, process-wide; 0 is never one */
static int32_t next_ticket = 0;

static int32_t new_ticket(void) {
  int32_t t;
  do t = __atomic_add_fetch(&next_ticket, 1, __ATOMIC_RELAXED) & 0x7fffffff;
  while (t == 0);
  return t;
}

/* The calling thread's scratch. Not a pthread key with a destructor: Node unloads the
   addon when a worker thread's environment ends, before the thread exits, and a key's
   destructor would then run code that is no longer mapped. The environment's cleanup
   hook frees it instead, on that thread, while the addon is still loaded. */
static _Thread_local struct scratch *thread_own = NULL;

static void free_scratch(void *arg) {
  struct scratch *s = arg;
  if (thread_own == s) thread_own = NULL;
  free(s->p);
  free(s);
}

/* the calling thread's scratch (a worker thread has its own), or NULL */
static struct scratch *thread_scratch(napi_env env) {
  if (thread_own != NULL) return thread_own;
  struct scratch *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  if (napi_add_env_cleanup_hook(env, free_scratch, s) != napi_ok) {
    free(s);
    return NULL;
  }
  thread_own = s;
  return s;
}

/* at least n floats of it, to be overwritten (so it holds no forward's logits); false when out of memory */
static bool reserve(struct scratch *s, size_t n) {
  s->holds = 0;
  if (s->cap < n) {
    free(s->p);
    s->p = malloc(n * sizeof(float));
    s->cap = s->p == NULL ? 0 : n;
  }
  return s->p != NULL || n == 0;
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

static bool holds_logits_of(const struct scratch *s, int32_t ticket, const struct head_args *a) {
  return ticket != 0 && s->holds == ticket && s->h == a->h && s->w == a->w && s->n == a->n &&
         s->d == a->d && s->v == a->v && s->inv_t == a->inv_t && s->vocab_major == a->vocab_major;
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
   lse[i] = log Σ_j exp(z[i, j]), value[i] = z[i, targets[i]] − lse[i]. Returns a ticket
   (non-zero) when all rows fit KEEP_CHUNKS chunks: their logits stay in the scratch, and
   a backward given the ticket uses them if no other call has used the scratch since. */
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
  /* up to KEEP_CHUNKS chunks, every row's logits stay for the backward, each chunk in its
     own part of the scratch; beyond that one chunk's worth is reused */
  const bool keep = a.n > 0 && a.n <= KEEP_CHUNKS * rows;
  struct scratch *s = thread_scratch(env);
  if (s == NULL || !reserve(s, (size_t)((keep ? a.n : rows) * a.v))) {
    napi_throw_error(env, NULL, "rxrl_native: lmHead: out of memory for the logits");
    return NULL;
  }
  for (int64_t start = 0; start < a.n; start += rows) {
    const int64_t size = a.n - start < rows ? a.n - start : rows;
    float *z = keep ? s->p + start * a.v : s->p;
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
  int32_t ticket = 0;
  if (keep) {
    ticket = new_ticket();
    s->holds = ticket;
    s->h = a.h;
    s->w = a.w;
    s->n = a.n;
    s->d = a.d;
    s->v = a.v;
    s->inv_t = a.inv_t;
    s->vocab_major = a.vocab_major;
  }
  napi_value out;
  return napi_create_int32(env, ticket, &out) == napi_ok ? out : NULL;
}

/* lmHeadBackward(hidden, head, targets, n, d, v, vocabMajor, invT, chunkRows, lse, dy, dHidden, dHead|null, ticket):
   with g = (one-hot(targets) − exp(z − lse))·(dy·invT) per row, dHidden = g·headᵀ
   (g·head when vocab-major) and dHead = hiddenᵀ·g (gᵀ·hidden), summed over the chunks */
napi_value rxrl_lm_head_backward(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value argv[14];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 14) {
    napi_throw_type_error(env, NULL,
                          "rxrl_native: lmHeadBackward(hidden, head, targets, n, d, v, vocabMajor, invT, chunkRows, lse, dy, dHidden, dHead, ticket)");
    return NULL;
  }
  struct head_args a;
  float *lse, *dy, *dh, *dw = NULL;
  size_t ll, yl, hl, wl = 0;
  napi_valuetype wt;
  int32_t ticket;
  if (!head_args(env, argv, &a) || napi_get_value_int32(env, argv[13], &ticket) != napi_ok || !rxrl_get_f32(env, argv[9], "lse", &lse, &ll) ||
      !rxrl_get_f32(env, argv[10], "dy", &dy, &yl) || !rxrl_get_f32(env, argv[11], "dHidden", &dh, &hl) ||
      napi_typeof(env, argv[12], &wt) != napi_ok || (wt != napi_null && !rxrl_get_f32(env, argv[12], "dHead", &dw, &wl)))
    return NULL;
  if ((size_t)a.n > ll || (size_t)a.n > yl || (size_t)(a.n * a.d) > hl || (dw != NULL && (size_t)(a.d * a.v) > wl)) {
    napi_throw_range_error(env, NULL, "rxrl_native: lmHeadBackward: lse, dy, dHidden or dHead shorter than its shape");
    return NULL;
  }
  const int64_t rows = a.chunk < a.n ? a.chunk : a.n;
  struct scratch *s = thread_scratch(env);
  const bool kept = s != NULL && holds_logits_of(s, ticket, &a);
  if (s == NULL || (!kept && !reserve(s, (size_t)(rows * a.v)))) {
    napi_throw_error(env, NULL, "rxrl_native: lmHead: out of memory for one chunk of logits");
    return NULL;
  }
  s->holds = 0; /* the gradient overwrites the logits */
  __atomic_add_fetch(kept ? &reused : &recomputed, 1, __ATOMIC_RELAXED);
  for (int64_t start = 0; start < a.n; start += rows) {
    const int64_t size = a.n - start < rows ? a.n - start : rows;
    float *g = kept ? s->p + start * a.v : s->p;
    if (!kept) chunk_logits(&a, start, size, g);
#pragma omp parallel for schedule(static) if (size > 1 && size * a.v > PARALLEL_MIN_EXP)
    for (int64_t r = 0; r < size; r++) {
      float *o = g + r * a.v;
      const float l = lse[start + r], sc = dy[start + r] * a.inv_t;
      const int64_t t = a.t[start + r];
      rxrl_logits_grad_row(o, o, a.v, l, t, sc);
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

/* lmHeadStats(): [backward passes that reused the forward's logits, that recomputed them] */
napi_value rxrl_lm_head_stats(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, a, b;
  if (napi_create_array_with_length(env, 2, &out) != napi_ok ||
      napi_create_int64(env, __atomic_load_n(&reused, __ATOMIC_RELAXED), &a) != napi_ok ||
      napi_create_int64(env, __atomic_load_n(&recomputed, __ATOMIC_RELAXED), &b) != napi_ok ||
      napi_set_element(env, out, 0, a) != napi_ok || napi_set_element(env, out, 1, b) != napi_ok)
    return NULL;
  return out;
}
