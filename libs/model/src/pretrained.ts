import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RxrlDataError } from '@rxrl/core/base';
import { CausalLM } from './causalLM';
import { fromHfConfig, toHfConfig, type ModelConfig } from './modelConfig';
import { readWeights, writeWeights } from './safetensors';

/** Options of {@link loadPretrained}. */
export interface LoadOptions {
  /** false gives a frozen model (e.g. a reference policy). */
  trainable?: boolean;
}

/**
 * Load a Hugging Face model directory: `config.json` plus `model.safetensors`
 * or the shards of `model.safetensors.index.json`; F16/BF16 weights are widened
 * to float32.
 */
export async function loadPretrained(dir: string, options: LoadOptions = {}): Promise<CausalLM> {
  const config = await readModelConfig(dir);
  const weights = await readWeights(dir);
  return CausalLM.fromHfWeights(config, weights.tensors, {
    trainable: options.trainable ?? true,
    source: dir,
  });
}

/** A model directory's `config.json` as a {@link ModelConfig}, without reading any weight. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const configPath = path.join(dir, 'config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(configPath, 'utf8'));
  } catch (e) {
    throw new RxrlDataError(
      `${configPath}: cannot read a JSON config (${(e as Error).message})`,
      { source: configPath },
      { cause: e },
    );
  }
  return fromHfConfig(raw);
}

/** Options of {@link savePretrained}. */
export interface SaveOptions {
  /** Split the weights into shards of at most this many bytes (plus an index file). */
  maxShardBytes?: number;
}

/**
 * Write `model` as a Hugging Face directory: `config.json` and float32
 * `model.safetensors` (HF names and layouts; no lm_head when embeddings are tied).
 * Returns the files written.
 */
export async function savePretrained(
  model: CausalLM,
  dir: string,
  options: SaveOptions = {},
): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(
    path.join(dir, 'config.json'),
    JSON.stringify(toHfConfig(model.config), null, 2) + '\n',
  );
  const files = await writeWeights(dir, model.exportHfWeights(), options.maxShardBytes);
  return ['config.json', ...files];
}
