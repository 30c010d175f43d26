export * from './base/index';
export {
  BACKEND_NAMES,
  type BackendName,
  type BackendChoice,
  type BackendHint,
  AUTO_NATIVE_MIN_PARAMETERS,
  selectBackend,
  requestedBackend,
  describeBackend,
  currentBackend,
  TENSORFLOW_INSTALL_HINT,
} from './backend/selectBackend';
export { TEST_BACKENDS, useBackend, nativeTestBackendAvailable, type TestBackend } from './testing';
export * from './ops/index';
export {
  enableNativeMatmul,
  enableNativeMatmulFromEnv,
  disableNativeMatmul,
  isNativeMatmulEnabled,
  nativeMatmulAddon,
  nativeMatmulCalls,
  NATIVE_MATMUL_BUILD_HINT,
  type NativeMatmulStatus,
  type NativeMatmulAddon,
} from './backend/nativeMatmul';
export {
  registerNativeBackend,
  nativeBackendCalls,
  type NativeBackendStatus,
} from './backend/nativeBackend';
export { NATIVE_BACKEND, SAMPLE_ROWS_KERNEL } from './backend/nativeNames';
export {
  probeWebgpu,
  probeWebgpuIsolated,
  registerWebgpuBackend,
  adapterLine,
  WEBGPU_INSTALL_HINT,
  type WebgpuAdapter,
  type WebgpuStatus,
} from './backend/webgpuBackend';
export {
  adamUpdateInPlace,
  nativeInPlaceCalls,
  sumSquares,
  type AdamStepConstants,
} from './backend/nativeInPlace';
