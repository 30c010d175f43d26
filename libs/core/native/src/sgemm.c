/*
 * rxrl_native: single-precision matrix products for TensorFlow.js, computed by
 * the system OpenBLAS (cblas_sgemm) on memory that the caller passes as
 * Float32Arrays — the `native` backend's own arrays, or views straight into the
 * wasm heap — so no element is copied on the way in or out. The module's other
 * kernels live in rowops.c; its entry points are registered here.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <node_api.h>
#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "gemm.h"
#include "skinny.h"

/* Shipped by OpenBLAS but not declared in every cblas.h. */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);

/* Multiply-adds per product below which a batch of products runs one product per thread. */
#define SMALL_PRODUCT_MACS ((int64_t)1 << 23)

#define CHECK(env, call)                                                        \
  do {                                                                          \
    if ((call) != napi_ok) {                                                    \
      napi_throw_error((env), NULL, "rxrl_native: N-API call failed: " #call);  \
      return NULL;                                                              \
    }                                                                           \
  } while (0)

static bool fail(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return false;
}

bool rxrl_get_dim(napi_env env, napi_value v, const char *name, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d < 0 || d > 2147483647.0 ||
      d != (double)(int64_t)d) {
    char msg[128];
    snprintf(msg, sizeof msg, "rxrl_native: %s must be a non-negative int32", name);
    return fail(env, msg);
  }
  *out = (int64_t)d;
  return true;
}

/* A Float32Array's data pointer and length in elements. */
bool rxrl_get_f32(napi_env env, napi_value v, const char *name, float **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *ptr = NULL;
  char msg[128];
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &ptr, NULL, NULL) != napi_ok ||
      type != napi_float32_array) {
    snprintf(msg, sizeof msg, "rxrl_native: %s must be a Float32Array", name);
    return fail(env, msg);
  }
  *data = (float *)ptr;
  return true;
}

bool rxrl_get_i32(napi_env env, napi_value v, const char *name, int32_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *ptr = NULL;
  char msg[128];
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &ptr, NULL, NULL) != napi_ok ||
      type != napi_int32_array) {
    snprintf(msg, sizeof msg, "rxrl_native: %s must be an Int32Array", name);
    return fail(env, msg);
  }
  *data = (int32_t *)ptr;
  return true;
}

static bool get_flag(napi_env env, size_t argc, napi_value *argv, size_t i, bool *out) {
  *out = false;
  if (i >= argc) return true;
  napi_valuetype t;
  if (napi_typeof(env, argv[i], &t) != napi_ok) return fail(env, "rxrl_native: bad flag");
  if (t == napi_undefined || t == napi_null) return true;
  if (napi_coerce_to_bool(env, argv[i], &argv[i]) != napi_ok ||
      napi_get_value_bool(env, argv[i], out) != napi_ok)
    return fail(env, "rxrl_native: transpose flags must be booleans");
  return true;
}

/* RXRL_SKINNY=0 keeps every product on OpenBLAS (to compare the two) */
static bool skinny_ok(void) {
  static int ok = -1;
  if (ok < 0) {
    const char *env = getenv("RXRL_SKINNY");
    ok = rxrl_skinny_supported() && !(env != NULL && strcmp(env, "0") == 0);
  }
  return ok == 1;
}

/* out[M,N] = op(a) @ op(b), row-major; op(a) is [M,K], op(b) is [K,N]. */
static void gemm(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *out,
                 bool ta, bool tb) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    memset(out, 0, (size_t)(M * N) * sizeof(float));
    return;
  }
  /* Single-row / single-column products (decode steps) are matrix-vector:
     OpenBLAS's sgemm path for them is several times slower than its sgemv. */
  if (M == 1) {
    /* op(a) is one contiguous row of K (lda = 1 when transposed); out = op(b)ᵀ·a */
    if (tb)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, 1.0f, b, (int)K, a, 1, 0.0f, out, 1);
    else
      cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, 1.0f, b, (int)N, a, 1, 0.0f, out, 1);
    return;
  }
  if (N == 1) {
    /* op(b) is one contiguous column of K; out = op(a)·b */
    if (ta)
      cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)M, 1.0f, a, (int)M, b, 1, 0.0f, out, 1);
    else
      cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)M, (int)K, 1.0f, a, (int)K, b, 1, 0.0f, out, 1);
    return;
  }
  /* a few rows (a decode step over a batch): stream the weights once instead of packing them */
  if (!ta && M <= SKINNY_MAX_ROWS && skinny_ok()) {
    rxrl_skinny_gemm(M, N, K, a, b, out, tb, openblas_get_num_threads());
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, 1.0f, a, ta ? (int)M : (int)K, b, tb ? (int)K : (int)N,
              0.0f, out, (int)N);
}

void rxrl_gemm(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *out, bool ta,
               bool tb, bool accumulate) {
  if (!accumulate) {
    gemm(M, N, K, a, b, out, ta, tb);
    return;
  }
  if (M == 0 || N == 0 || K == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              (int)M, (int)N, (int)K, 1.0f, a, ta ? (int)M : (int)K, b, tb ? (int)K : (int)N,
              1.0f, out, (int)N);
}

/* The first eight arguments every product entry point takes:
   (M, N, K, a, b, out, transA?, transB?); false with a JS exception pending. */
static bool get_product_args(napi_env env, size_t argc, napi_value *argv, int64_t *M, int64_t *N,
                             int64_t *K, float **a, size_t *alen, float **b, size_t *blen,
                             float **out, size_t *olen, bool *ta, bool *tb) {
  return rxrl_get_dim(env, argv[0], "M", M) && rxrl_get_dim(env, argv[1], "N", N) &&
         rxrl_get_dim(env, argv[2], "K", K) && rxrl_get_f32(env, argv[3], "a", a, alen) &&
         rxrl_get_f32(env, argv[4], "b", b, blen) && rxrl_get_f32(env, argv[5], "out", out, olen) &&
         get_flag(env, argc, argv, 6, ta) && get_flag(env, argc, argv, 7, tb);
}

/*
 * sgemm(M, N, K, a, b, out, transA?, transB?, aBatch?, bBatch?)
 * Without aBatch/bBatch: one product. With them (Int32Arrays of equal length
 * P): P products, out block p = op(a block aBatch[p]) @ op(b block bBatch[p]),
 * which expresses any broadcast of the batch dimensions.
 */
static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "rxrl_native: sgemm(M, N, K, a, b, out, transA?, transB?, aBatch?, bBatch?)");
    return NULL;
  }
  int64_t M, N, K;
  float *a, *b, *out;
  size_t alen, blen, olen;
  bool ta, tb;
  if (!get_product_args(env, argc, argv, &M, &N, &K, &a, &alen, &b, &blen, &out, &olen, &ta, &tb))
    return NULL;

  const size_t asz = (size_t)(M * K), bsz = (size_t)(K * N), osz = (size_t)(M * N);
  if (argc < 9) {
    if (alen < asz || blen < bsz || olen < osz) {
      napi_throw_range_error(env, NULL, "rxrl_native: a, b or out is shorter than M*K, K*N or M*N");
      return NULL;
    }
    gemm(M, N, K, a, b, out, ta, tb);
    return NULL;
  }
  int32_t *ai, *bi;
  size_t an, bn;
  if (argc < 10) {
    napi_throw_type_error(env, NULL, "rxrl_native: aBatch and bBatch must be given together");
    return NULL;
  }
  if (!rxrl_get_i32(env, argv[8], "aBatch", &ai, &an) || !rxrl_get_i32(env, argv[9], "bBatch", &bi, &bn))
    return NULL;
  if (an != bn || olen < an * osz) {
    napi_throw_range_error(env, NULL, "rxrl_native: aBatch/bBatch lengths differ or out is too short");
    return NULL;
  }
  for (size_t p = 0; p < an; p++) {
    if (ai[p] < 0 || bi[p] < 0 || (size_t)(ai[p] + 1) * asz > alen ||
        (size_t)(bi[p] + 1) * bsz > blen) {
      napi_throw_range_error(env, NULL, "rxrl_native: batch index out of range of a or b");
      return NULL;
    }
  }
  /* many small few-row products (attention over a decode batch: [B·kv, group, T]
     rows): one thread per product instead of waking both threads for each */
  const int threads = openblas_get_num_threads();
  if (an > 1 && threads > 1 && !ta && M > 1 && N > 1 && K > 0 && M <= SKINNY_MAX_ROWS &&
      K * N < SKINNY_SMALL && skinny_ok()) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t p = 0; p < an; p++)
      rxrl_skinny_gemm(M, N, K, a + (size_t)ai[p] * asz, b + (size_t)bi[p] * bsz, out + p * osz, tb, 1);
    return NULL;
  }
  /* many small products (attention in training: [B·kv, group·T, Dh]·[B·kv, Dh, T]): each
     product on one thread, the products split over the threads. OpenBLAS would wake both
     of its threads for every 1M-multiply product and spend most of the time waiting on
     them (6–13 GFLOP/s measured at 8 × 128 tokens). OpenBLAS's thread count is global, so it
     is lowered to one for the duration (single-threaded sgemm is safe from several threads). */
  if (an > 1 && threads > 1 && M * N * K <= SMALL_PRODUCT_MACS) {
    openblas_set_num_threads(1);
#pragma omp parallel for schedule(dynamic) num_threads(threads)
    for (size_t p = 0; p < an; p++)
      gemm(M, N, K, a + (size_t)ai[p] * asz, b + (size_t)bi[p] * bsz, out + p * osz, ta, tb);
    openblas_set_num_threads(threads);
    return NULL;
  }
  for (size_t p = 0; p < an; p++)
    gemm(M, N, K, a + (size_t)ai[p] * asz, b + (size_t)bi[p] * bsz, out + p * osz, ta, tb);
  return NULL;
}

/*
 * sgemmAccumulate(M, N, K, a, b, out, transA?, transB?): out += op(a) @ op(b),
 * in place (cblas beta = 1) — a gradient summed over chunks without a new
 * [M, N] array and an add per chunk.
 */
static napi_value SgemmAccumulate(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "rxrl_native: sgemmAccumulate(M, N, K, a, b, out, transA?, transB?)");
    return NULL;
  }
  int64_t M, N, K;
  float *a, *b, *out;
  size_t alen, blen, olen;
  bool ta, tb;
  if (!get_product_args(env, argc, argv, &M, &N, &K, &a, &alen, &b, &blen, &out, &olen, &ta, &tb))
    return NULL;
  if (alen < (size_t)(M * K) || blen < (size_t)(K * N) || olen < (size_t)(M * N)) {
    napi_throw_range_error(env, NULL, "rxrl_native: a, b or out is shorter than M*K, K*N or M*N");
    return NULL;
  }
  rxrl_gemm(M, N, K, a, b, out, ta, tb, true);
  return NULL;
}

/* setThreads(n): OpenBLAS worker threads for later calls; returns the count now in effect. */
static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int64_t n;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !rxrl_get_dim(env, argv[0], "threads", &n)) return NULL;
  if (n < 1) n = 1;
  openblas_set_num_threads((int)n);
  CHECK(env, napi_create_int32(env, openblas_get_num_threads(), &result));
  return result;
}

static napi_value GetThreads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  CHECK(env, napi_create_int32(env, openblas_get_num_threads(), &result));
  return result;
}

/* blasConfig(): OpenBLAS's build line and the core type its kernels were picked for. */
static napi_value BlasConfig(napi_env env, napi_callback_info info) {
  (void)info;
  char buf[512];
  napi_value result;
  snprintf(buf, sizeof buf, "%s; core %s", openblas_get_config(), openblas_get_corename());
  CHECK(env, napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &result));
  return result;
}

/*
 * Keep this library (and with it libgomp and OpenBLAS) mapped until the process ends.
 * Node unloads an addon when a worker thread's environment ends; the OpenMP and OpenBLAS
 * threads that worker started outlive it and would then run unmapped code (SIGSEGV:
 * vitest's thread pool, a GRPO generation worker). Re-opening the loaded library with
 * RTLD_NODELETE marks it never to be unloaded.
 */
static void pin_library(void) {
  Dl_info info;
  if (dladdr((void *)pin_library, &info) != 0 && info.dli_fname != NULL)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static napi_value Init(napi_env env, napi_value exports) {
  pin_library();
  napi_property_descriptor props[] = {
      {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sgemmAccumulate", NULL, SgemmAccumulate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, GetThreads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"blasConfig", NULL, BlasConfig, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmaxRows", NULL, rxrl_softmax_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"logSumExpRows", NULL, rxrl_log_sum_exp_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"binary", NULL, rxrl_binary_strided, NULL, NULL, NULL, napi_enumerable, NULL},
      {"copy", NULL, rxrl_copy_strided, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unary", NULL, rxrl_unary, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reduceRows", NULL, rxrl_reduce_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamUpdate", NULL, rxrl_adam_update, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sumSquares", NULL, rxrl_sum_squares, NULL, NULL, NULL, napi_enumerable, NULL},
      {"topkRows", NULL, rxrl_topk_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"logitsGradRows", NULL, rxrl_logits_grad_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"attentionSoftmax", NULL, rxrl_attention_softmax, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmaxGradRows", NULL, rxrl_softmax_grad_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"swigluForward", NULL, rxrl_swiglu_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"swigluBackward", NULL, rxrl_swiglu_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rmsNormForward", NULL, rxrl_rms_norm_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"rmsNormBackward", NULL, rxrl_rms_norm_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lmHeadForward", NULL, rxrl_lm_head_forward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lmHeadBackward", NULL, rxrl_lm_head_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lmHeadStats", NULL, rxrl_lm_head_stats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sampleRows", NULL, rxrl_sample_rows, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
