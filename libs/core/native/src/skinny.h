/* Few-row products without OpenBLAS's packing of the weight matrix (skinny.c). */
#ifndef RXRL_SKINNY_H
#define RXRL_SKINNY_H
#include <stdbool.h>
#include <stdint.h>

/* Largest M the skinny path takes: beyond it OpenBLAS's packed kernels win. */
#define SKINNY_MAX_ROWS 16
/* Weights (K·N) below which one product is not worth a second thread. */
#define SKINNY_SMALL (1 << 16)

bool rxrl_skinny_supported(void);
/* out[M,N] = a[M,K] · op(b), a row-major and not transposed, op(b) = b [K,N] or bᵀ of b [N,K]. */
void rxrl_skinny_gemm(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *out,
                      bool tb, int threads);
#endif
