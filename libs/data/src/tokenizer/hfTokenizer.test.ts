import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RxrlDataError } from '@rxrl/core/base';
import { BuiltinTokenizer } from './builtinTokenizer';
import { HfTokenizer } from './hfTokenizer';
import { qwen3TokenizerDir } from './qwen3Fixture';

// Expected ids come from tools/reference/qwen_bpe.py, an independent Python
// byte-level BPE over the same tokenizer.json.
const fixture = JSON.parse(
  readFileSync(
    new URL('../../test/fixtures/tokenizer/qwen3_expected.json', import.meta.url),
    'utf8',
  ),
) as {
  cases: { text: string; ids: number[] }[];
  random_cases: { text: string; ids: number[] }[];
  chat: {
    messages: { role: string; content: string }[];
    rendered: string;
    ids: number[];
    prompt_rendered: string;
    prompt_ids: number[];
  };
};

describe('HfTokenizer on the real Qwen3 tokenizer', () => {
  let tok: HfTokenizer;
  beforeAll(async () => {
    tok = await HfTokenizer.fromDirectory(qwen3TokenizerDir());
  });

  it('reads special tokens from tokenizer_config.json', () => {
    expect(tok.bosTokenId).toBeNull();
    expect(tok.eosTokenId).toBe(151645); // <|im_end|>
    expect(tok.padTokenId).toBe(151643); // <|endoftext|>
    expect(tok.vocabSize).toBe(151669); // 151643 BPE entries + 26 added tokens
  });

  for (const c of fixture.cases) {
    it(`encodes ${JSON.stringify(c.text).slice(0, 40)} as the reference does`, () => {
      expect(tok.encode(c.text)).toEqual(c.ids);
      // add_bos_token is false and there is no EOS post-processing for Qwen3.
      expect(tok.encode(c.text, { addSpecialTokens: false })).toEqual(c.ids);
    });
  }

  it('encodes 200 seeded random strings (spaces/newline runs, contractions, CJK, emoji) as the reference does', () => {
    const mismatches = fixture.random_cases.filter(
      (c) => JSON.stringify(tok.encode(c.text)) !== JSON.stringify(c.ids),
    );
    expect(mismatches.map((c) => c.text)).toEqual([]);
    expect(fixture.random_cases).toHaveLength(200);
    const badDecodes = fixture.random_cases.filter(
      (c) => tok.decode(c.ids) !== c.text.normalize('NFC'),
    );
    expect(badDecodes.map((c) => c.text)).toEqual([]);
  });

  it('decodes back to the NFC-normalised text', () => {
    for (const c of fixture.cases) {
      expect(tok.decode(c.ids)).toBe(c.text.normalize('NFC'));
    }
    expect(tok.decode([])).toBe('');
  });

  it('skips special tokens when decoding on request', () => {
    expect(tok.decode(fixture.chat.prompt_ids, { skipSpecialTokens: true })).toBe(
      'system\nYou are a calculator.\nuser\nWhat is 12+7?\nassistant\n',
    );
  });

  it('renders the chat template and encodes <|im_start|> / <|im_end|> as single ids', () => {
    const rendered = tok.applyChatTemplate(fixture.chat.messages);
    expect(rendered).toBe(fixture.chat.rendered);
    const ids = tok.encode(rendered, { addSpecialTokens: false });
    expect(ids).toEqual(fixture.chat.ids);
    expect(ids[0]).toBe(151644);
    expect(ids.filter((i) => i === 151644)).toHaveLength(3);
    expect(ids.filter((i) => i === 151645)).toHaveLength(3);
  });

  it('adds the generation prompt', () => {
    const prompt = tok.applyChatTemplate(fixture.chat.messages.slice(0, 2), {
      addGenerationPrompt: true,
    });
    expect(prompt).toBe(fixture.chat.prompt_rendered);
    expect(tok.encode(prompt)).toEqual(fixture.chat.prompt_ids);
  });

  it('passes template variables (Qwen3 enable_thinking=false)', () => {
    const prompt = tok.applyChatTemplate(fixture.chat.messages.slice(0, 2), {
      addGenerationPrompt: true,
      templateVariables: { enable_thinking: false },
    });
    expect(prompt).toBe(fixture.chat.prompt_rendered + '<think>\n\n</think>\n\n');
  });
});

describe('HfTokenizer config handling', () => {
  // A tiny character-level BPE with BOS/EOS, written inline so the expected ids are obvious.
  const tokenizerJson = {
    model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: [['a', 'b']], unk_token: null },
    added_tokens: [
      { id: 3, content: '<s>', special: true },
      { id: 4, content: '</s>', special: true },
    ],
    decoder: { type: 'Fuse' },
  };

  it('adds BOS/EOS as add_bos_token / add_eos_token say', () => {
    const t = HfTokenizer.fromJson(tokenizerJson, {
      bos_token: '<s>',
      eos_token: '</s>',
      add_bos_token: true,
      add_eos_token: true,
    });
    expect(t.encode('abab')).toEqual([3, 2, 2, 4]);
    expect(t.encode('abab', { addSpecialTokens: false })).toEqual([2, 2]);
    const noBos = HfTokenizer.fromJson(tokenizerJson, {
      bos_token: { content: '<s>' },
      add_bos_token: false,
    });
    expect(noBos.bosTokenId).toBe(3);
    expect(noBos.encode('aab')).toEqual([0, 2]);
    expect(noBos.decode([3, 0, 2, 4], { skipSpecialTokens: true })).toBe('aab');
  });

  it('names the field of a bad config', () => {
    expect(() => HfTokenizer.fromJson(tokenizerJson, { eos_token: '<nope>' })).toThrow(
      /eos_token "<nope>" is not in the vocabulary/,
    );
    try {
      HfTokenizer.fromJson(tokenizerJson, { add_bos_token: true });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RxrlDataError);
      expect((err as RxrlDataError).location.field).toBe('bos_token');
    }
    expect(() => HfTokenizer.fromJson(tokenizerJson, {}).applyChatTemplate([])).toThrow(
      /no chat template/,
    );
  });

  it('takes chat_template.jinja / the chatTemplate argument over the config template', async () => {
    const override =
      '{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}';
    const t = HfTokenizer.fromJson(
      tokenizerJson,
      { eos_token: '</s>', chat_template: 'config' },
      override,
    );
    expect(t.applyChatTemplate([{ role: 'user', content: 'ab' }])).toBe('[user]ab</s>');
    const dir = await mkdtemp(join(tmpdir(), 'rxrl-jinja-'));
    try {
      await new BuiltinTokenizer().writeHfFiles(dir);
      await writeFile(join(dir, 'chat_template.jinja'), override);
      const fromDir = await HfTokenizer.fromDirectory(dir);
      expect(fromDir.chatTemplate).toBe(override);
      expect(fromDir.applyChatTemplate([{ role: 'user', content: '1' }])).toBe('[user]1<eos>');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing tokenizer.json by path', async () => {
    await expect(HfTokenizer.fromDirectory('/nonexistent-dir')).rejects.toThrow(
      /no tokenizer.json in \/nonexistent-dir/,
    );
  });
});
