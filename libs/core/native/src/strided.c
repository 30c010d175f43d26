/*
 * Strided kernels for the `native` backend: broadcast elementwise arithmetic
 * and strided copies (slice, split, transpose). TensorFlow.js's cpu backend
 * computes a multi-index per element for any broadcast or non-contiguous
 * access, tens of nanoseconds each; here the innermost dimension runs as a
 * plain strided loop and the outer rows are split over cores.
 *
 * Shapes and strides arrive as Int32Arrays of equal length (rank <= 8);
 * a stride of 0 repeats an input along that dimension (broadcasting).
 */
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "args.h"

#define MAX_RANK 8

enum { OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3 };

/* Offset of row `row` (a multi-index over all but the last dimension) for the given strides. */
static int64_t row_offset(int64_t row, int rank, const int32_t *shape, const int32_t *strides) {
  int64_t off = 0;
  for (int d = rank - 2; d >= 0; d--) {
    int64_t i = row % shape[d];
    row /= shape[d];
    off += i * strides[d];
  }
  return off;
}

static bool read_shape(napi_env env, napi_value v, const char *name, int32_t **data, size_t *rank) {
  if (!rxrl_get_i32(env, v, name, data, rank)) return false;
  if (*rank == 0 || *rank > MAX_RANK) {
    napi_throw_range_error(env, NULL, "rxrl_native: strided kernels take rank 1..8");
    return false;
  }
  return true;
}

/* Largest offset a strided view reaches, to check it stays inside its array. */
static int64_t max_offset(size_t rank, const int32_t *shape, const int32_t *strides) {
  int64_t off = 0;
  for (size_t d = 0; d < rank; d++)
    if (shape[d] > 0 && strides[d] > 0) off += (int64_t)(shape[d] - 1) * strides[d];
  return off;
}

/*
 * binary(op, shape, out, a, aOffset, aStrides, b, bOffset, bStrides):
 * out (dense, `shape`) = a op b, reading a and b through their strides.
 */
napi_value rxrl_binary_strided(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 9) {
    napi_throw_type_error(env, NULL,
                          "rxrl_native: binary(op, shape, out, a, aOffset, aStrides, b, bOffset, bStrides)");
    return NULL;
  }
  int64_t op, aoff, boff;
  int32_t *shape, *as, *bs;
  size_t rank, ar, br, olen, alen, blen;
  float *out, *a, *b;
  if (!rxrl_get_dim(env, argv[0], "op", &op) || !read_shape(env, argv[1], "shape", &shape, &rank) ||
      !rxrl_get_f32(env, argv[2], "out", &out, &olen) || !rxrl_get_f32(env, argv[3], "a", &a, &alen) ||
      !rxrl_get_dim(env, argv[4], "aOffset", &aoff) || !rxrl_get_i32(env, argv[5], "aStrides", &as, &ar) ||
      !rxrl_get_f32(env, argv[6], "b", &b, &blen) || !rxrl_get_dim(env, argv[7], "bOffset", &boff) ||
      !rxrl_get_i32(env, argv[8], "bStrides", &bs, &br))
    return NULL;
  int64_t total = 1;
  for (size_t d = 0; d < rank; d++) total *= shape[d];
  if (ar != rank || br != rank || op > OP_DIV || (int64_t)olen < total ||
      (total > 0 && (aoff + max_offset(rank, shape, as) >= (int64_t)alen ||
                     boff + max_offset(rank, shape, bs) >= (int64_t)blen))) {
    napi_throw_range_error(env, NULL, "rxrl_native: binary: bad op, strides or array lengths");
    return NULL;
  }
  if (total == 0) return NULL;
  const int64_t cols = shape[rank - 1];
  const int64_t rows = total / cols;
  const int64_t sa = as[rank - 1], sb = bs[rank - 1];
  const int r = (int)rank;
#pragma omp parallel for schedule(static) if (total > PARALLEL_MIN)
  for (int64_t row = 0; row < rows; row++) {
    const float *ap = a + aoff + row_offset(row, r, shape, as);
    const float *bp = b + boff + row_offset(row, r, shape, bs);
    float *o = out + row * cols;
    switch (op) {
      case OP_ADD:
        for (int64_t j = 0; j < cols; j++) o[j] = ap[j * sa] + bp[j * sb];
        break;
      case OP_SUB:
        for (int64_t j = 0; j < cols; j++) o[j] = ap[j * sa] - bp[j * sb];
        break;
      case OP_MUL:
        for (int64_t j = 0; j < cols; j++) o[j] = ap[j * sa] * bp[j * sb];
        break;
      default:
        for (int64_t j = 0; j < cols; j++) o[j] = ap[j * sa] / bp[j * sb];
        break;
    }
  }
  return NULL;
}

/*
 * copy(shape, src, srcOffset, srcStrides, dst, dstOffset, dstStrides):
 * dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ i·srcStrides] over `shape`.
 * Works on any 4-byte element type (float32 or int32 arrays).
 */
napi_value rxrl_copy_strided(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7) {
    napi_throw_type_error(env, NULL,
                          "rxrl_native: copy(shape, src, srcOffset, srcStrides, dst, dstOffset, dstStrides)");
    return NULL;
  }
  int32_t *shape, *ss, *ds;
  size_t rank, sr, dr, slen, dlen;
  int64_t soff, doff;
  void *src, *dst;
  napi_typedarray_type st, dt;
  bool is_ta = false;
  if (!read_shape(env, argv[0], "shape", &shape, &rank)) return NULL;
  if (napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[1], &st, &slen, &src, NULL, NULL) != napi_ok ||
      napi_is_typedarray(env, argv[4], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[4], &dt, &dlen, &dst, NULL, NULL) != napi_ok || st != dt ||
      (st != napi_float32_array && st != napi_int32_array)) {
    napi_throw_type_error(env, NULL, "rxrl_native: copy: src and dst must be Float32Arrays or Int32Arrays alike");
    return NULL;
  }
  if (!rxrl_get_dim(env, argv[2], "srcOffset", &soff) || !rxrl_get_i32(env, argv[3], "srcStrides", &ss, &sr) ||
      !rxrl_get_dim(env, argv[5], "dstOffset", &doff) || !rxrl_get_i32(env, argv[6], "dstStrides", &ds, &dr))
    return NULL;
  int64_t total = 1;
  for (size_t d = 0; d < rank; d++) total *= shape[d];
  if (sr != rank || dr != rank ||
      (total > 0 && (soff + max_offset(rank, shape, ss) >= (int64_t)slen ||
                     doff + max_offset(rank, shape, ds) >= (int64_t)dlen))) {
    napi_throw_range_error(env, NULL, "rxrl_native: copy: strides or offsets outside the arrays");
    return NULL;
  }
  if (total == 0) return NULL;
  const int64_t cols = shape[rank - 1];
  const int64_t rows = total / cols;
  const int64_t sc = ss[rank - 1], dc = ds[rank - 1];
  const uint32_t *s = (const uint32_t *)src + soff;
  uint32_t *o = (uint32_t *)dst + doff;
  const int r = (int)rank;
#pragma omp parallel for schedule(static) if (total > PARALLEL_MIN)
  for (int64_t row = 0; row < rows; row++) {
    const uint32_t *sp = s + row_offset(row, r, shape, ss);
    uint32_t *dp = o + row_offset(row, r, shape, ds);
    if (sc == 1 && dc == 1)
      memcpy(dp, sp, (size_t)cols * 4);
    else
      for (int64_t j = 0; j < cols; j++) dp[j * dc] = sp[j * sc];
  }
  return NULL;
}
