export * from './base/index';
export {
  BACKEND_NAMES,
  type BackendName,
  type BackendChoice,
  selectBackend,
  requestedBackend,
  describeBackend,
  currentBackend,
  TENSORFLOW_INSTALL_HINT,
} from './backend/selectBackend';
export { TEST_BACKENDS, useBackend } from './testing';
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
