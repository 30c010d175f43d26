export { customOp, type OpGradFunc } from './customOp';
export { residualAdd } from './residualAdd';
export { linear, linearTransposed } from './linear';
export { embedding } from './embedding';
export { logSoftmax, logSumExpLastAxis } from './logSoftmax';
export { tokenLogProbs, tokenEntropy } from './tokenLogProbs';
export { rmsNorm } from './rmsNorm';
export { layerNorm } from './layerNorm';
export { silu, swiglu, geluTanh } from './activations';
export {
  type RopeConfig,
  type Llama3RopeScaling,
  ropeInvFreq,
  ropeCosSin,
  positionsFromMask,
  applyRope,
} from './rope';
export { type AttentionOptions, attention } from './attention';
export {
  type LmHeadLogProbsOptions,
  LOGITS_CHUNK_TARGET_BYTES,
  lmHeadTokenLogProbs,
  logitsChunkRows,
} from './lmHeadLogProbs';
export { lmHeadTokenEntropies } from './lmHeadEntropies';
export { sampleRowsNative } from './sampleRows';
