import type { ChatMessage, Tokenizer } from '@rxrl/core/base';
import type { TextOrMessages } from './fields';

/**
 * The BOS the tokenizer puts before a plain-text sequence (`[bos]` or `[]`), found
 * by encoding the empty string with special tokens, so it follows the tokenizer's
 * own config (add_bos_token or its post-processor).
 */
export function leadingSpecials(tokenizer: Tokenizer): number[] {
  let lead = leadCache.get(tokenizer);
  if (lead === undefined) {
    const ids = tokenizer.encode('', { addSpecialTokens: true });
    lead =
      tokenizer.bosTokenId !== null && ids[0] === tokenizer.bosTokenId
        ? [tokenizer.bosTokenId]
        : [];
    leadCache.set(tokenizer, lead);
  }
  return lead;
}
const leadCache = new WeakMap<Tokenizer, number[]>();

/** A string as a one-message conversation with `role`; message lists pass through. */
export function asMessages(value: TextOrMessages, role: ChatMessage['role']): ChatMessage[] {
  return typeof value === 'string' ? [{ role, content: value }] : value;
}

/** Cut `ids` to `max` tokens from the right (`keepStart`) or the left. */
export function cut<T extends number[]>(ids: T, max: number, keepStart: boolean): T {
  return (keepStart ? ids.slice(0, max) : ids.slice(ids.length - max)) as T;
}
