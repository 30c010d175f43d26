export { generate, type GeneratedSample, type FinishReason, type GenerateExtras } from './generate';
export {
  generateOptionsSchema,
  type GenerateOptions,
  type GenerateOptionsInput,
} from './generateOptions';
export { generateStage, stepSeed, type GenerateStageContext } from './generateStage';
export {
  rolloutGenerateStage,
  rolloutRemoteStage,
  rolloutStageDefinitions,
  type GeneratorService,
} from './stageDefinitions';
export { tokenMultProbError } from './tokenMultProbError';
export { sampleToken, policyLogprob, argmax, type SampledToken } from './sampling/sampleToken';
export { filterTokens, type TokenSupport } from './sampling/filterTokens';
export { checkSamplingParams, type SamplingParams } from './sampling/samplingParams';
export { findStopString, type StopMatch } from './stopStrings';
export { selectCacheRows } from './selectCacheRows';
export {
  createServer,
  serveOptionsSchema,
  type RxrlServer,
  type ServeExtras,
  type ServeLimits,
  type ServeOptions,
  type ServeOptionsInput,
} from './serve/createServer';
export { LOG_LEVELS, type LogLevel } from './serve/serveOptions';
export type { LogWrite } from './serve/serveLog';
export { TEMPERATURE_FLOOR, type Encoder } from './serve/serveContext';
export { OpenAIError } from './serve/openaiError';
export { remoteStage, completionBody, type RemoteStageContext } from './remote/remoteStage';
export {
  remoteOptionsSchema,
  type RemoteOptions,
  type RemoteOptionsInput,
} from './remote/remoteOptions';
export { postJson, RemoteRequestError, type RetryPolicy } from './remote/postJson';
export { parseCompletion, type RemoteSample } from './remote/parseCompletion';
