import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuiltinTokenizer, BUILTIN_ALPHABET } from './builtinTokenizer';
import { HfTokenizer } from './hfTokenizer';

describe('BuiltinTokenizer', () => {
  const tok = new BuiltinTokenizer();

  it('maps characters to ids after the 7 special tokens', () => {
    expect(tok.vocabSize).toBe(7 + 1 + 95);
    // '\n' = 7, ' ' = 8, then ASCII 0x21.. in order: '0' (0x30) = 8 + 16 = 24.
    expect(tok.encode('0', { addSpecialTokens: false })).toEqual([24]);
    expect(tok.encode('12+7=', { addSpecialTokens: false })).toEqual([25, 26, 19, 31, 37]);
    expect(tok.encode('1\n2')).toEqual([1, 25, 7, 26]);
    expect(tok.encode('é', { addSpecialTokens: false })).toEqual([3]);
  });

  it('encodes special-token strings as single ids and decodes back', () => {
    const ids = tok.encode('<|user|>1+1=<|assistant|>2<eos>', { addSpecialTokens: false });
    expect(ids).toEqual([5, 25, 19, 25, 37, 6, 26, 2]);
    expect(tok.decode(ids)).toBe('<|user|>1+1=<|assistant|>2<eos>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('1+1=2');
  });

  it('renders its chat template with role markers, EOS after assistant turns', () => {
    const text = tok.applyChatTemplate([
      { role: 'user', content: '3*4=' },
      { role: 'assistant', content: '12' },
    ]);
    expect(text).toBe('<bos><|user|>3*4=<|assistant|>12<eos>');
    expect(
      tok.applyChatTemplate([{ role: 'user', content: '3*4=' }], { addGenerationPrompt: true }),
    ).toBe('<bos><|user|>3*4=<|assistant|>');
  });

  describe('Hugging Face files round trip', () => {
    let dir: string;
    let hf: HfTokenizer;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rxrl-builtin-tok-'));
      await tok.writeHfFiles(dir);
      hf = await HfTokenizer.fromDirectory(dir);
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('writes JSON files with the vocabulary and special tokens', async () => {
      const tj = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
      expect(Object.keys(tj.model.vocab)).toHaveLength(tok.vocabSize);
      expect(tj.added_tokens.map((t: { content: string }) => t.content)).toContain('<|assistant|>');
    });

    it('loads back with the same special ids and vocabulary size', () => {
      expect(hf.vocabSize).toBe(tok.vocabSize);
      expect([hf.padTokenId, hf.bosTokenId, hf.eosTokenId]).toEqual([0, 1, 2]);
    });

    const texts = [
      '12+7=19',
      'What is 305 * 12 - 7?\nAnswer: 3653',
      '  spaces  and\ttabs~!@#$%^&()[]{}',
      'unknown: é中😀',
      '',
    ];
    for (const text of texts) {
      it(`encodes ${JSON.stringify(text)} identically`, () => {
        expect(hf.encode(text)).toEqual(tok.encode(text));
        expect(hf.encode(text, { addSpecialTokens: false })).toEqual(
          tok.encode(text, { addSpecialTokens: false }),
        );
      });
    }

    it('encodes every alphabet character identically', () => {
      const all = BUILTIN_ALPHABET.join('');
      expect(hf.encode(all, { addSpecialTokens: false })).toEqual(
        tok.encode(all, { addSpecialTokens: false }),
      );
    });

    it('renders and encodes chat identically', () => {
      const msgs = [
        { role: 'system', content: 'Compute.' },
        { role: 'user', content: '8-3=' },
        { role: 'assistant', content: '5' },
      ];
      const a = tok.applyChatTemplate(msgs);
      expect(hf.applyChatTemplate(msgs)).toBe(a);
      expect(hf.encode(a, { addSpecialTokens: false })).toEqual(
        tok.encode(a, { addSpecialTokens: false }),
      );
      expect(hf.decode(tok.encode(a, { addSpecialTokens: false }))).toBe(a);
    });
  });
});
