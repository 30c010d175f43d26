/*
 * exp over float32 arrays for the exp-heavy kernels (softmax, log-sum-exp, the LM
 * head's logits gradient, SwiGLU's sigmoid). Scalar expf costs ~5–10 ns an element,
 * which over a 150k-entry vocabulary or a [512, 4864] MLP activation was most of those
 * kernels' time. glibc ships vector versions (libmvec, the same routines a compiler
 * calls when it vectorises expf under -ffast-math); they are called directly here, on
 * the widest vector the CPU has, chosen once at run time, so one binary serves AVX-512,
 * AVX2 and older machines.
 */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vexp.h"

#pragma GCC push_options
#pragma GCC target("avx512f")
__m512 _ZGVeN16v_expf(__m512 x);
static void exp_avx512(float *x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, _ZGVeN16v_expf(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(x + i, m, _ZGVeN16v_expf(_mm512_maskz_loadu_ps(m, x + i)));
  }
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2")
__m256 _ZGVdN8v_expf(__m256 x);
static void exp_avx2(float *x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _ZGVdN8v_expf(_mm256_loadu_ps(x + i)));
  for (; i < n; i++) x[i] = expf(x[i]);
}
#pragma GCC pop_options

static void exp_scalar(float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++) x[i] = expf(x[i]);
}

typedef void (*exp_fn)(float *, int64_t);

static exp_fn exp_impl = exp_scalar;

/* Chosen when the addon is loaded, before any kernel runs on any thread.
   RXRL_EXP=avx2 or RXRL_EXP=scalar caps the choice (to test every path on one machine). */
__attribute__((constructor)) static void choose_exp(void) {
  __builtin_cpu_init();
  const char *cap = getenv("RXRL_EXP");
  const bool scalar = cap != NULL && strcmp(cap, "scalar") == 0;
  const bool no512 = scalar || (cap != NULL && strcmp(cap, "avx2") == 0);
  if (!no512 && __builtin_cpu_supports("avx512f"))
    exp_impl = exp_avx512;
  else if (!scalar && __builtin_cpu_supports("avx2"))
    exp_impl = exp_avx2;
}

void rxrl_exp_inplace(float *x, int64_t n) { exp_impl(x, n); }
