/* Argument readers shared by the addon's entry points; each throws a JS TypeError and returns false on bad input. */
#ifndef RXRL_ARGS_H
#define RXRL_ARGS_H
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Elementwise kernels split over threads only above this many elements (16 MB
 * of float32): below it they are memory-bound and take well under a
 * millisecond, and on a loaded machine a second OpenMP thread that is not
 * scheduled makes the whole region wait for it (measured: 5 ms CPU instead of
 * 0.3 ms for a 262k-element broadcast multiply at load average 12).
 */
#define PARALLEL_MIN (1 << 22)

bool rxrl_get_dim(napi_env env, napi_value v, const char *name, int64_t *out);
bool rxrl_get_f32(napi_env env, napi_value v, const char *name, float **data, size_t *len);
bool rxrl_get_i32(napi_env env, napi_value v, const char *name, int32_t **data, size_t *len);

napi_value rxrl_softmax_rows(napi_env env, napi_callback_info info);
napi_value rxrl_log_sum_exp_rows(napi_env env, napi_callback_info info);
napi_value rxrl_binary_strided(napi_env env, napi_callback_info info);
napi_value rxrl_copy_strided(napi_env env, napi_callback_info info);
napi_value rxrl_unary(napi_env env, napi_callback_info info);
napi_value rxrl_reduce_rows(napi_env env, napi_callback_info info);
napi_value rxrl_adam_update(napi_env env, napi_callback_info info);
napi_value rxrl_sum_squares(napi_env env, napi_callback_info info);
napi_value rxrl_topk_rows(napi_env env, napi_callback_info info);
napi_value rxrl_logits_grad_rows(napi_env env, napi_callback_info info);
napi_value rxrl_attention_softmax(napi_env env, napi_callback_info info);
napi_value rxrl_softmax_grad_rows(napi_env env, napi_callback_info info);
napi_value rxrl_swiglu_forward(napi_env env, napi_callback_info info);
napi_value rxrl_swiglu_backward(napi_env env, napi_callback_info info);
napi_value rxrl_rms_norm_forward(napi_env env, napi_callback_info info);
napi_value rxrl_rms_norm_backward(napi_env env, napi_callback_info info);
napi_value rxrl_lm_head_forward(napi_env env, napi_callback_info info);
napi_value rxrl_lm_head_backward(napi_env env, napi_callback_info info);
napi_value rxrl_lm_head_stats(napi_env env, napi_callback_info info);
napi_value rxrl_sample_rows(napi_env env, napi_callback_info info);

/* max and log Σ exp of one row (rowops.c); -inf rows give -inf, NaN propagates */
void rxrl_row_lse(const float *x, int64_t cols, float *max_out, float *lse_out);
/* out = (one-hot(target) − exp(z − lse))·scale over one row (rowops.c); z may be out */
void rxrl_logits_grad_row(const float *z, float *out, int64_t cols, float lse, int64_t target,
                          float scale);
#endif
