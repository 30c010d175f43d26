/*
 * The skinny kernel (src/skinny.c) against OpenBLAS on the decode-step shapes of
 * Qwen2.5-0.5B (D 896, 14/2 heads of 64, MLP 4864, vocab 151936), as GB/s of
 * weight traffic (K·N·4 bytes per product read from memory, best of reps), 2 threads,
 * beside the rate of a plain read of the same memory; then an
 * exactness check against a double-precision loop on ragged sizes.
 *
 *   sh libs/core/native/bench/skinny_bench.sh [THREADS [M]]   # build + run (2 threads, M 1, 8, 16)
 *   RXRL_SKINNY_AVX512=0 sh libs/core/native/bench/skinny_bench.sh   # the AVX2 path
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../src/skinny.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void fill(float *x, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1664525u + 1013904223u;
    x[i] = (float)((seed >> 8) & 0xFFFF) / 65536.0f - 0.5f;
  }
}

static void blas(int M, int N, int K, const float *a, const float *b, float *o, int tb) {
  if (M == 1) {
    if (tb) cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.0f, b, K, a, 1, 0.0f, o, 1);
    else cblas_sgemv(CblasRowMajor, CblasTrans, K, N, 1.0f, b, N, a, 1, 0.0f, o, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a, K, b,
              tb ? K : N, 0.0f, o, N);
}

/* Each rep reads another K·N stretch of the 545 MB buffer, so the weights come
   from memory as in a decode step (whose 2 GB of weights do not fit the L3),
   not from the cache the previous rep filled. */
static int threads = 2;

static double best(int which, int M, int N, int K, const float *a, const float *b, size_t blen, float *o,
                   int tb) {
  const size_t kn = (size_t)K * N, slots = blen / kn;
  const double bytes = 4.0 * kn;
  const int reps = bytes > 1e8 ? 5 : 40;
  double t = 1e9;
  for (int r = 0; r < reps + 1; r++) {
    const float *w = b + (size_t)r % slots * kn;
    const double t0 = now();
    if (which) rxrl_skinny_gemm(M, N, K, a, w, o, tb, threads);
    else blas(M, N, K, a, w, o, tb);
    const double dt = now() - t0;
    if (r > 0 && dt < t) t = dt;
  }
  return bytes / t / 1e9;
}

/* the ceiling: summing the same bytes with 2 threads (a plain read, no FMA work) */
static double read_rate(const float *b, size_t n, int reps) {
  double t = 1e9, sink = 0;
  for (int r = 0; r < reps; r++) {
    const double t0 = now();
    float s = 0;
    /* 64 independent lanes, so the compiler vectorises without reassociating */
#pragma omp parallel for reduction(+ : s) num_threads(threads) schedule(static)
    for (size_t i = 0; i < n / 4096; i++) {
      float acc[64] = {0};
      for (size_t c = i * 4096; c < (i + 1) * 4096; c += 64)
        for (int j = 0; j < 64; j++) acc[j] += b[c + j];
      for (int j = 0; j < 64; j++) s += acc[j];
    }
    const double dt = now() - t0;
    sink += s;
    if (r > 0 && dt < t) t = dt;
  }
  if (sink == 12345.0) puts("");
  return 4.0 * n / t / 1e9;
}

static int check(int M, int N, int K, int tb) {
  float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * K * N),
        *o = malloc(sizeof(float) * M * N);
  fill(a, (size_t)M * K, 1), fill(b, (size_t)K * N, 2);
  rxrl_skinny_gemm(M, N, K, a, b, o, tb, 2);
  int bad = 0;
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      double s = 0, mag = 0;
      for (int k = 0; k < K; k++) {
        const double p = (double)a[m * K + k] * (tb ? b[(size_t)n * K + k] : b[(size_t)k * N + n]);
        s += p, mag += fabs(p);
      }
      /* float32 accumulation: error ≤ K·eps·Σ|a·b| at worst; a few eps·Σ|a·b| in practice */
      if (fabs(o[m * N + n] - s) > 1e-6 * mag * (1 + K / 64) + 1e-30) bad++;
    }
  free(a), free(b), free(o);
  return bad;
}

int main(int argc, char **argv) {
  if (argc > 1) threads = atoi(argv[1]);
  const int only_m = argc > 2 ? atoi(argv[2]) : 0;
  const struct { const char *name; int K, N; } shapes[] = {
      {"q/o 896x896", 896, 896},   {"k/v 896x128", 896, 128},   {"gate/up 896x4864", 896, 4864},
      {"down 4864x896", 4864, 896}, {"head 896x151936", 896, 151936},
  };
  openblas_set_num_threads(threads);
  float *a = malloc(sizeof(float) * 16 * 4864), *o = malloc(sizeof(float) * 16 * 151936);
  const size_t blen = (size_t)896 * 151936;
  float *b = malloc(sizeof(float) * blen);
  fill(a, 16 * 4864, 3), fill(b, (size_t)896 * 151936, 4);
  const double mem = read_rate(b, (size_t)896 * 151936, 4), l3 = read_rate(b, (size_t)4864 * 896, 40);
  printf("plain read, %d thread(s): the head's 545 MB %.1f GB/s (memory), down's 17.4 MB %.1f GB/s (L3)\n", threads, mem, l3);
  printf("%-18s %3s %2s %9s %9s %6s   (GB/s of weights, best of reps, %d thread(s))\n", "shape", "M", "tB",
         "openblas", "skinny", "ratio", threads);
  for (int tb = 0; tb < 2; tb++)
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
      for (int M = 1; M <= 16; M = M == 1 ? 8 : M * 2) {
        if (only_m && M != only_m) continue;
        const int K = shapes[s].K, N = shapes[s].N;
        const double ob = best(0, M, N, K, a, b, blen, o, tb), sk = best(1, M, N, K, a, b, blen, o, tb);
        printf("%-18s %3d %2d %9.1f %9.1f %5.2fx\n", shapes[s].name, M, tb, ob, sk, sk / ob);
      }
  int bad = 0, cases = 0;
  const int Ns[] = {1, 3, 15, 16, 17, 47, 48, 49, 97, 130}, Ks[] = {1, 7, 16, 17, 129, 300};
  for (int tb = 0; tb < 2; tb++)
    for (int M = 1; M <= 16; M++)
      for (size_t i = 0; i < sizeof Ns / sizeof *Ns; i++)
        for (size_t j = 0; j < sizeof Ks / sizeof *Ks; j++) bad += check(M, Ns[i], Ks[j], tb), cases++;
  printf("exactness: %d products (M 1..16, ragged N and K, both layouts), %d elements off\n", cases, bad);
  free(a), free(b), free(o);
  return bad != 0;
}
