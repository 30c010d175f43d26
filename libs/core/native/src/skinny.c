/*
 * Products with a few rows: out[M,N] = a[M,K] · op(b), M ≤ SKINNY_MAX_ROWS, the
 * shape of a decode step over a batch of rows (a [rows, D] hidden state times
 * every projection and the [V, D] head).
 *
 * Why not cblas_sgemm: OpenBLAS packs op(b) — the whole weight matrix — into
 * its panel layout on every call, so a product that is memory-bound on
 * reading the weights once reads them twice and writes them once. Here each
 * weight element is loaded once per group of up to four rows of `a` and used
 * for all of them while it is in a register.
 *
 * AVX2+FMA intrinsics; rxrl_skinny_supported() says whether this CPU has
 * them, else the caller keeps to OpenBLAS.
 */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "skinny.h"

#define TARGET __attribute__((target("avx2,fma")))
#define INLINE TARGET static inline __attribute__((always_inline))

bool rxrl_skinny_supported(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/*
 * out[r0:r0+R, j:j+24] = a[r0:r0+R, :] · b[:, j:j+24] for b row-major [K, N]:
 * R × 3 vector accumulators, each b vector loaded once per k for R rows.
 */
INLINE void nn_tile24(int R, int64_t N, int64_t K, const float *a, const float *b, float *out,
                      int64_t j) {
  __m256 acc[4][3];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < 3; v++) acc[r][v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; k++) {
    const float *brow = b + k * N + j;
    const __m256 b0 = _mm256_loadu_ps(brow), b1 = _mm256_loadu_ps(brow + 8),
                 b2 = _mm256_loadu_ps(brow + 16);
    for (int r = 0; r < R; r++) {
      const __m256 s = _mm256_broadcast_ss(a + r * K + k);
      acc[r][0] = _mm256_fmadd_ps(s, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(s, b1, acc[r][1]);
      acc[r][2] = _mm256_fmadd_ps(s, b2, acc[r][2]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < 3; v++) _mm256_storeu_ps(out + r * N + j + 8 * v, acc[r][v]);
}

/* the same for columns j..j+w, w < 24 (the ragged end of a row), scalar */
static void nn_tail(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *out,
                    int64_t j, int64_t w) {
  for (int64_t m = 0; m < M; m++)
    for (int64_t c = j; c < j + w; c++) {
      float s = 0.0f;
      for (int64_t k = 0; k < K; k++) s += a[m * K + k] * b[k * N + c];
      out[m * N + c] = s;
    }
}

TARGET static void nn_columns(int64_t M, int64_t N, int64_t K, const float *a, const float *b,
                              float *out, int64_t j) {
  int64_t r = 0;
  for (; r + 4 <= M; r += 4) nn_tile24(4, N, K, a + r * K, b, out + r * N, j);
  switch (M - r) {
    case 3: nn_tile24(3, N, K, a + r * K, b, out + r * N, j); break;
    case 2: nn_tile24(2, N, K, a + r * K, b, out + r * N, j); break;
    case 1: nn_tile24(1, N, K, a + r * K, b, out + r * N, j); break;
    default: break;
  }
}

INLINE float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

/*
 * out[r0:r0+R, n:n+2] = a[r0:r0+R, :] · b[n:n+2, :]ᵀ for b row-major [N, K]
 * (a linear layer's [out, in] weight, or a tied [V, D] head): R × 2 dot
 * products at once, 8 lanes each, summed across lanes at the end.
 */
INLINE void nt_tile(int R, int NR, int64_t N, int64_t K, const float *a, const float *b,
                    float *out, int64_t n) {
  __m256 acc[4][2];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < NR; q++) acc[r][q] = _mm256_setzero_ps();
  const int64_t K8 = K & ~(int64_t)7;
  for (int64_t k = 0; k < K8; k += 8) {
    __m256 bv[2];
    for (int q = 0; q < NR; q++) bv[q] = _mm256_loadu_ps(b + (n + q) * K + k);
    for (int r = 0; r < R; r++) {
      const __m256 av = _mm256_loadu_ps(a + r * K + k);
      for (int q = 0; q < NR; q++) acc[r][q] = _mm256_fmadd_ps(av, bv[q], acc[r][q]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < NR; q++) {
      float s = hsum(acc[r][q]);
      for (int64_t k = K8; k < K; k++) s += a[r * K + k] * b[(n + q) * K + k];
      out[r * N + n + q] = s;
    }
}

TARGET static void nt_rows(int64_t M, int64_t N, int64_t K, const float *a, const float *b,
                           float *out, int64_t n0, int64_t n1) {
  for (int64_t r = 0; r < M; r += 4) {
    const int64_t R = M - r < 4 ? M - r : 4;
    const float *ar = a + r * K;
    float *o = out + r * N;
    int64_t n = n0;
    for (; n + 2 <= n1; n += 2) {
      switch (R) {
        case 4: nt_tile(4, 2, N, K, ar, b, o, n); break;
        case 3: nt_tile(3, 2, N, K, ar, b, o, n); break;
        case 2: nt_tile(2, 2, N, K, ar, b, o, n); break;
        default: nt_tile(1, 2, N, K, ar, b, o, n); break;
      }
    }
    if (n < n1) {
      switch (R) {
        case 4: nt_tile(4, 1, N, K, ar, b, o, n); break;
        case 3: nt_tile(3, 1, N, K, ar, b, o, n); break;
        case 2: nt_tile(2, 1, N, K, ar, b, o, n); break;
        default: nt_tile(1, 1, N, K, ar, b, o, n); break;
      }
    }
  }
}

void rxrl_skinny_gemm(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *out,
                      bool tb, int threads) {
  if (!tb) {
    /* tasks of 24 × 8 columns: the b panel a task streams is K × 192 floats */
    const int64_t W = 24, per = 8 * W, full = N / W, tasks = (full * W + per - 1) / per;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && tasks > 1)
    for (int64_t i = 0; i < tasks; i++) {
      const int64_t j1 = (i + 1) * per < full * W ? (i + 1) * per : full * W;
      for (int64_t j = i * per; j < j1; j += W) nn_columns(M, N, K, a, b, out, j);
    }
    if (full * W < N) nn_tail(M, N, K, a, b, out, full * W, N - full * W);
    return;
  }
  /* 64 rows of b per task */
  const int64_t rows = 64, tasks = (N + rows - 1) / rows;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && tasks > 1)
  for (int64_t i = 0; i < tasks; i++) {
    const int64_t n0 = i * rows;
    nt_rows(M, N, K, a, b, out, n0, n0 + rows < N ? n0 + rows : N);
  }
}
