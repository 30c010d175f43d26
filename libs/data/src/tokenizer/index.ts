export { HfTokenizer } from './hfTokenizer';
export {
  BuiltinTokenizer,
  BUILTIN_ALPHABET,
  BUILTIN_CHAT_TEMPLATE,
  BUILTIN_SPECIAL_TOKENS,
  type HfTokenizerFiles,
} from './builtinTokenizer';
export { ChatTemplate, templateFromConfig, type TemplateTokens } from './chatTemplate';
