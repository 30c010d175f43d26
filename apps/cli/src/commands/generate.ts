import { RxrlUsageError } from '@rxrl/core/base';
import type { Command, CommandArgs } from '../command';
import { checkInferenceMemory } from '../inferenceMemory';
import { adapterDir, adapterOption, intFlag, maxNewTokens, modelDir, numberFlag } from './eval';

/** rows decoded together (generate's default) */
const GENERATION_BATCH = 32;

/** Prompts piped on stdin, one per line (blank lines skipped). */
async function stdinPrompts(): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
}

async function runGenerate({ values, positionals, global, io }: CommandArgs): Promise<void> {
  if (positionals.length > 0)
    throw new RxrlUsageError(
      `unexpected argument '${positionals[0]}' (give prompts with --prompt TEXT, or on stdin)`,
    );
  const dir = modelDir(values, io.cwd);
  const adapter = adapterDir(values, io.cwd);
  const temperature = numberFlag(values, 'temperature', 0, 100) ?? 1;
  const topP = numberFlag(values, 'top-p', Number.MIN_VALUE, 1) ?? 1;
  const maxNewFlag = intFlag(values, 'max-new-tokens', 1, 1_000_000);
  const seed = intFlag(values, 'seed', 0, 0xffffffff) ?? 0;
  const n = intFlag(values, 'n', 1, 1024) ?? 1;
  const chat = values['chat'] === true;
  const json = values['json'] === true;
  let texts = (values['prompt'] as string[] | undefined) ?? [];
  if (texts.length === 0) {
    if (process.stdin.isTTY)
      throw new RxrlUsageError(
        'no prompt: give --prompt TEXT (repeatable) or pipe prompts on stdin',
      );
    texts = await stdinPrompts();
    if (texts.length === 0) throw new RxrlUsageError('no prompt: stdin held no non-empty line');
  }

  // loaded here, not at the top: the other commands should not pay for TensorFlow.js
  const { selectBackend } = await import('@rxrl/core');
  const { countParameters, inspectPretrained, loadPretrained } = await import('@rxrl/model');
  const { HfTokenizer, tokenizeGrpoPrompt } = await import('@rxrl/data');
  const { generate } = await import('@rxrl/rollout');
  // config.json, tokenizer.json, the index and every header are checked before the backend
  // starts or any weight is read: a bad directory exits 2 at once
  const info = await inspectPretrained(dir);
  const backend = await selectBackend(global.backend ?? null, {
    parameters: countParameters(info.config).total,
  });
  const tokenizer = await HfTokenizer.fromDirectory(dir);
  // the same prompt encoding as GRPO and rxrl eval: a message list through the chat
  // template with its generation prompt, a plain string with the tokenizer's BOS
  const prompts = texts.map(
    (t) =>
      tokenizeGrpoPrompt(tokenizer, {
        prompt: chat ? [{ role: 'user', content: t }] : t,
        answer: '',
        extra: {},
      }).tokens,
  );
  const longest = Math.max(...prompts.map((p) => p.length));
  const maxNew = maxNewTokens(maxNewFlag, longest, info.config.maxPositionEmbeddings);
  // the estimate comes before any weight is read: a run that cannot fit exits 2 here
  io.err(
    await checkInferenceMemory(
      'generate',
      info.config,
      backend.backend,
      {
        batch: Math.min(GENERATION_BATCH, prompts.length * n),
        maxLen: longest + maxNew,
      },
      io.env,
    ),
  );
  const model = await loadPretrained(dir, { adapter });
  try {
    // on stderr, so stdout stays the completions alone
    io.err(
      `rxrl generate: temperature ${temperature}${values['temperature'] === undefined ? ' (default: sampled; --temperature 0 for greedy)' : ''}, top_p ${topP}, seed ${seed}, ${n} completion${n > 1 ? 's' : ''} per prompt`,
    );
    const samples = await generate(model, tokenizer, prompts, {
      temperature,
      top_p: topP,
      max_new_tokens: maxNew,
      generation_batch_size: GENERATION_BATCH,
      num_generations_per_prompt: n,
      seed,
    });
    for (const s of samples) {
      if (json)
        io.out(
          JSON.stringify({
            prompt_index: s.promptIndex,
            generation_index: s.generationIndex,
            prompt: texts[s.promptIndex],
            completion: s.completionText,
            completion_tokens: Array.from(s.completionTokens),
            finish_reason: s.finishReason,
          }),
        );
      else if (samples.length === 1) io.out(s.completionText);
      else
        io.out(
          `--- prompt ${s.promptIndex + 1}${n > 1 ? `, sample ${s.generationIndex + 1}` : ''}: ${JSON.stringify(texts[s.promptIndex])}\n${s.completionText}`,
        );
    }
  } finally {
    model.dispose();
  }
}

/** `rxrl generate`: completions of a model directory for prompts given or piped. */
export const command: Command = {
  name: 'generate',
  summary: 'Print completions of a model directory for prompts (--prompt or stdin)',
  usage:
    'rxrl generate --model <dir> [--adapter <dir>] [--prompt TEXT ...] [--chat] [--max-new-tokens N] [--temperature T] [--top-p P] [--seed N] [--n N] [--json]\n' +
    '  without --prompt, prompts are read from stdin, one per line',
  options: {
    model: {
      type: 'string',
      short: 'm',
      valueName: 'dir',
      description: 'model directory (config.json, safetensors, tokenizer.json)',
    },
    adapter: adapterOption,
    prompt: {
      type: 'string',
      short: 'p',
      multiple: true,
      valueName: 'text',
      description: 'a prompt (repeatable); none: one prompt per line of stdin',
    },
    chat: {
      type: 'boolean',
      description: "send each prompt as a user message through the tokenizer's chat template",
    },
    'max-new-tokens': {
      type: 'string',
      valueName: 'N',
      description: "most tokens per completion (default 256, capped by the model's context)",
    },
    temperature: {
      type: 'string',
      valueName: 'T',
      description: 'sampling temperature (default 1; 0 is greedy)',
    },
    'top-p': { type: 'string', valueName: 'P', description: 'nucleus sampling (default 1)' },
    seed: { type: 'string', valueName: 'N', description: 'sampling seed (default 0)' },
    n: { type: 'string', valueName: 'N', description: 'completions per prompt (default 1)' },
    json: {
      type: 'boolean',
      description: 'one JSON line per completion (prompt, completion, tokens, finish_reason)',
    },
  },
  run: runGenerate,
};
