export {
  ARCHITECTURES,
  type Architecture,
  PRESETS,
  type Preset,
  ModelConfigSchema,
  type ModelConfig,
  type Llama3RopeScaling,
  fromHfConfig,
  toHfConfig,
  presetHfConfig,
  presetConfig,
} from './modelConfig';
export {
  CausalLM,
  type CreateOptions,
  type TokenLogProbsOptions,
  type PackedLayout,
} from './causalLM';
export { KVCache, KVCacheOptionsSchema, type KVCacheOptions } from './kvCache';
export { prefill, generateStep } from './decode';
export {
  type HostTensor,
  type SafetensorsFile,
  parseSafetensors,
  serializeSafetensors,
  readSafetensorsFile,
  readWeights,
  writeWeights,
  SAFETENSORS_FILE,
  SAFETENSORS_INDEX_FILE,
} from './safetensors';
export {
  loadPretrained,
  readModelConfig,
  savePretrained,
  type LoadOptions,
  type SaveOptions,
} from './pretrained';
export {
  initModelDirectory,
  InitModelOptionsSchema,
  type InitModelOptions,
  type TokenizerFilesWriter,
} from './initModel';
export {
  type RunMemoryConfig,
  type RunMemoryEstimate,
  type MemoryItem,
  type MemoryLimit,
  countParameters,
  estimateRunMemory,
  memoryLimit,
  checkRunMemory,
  formatBytes,
} from './memoryEstimate';
