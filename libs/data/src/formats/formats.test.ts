import { describe, expect, it } from 'vitest';
import { RxrlDataError } from '@rxrl/core/base';
import { parseSftRow } from './sftFormat';
import { parsePreferenceRow } from './preferenceFormat';
import { parseGrpoRow } from './grpoFormat';

function errorOf(fn: () => unknown): RxrlDataError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RxrlDataError);
    return err as RxrlDataError;
  }
  throw new Error('expected an RxrlDataError');
}

const chat = [
  { role: 'user', content: 'hi' },
  { role: 'assistant', content: 'hello' },
];

describe('SFT formats', () => {
  it('reads text, messages, prompt+completion and NeMo input+output, auto-detected', () => {
    expect(parseSftRow({ text: 'abc' })).toEqual({ kind: 'text', text: 'abc' });
    expect(parseSftRow({ messages: chat })).toEqual({ kind: 'messages', messages: chat });
    expect(parseSftRow({ prompt: 'p', completion: 'c' })).toEqual({
      kind: 'prompt_completion',
      prompt: 'p',
      completion: 'c',
    });
    expect(parseSftRow({ input: 'p', output: 'c' })).toEqual({
      kind: 'prompt_completion',
      prompt: 'p',
      completion: 'c',
    });
    expect(parseSftRow({ prompt: [chat[0]], completion: [chat[1]] })).toEqual({
      kind: 'prompt_completion',
      prompt: [chat[0]],
      completion: [chat[1]],
    });
  });

  it('honours configured column names and an explicit format', () => {
    expect(parseSftRow({ body: 'x', text: 'y' }, { format: 'text', text_key: 'body' })).toEqual({
      kind: 'text',
      text: 'x',
    });
    expect(
      parseSftRow({ q: 'p', a: 'c' }, { format: 'input_output', input_key: 'q', output_key: 'a' }),
    ).toEqual({
      kind: 'prompt_completion',
      prompt: 'p',
      completion: 'c',
    });
    expect(parseSftRow({ conv: chat }, { messages_key: 'conv' }).kind).toBe('messages');
  });

  it('names the row and field of missing or wrongly typed values', () => {
    let e = errorOf(() => parseSftRow({ text: 3 }, { format: 'text' }, 7));
    expect(e.location).toEqual({ field: 'text', row: 7 });
    expect(e.message).toMatch(/row 7: field "text" must be a string, got a number/);
    e = errorOf(() =>
      parseSftRow({ messages: [{ role: 'user', content: 'a' }, { role: 'assistant' }] }, {}, 2),
    );
    expect(e.location.field).toBe('messages[1].content');
    e = errorOf(() => parseSftRow({ messages: [{ role: 1, content: 'a' }] }));
    expect(e.location.field).toBe('messages[0].role');
    e = errorOf(() => parseSftRow({ messages: [] }));
    expect(e.message).toMatch(/empty message list/);
    e = errorOf(() => parseSftRow({ prompt: 'p' }, { format: 'prompt_completion' }));
    expect(e.location.field).toBe('completion');
    e = errorOf(() => parseSftRow({ other: 1 }, {}, 0));
    expect(e.message).toMatch(/cannot tell the SFT format.*columns: other/);
    e = errorOf(() => parseSftRow({ prompt: { a: 1 }, completion: 'c' }));
    expect(e.message).toMatch(/field "prompt" must be a string or a message list, got an object/);
  });
});

describe('preference formats', () => {
  it('reads {prompt, chosen, rejected} with strings or message lists', () => {
    expect(parsePreferenceRow({ prompt: 'p', chosen: 'good', rejected: 'bad' })).toEqual({
      prompt: 'p',
      chosen: 'good',
      rejected: 'bad',
    });
    const ex = parsePreferenceRow({
      prompt: [chat[0]],
      chosen: [chat[1]],
      rejected: [{ role: 'assistant', content: 'no' }],
    });
    expect(ex.rejected).toEqual([{ role: 'assistant', content: 'no' }]);
  });

  it('reads NeMo RL {context, completions} and prefers the lower rank', () => {
    const row = {
      context: [chat[0]],
      completions: [
        { rank: 1, completion: [{ role: 'assistant', content: 'worse' }] },
        { rank: 0, completion: [{ role: 'assistant', content: 'better' }] },
      ],
    };
    const ex = parsePreferenceRow(row);
    expect(ex.chosen).toEqual([{ role: 'assistant', content: 'better' }]);
    expect(ex.rejected).toEqual([{ role: 'assistant', content: 'worse' }]);
    expect(
      parsePreferenceRow(
        {
          ctx: 'p',
          c: [
            { rank: 0, completion: 'a' },
            { rank: 3, completion: 'b' },
          ],
        },
        {
          format: 'context_completions',
          context_key: 'ctx',
          completions_key: 'c',
        },
      ),
    ).toEqual({ prompt: 'p', chosen: 'a', rejected: 'b' });
  });

  it('rejects anything but exactly two ranked completions, naming the row', () => {
    const three = {
      context: 'p',
      completions: [0, 1, 2].map((rank) => ({ rank, completion: 'x' })),
    };
    let e = errorOf(() => parsePreferenceRow(three, {}, 12));
    expect(e.message).toMatch(
      /row 12: field "completions" must hold exactly two completions, got 3/,
    );
    expect(e.location).toEqual({ field: 'completions', row: 12 });
    e = errorOf(() =>
      parsePreferenceRow({
        context: 'p',
        completions: [
          { rank: 0, completion: 'a' },
          { rank: 0, completion: 'b' },
        ],
      }),
    );
    expect(e.message).toMatch(/equal rank 0/);
    e = errorOf(() =>
      parsePreferenceRow({
        context: 'p',
        completions: [
          { rank: 'x', completion: 'a' },
          { rank: 0, completion: 'b' },
        ],
      }),
    );
    expect(e.location.field).toBe('completions[0].rank');
    e = errorOf(() => parsePreferenceRow({ prompt: 'p', chosen: 'a' }));
    expect(e.location.field).toBe('rejected');
  });
});

describe('GRPO prompt format', () => {
  it('reads prompt or messages plus answer, carrying every other column', () => {
    expect(parseGrpoRow({ prompt: '1+1=', answer: '2', level: 3, id: 'a' })).toEqual({
      prompt: '1+1=',
      answer: '2',
      extra: { level: 3, id: 'a' },
    });
    expect(parseGrpoRow({ messages: [chat[0]], answer: 42 })).toEqual({
      prompt: [chat[0]],
      answer: '42',
      extra: {},
    });
    expect(
      parseGrpoRow(
        { question: 'q', solution: 'x' },
        { prompt_key: 'question', answer_key: 'solution' },
      ).answer,
    ).toBe('x');
  });

  it('names a missing answer or prompt', () => {
    expect(errorOf(() => parseGrpoRow({ prompt: 'p' }, {}, 4)).location).toEqual({
      field: 'answer',
      row: 4,
    });
    expect(errorOf(() => parseGrpoRow({ answer: '1' })).location.field).toBe('prompt');
    expect(errorOf(() => parseGrpoRow({ prompt: 'p', answer: [1] })).message).toMatch(
      /"answer" must be a string or number answer, got a list/,
    );
  });
});
