/**
 * What every stage needs from a tokenizer. `@rxrl/data` provides the
 * implementations (Hugging Face tokenizer.json and the built-in one); other
 * libraries take a `Tokenizer` as an argument instead of importing data.
 */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | (string & {});
  content: string;
}

export interface Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** Token ids of `text`; `addSpecialTokens` follows the tokenizer config (e.g. a BOS). */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: ArrayLike<number>, options?: { skipSpecialTokens?: boolean }): string;
  /** Render a conversation with the tokenizer's chat template. */
  applyChatTemplate(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}
