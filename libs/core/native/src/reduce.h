/*
 * Row reductions shared by the row and fused kernels. A float64 sum kept in one
 * accumulator waits ~4 cycles on each addition (its latency), which made the sums of
 * softmax, log-sum-exp and RMS norm slower than the exps they sum; eight independent
 * accumulators let the additions overlap and vectorise. The order of the additions
 * changes, not their float64 precision.
 */
#ifndef RXRL_REDUCE_H
#define RXRL_REDUCE_H
#include <math.h>
#include <stdint.h>

#define RXRL_LANES 8

static inline double rxrl_lanes_total(const double *a) {
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* Σ x[j], in float64 */
static inline double rxrl_sum_f64(const float *x, int64_t n) {
  double a[RXRL_LANES] = {0};
  int64_t j = 0;
  for (; j + RXRL_LANES <= n; j += RXRL_LANES)
    for (int k = 0; k < RXRL_LANES; k++) a[k] += (double)x[j + k];
  double s = rxrl_lanes_total(a);
  for (; j < n; j++) s += (double)x[j];
  return s;
}

/* Σ (x[j]·y[j] rounded to float32), in float64 (x = y gives Σ x²) */
static inline double rxrl_dot_f64(const float *x, const float *y, int64_t n) {
  double a[RXRL_LANES] = {0};
  int64_t j = 0;
  for (; j + RXRL_LANES <= n; j += RXRL_LANES)
    for (int k = 0; k < RXRL_LANES; k++) a[k] += (double)(x[j + k] * y[j + k]);
  double s = rxrl_lanes_total(a);
  for (; j < n; j++) s += (double)(x[j] * y[j]);
  return s;
}

/* max x[j], skipping NaN as a comparison does; −inf for n = 0 */
static inline float rxrl_max_f32(const float *x, int64_t n) {
  float a[RXRL_LANES];
  for (int k = 0; k < RXRL_LANES; k++) a[k] = -INFINITY;
  int64_t j = 0;
  for (; j + RXRL_LANES <= n; j += RXRL_LANES)
    for (int k = 0; k < RXRL_LANES; k++) a[k] = x[j + k] > a[k] ? x[j + k] : a[k];
  float m = -INFINITY;
  for (int k = 0; k < RXRL_LANES; k++) m = a[k] > m ? a[k] : m;
  for (; j < n; j++) m = x[j] > m ? x[j] : m;
  return m;
}
#endif
