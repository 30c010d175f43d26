/* exp over arrays of float32, vectorised (vexp.c). */
#ifndef RXRL_VEXP_H
#define RXRL_VEXP_H
#include <stdint.h>

/* x[i] = expf(x[i]) for i < n: glibc's vector expf (libmvec: within 2 ulp of the correctly
   rounded result where scalar expf is within 1, the same ±inf, NaN, overflow and underflow;
   nativeExp.test.ts) on AVX-512 or AVX2, scalar expf otherwise. */
void rxrl_exp_inplace(float *x, int64_t n);

/* Elements an exp-heavy loop needs before it splits over threads: an exp costs several
   times a load and a store, so the split pays far below args.h's PARALLEL_MIN. */
#define PARALLEL_MIN_EXP (1 << 16)

/* Elements of stack scratch an exp pass works through at a time (fits L1). */
#define EXP_BLOCK 1024
#endif
