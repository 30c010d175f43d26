import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RxrlDataError, type ChatMessage, type Tokenizer } from '@rxrl/core/base';
import { BuiltinTokenizer } from '../tokenizer/builtinTokenizer';
import { HfTokenizer } from '../tokenizer/hfTokenizer';
import { qwen3TokenizerDir } from '../tokenizer/qwen3Fixture';
import { tokenizeSftExample, tokenizeSftRows } from './tokenizeSft';
import { tokenizePreferenceRows } from './tokenizePreference';
import { tokenizeGrpoRows } from './tokenizeGrpo';
import { tokenizeStatsMetrics } from './truncation';

// Built-in ids, derived by hand: <pad>0 <bos>1 <eos>2 <unk>3 <|system|>4 <|user|>5
// <|assistant|>6, '\n' 7, then printable ASCII from ' ' = 8.
const BOS = 1;
const EOS = 2;
const USER = 5;
const ASSISTANT = 6;
const c = (s: string) => Array.from(s, (ch) => (ch === '\n' ? 7 : 8 + ch.charCodeAt(0) - 0x20));
const rows = (o: { values: ArrayLike<number>; offsets: Int32Array }) =>
  Array.from({ length: o.offsets.length - 1 }, (_, i) =>
    Array.from(o.values).slice(o.offsets[i], o.offsets[i + 1]),
  );

const tok = new BuiltinTokenizer();
const conv: ChatMessage[] = [
  { role: 'user', content: '1+1=' },
  { role: 'assistant', content: '2' },
  { role: 'user', content: '2+2=' },
  { role: 'assistant', content: '4' },
];
const convTokens = [
  BOS,
  USER,
  ...c('1+1='),
  ASSISTANT,
  ...c('2'),
  EOS,
  USER,
  ...c('2+2='),
  ASSISTANT,
  ...c('4'),
  EOS,
];

describe('SFT tokenisation (built-in tokenizer)', () => {
  it('text: BOS + text + EOS, every token trains', () => {
    const r = tokenizeSftExample(tok, { kind: 'text', text: '7*6=42' });
    expect(r.tokens).toEqual([BOS, ...c('7*6=42'), EOS]);
    expect(r.mask).toEqual(Array(8).fill(1));
    expect(tokenizeSftExample(tok, { kind: 'text', text: 'a' }, { add_eos: false }).tokens).toEqual(
      [BOS, ...c('a')],
    );
  });

  it('prompt+completion strings: completion-only mask, prompt and completion tokenised apart', () => {
    const r = tokenizeSftExample(tok, {
      kind: 'prompt_completion',
      prompt: '12+7=',
      completion: '19',
    });
    expect(r.tokens).toEqual([BOS, ...c('12+7='), ...c('19'), EOS]);
    expect(r.mask).toEqual([0, 0, 0, 0, 0, 0, 1, 1, 1]);
    expect(
      tokenizeSftExample(
        tok,
        { kind: 'prompt_completion', prompt: '1=', completion: '1' },
        { loss_mask: 'all' },
      ).mask,
    ).toEqual([1, 1, 1, 1, 1]);
  });

  it('messages: assistant-only trains every assistant turn with its EOS, not the role headers', () => {
    const r = tokenizeSftExample(tok, { kind: 'messages', messages: conv });
    expect(r.tokens).toEqual(convTokens);
    // [bos user 1 + 1 = asst] [2 eos] [user 2 + 2 = asst] [4 eos]
    expect(r.mask).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]);
  });

  it('messages: final-assistant-only, completion-only and all', () => {
    const fin = [...Array(15).fill(0), 1, 1];
    expect(
      tokenizeSftExample(
        tok,
        { kind: 'messages', messages: conv },
        { loss_mask: 'final_assistant_only' },
      ).mask,
    ).toEqual(fin);
    expect(
      tokenizeSftExample(
        tok,
        { kind: 'messages', messages: conv },
        { loss_mask: 'completion_only' },
      ).mask,
    ).toEqual(fin);
    expect(
      tokenizeSftExample(tok, { kind: 'messages', messages: conv }, { loss_mask: 'all' }).mask,
    ).toEqual(Array(17).fill(1));
    expect(() =>
      tokenizeSftExample(
        tok,
        { kind: 'messages', messages: conv.slice(0, 3) },
        { loss_mask: 'final_assistant_only' },
      ),
    ).toThrow(/last message to be the assistant's, got role "user"/);
  });

  it('conversational prompt+completion masks the completion messages', () => {
    const r = tokenizeSftExample(tok, {
      kind: 'prompt_completion',
      prompt: [conv[0]!],
      completion: '2',
    });
    expect(r.tokens).toEqual([BOS, USER, ...c('1+1='), ASSISTANT, ...c('2'), EOS]);
    expect(r.mask).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1]);
  });

  it('handles templates with {% generation %} markers (which the renderer drops)', () => {
    const { tokenizerJson, tokenizerConfigJson } = tok.toHfFiles();
    const template =
      "{{ bos_token }}{% for m in messages %}{{ '<|' + m.role + '|>' }}{% if m.role == 'assistant' %}" +
      '{% generation %}{{ m.content + eos_token }}{% endgeneration %}{% else %}{{ m.content }}{% endif %}{% endfor %}' +
      "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}";
    const hf = HfTokenizer.fromJson(tokenizerJson, tokenizerConfigJson, template);
    const r = tokenizeSftExample(hf, { kind: 'messages', messages: conv });
    expect(r.tokens).toEqual(convTokens);
    expect(r.mask).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]);
  });

  it('refuses a conversation whose per-message tokens differ from the whole rendering', () => {
    // A tokenizer that merges "ab" into one id: "a" | "b" tokenised apart is [a, b], together [ab].
    const merging: Tokenizer = {
      vocabSize: 3,
      bosTokenId: null,
      eosTokenId: null,
      padTokenId: null,
      encode: (text) =>
        text
          .replaceAll('ab', 'X')
          .split('')
          .map((ch) => (ch === 'X' ? 2 : ch === 'a' ? 0 : 1)),
      decode: () => '',
      applyChatTemplate: (messages) => messages.map((m) => m.content).join(''),
    };
    const run = () =>
      tokenizeSftRows(
        merging,
        [
          {
            messages: [
              { role: 'user', content: 'a' },
              { role: 'assistant', content: 'b' },
            ],
          },
        ],
        {},
        30,
      );
    expect(run).toThrow(RxrlDataError);
    expect(run).toThrow(
      /row 30: tokenising messages message by message differs from tokenising the whole rendering at token 0/,
    );
  });
});

describe('SFT truncation and stats', () => {
  // Lengths with BOS+EOS: '1' -> 3, '12345' -> 7, '123456789' -> 11.
  const data = [{ text: '1' }, { text: '12345' }, { text: '123456789' }];

  it('drop removes over-length rows and counts them', () => {
    const out = tokenizeSftRows(tok, data, { max_length: 7, truncation: 'drop' });
    expect(rows(out.input_tokens)).toEqual([
      [BOS, ...c('1'), EOS],
      [BOS, ...c('12345'), EOS],
    ]);
    expect(Array.from(out.row_index)).toEqual([0, 1]);
    expect(out.stats).toEqual({
      rows: 3,
      emitted: 2,
      invalid: 0,
      dropped: 1,
      truncated: 0,
      masked: 0,
      no_loss_tokens: 0,
      tokens: 10,
      longest: 11,
    });
    const metrics = tokenizeStatsMetrics(out.stats, 5, 'validation');
    expect(metrics).toContainEqual({ step: 5, name: 'validation/data/dropped_too_long', value: 1 });
    expect(metrics).toContainEqual({ step: 5, name: 'validation/data/tokens', value: 10 });
    expect(metrics).toHaveLength(9);
  });

  it('truncate_right keeps the start, truncate_left the end (tokens and mask together)', () => {
    const right = tokenizeSftRows(tok, data, { max_length: 7, truncation: 'truncate_right' });
    expect(rows(right.input_tokens)[2]).toEqual([BOS, ...c('123456')]);
    expect(right.stats.truncated).toBe(1);
    const left = tokenizeSftRows(tok, data, { max_length: 7, truncation: 'truncate_left' });
    expect(rows(left.input_tokens)[2]).toEqual([...c('456789'), EOS]);
    expect(rows(left.loss_mask)[2]).toEqual(Array(7).fill(1));
    // A completion cut away entirely leaves no trained token: counted.
    const pc = tokenizeSftRows(tok, [{ prompt: '1+2+3=', completion: '6' }], {
      max_length: 4,
      truncation: 'truncate_right',
    });
    expect(rows(pc.loss_mask)).toEqual([[0, 0, 0, 0]]);
    expect(pc.stats.no_loss_tokens).toBe(1);
  });

  it('keep leaves the row whole with sample_mask 0', () => {
    const out = tokenizeSftRows(tok, data, { max_length: 7, truncation: 'keep' });
    expect(rows(out.input_tokens)[2]).toHaveLength(11);
    expect(Array.from(out.sample_mask)).toEqual([1, 1, 0]);
    expect(out.stats.masked).toBe(1);
    expect(out.input_tokens.offsets).toEqual(Int32Array.from([0, 3, 10, 21]));
    expect(out.loss_mask.values).toBeInstanceOf(Uint8Array);
  });
});

describe('preference tokenisation', () => {
  it('strings: BOS + prompt, each completion + EOS', () => {
    const out = tokenizePreferenceRows(tok, [{ prompt: '2*3=', chosen: '6', rejected: '5' }]);
    expect(rows(out.prompt_tokens)).toEqual([[BOS, ...c('2*3=')]]);
    expect(rows(out.chosen_tokens)).toEqual([[...c('6'), EOS]]);
    expect(rows(out.rejected_tokens)).toEqual([[...c('5'), EOS]]);
  });

  it('messages (NeMo RL ranks): the prompt ends with the generation prompt', () => {
    const out = tokenizePreferenceRows(tok, [
      {
        context: [{ role: 'user', content: '2*3=' }],
        completions: [
          { rank: 2, completion: [{ role: 'assistant', content: '5' }] },
          { rank: 1, completion: [{ role: 'assistant', content: '6' }] },
        ],
      },
    ]);
    expect(rows(out.prompt_tokens)).toEqual([[BOS, USER, ...c('2*3='), ASSISTANT]]);
    expect(rows(out.chosen_tokens)).toEqual([[...c('6'), EOS]]);
    expect(rows(out.rejected_tokens)).toEqual([[...c('5'), EOS]]);
  });

  it('truncation: left cuts the prompt start, right cuts the completions, impossible cuts drop', () => {
    // prompt 1+4 = 5 tokens, chosen 3, rejected 2: longest 8.
    const data = [{ prompt: '1+2=', chosen: '3x', rejected: '4' }];
    const left = tokenizePreferenceRows(tok, data, { max_length: 6, truncation: 'truncate_left' });
    expect(rows(left.prompt_tokens)).toEqual([c('+2=')]);
    expect(rows(left.chosen_tokens)).toEqual([[...c('3x'), EOS]]);
    const right = tokenizePreferenceRows(tok, data, {
      max_length: 6,
      truncation: 'truncate_right',
    });
    expect(rows(right.chosen_tokens)).toEqual([c('3')]);
    expect(rows(right.rejected_tokens)).toEqual([[...c('4')]]);
    expect(right.stats).toMatchObject({ truncated: 1, dropped: 0, tokens: 5 + 1 + 1 });
    expect(
      tokenizePreferenceRows(tok, data, { max_length: 5, truncation: 'truncate_right' }).stats,
    ).toMatchObject({ dropped: 1, emitted: 0 });
    expect(
      tokenizePreferenceRows(tok, data, { max_length: 3, truncation: 'truncate_left' }).stats
        .dropped,
    ).toBe(1);
    expect(
      tokenizePreferenceRows(tok, data, { max_length: 6, truncation: 'drop' }).stats.dropped,
    ).toBe(1);
    const keep = tokenizePreferenceRows(tok, data, { max_length: 6, truncation: 'keep' });
    expect(Array.from(keep.sample_mask)).toEqual([0]);
    expect(keep.stats.masked).toBe(1);
  });
});

describe('GRPO tokenisation', () => {
  it('string prompts raw with BOS, message prompts through the template; answer and extra columns carried', () => {
    const out = tokenizeGrpoRows(tok, [
      { prompt: '3+4=', answer: 7, difficulty: 1 },
      { messages: [{ role: 'user', content: '3+4=' }], answer: '7', source: 'x' },
    ]);
    expect(rows(out.prompt_tokens)).toEqual([
      [BOS, ...c('3+4=')],
      [BOS, USER, ...c('3+4='), ASSISTANT],
    ]);
    expect(out.prompt_text).toEqual(['3+4=', '<bos><|user|>3+4=<|assistant|>']);
    expect(out.answer).toEqual(['7', '7']);
    expect(out.extra).toEqual([{ difficulty: 1 }, { source: 'x' }]);
  });

  it('truncate_left keeps the prompt end and re-derives the text; drop counts', () => {
    const data = [{ prompt: '100+200=', answer: '300' }];
    const left = tokenizeGrpoRows(tok, data, { max_length: 4, truncation: 'truncate_left' });
    expect(rows(left.prompt_tokens)).toEqual([c('200=')]);
    expect(left.prompt_text).toEqual(['200=']);
    const drop = tokenizeGrpoRows(tok, data, { max_length: 4 });
    expect(drop.stats).toMatchObject({ rows: 1, emitted: 0, dropped: 1, longest: 9 });
    expect(drop.answer).toEqual([]);
  });
});

describe('masks on the real Qwen3 template', () => {
  let qwen: HfTokenizer;
  const fixture = JSON.parse(
    readFileSync(
      new URL('../../test/fixtures/tokenizer/qwen3_expected.json', import.meta.url),
      'utf8',
    ),
  ) as { chat: { messages: ChatMessage[]; ids: number[] } };
  beforeAll(async () => {
    qwen = await HfTokenizer.fromDirectory(qwen3TokenizerDir());
  });

  it('assistant-only: same tokens as the reference, mask from after "<|im_start|>assistant\\n"', () => {
    const r = tokenizeSftExample(qwen, { kind: 'messages', messages: fixture.chat.messages });
    expect(r.tokens).toEqual(fixture.chat.ids);
    const start = fixture.chat.ids.lastIndexOf(77091) + 2; // 'assistant', '\n'
    expect(r.mask).toEqual(fixture.chat.ids.map((_, i) => (i >= start ? 1 : 0)));
    expect(qwen.decode(r.tokens.slice(start))).toBe('<think>\n\n</think>\n\n19<|im_end|>\n');
  });

  it('multi-turn: assistant-only is refused (Qwen3 re-renders earlier turns), final-assistant-only works', () => {
    const msgs = [
      { role: 'user', content: '1+1?' },
      { role: 'assistant', content: '2' },
      { role: 'user', content: '2+2?' },
      { role: 'assistant', content: '4' },
    ];
    expect(() => tokenizeSftExample(qwen, { kind: 'messages', messages: msgs }, {}, 5)).toThrow(
      /row 5: the chat template is not prefix-stable at messages\[2\]/,
    );
    const r = tokenizeSftExample(
      qwen,
      { kind: 'messages', messages: msgs },
      { loss_mask: 'final_assistant_only' },
    );
    const trained = r.tokens.filter((_, i) => r.mask[i] === 1);
    expect(qwen.decode(trained)).toBe('<think>\n\n</think>\n\n4<|im_end|>\n');
    expect(qwen.decode(r.tokens)).toBe(qwen.applyChatTemplate(msgs));
  });
});
