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
  checkHfWeights,
  hfWeightLayout,
  type HfWeightSpec,
  type CreateOptions,
  type TokenLogProbsOptions,
  type PackedLayout,
} from './causalLM';
export { KVCache, KVCacheOptionsSchema, type KVCacheOptions } from './kvCache';
export { prefill, generateStep } from './decode';
export {
  type HostTensor,
  type SafetensorsFile,
  type TensorEntry,
  type WeightsCatalog,
  DTYPE_BYTES,
  decodeTensor,
  inspectWeights,
  readSafetensorsHeader,
  readTensorBytes,
  parseSafetensors,
  serializeSafetensors,
  readSafetensorsFile,
  readWeights,
  writeWeights,
  SAFETENSORS_FILE,
  SAFETENSORS_INDEX_FILE,
} from './safetensors';
export {
  inspectPretrained,
  loadPretrained,
  savePretrained,
  type LoadOptions,
  type PretrainedInfo,
  type SaveOptions,
} from './pretrained';
export { ModelDirectoryError } from './errors';
export {
  initModelDirectory,
  InitModelOptionsSchema,
  type InitModelOptions,
  type TokenizerFilesWriter,
} from './initModel';
