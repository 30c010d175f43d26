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
 * Two instruction sets, picked at run time: AVX-512F where the CPU has it
 * (32 vector registers: 8 rows × 48 columns of accumulators), else AVX2+FMA
 * (4 rows × 24 columns). rxrl_skinny_supported() says whether this CPU has at
 * least AVX2+FMA, else the caller keeps to OpenBLAS (the portable path).
 */
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "skinny.h"

#define TARGET __attribute__((target("avx2,fma")))
#define INLINE TARGET static inline __attribute__((always_inline))

bool rxrl_skinny_supported(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* RXRL_SKINNY_AVX512=0 forces the AVX2 path (to compare the two, and to test it on AVX-512 CPUs) */
static bool use_avx512(void) {
  static int ok = -1;
  if (ok < 0) {
    __builtin_cpu_init();
    const char *env = getenv("RXRL_SKINNY_AVX512");
    ok = __builtin_cpu_supports("avx512f") && !(env != NULL && strcmp(env, "0") == 0);
  }
  return ok == 1;
}

#define T512 __attribute__((target("avx512f,avx2,fma")))
#define IN512 T512 static inline __attribute__((always_inline))

/* Rows of b a k-block spans: a 48-column panel of them is 24 KiB, so it stays
   in L1 while the second group of 8 rows (M > 8) reuses it. */
#ifndef KC
#define KC 128
#endif

/*
 * out[0:R, j:j+16·NV] (+)= a[0:R, k0:k1] · b[k0:k1, j:j+16·NV], b row-major
 * [K, N]; the last vector masked by `tail` (columns past N). `first` starts
 * the accumulators at zero, else they continue what out holds from the
 * previous k-block. Each b vector is loaded once per k for all R rows.
 */
IN512 void nn512_tile(int R, int NV, int64_t N, int64_t K, const float *a, const float *b,
                      float *out, int64_t j, int64_t k0, int64_t k1, __mmask16 tail, bool first) {
  __m512 acc[8][3];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) {
      const __mmask16 m = v == NV - 1 ? tail : (__mmask16)0xFFFF;
      acc[r][v] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, out + r * N + j + 16 * v);
    }
  const float *bk = b + k0 * N + j;
  for (int64_t k = k0; k < k1; k++, bk += N) {
    __m512 bv[3];
    /* the next panel's three lines of this row, used KC rows from now: the
       hardware prefetchers do not follow 192-byte pieces of long rows, and
       without this a thread read b at 6 GB/s, with it 10 (skinny_bench.c) */
    _mm_prefetch((const char *)(bk + 48), _MM_HINT_T0);
    _mm_prefetch((const char *)(bk + 64), _MM_HINT_T0);
    _mm_prefetch((const char *)(bk + 80), _MM_HINT_T0);
    for (int v = 0; v < NV; v++)
      bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(tail, bk + 16 * v) : _mm512_loadu_ps(bk + 16 * v);
    for (int r = 0; r < R; r++) {
      const __m512 s = _mm512_set1_ps(a[r * K + k]);
      for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(s, bv[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) {
      const __mmask16 m = v == NV - 1 ? tail : (__mmask16)0xFFFF;
      _mm512_mask_storeu_ps(out + r * N + j + 16 * v, m, acc[r][v]);
    }
}

#define NN512_ROWS(NV)                                                                         \
  switch (R) {                                                                                 \
    case 8: nn512_tile(8, NV, N, K, ar, b, o, j, k0, k1, tail, first); break;                   \
    case 7: nn512_tile(7, NV, N, K, ar, b, o, j, k0, k1, tail, first); break;                   \
    case 6: nn512_tile(6, NV, N, K, ar, b, o, j, k0, k1, tail, first); break;                   \
    case 5: nn512_tile(5, NV, N, K, ar, b, o, j, k0, k1, tail, first); break;                   \
    case 4: nn512_tile(4, NV, N, K, ar, b, o, j, k0, k1, tail, first); break;                   \
    case 3: nn512_tile(3, NV, N, K, ar, b, o, j, k0, k1, tail, first); break;                   \
    case 2: nn512_tile(2, NV, N, K, ar, b, o, j, k0, k1, tail, first); break;                   \
    default: nn512_tile(1, NV, N, K, ar, b, o, j, k0, k1, tail, first); break;                  \
  }

/*
 * Columns n0..n1 of out, all M rows: a chunk of ≤ CW columns at a time, and
 * within it k-blocks of KC rows of b, each swept across the chunk's 48-column
 * panels. Sweeping one panel down all K rows instead touches a new page per
 * row when rows are long (the down projection's b is [4864, 896]: 3.5 KiB
 * rows, 4,864 pages per panel, more than the L2 TLB holds), so every load
 * walked the page table; a k-block touches KC pages, reused by every panel.
 * The chunk bounds the out rows a k-block revisits (8 × CW floats, in L1/L2).
 */
#ifndef CW
#define CW 1024
#endif
T512 static void nn512_range(int64_t M, int64_t N, int64_t K, const float *a, const float *b,
                             float *out, int64_t n0, int64_t n1) {
  for (int64_t c0 = n0; c0 < n1; c0 += CW) {
    const int64_t c1 = c0 + CW < n1 ? c0 + CW : n1;
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
      const int64_t k1 = k0 + KC < K ? k0 + KC : K;
      const bool first = k0 == 0;
      for (int64_t j = c0; j < c1; j += 48) {
        const int64_t w = c1 - j < 48 ? c1 - j : 48;
        const int NV = (int)((w + 15) / 16);
        const int rem = (int)(w - 16 * (NV - 1));
        const __mmask16 tail = (__mmask16)(rem == 16 ? 0xFFFF : (1u << rem) - 1);
        for (int64_t r = 0; r < M; r += 8) {
          const int R = (int)(M - r < 8 ? M - r : 8);
          const float *ar = a + r * K;
          float *o = out + r * N;
          if (NV == 3) {
            NN512_ROWS(3)
          } else if (NV == 2) {
            NN512_ROWS(2)
          } else {
            NN512_ROWS(1)
          }
        }
      }
    }
  }
}

/*
 * out[0:R, n:n+NR] = a[0:R, :] · b[n:n+NR, :]ᵀ for b row-major [N, K]: R × NR
 * dot products, 16 lanes each, the ragged end of K masked, summed across
 * lanes at the end.
 */
IN512 void nt512_tile(int R, int NR, int64_t N, int64_t K, const float *a, const float *b,
                      float *out, int64_t n) {
  __m512 acc[8][3];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < NR; q++) acc[r][q] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);
    __m512 bv[3];
    /* the same 64 bytes of the next three rows (prefetches never fault, past
       the end either): 6.8 → 9 GB/s for one thread on the head */
    for (int q = 0; q < NR; q++) _mm_prefetch((const char *)(b + (n + q + 3) * K + k), _MM_HINT_T0);
    for (int q = 0; q < NR; q++) bv[q] = _mm512_maskz_loadu_ps(m, b + (n + q) * K + k);
    for (int r = 0; r < R; r++) {
      const __m512 av = _mm512_maskz_loadu_ps(m, a + r * K + k);
      for (int q = 0; q < NR; q++) acc[r][q] = _mm512_fmadd_ps(av, bv[q], acc[r][q]);
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < NR; q++) out[r * N + n + q] = _mm512_reduce_add_ps(acc[r][q]);
}

#define NT512_ROWS(NR)                                              \
  switch (R) {                                                      \
    case 8: nt512_tile(8, NR, N, K, ar, b, o, n); break;            \
    case 7: nt512_tile(7, NR, N, K, ar, b, o, n); break;            \
    case 6: nt512_tile(6, NR, N, K, ar, b, o, n); break;            \
    case 5: nt512_tile(5, NR, N, K, ar, b, o, n); break;            \
    case 4: nt512_tile(4, NR, N, K, ar, b, o, n); break;            \
    case 3: nt512_tile(3, NR, N, K, ar, b, o, n); break;            \
    case 2: nt512_tile(2, NR, N, K, ar, b, o, n); break;            \
    default: nt512_tile(1, NR, N, K, ar, b, o, n); break;           \
  }

/* b rows n0..n1, three at a time, each group of three used by every row group of a while in L1 */
T512 static void nt512_rows(int64_t M, int64_t N, int64_t K, const float *a, const float *b,
                            float *out, int64_t n0, int64_t n1) {
  for (int64_t n = n0; n < n1; n += 3) {
    const int NR = (int)(n1 - n < 3 ? n1 - n : 3);
    for (int64_t r = 0; r < M; r += 8) {
      const int R = (int)(M - r < 8 ? M - r : 8);
      const float *ar = a + r * K;
      float *o = out + r * N;
      if (NR == 3) {
        NT512_ROWS(3)
      } else if (NR == 2) {
        NT512_ROWS(2)
      } else {
        NT512_ROWS(1)
      }
    }
  }
}

/* [n0, n1) of `parts` near-equal ranges of n, in whole units of `unit` */
static void split(int64_t n, int64_t unit, int parts, int i, int64_t *n0, int64_t *n1) {
  const int64_t units = (n + unit - 1) / unit, per = (units + parts - 1) / parts;
  *n0 = i * per * unit < n ? i * per * unit : n;
  *n1 = (i + 1) * per * unit < n ? (i + 1) * per * unit : n;
}

/* each thread takes an equal share of the columns (b panels) or b rows: the
   work is all streaming b, so equal shares of b are equal times */
static void skinny512(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *out,
                      bool tb, int threads) {
  /* below 64 Ki weights (256 KiB) waking a second thread costs more than it saves */
  const int parts = threads > 1 && N >= 32 && K * N >= SKINNY_SMALL ? threads : 1;
#pragma omp parallel for schedule(static) num_threads(parts) if (parts > 1)
  for (int i = 0; i < parts; i++) {
    int64_t n0, n1;
    if (!tb) {
      split(N, 16, parts, i, &n0, &n1);
      if (n0 < n1) nn512_range(M, N, K, a, b, out, n0, n1);
    } else {
      split(N, 3, parts, i, &n0, &n1);
      if (n0 < n1) nt512_rows(M, N, K, a, b, out, n0, n1);
    }
  }
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
  if (use_avx512()) {
    skinny512(M, N, K, a, b, out, tb, threads);
    return;
  }
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
