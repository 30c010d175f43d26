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
  linearModules,
  type HfWeightSpec,
  type CreateOptions,
  type TokenLogProbsOptions,
  type PackedLayout,
  type LinearAdapter,
  type LinearModule,
} from './causalLM';
export {
  LoraConfigSchema,
  type LoraConfig,
  type LoraConfigInput,
  ALL_LINEAR,
  LORA_BIAS,
  loraScaling,
  resolveTargetModules,
  moduleKinds,
} from './lora/loraConfig';
export { LoraAdapter, type LoraHostPair } from './lora/loraAdapter';
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  savePeftAdapter,
  readPeftAdapter,
  loadPeftAdapter,
  type PeftAdapter,
  type SavePeftOptions,
} from './lora/peft';
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
  safetensorsParts,
  shardSafetensors,
  shardFileName,
  parseShardedSafetensors,
  readSafetensorsFile,
  readWeights,
  writeWeights,
  SAFETENSORS_FILE,
  SAFETENSORS_INDEX_FILE,
} from './safetensors';
export {
  inspectPretrained,
  loadPretrained,
  readModelConfig,
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
export {
  type RunMemoryConfig,
  type RunMemoryEstimate,
  type MemoryItem,
  type MemoryLimit,
  countParameters,
  loraParameterCount,
  estimateRunMemory,
  memoryLimit,
  checkRunMemory,
  chooseActivationCheckpointing,
  AUTO_CHECKPOINTING_HEADROOM,
  formatBytes,
} from './memoryEstimate';
