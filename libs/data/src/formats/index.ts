export type { Row, TextOrMessages } from './fields';
export { parseMessages } from './fields';
export { SftFormatOptions, parseSftRow, type SftExample } from './sftFormat';
export {
  PreferenceFormatOptions,
  parsePreferenceRow,
  type PreferenceExample,
} from './preferenceFormat';
export { GrpoFormatOptions, parseGrpoRow, type GrpoExample } from './grpoFormat';
export {
  Truncation,
  emptyStats,
  addStats,
  tokenizeStatsMetrics,
  throwingGuard,
  type TokenizeStats,
  type RowGuard,
} from './truncation';
export { tokenizeConversation, type ConversationTokens } from './conversation';
export {
  SftTokenizeOptions,
  tokenizeSftExample,
  tokenizeSftRows,
  type SftTokens,
  type SftBatchArrays,
} from './tokenizeSft';
export {
  PreferenceTokenizeOptions,
  tokenizePreferenceExample,
  tokenizePreferenceRows,
  type PreferenceTokens,
  type PreferenceBatchArrays,
} from './tokenizePreference';
export {
  GrpoTokenizeOptions,
  tokenizeGrpoPrompt,
  tokenizeGrpoRows,
  type GrpoBatchArrays,
} from './tokenizeGrpo';
export {
  tokenizeSft,
  tokenizePreference,
  tokenizeGrpo,
  type TokenizeStageHooks,
} from './tokenizeStages';
