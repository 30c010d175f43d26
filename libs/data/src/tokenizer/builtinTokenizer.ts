import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChatMessage, Tokenizer } from '@rxrl/core/base';
import { ChatTemplate } from './chatTemplate';

/** Special tokens of the built-in tokenizer, in id order. */
export const BUILTIN_SPECIAL_TOKENS = [
  '<pad>',
  '<bos>',
  '<eos>',
  '<unk>',
  '<|system|>',
  '<|user|>',
  '<|assistant|>',
] as const;

/** Ordinary tokens: newline, then printable ASCII (space to `~`), one character each. */
export const BUILTIN_ALPHABET: readonly string[] = [
  '\n',
  ...Array.from({ length: 0x7e - 0x20 + 1 }, (_, i) => String.fromCharCode(0x20 + i)),
];

/**
 * The built-in chat template: BOS, then each message as a role marker followed by
 * its content; assistant turns end with EOS, which is what generation stops on.
 */
export const BUILTIN_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{{ '<|' + message.role + '|>' + message.content }}" +
  "{% if message.role == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";

/** The tokenizer.json / tokenizer_config.json pair that describes a tokenizer for Hugging Face loaders. */
export interface HfTokenizerFiles {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfigJson: Record<string, unknown>;
}

/**
 * Character-level tokenizer for the built-in arithmetic tasks: one id per
 * printable ASCII character (plus newline), special tokens for padding, BOS, EOS,
 * unknown characters and chat roles. A tiny vocabulary (~103 ids) keeps the
 * built-in model tiny. BOS is added by `encode` (add_bos_token), EOS is not.
 *
 * `toHfFiles()` describes the same tokenizer as a Hugging Face BPE with no
 * merges, so a model directory written with it loads through `HfTokenizer`
 * (and Python's `tokenizers`) and encodes to the same ids.
 */
export class BuiltinTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly padTokenId = 0;
  readonly bosTokenId = 1;
  readonly eosTokenId = 2;
  readonly unkTokenId = 3;
  private readonly idOf = new Map<string, number>();
  private readonly tokens: string[];
  private readonly specialPattern: RegExp;
  private readonly template: ChatTemplate;

  constructor() {
    this.tokens = [...BUILTIN_SPECIAL_TOKENS, ...BUILTIN_ALPHABET];
    this.tokens.forEach((t, i) => this.idOf.set(t, i));
    this.vocabSize = this.tokens.length;
    const escaped = BUILTIN_SPECIAL_TOKENS.map((t) => t.replace(/[|<>]/g, (c) => `\\${c}`));
    this.specialPattern = new RegExp(escaped.join('|'), 'g');
    this.template = new ChatTemplate(BUILTIN_CHAT_TEMPLATE, {
      bos_token: '<bos>',
      eos_token: '<eos>',
      pad_token: '<pad>',
      unk_token: '<unk>',
    });
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const ids: number[] = (options.addSpecialTokens ?? true) ? [this.bosTokenId] : [];
    let pos = 0;
    // Special-token strings in the text (from the chat template) are single ids.
    for (const m of text.matchAll(this.specialPattern)) {
      this.encodeChars(text.slice(pos, m.index), ids);
      ids.push(this.idOf.get(m[0]) as number);
      pos = m.index + m[0].length;
    }
    this.encodeChars(text.slice(pos), ids);
    return ids;
  }

  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    let out = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (skip && id < BUILTIN_SPECIAL_TOKENS.length) continue;
      out += this.tokens[id] ?? '<unk>';
    }
    return out;
  }

  applyChatTemplate(
    messages: ChatMessage[],
    options: { addGenerationPrompt?: boolean } = {},
  ): string {
    return this.template.render(messages, options.addGenerationPrompt ?? false);
  }

  /** Hugging Face tokenizer.json + tokenizer_config.json describing this tokenizer. */
  toHfFiles(): HfTokenizerFiles {
    const vocab: Record<string, number> = {};
    BUILTIN_ALPHABET.forEach((t) => (vocab[t] = this.idOf.get(t) as number));
    // The special tokens live in the BPE vocab too, as in Hugging Face's own files.
    BUILTIN_SPECIAL_TOKENS.forEach((t, i) => (vocab[t] = i));
    const addedTokens = BUILTIN_SPECIAL_TOKENS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    }));
    const tokenizerJson = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens,
      normalizer: null,
      pre_tokenizer: null,
      post_processor: {
        type: 'TemplateProcessing',
        single: [
          { SpecialToken: { id: '<bos>', type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
        ],
        pair: [
          { SpecialToken: { id: '<bos>', type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '<bos>', type_id: 1 } },
          { Sequence: { id: 'B', type_id: 1 } },
        ],
        special_tokens: { '<bos>': { id: '<bos>', ids: [this.bosTokenId], tokens: ['<bos>'] } },
      },
      decoder: { type: 'Fuse' },
      // A BPE with no merges is a character-level tokenizer every HF loader understands.
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<unk>',
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: [],
      },
    };
    const addedTokensDecoder: Record<string, unknown> = {};
    for (const t of addedTokens) {
      const { id, ...rest } = t;
      addedTokensDecoder[String(id)] = rest;
    }
    const tokenizerConfigJson = {
      tokenizer_class: 'PreTrainedTokenizerFast',
      added_tokens_decoder: addedTokensDecoder,
      bos_token: '<bos>',
      eos_token: '<eos>',
      pad_token: '<pad>',
      unk_token: '<unk>',
      add_bos_token: true,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
      model_max_length: 2048,
      chat_template: BUILTIN_CHAT_TEMPLATE,
    };
    return { tokenizerJson, tokenizerConfigJson };
  }

  /** Write tokenizer.json and tokenizer_config.json into `dir` (created if missing). */
  async writeHfFiles(dir: string): Promise<void> {
    const { tokenizerJson, tokenizerConfigJson } = this.toHfFiles();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson, null, 2) + '\n');
    await writeFile(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify(tokenizerConfigJson, null, 2) + '\n',
    );
  }

  private encodeChars(s: string, out: number[]): void {
    for (const ch of s) out.push(this.idOf.get(ch) ?? this.unkTokenId);
  }
}
