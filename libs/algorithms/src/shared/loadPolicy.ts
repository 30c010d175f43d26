import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RxrlConfigError, type Tokenizer } from '@rxrl/core/base';
import { BuiltinTokenizer, HfTokenizer } from '@rxrl/data';
import * as tf from '@tensorflow/tfjs-core';
import {
  CausalLM,
  LoraAdapter,
  chooseActivationCheckpointing,
  memoryLimit,
  fromHfConfig,
  loadPretrained,
  presetHfConfig,
  readModelConfig,
  savePeftAdapter,
  savePretrained,
  type ModelConfig,
} from '@rxrl/model';
import { trainingRunMemory } from './memoryCheck';
import type { PolicyOptions } from './policyOptions';

/** A policy ready to train: the model, its tokenizer and where the tokenizer files come from. */
export interface LoadedPolicy {
  model: CausalLM;
  tokenizer: Tokenizer;
  /** directory holding the tokenizer's HF files, or 'builtin' */
  tokenizerSource: string;
  /** the base model's directory (`policy.model_name` resolved); null for a fresh `init` model */
  baseModelDir: string | null;
}

const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'chat_template.jinja',
  'vocab.json',
  'merges.txt',
];

async function loadTokenizer(name: string): Promise<Tokenizer> {
  if (name === 'builtin') return new BuiltinTokenizer();
  return HfTokenizer.fromDirectory(name);
}

/**
 * The `policy` section made real: a pretrained HF directory (`model_name`) or a
 * fresh `init` model seeded by `seed`, with its tokenizer (`tokenizer.name`,
 * else the model directory's, else the built-in one for fresh models), and a
 * fresh LoRA adapter attached when `policy.lora` is set.
 */
export async function loadPolicy(
  policy: PolicyOptions,
  seed: number,
  baseDir = process.cwd(),
): Promise<LoadedPolicy> {
  const loaded = await loadBase(policy, seed, baseDir);
  loaded.model.logprobChunkSize = policy.logprob_chunk_size;
  loaded.model.activationCheckpointing =
    policy.activation_checkpointing === 'auto'
      ? autoCheckpointing(policy, loaded.model.config)
      : policy.activation_checkpointing;
  if (policy.lora !== null) {
    try {
      loaded.model.attachAdapter(LoraAdapter.create(loaded.model, policy.lora, { seed }));
    } catch (e) {
      loaded.model.dispose();
      throw e;
    }
  }
  return loaded;
}

/**
 * `auto` when no memory check decided it before loading (a library caller):
 * the policy's own micro-batch and sequence length on the current backend.
 */
function autoCheckpointing(policy: PolicyOptions, config: ModelConfig): boolean {
  const backend = tf.getBackend();
  const run = trainingRunMemory('sft', { policy }, backend, config);
  return chooseActivationCheckpointing(config, run, memoryLimit(backend)).checkpointing;
}

async function loadBase(
  policy: PolicyOptions,
  seed: number,
  baseDir: string,
): Promise<LoadedPolicy> {
  const resolve = (p: string) => (p === 'builtin' ? p : path.resolve(baseDir, p));
  if (policy.model_name !== null) {
    const dir = resolve(policy.model_name);
    const tokenizerSource = policy.tokenizer.name !== null ? resolve(policy.tokenizer.name) : dir;
    // the tokenizer's ids must fit the model's vocabulary: checked with the headers, before any weight is read
    const model = await loadPretrained(dir, {
      tokenizerDir: tokenizerSource === 'builtin' ? false : tokenizerSource,
    });
    try {
      const tokenizer = await loadTokenizer(tokenizerSource);
      return { model, tokenizer, tokenizerSource, baseModelDir: dir };
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  const tokenizerSource =
    policy.tokenizer.name !== null ? resolve(policy.tokenizer.name) : 'builtin';
  const tokenizer = await loadTokenizer(tokenizerSource);
  const cfg = initModelConfig(policy, tokenizer);
  return { model: CausalLM.create(cfg, { seed }), tokenizer, tokenizerSource, baseModelDir: null };
}

/** The config of `policy.init`'s fresh model for `tokenizer`. */
function initModelConfig(policy: PolicyOptions, tokenizer: Tokenizer): ModelConfig {
  const init = policy.init!;
  const hf = {
    ...presetHfConfig(init.arch, init.preset, tokenizer.vocabSize),
    ...init.config_overrides,
  };
  Object.assign(hf, {
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.eosTokenId,
    pad_token_id: tokenizer.padTokenId,
  });
  const cfg = fromHfConfig(hf);
  if (cfg.vocabSize < tokenizer.vocabSize) {
    throw new RxrlConfigError(
      `policy.init.config_overrides.vocab_size = ${cfg.vocabSize}; expected at least the tokenizer's ${tokenizer.vocabSize}`,
    );
  }
  return cfg;
}

/**
 * The policy's model config without loading any weight: the model
 * directory's config.json, or `policy.init`'s preset for its tokenizer.
 */
export async function policyModelConfig(
  policy: PolicyOptions,
  baseDir = process.cwd(),
): Promise<ModelConfig> {
  const resolve = (p: string) => (p === 'builtin' ? p : path.resolve(baseDir, p));
  if (policy.model_name !== null) return readModelConfig(resolve(policy.model_name));
  const tokenizer = await loadTokenizer(
    policy.tokenizer.name !== null ? resolve(policy.tokenizer.name) : 'builtin',
  );
  return initModelConfig(policy, tokenizer);
}

/**
 * Write the policy as a Hugging Face model directory: config.json,
 * model.safetensors and the tokenizer files (copied, or the built-in
 * tokenizer's). With a LoRA adapter the weights are merged (a full model that
 * needs no adapter) and the adapter itself goes, in PEFT's format, to the
 * sibling directory `<dir>_adapter` ({@link adapterDirOf}). Returns the directory.
 */
export async function exportPolicy(policy: LoadedPolicy, dir: string): Promise<string> {
  await savePretrained(policy.model, dir, { mergeAdapter: true });
  await copyTokenizer(policy, dir);
  if (policy.model.adapter !== null) await exportAdapter(policy, adapterDirOf(dir));
  return dir;
}

/** The directories {@link exportPolicy} writes for `dir`: `dir`, and `<dir>_adapter` with LoRA. */
export function exportedDirs(policy: LoadedPolicy, dir: string): string[] {
  return policy.model.adapter !== null ? [dir, adapterDirOf(dir)] : [dir];
}

/** Where {@link exportPolicy} writes the PEFT adapter of a LoRA policy exported to `dir`. */
export function adapterDirOf(dir: string): string {
  return path.resolve(dir) + '_adapter';
}

/**
 * Write the policy's LoRA adapter as a PEFT directory (adapter_config.json with
 * `base_model_name_or_path`, adapter_model.safetensors) plus the tokenizer files.
 * Returns the directory.
 */
export async function exportAdapter(policy: LoadedPolicy, dir: string): Promise<string> {
  await savePeftAdapter(policy.model, dir, { baseModelNameOrPath: policy.baseModelDir });
  await copyTokenizer(policy, dir);
  return dir;
}

async function copyTokenizer(policy: LoadedPolicy, dir: string): Promise<void> {
  if (policy.tokenizerSource === 'builtin') {
    await new BuiltinTokenizer().writeHfFiles(dir);
  } else if (path.resolve(policy.tokenizerSource) !== path.resolve(dir)) {
    for (const f of TOKENIZER_FILES) {
      const from = path.join(policy.tokenizerSource, f);
      try {
        await fs.copyFile(from, path.join(dir, f));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
}
