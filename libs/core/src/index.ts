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
