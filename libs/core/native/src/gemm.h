/* The addon's one product routine (sgemm.c), for kernels that multiply inside C. */
#ifndef RXRL_GEMM_H
#define RXRL_GEMM_H
#include <stdbool.h>
#include <stdint.h>

/* out[M,N] = op(a)·op(b), or out += op(a)·op(b) with accumulate; row-major, op = transpose
   when ta / tb. Routes few-row and vector products as the sgemm entry point does. */
void rxrl_gemm(int64_t M, int64_t N, int64_t K, const float *a, const float *b, float *out, bool ta,
               bool tb, bool accumulate);
#endif
