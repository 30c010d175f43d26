import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core/base';
import { ARCHITECTURES, PRESETS, fromHfConfig, presetHfConfig } from './modelConfig';
import { CausalLM } from './causalLM';
import { savePretrained } from './pretrained';

/** Options of {@link initModelDirectory} (the `rxrl init-model` flags). */
export const InitModelOptionsSchema = z.object({
  /** Architecture (HF model_type). */
  arch: z.enum(ARCHITECTURES),
  /** Size preset: tiny (d=64, 2 layers) or small (d=256, 4 layers). */
  preset: z.enum(PRESETS).default('tiny'),
  /** Directory to write config.json, model.safetensors and the tokenizer files into. */
  out: z.string().min(1),
  /** Vocabulary size; defaults to the tokenizer's. Must be at least the tokenizer's. */
  vocab_size: z.number().int().positive().optional(),
  /** Seed of the random weight init. */
  seed: z.number().int().default(0),
});
export type InitModelOptions = z.input<typeof InitModelOptionsSchema>;

/**
 * The hook through which a tokenizer ships with the model directory (e.g. the
 * built-in tokenizer of `@rxrl/data`, which this library cannot import).
 */
export interface TokenizerFilesWriter {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  /** Write tokenizer.json / tokenizer_config.json (or equivalent) into `dir`. */
  writeHfFiles(dir: string): Promise<void>;
}

/**
 * Write a complete, loadable model directory with random weights: config.json,
 * model.safetensors and, when `tokenizer` is given, its files (whose vocabulary
 * size and special token ids go into config.json). Returns the config written.
 */
export async function initModelDirectory(
  options: InitModelOptions,
  tokenizer?: TokenizerFilesWriter,
): Promise<Record<string, unknown>> {
  const parsed = InitModelOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RxrlConfigError(`option '${issue.path.join('.') || 'options'}': ${issue.message}`);
  }
  const opts = parsed.data;
  const vocabSize = opts.vocab_size ?? tokenizer?.vocabSize;
  if (vocabSize === undefined)
    throw new RxrlConfigError("option 'vocab_size' is required when no tokenizer is given");
  if (tokenizer && vocabSize < tokenizer.vocabSize) {
    throw new RxrlConfigError(
      `option 'vocab_size' = ${vocabSize}; expected at least the tokenizer's vocabulary size (${tokenizer.vocabSize})`,
    );
  }
  const hf = presetHfConfig(opts.arch, opts.preset, vocabSize);
  if (tokenizer)
    Object.assign(hf, {
      bos_token_id: tokenizer.bosTokenId,
      eos_token_id: tokenizer.eosTokenId,
      pad_token_id: tokenizer.padTokenId,
    });
  const model = CausalLM.create(fromHfConfig(hf), { seed: opts.seed });
  try {
    await savePretrained(model, opts.out);
  } finally {
    model.dispose();
  }
  if (tokenizer) await tokenizer.writeHfFiles(opts.out);
  return hf;
}
