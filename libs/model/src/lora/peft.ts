import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { RxrlDataError, RxrlUsageError } from '@rxrl/core/base';
import type { CausalLM } from '../causalLM';
import { readSafetensorsFile, serializeSafetensors, type HostTensor } from '../safetensors';
import { LoraAdapter, type LoraHostPair } from './loraAdapter';
import { moduleKinds, type LoraConfigInput } from './loraConfig';

/**
 * PEFT's adapter directory (https://huggingface.co/docs/peft): `adapter_config.json`
 * and `adapter_model.safetensors` with tensors named
 * `base_model.model.<module>.lora_A.weight` (`[r, in]`) and `….lora_B.weight`
 * (`[out, r]`), plus `base_model.model.<module>.bias` under `bias: all | lora_only`.
 */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';

/** Options of {@link savePeftAdapter}. */
export interface SavePeftOptions {
  /** `base_model_name_or_path` of adapter_config.json: the base model's directory or hub id (null when unknown) */
  baseModelNameOrPath?: string | null;
}

/**
 * Write `model`'s attached LoRA adapter as a PEFT directory. Returns the files written.
 * The tensors are float32; the config is what PEFT's `LoraConfig.save_pretrained` writes.
 */
export async function savePeftAdapter(
  model: CausalLM,
  dir: string,
  options: SavePeftOptions = {},
): Promise<string[]> {
  const adapter = model.adapter;
  if (!(adapter instanceof LoraAdapter))
    throw new RxrlUsageError('savePeftAdapter: the model has no LoRA adapter attached');
  const cfg = adapter.config;
  const tensors: [string, HostTensor][] = [];
  const r = cfg.r;
  for (const [name, v] of adapter.hostValues()) {
    const m = adapter.modules.find((x) => x.name === name)!;
    tensors.push([`${PREFIX}${name}.lora_A.weight`, { shape: [r, m.inFeatures], data: v.a }]);
    tensors.push([`${PREFIX}${name}.lora_B.weight`, { shape: [m.outFeatures, r], data: v.b }]);
  }
  for (const [name, v] of model.variables()) {
    if (!adapter.trainsBaseWeight(name)) continue;
    tensors.push([
      PREFIX + name,
      { shape: v.shape.slice(), data: Float32Array.from(v.dataSync() as Float32Array) },
    ]);
  }
  const config = {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: options.baseModelNameOrPath ?? null,
    bias: cfg.bias,
    fan_in_fan_out: model.config.arch === 'gpt2', // GPT-2's Conv1D weights are [in, out]
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: null,
    lora_alpha: cfg.lora_alpha,
    lora_dropout: cfg.lora_dropout,
    modules_to_save: null,
    peft_type: 'LORA',
    r: cfg.r,
    rank_pattern: {},
    revision: null,
    target_modules: moduleKinds(adapter.modules),
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: cfg.use_rslora,
  };
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
  await fs.writeFile(path.join(dir, ADAPTER_WEIGHTS_FILE), serializeSafetensors(tensors));
  return [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE];
}

/** A PEFT adapter read from disk, not yet attached. */
export interface PeftAdapter {
  adapter: LoraAdapter;
  /** biases the adapter carries (`bias: all | lora_only`), by base weight name */
  biases: Map<string, HostTensor>;
  /** `base_model_name_or_path` of its adapter_config.json */
  baseModelNameOrPath: string | null;
}

function isEmpty(v: unknown): boolean {
  return (
    v === undefined ||
    v === null ||
    (typeof v === 'object' && Object.keys(v as object).length === 0) ||
    v === false
  );
}

/**
 * Read a PEFT LoRA directory written by PEFT (or by {@link savePeftAdapter}) for
 * `model`. F16/BF16 tensors are widened. Features that change the computation
 * and that this reader does not implement (DoRA, per-module `rank_pattern` /
 * `alpha_pattern`, `modules_to_save`, `lora_bias`) are refused by name.
 */
export async function readPeftAdapter(model: CausalLM, dir: string): Promise<PeftAdapter> {
  const configPath = path.join(dir, ADAPTER_CONFIG_FILE);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(await fs.readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new RxrlDataError(
      `${configPath}: cannot read a PEFT adapter config (${(e as Error).message})`,
      { source: configPath },
      { cause: e },
    );
  }
  if (raw['peft_type'] !== 'LORA')
    throw new RxrlDataError(
      `${configPath}: peft_type is ${JSON.stringify(raw['peft_type'])}; only LORA adapters load`,
      { source: configPath, field: 'peft_type' },
    );
  for (const key of [
    'use_dora',
    'rank_pattern',
    'alpha_pattern',
    'modules_to_save',
    'lora_bias',
  ] as const) {
    if (!isEmpty(raw[key]))
      throw new RxrlDataError(
        `${configPath}: ${key} = ${JSON.stringify(raw[key])} is not supported (rxrl loads plain LoRA)`,
        { source: configPath, field: key },
      );
  }
  const options: LoraConfigInput = {
    r: raw['r'] as number,
    lora_alpha: raw['lora_alpha'] as number,
    lora_dropout: (raw['lora_dropout'] as number | undefined) ?? 0,
    bias: (raw['bias'] as 'none' | 'all' | 'lora_only' | undefined) ?? 'none',
    use_rslora: (raw['use_rslora'] as boolean | undefined) ?? false,
    target_modules: (raw['target_modules'] as string | string[] | null | undefined) ?? null,
  };
  const weightsPath = path.join(dir, ADAPTER_WEIGHTS_FILE);
  let file;
  try {
    file = await readSafetensorsFile(weightsPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT')
      throw new RxrlDataError(
        `${dir}: no ${ADAPTER_WEIGHTS_FILE} (adapter_model.bin is not read; save with safe_serialization=True)`,
        { source: dir },
      );
    throw e;
  }
  const r = options.r;
  const parts = new Map<string, { a?: HostTensor; b?: HostTensor }>();
  const biases = new Map<string, HostTensor>();
  const modules = new Map(model.linearModules().map((m) => [m.name, m]));
  const gpt2 = model.config.arch === 'gpt2';
  for (const [rawName, t] of file.tensors) {
    if (!rawName.startsWith(PREFIX))
      throw new RxrlDataError(`${weightsPath}: tensor ${rawName} does not start with ${PREFIX}`, {
        source: weightsPath,
        field: rawName,
      });
    // newer PEFT wraps the base layer: its bias is `<module>.base_layer.bias`
    let name = rawName.slice(PREFIX.length).replace(/\.base_layer\.bias$/, '.bias');
    if (gpt2 && !name.startsWith('transformer.')) name = 'transformer.' + name;
    const lora = /^(.+)\.lora_([AB])(?:\.default)?\.weight$/.exec(name);
    if (lora === null) {
      if (name.endsWith('.bias') && model.variables().has(name)) {
        biases.set(name, t);
        continue;
      }
      throw new RxrlDataError(
        `${weightsPath}: unexpected tensor ${rawName} (expected <module>.lora_A.weight, <module>.lora_B.weight or a bias)`,
        { source: weightsPath, field: rawName },
      );
    }
    const [, module, which] = lora;
    const m = modules.get(module!);
    if (m === undefined)
      throw new RxrlDataError(
        `${weightsPath}: ${rawName} adapts ${module}, which is not a linear module of this ${model.config.arch} model (${moduleKinds([...modules.values()]).join(', ')})`,
        { source: weightsPath, field: rawName },
      );
    const want = which === 'A' ? [r, m.inFeatures] : [m.outFeatures, r];
    if (t.shape.join() !== want.join())
      throw new RxrlDataError(
        `${weightsPath}: ${rawName} has shape [${t.shape}], expected [${want}] (r = ${r})`,
        { source: weightsPath, field: rawName },
      );
    const entry = parts.get(module!) ?? {};
    entry[which === 'A' ? 'a' : 'b'] = t;
    parts.set(module!, entry);
  }
  const values = new Map<string, LoraHostPair>();
  for (const [module, p] of parts) {
    if (!p.a || !p.b)
      throw new RxrlDataError(
        `${weightsPath}: ${module} has lora_${p.a ? 'A' : 'B'} but no lora_${p.a ? 'B' : 'A'}`,
        { source: weightsPath, field: module },
      );
    values.set(module, { a: p.a.data, b: p.b.data });
  }
  for (const [name, t] of biases) {
    const v = model.variables().get(name)!;
    if (t.shape.join() !== v.shape.join())
      throw new RxrlDataError(
        `${weightsPath}: ${name} has shape [${t.shape}], the model's [${v.shape}]`,
        { source: weightsPath, field: name },
      );
  }
  const adapter = LoraAdapter.fromValues(model, options, values, weightsPath);
  const base = raw['base_model_name_or_path'];
  return { adapter, biases, baseModelNameOrPath: typeof base === 'string' ? base : null };
}

/**
 * Read a PEFT adapter and attach it to `model`: its biases (if any) replace the
 * model's, the base is frozen. Returns the adapter (the model owns it).
 */
export async function loadPeftAdapter(model: CausalLM, dir: string): Promise<LoraAdapter> {
  const { adapter, biases } = await readPeftAdapter(model, dir);
  const vars = model.variables();
  for (const [name, t] of biases) {
    const v = vars.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(t.data, v.shape, 'float32')));
  }
  model.attachAdapter(adapter);
  return adapter;
}
