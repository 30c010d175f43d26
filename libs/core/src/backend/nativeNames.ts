/** Name of the `native` backend (see nativeBackend.ts); kept import-free so the ops layer can test for it without loading the cpu backend. */
export const NATIVE_BACKEND = 'native';

/**
 * Kernel `RxrlLogSumExp`, registered on the native backend only: `log Σ exp(x)`
 * over the last axis, keeping that axis as size 1.
 */
export const LOG_SUM_EXP_KERNEL = 'RxrlLogSumExp';
