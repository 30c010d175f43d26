import { beforeAll, describe, expect, it } from 'vitest';
import { firstValueFrom, from, toArray } from 'rxjs';
import { DataType, type RecordBatch } from 'apache-arrow';
import { useBackend } from '@rxrl/core';
import {
  listVectorFromRows,
  makeRecordBatch,
  readInt32Column,
  readListColumn,
  type MetricEvent,
  type StageDefinition,
} from '@rxrl/core/base';
import { CausalLM, presetConfig } from '@rxrl/model';
import { generate } from './generate';
import { generateStage } from './generateStage';
import { rolloutStageDefinitions } from './stageDefinitions';
import { CharTokenizer } from './testing/charTokenizer';

const tok = new CharTokenizer();
let model: CausalLM;

beforeAll(async () => {
  await useBackend('wasm');
  model = CausalLM.create(presetConfig('llama', 'tiny', tok.vocabSize), { seed: 2 });
});

const TEXTS = ['one plus one', 'two', 'three times 4'];

function promptBatch(texts: string[], ids?: number[]): RecordBatch {
  return makeRecordBatch({
    ...(ids ? { prompt_id: Int32Array.from(ids) } : {}),
    prompt_tokens: listVectorFromRows(texts.map((t) => tok.encode(t))),
    prompt_text: texts,
    answer: texts.map((t) => `${t.length}`),
  });
}

const run = (batches: RecordBatch[], stage: ReturnType<typeof generateStage>) =>
  firstValueFrom(from(batches).pipe(stage, toArray()));

describe('rollout.generate stage', () => {
  it('repeats every input row n times, passes its columns through and adds the generation columns', async () => {
    const opts = { num_generations_per_prompt: 3, max_new_tokens: 6, seed: 1, stop_strings: ['e'] };
    const input = promptBatch(TEXTS, [10, 11, 12]);
    const metrics: MetricEvent[] = [];
    const [out] = await run(
      [input],
      generateStage(opts, { model, tokenizer: tok, onMetric: (m) => metrics.push(m) }),
    );
    expect(out!.numRows).toBe(9);
    expect(out!.schema.fields.map((f) => f.name)).toEqual([
      'prompt_id',
      'prompt_tokens',
      'prompt_text',
      'answer',
      'group_id',
      'completion_tokens',
      'completion_text',
      'gen_logprobs',
      'finish_reason',
    ]);
    expect([...readInt32Column(out!, 'group_id')]).toEqual([10, 10, 10, 11, 11, 11, 12, 12, 12]);
    expect([...readInt32Column(out!, 'prompt_id')]).toEqual([10, 10, 10, 11, 11, 11, 12, 12, 12]);
    expect(out!.getChild('prompt_text')!.toArray()).toEqual(TEXTS.flatMap((t) => [t, t, t]));
    expect(out!.getChild('answer')!.toArray()).toEqual(
      TEXTS.flatMap((t) => Array(3).fill(`${t.length}`)),
    );
    const prompts = readListColumn(out!, 'prompt_tokens', 'int32');
    expect([...prompts.values.subarray(prompts.offsets[4]!, prompts.offsets[5]!)]).toEqual(
      tok.encode('two'),
    );

    // the same completions as generate() keyed by prompt_id
    const direct = await generate(
      model,
      tok,
      TEXTS.map((t) => tok.encode(t)),
      opts,
      { requestKeys: [10, 11, 12] },
    );
    const comp = readListColumn(out!, 'completion_tokens', 'int32');
    const lps = readListColumn(out!, 'gen_logprobs', 'float32');
    expect([...lps.offsets]).toEqual([...comp.offsets]);
    direct.forEach((s, i) => {
      expect([...comp.values.subarray(comp.offsets[i]!, comp.offsets[i + 1]!)]).toEqual([
        ...s.completionTokens,
      ]);
      expect([...lps.values.subarray(lps.offsets[i]!, lps.offsets[i + 1]!)]).toEqual([
        ...s.genLogprobs,
      ]);
    });
    expect(out!.getChild('completion_text')!.toArray()).toEqual(
      direct.map((s) => s.completionText),
    );
    const reasons = out!.getChild('finish_reason')!;
    expect(DataType.isDictionary(reasons.type)).toBe(true);
    expect(reasons.toArray()).toEqual(direct.map((s) => s.finishReason));
    expect(new Set(reasons.toArray())).toEqual(new Set(['stop', 'length']));
    expect(metrics.map((m) => m.name)).toEqual([
      'timing/generation_s',
      'performance/generation_tokens_per_s',
    ]);
    expect(metrics[1]!.value).toBeGreaterThan(0);
  });

  it('numbers groups with a running prompt index across batches when there is no prompt_id', async () => {
    const stage = generateStage(
      { num_generations_per_prompt: 2, max_new_tokens: 3 },
      { model, tokenizer: tok },
    );
    const out = await run([promptBatch(TEXTS.slice(0, 2)), promptBatch(TEXTS.slice(2))], stage);
    expect(out.map((b) => [...readInt32Column(b, 'group_id')])).toEqual([
      [0, 0, 1, 1],
      [2, 2],
    ]);
    // a new subscription starts counting again
    const again = await run([promptBatch(TEXTS.slice(2))], stage);
    expect([...readInt32Column(again[0]!, 'group_id')]).toEqual([0, 0]);
  });

  it('a prompt_id seen again gets fresh samples, keyed by how often it came by', async () => {
    const opts = { num_generations_per_prompt: 2, max_new_tokens: 6, ignore_eos: true, seed: 3 };
    const stage = generateStage(opts, { model, tokenizer: tok });
    const [first, second] = await run(
      [promptBatch(['two'], [11]), promptBatch(['two'], [11])],
      stage,
    );
    const rows = (b: RecordBatch) => {
      const c = readListColumn(b, 'completion_tokens', 'int32');
      return [0, 1].map((i) => [...c.values.subarray(c.offsets[i]!, c.offsets[i + 1]!)]);
    };
    expect(rows(second!)).not.toEqual(rows(first!));
    const again = await generate(model, tok, [tok.encode('two')], opts, { requestKeys: ['11#1'] });
    expect(rows(second!)).toEqual(again.map((s) => [...s.completionTokens]));
  });

  it('an empty batch gives an empty batch with the generation columns', async () => {
    const [out] = await run(
      [promptBatch([], [])],
      generateStage({ num_generations_per_prompt: 2 }, { model, tokenizer: tok }),
    );
    expect(out!.numRows).toBe(0);
    expect(out!.schema.fields.map((f) => f.name)).toContain('gen_logprobs');
  });

  it('names a missing prompt_tokens column and a column it would overwrite', async () => {
    const stage = generateStage({}, { model, tokenizer: tok });
    await expect(run([makeRecordBatch({ prompt_text: ['x'] })], stage)).rejects.toThrow(
      /no column 'prompt_tokens' \(columns: prompt_text\)/,
    );
    const withGroup = makeRecordBatch({
      prompt_tokens: listVectorFromRows([tok.encode('ab')]),
      group_id: Int32Array.of(0),
    });
    await expect(run([withGroup], stage)).rejects.toThrow(/already has column 'group_id'/);
  });
});

describe('rollout stage definitions', () => {
  const [entry, remote] = rolloutStageDefinitions() as [StageDefinition, StageDefinition];

  it('defines local and remote generation under their dotted names', () => {
    expect(rolloutStageDefinitions().map((d) => d.name)).toEqual([
      'rollout.generate',
      'rollout.remote',
    ]);
    expect(remote.produces).toEqual(entry.produces);
    expect(
      remote.schema.parse({ base_url: 'http://127.0.0.1:8000/v1', model: 'policy' }),
    ).toMatchObject({ max_concurrency: 8, max_retries: 5 });
    expect(() => remote.schema.parse({ model: 'policy' })).toThrow(/base_url/);
  });

  it('validates YAML options with NeMo RL / vLLM names and fills defaults', () => {
    expect(entry.name).toBe('rollout.generate');
    const o = entry.schema.parse({ temperature: 0.6, top_k: 50, num_generations_per_prompt: 8 });
    expect(o).toMatchObject({
      temperature: 0.6,
      top_p: 1,
      top_k: 50,
      min_p: 0,
      max_new_tokens: 256,
      stop_token_ids: null,
      stop_strings: [],
      seed: 0,
    });
    expect(() => entry.schema.parse({ top_p: 1.5 })).toThrow(/top_p/);
    expect(() => entry.schema.parse({ n: 4 })).toThrow(/n/);
    expect(() => entry.schema.parse({ max_new_tokens: 0 })).toThrow(/max_new_tokens/);
  });

  it('creates a working stage', async () => {
    const [out] = await run(
      [promptBatch(['ab'], [3])],
      entry.create(entry.schema.parse({ max_new_tokens: 2, num_generations_per_prompt: 2 }), {
        services: { policy: model, tokenizer: tok },
        emit: () => {},
      }),
    );
    expect(out!.numRows).toBe(2);
    expect([...readInt32Column(out!, 'group_id')]).toEqual([3, 3]);
  });
});
