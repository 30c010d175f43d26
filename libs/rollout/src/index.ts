export { generate, type GeneratedSample, type FinishReason, type GenerateExtras } from './generate';
export { generateOptionsSchema, type GenerateOptions, type GenerateOptionsInput } from './generateOptions';
export { generateStage, type GenerateStageContext } from './generateStage';
export { rolloutStages, type RolloutStageEntry, type RolloutStageName } from './registry';
export { tokenMultProbError } from './tokenMultProbError';
export { sampleToken, policyLogprob, argmax, type SampledToken } from './sampling/sampleToken';
export { filterTokens, type TokenSupport } from './sampling/filterTokens';
export { checkSamplingParams, type SamplingParams } from './sampling/samplingParams';
export { findStopString, type StopMatch } from './stopStrings';
