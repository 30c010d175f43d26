import type { ChatMessage, Tokenizer } from '@rxrl/core/base';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +';

/**
 * A one-character-per-token tokenizer for tests (rollout may not import
 * `@rxrl/data`): 0 = pad, 1 = bos, 2 = eos, then one id per character of a
 * 64-character alphabet, so every id of a 67-token model decodes to text and
 * stop strings can be placed exactly.
 */
export class CharTokenizer implements Tokenizer {
  readonly vocabSize = 3 + ALPHABET.length;
  readonly bosTokenId = 1;
  readonly eosTokenId = 2;
  readonly padTokenId = 0;

  encode(text: string): number[] {
    return [...text].map((c) => {
      const i = ALPHABET.indexOf(c);
      if (i < 0) throw new Error(`CharTokenizer: no token for '${c}'`);
      return i + 3;
    });
  }

  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    let s = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id >= 3) s += ALPHABET[id - 3] ?? '';
      else if (!options.skipSpecialTokens) s += ['<pad>', '<s>', '</s>'][id];
    }
    return s;
  }

  applyChatTemplate(messages: ChatMessage[]): string {
    return messages.map((m) => m.content).join(' ');
  }
}
