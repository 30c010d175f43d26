import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CausalLM, checkHfWeights } from './causalLM';
import { ModelDirectoryError } from './errors';
import { fromHfConfig, toHfConfig, type ModelConfig } from './modelConfig';
import {
  decodeTensor,
  inspectWeights,
  readTensorBytes,
  writeWeights,
  type WeightsCatalog,
} from './safetensors';
import { loadPeftAdapter } from './lora/peft';

/** Options of {@link inspectPretrained} and {@link loadPretrained}. */
export interface LoadOptions {
  /** false gives a frozen model (e.g. a reference policy). */
  trainable?: boolean;
  /** a PEFT LoRA adapter directory to attach (see {@link loadPeftAdapter}) */
  adapter?: string | null;
  /**
   * Directory whose `tokenizer.json` must fit the model's vocabulary (every id
   * below config.json's vocab_size). Default: the model directory, when it has
   * a tokenizer.json; false skips the check.
   */
  tokenizerDir?: string | false;
}

/** What {@link inspectPretrained} learned from a model directory without reading weight data. */
export interface PretrainedInfo {
  dir: string;
  config: ModelConfig;
  /** The safetensors files and every tensor's dtype, shape and place in them. */
  weights: WeightsCatalog;
  /** The one dtype of the checkpoint's weights (F32, BF16, F16 or F64). */
  dtype: string;
  /** Weights the model uses: our (HF) name → the checkpoint's name. */
  names: Map<string, string>;
  parameterCount: number;
  /** The tokenizer.json checked against the vocabulary and its largest id, or null. */
  tokenizer: { file: string; maxId: number } | null;
}

type Json = Record<string, unknown>;

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new ModelDirectoryError(
      `${file}: cannot read ${what} (${(e as Error).message})`,
      { source: file },
      { cause: e },
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ModelDirectoryError(
      `${file}: not valid JSON (${(e as Error).message})`,
      { source: file },
      { cause: e },
    );
  }
}

/**
 * The largest id a tokenizer.json can produce or decode, and where it is:
 * `model.vocab` (an object for BPE / WordPiece / WordLevel, a list for
 * Unigram) and `added_tokens`.
 */
function tokenizerMaxId(tok: Json): { id: number; field: string } {
  let best = { id: -1, field: 'model.vocab' };
  const vocab = (tok['model'] as Json | undefined)?.['vocab'];
  if (Array.isArray(vocab))
    best = { id: vocab.length - 1, field: `model.vocab[${vocab.length - 1}]` };
  else if (typeof vocab === 'object' && vocab !== null)
    for (const [token, id] of Object.entries(vocab as Record<string, unknown>))
      if (typeof id === 'number' && id > best.id)
        best = { id, field: `model.vocab[${JSON.stringify(token)}]` };
  const added = tok['added_tokens'];
  if (Array.isArray(added))
    added.forEach((t: Json, i) => {
      if (typeof t?.['id'] === 'number' && (t['id'] as number) > best.id)
        best = {
          id: t['id'] as number,
          field: `added_tokens[${i}] (${JSON.stringify(t['content'])})`,
        };
    });
  return best;
}

/**
 * A model directory's `config.json` as a {@link ModelConfig}, without reading
 * any weight or header (what a memory estimate needs before loading). Throws a
 * {@link ModelDirectoryError} naming the file and the field.
 */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const configPath = path.join(dir, 'config.json');
  const raw = await readJson(configPath, 'a JSON config');
  try {
    return fromHfConfig(raw);
  } catch (e) {
    if (!(e instanceof ModelDirectoryError)) throw e;
    throw new ModelDirectoryError(
      e.message.replace(/^config\.json/, configPath),
      { source: configPath, ...(e.location.field ? { field: e.location.field } : {}) },
      { cause: e },
    );
  }
}

/**
 * Check a Hugging Face model directory without reading weight data: config.json
 * (a supported architecture, valid values), the tokenizer's ids against
 * vocab_size, the index and every shard it names, each safetensors header
 * (dtypes, offsets within the file), one dtype across the weights, and every
 * tensor's name and shape against config.json. Throws a
 * {@link ModelDirectoryError} naming the file and the field; reads a few KB
 * per shard (plus tokenizer.json).
 */
export async function inspectPretrained(
  dir: string,
  options: LoadOptions = {},
): Promise<PretrainedInfo> {
  const configPath = path.join(dir, 'config.json');
  const config = await readModelConfig(dir);

  let tokenizer: PretrainedInfo['tokenizer'] = null;
  if (options.tokenizerDir !== false) {
    const file = path.join(options.tokenizerDir ?? dir, 'tokenizer.json');
    const present = await fs.access(file).then(
      () => true,
      () => false,
    );
    if (present || options.tokenizerDir !== undefined) {
      const tok = await readJson(file, 'the tokenizer');
      const { id, field } = tokenizerMaxId((tok ?? {}) as Json);
      if (id >= config.vocabSize)
        throw new ModelDirectoryError(
          `${file}: ${field} has id ${id}, past the model's vocabulary (vocab_size ${config.vocabSize} in ${configPath}); this tokenizer does not belong to this model`,
          { source: file, field },
        );
      tokenizer = { file, maxId: id };
    }
  }

  const weights = await inspectWeights(dir);
  const shapes = new Map([...weights.tensors].map(([name, e]) => [name, e.shape]));
  // a tensor's problem names the shard holding it; a missing tensor names the index
  const names = checkHfWeights(
    config,
    shapes,
    (name) => weights.tensors.get(name)?.file ?? weights.index ?? weights.files[0]!,
  );
  let first: { name: string; dtype: string; file: string } | null = null;
  let parameterCount = 0;
  for (const name of names.values()) {
    const e = weights.tensors.get(name)!;
    parameterCount += e.shape.reduce((a, b) => a * b, 1);
    if (first === null) first = { name, dtype: e.dtype, file: e.file };
    else if (e.dtype !== first.dtype)
      throw new ModelDirectoryError(
        `${e.file}: tensor ${name} is ${e.dtype}, but ${first.name} (${path.basename(first.file)}) is ${first.dtype}; a checkpoint's weights must share one dtype`,
        { source: e.file, field: `${name}.dtype` },
      );
  }
  return { dir, config, weights, dtype: first!.dtype, names, parameterCount, tokenizer };
}

/**
 * Load a Hugging Face model directory: `config.json` plus `model.safetensors`
 * or the shards of `model.safetensors.index.json`; F16/BF16 weights are widened
 * to float32 one tensor at a time. Everything {@link inspectPretrained} checks
 * is checked before any weight data is read.
 */
export async function loadPretrained(dir: string, options: LoadOptions = {}): Promise<CausalLM> {
  const info = await inspectPretrained(dir, options);
  const bytes = await readTensorBytes(info.weights, info.names.values());
  const shapes = new Map(
    [...info.names.values()].map((name) => [name, info.weights.tensors.get(name)!.shape]),
  );
  const model = CausalLM.fromHfReader(
    info.config,
    shapes,
    (name) => {
      const data = decodeTensor(info.weights.tensors.get(name)!, bytes.get(name)!);
      bytes.delete(name); // the raw bytes go as soon as the float32 copy exists
      return data;
    },
    { trainable: options.trainable ?? true, source: dir },
  );
  if (options.adapter) {
    try {
      await loadPeftAdapter(model, options.adapter);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return model;
}

/** Options of {@link savePretrained}. */
export interface SaveOptions {
  /** Split the weights into shards of at most this many bytes (plus an index file). */
  maxShardBytes?: number;
  /** write the weights with the attached adapter merged in (a full model, no adapter needed) */
  mergeAdapter?: boolean;
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
  const files = await writeWeights(
    dir,
    model.exportHfWeights({ mergeAdapter: options.mergeAdapter ?? false }),
    options.maxShardBytes,
  );
  return ['config.json', ...files];
}
