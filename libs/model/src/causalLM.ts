import * as tf from '@tensorflow/tfjs-core';
import {
  Rng,
  RxrlConfigError,
  RxrlUsageError,
  applyRope,
  attention,
  customOp,
  embedding,
  geluTanh,
  layerNorm,
  linear,
  linearTransposed,
  tokenEntropy,
  lmHeadTokenLogProbs,
  lmHeadTokenEntropies,
  logitsChunkRows,
  positionsFromMask,
  residualAdd,
  rmsNorm,
  ropeCosSin,
  swiglu,
} from '@rxrl/core';
import { fromHfConfig, type ModelConfig } from './modelConfig';
import type { HostTensor } from './safetensors';
import { ModelDirectoryError } from './errors';
import type { KVCache } from './kvCache';

/**
 * Decoder-only causal language models: Llama, Qwen2, Qwen3 and GPT-2 in one
 * place. The architectures differ only by the flags of {@link ModelConfig}
 * (norm type, activation, biases, q/k norm, RoPE vs learned positions, tied
 * head) and by their Hugging Face weight names, listed in `weightSpecs`.
 *
 * Weights are tf.Variables keyed by their HF names. Linear weights are kept as
 * `[in, out]` — the layout of the `linear` op's fast path — so HF `nn.Linear`
 * weights (`[out, in]`) are transposed at load and back at save; GPT-2's Conv1D
 * weights are already `[in, out]`.
 */

interface WeightSpec {
  /** HF name. */
  name: string;
  /** Shape as stored here (linear weights `[in, out]`). */
  shape: number[];
  /** HF stores it transposed (`nn.Linear` `[out, in]`). */
  hfTransposed: boolean;
  init: 'normal' | 'ones' | 'zeros';
  /** Std for 'normal' init. */
  std?: number;
}

/** Every weight of `cfg`'s model, in HF order and naming. */
function weightSpecs(cfg: ModelConfig): WeightSpec[] {
  const d = cfg.hiddenSize;
  const std = cfg.initializerRange;
  const specs: WeightSpec[] = [];
  const normal = (name: string, shape: number[], hfTransposed: boolean, s = std) =>
    specs.push({ name, shape, hfTransposed, init: 'normal', std: s });
  const vec = (name: string, n: number, init: 'ones' | 'zeros') =>
    specs.push({ name, shape: [n], hfTransposed: false, init });

  if (cfg.arch === 'gpt2') {
    // HF scales the residual projections' init by 1/sqrt(2·n_layer) (GPT-2 paper §2.3).
    const resid = std / Math.sqrt(2 * cfg.numLayers);
    normal('transformer.wte.weight', [cfg.vocabSize, d], false);
    normal('transformer.wpe.weight', [cfg.maxPositionEmbeddings, d], false);
    for (let i = 0; i < cfg.numLayers; i++) {
      const p = `transformer.h.${i}.`;
      vec(p + 'ln_1.weight', d, 'ones');
      vec(p + 'ln_1.bias', d, 'zeros');
      normal(p + 'attn.c_attn.weight', [d, 3 * d], false);
      vec(p + 'attn.c_attn.bias', 3 * d, 'zeros');
      normal(p + 'attn.c_proj.weight', [d, d], false, resid);
      vec(p + 'attn.c_proj.bias', d, 'zeros');
      vec(p + 'ln_2.weight', d, 'ones');
      vec(p + 'ln_2.bias', d, 'zeros');
      normal(p + 'mlp.c_fc.weight', [d, cfg.intermediateSize], false);
      vec(p + 'mlp.c_fc.bias', cfg.intermediateSize, 'zeros');
      normal(p + 'mlp.c_proj.weight', [cfg.intermediateSize, d], false, resid);
      vec(p + 'mlp.c_proj.bias', d, 'zeros');
    }
    vec('transformer.ln_f.weight', d, 'ones');
    vec('transformer.ln_f.bias', d, 'zeros');
    return specs;
  }

  const qDim = cfg.numHeads * cfg.headDim;
  const kvDim = cfg.numKvHeads * cfg.headDim;
  normal('model.embed_tokens.weight', [cfg.vocabSize, d], false);
  for (let i = 0; i < cfg.numLayers; i++) {
    const p = `model.layers.${i}.`;
    vec(p + 'input_layernorm.weight', d, 'ones');
    for (const [proj, out] of [
      ['q_proj', qDim],
      ['k_proj', kvDim],
      ['v_proj', kvDim],
    ] as const) {
      normal(`${p}self_attn.${proj}.weight`, [d, out], true);
      if (cfg.qkvBias) vec(`${p}self_attn.${proj}.bias`, out, 'zeros');
    }
    normal(p + 'self_attn.o_proj.weight', [qDim, d], true);
    if (cfg.outBias) vec(p + 'self_attn.o_proj.bias', d, 'zeros');
    if (cfg.qkNorm) {
      vec(p + 'self_attn.q_norm.weight', cfg.headDim, 'ones');
      vec(p + 'self_attn.k_norm.weight', cfg.headDim, 'ones');
    }
    vec(p + 'post_attention_layernorm.weight', d, 'ones');
    for (const [proj, shape] of [
      ['gate_proj', [d, cfg.intermediateSize]],
      ['up_proj', [d, cfg.intermediateSize]],
      ['down_proj', [cfg.intermediateSize, d]],
    ] as const) {
      normal(`${p}mlp.${proj}.weight`, [...shape], true);
      if (cfg.mlpBias) vec(`${p}mlp.${proj}.bias`, shape[1], 'zeros');
    }
  }
  vec('model.norm.weight', d, 'ones');
  if (!cfg.tieWordEmbeddings) normal('lm_head.weight', [d, cfg.vocabSize], true);
  return specs;
}

/** HF names that may appear in a checkpoint but are not weights (buffers, redundant tied heads). */
function isIgnorable(cfg: ModelConfig, name: string): boolean {
  if (name.endsWith('rotary_emb.inv_freq')) return true;
  if (cfg.arch === 'gpt2' && (name.endsWith('.attn.bias') || name.endsWith('.attn.masked_bias')))
    return true;
  return cfg.tieWordEmbeddings && name === 'lm_head.weight';
}

/** Checkpoint name → our name: GPT-2 checkpoints often omit the `transformer.` prefix. */
function canonicalName(cfg: ModelConfig, name: string): string {
  if (cfg.arch === 'gpt2' && !name.startsWith('transformer.') && !name.startsWith('lm_head.'))
    return 'transformer.' + name;
  return name;
}

/** One weight of a model as a Hugging Face checkpoint stores it, and how HF initialises it. */
export interface HfWeightSpec {
  /** HF name. */
  name: string;
  /** Shape in the checkpoint (`nn.Linear` weights `[out, in]`). */
  shape: number[];
  /**
   * CausalLM keeps this weight transposed (`[in, out]`), and
   * {@link CausalLM.create} draws it in that layout: a writer that wants the
   * same values draws `[shape[1], shape[0]]` and transposes.
   */
  transposed: boolean;
  /** normal(0, std) for matrices, ones for norm scales, zeros for biases. */
  init: 'normal' | 'ones' | 'zeros';
  std?: number;
}

/**
 * Every weight `cfg` implies, in HF naming, order and layout, with its HF
 * initialisation (what {@link CausalLM.create} draws). For tools that write
 * checkpoints without building a model.
 */
export function hfWeightLayout(cfg: ModelConfig): HfWeightSpec[] {
  return weightSpecs(cfg).map((s) => ({
    name: s.name,
    shape: s.hfTransposed ? [s.shape[1]!, s.shape[0]!] : [...s.shape],
    transposed: s.hfTransposed,
    init: s.init,
    ...(s.std !== undefined ? { std: s.std } : {}),
  }));
}

/**
 * Check a checkpoint's tensor names and shapes against `config` without its
 * data: every weight present with the shape config.json implies, no unexpected
 * names (buffers such as `rotary_emb.inv_freq` and a tied model's redundant
 * `lm_head.weight` are ignored). Returns our name → the checkpoint's name for
 * the tensors used. Throws a ModelDirectoryError naming the tensor and its
 * file: `source`, or `source(name)` for a checkpoint in several files.
 */
export function checkHfWeights(
  config: ModelConfig,
  shapes: ReadonlyMap<string, readonly number[]>,
  source: string | ((checkpointName: string) => string),
): Map<string, string> {
  const fileOf = typeof source === 'string' ? () => source : source;
  const specs = weightSpecs(config);
  const known = new Map(specs.map((s) => [s.name, s]));
  const names = new Map<string, string>();
  for (const raw of shapes.keys()) {
    if (isIgnorable(config, raw)) continue;
    const name = canonicalName(config, raw);
    if (!known.has(name)) {
      throw new ModelDirectoryError(
        `${fileOf(raw)}: unexpected tensor ${raw} for a ${config.arch} model (check model_type and the layer count in config.json)`,
        { source: fileOf(raw), field: raw },
      );
    }
    names.set(name, raw);
  }
  for (const spec of specs) {
    const raw = names.get(spec.name);
    if (raw === undefined) {
      // no file holds it: name the checkpoint as a whole
      const where = typeof source === 'string' ? source : source('');
      throw new ModelDirectoryError(`${where}: missing tensor ${spec.name}`, {
        source: where,
        field: spec.name,
      });
    }
    const hfShape = spec.hfTransposed ? [spec.shape[1]!, spec.shape[0]!] : spec.shape;
    const shape = shapes.get(raw)!;
    if (shape.join() !== hfShape.join()) {
      throw new ModelDirectoryError(
        `${fileOf(raw)}: tensor ${raw} has shape [${shape}], expected [${hfShape}] from config.json`,
        { source: fileOf(raw), field: raw },
      );
    }
  }
  return names;
}

function linearModulesOfSpecs(specs: readonly WeightSpec[]): LinearModule[] {
  const out: LinearModule[] = [];
  for (const spec of specs) {
    if (spec.shape.length !== 2 || !spec.name.endsWith('.weight')) continue;
    const name = spec.name.slice(0, -'.weight'.length);
    if (/(^|\.)(embed_tokens|wte|wpe|lm_head)$/.test(name)) continue;
    out.push({ name, inFeatures: spec.shape[0]!, outFeatures: spec.shape[1]! });
  }
  return out;
}

/**
 * The linear projections of `cfg`'s model that an adapter can target (what
 * {@link CausalLM.linearModules} gives), without building the model.
 */
export function linearModules(cfg: ModelConfig): LinearModule[] {
  return linearModulesOfSpecs(weightSpecs(cfg));
}

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

let modelCounter = 0;

/**
 * A low-rank adapter on the linear projections (LoRA, `./lora`): the model
 * calls {@link LinearAdapter.delta} after every projection and adds what it
 * returns. The model knows nothing else about it.
 */
export interface LinearAdapter {
  /**
   * The term added to module `module`'s output for input `x` `[N, in]`, or null
   * when it is not adapted. `read` gives the tensor to use in place of one of
   * {@link variables} (by that name), or undefined for the variable itself: an
   * activation-checkpointed layer passes its op's inputs so they get gradients.
   */
  delta(
    module: string,
    x: tf.Tensor2D,
    read?: (name: string) => tf.Tensor | undefined,
  ): tf.Tensor2D | null;
  /** `scaling · A·B` `[in, out]` of `module` (host copy), or null when it is not adapted. */
  deltaWeight(module: string): Float32Array | null;
  /** The adapter's own variables by name (PEFT's, without `base_model.model.`). */
  variables(): Map<string, tf.Variable>;
  /** Whether the base weight `name` (a bias under PEFT's `bias: all | lora_only`) trains too. */
  trainsBaseWeight(name: string): boolean;
  /** Training mode with dropout streams seeded by `seed`; null: inference (no dropout). */
  setTraining(seed: number | null): void;
  /**
   * Where the adapter's random stream (dropout masks) stands now, and `fn` run
   * with the stream put back there (then restored): activation checkpointing
   * recomputes a layer in the backward pass with the masks its forward drew.
   * An adapter without randomness need not implement them.
   */
  randomPosition?(): number;
  replayRandom?<T>(position: number, fn: () => T): T;
  dispose(): void;
}

/** A linear projection of the model (what LoRA's `target_modules` select from). */
export interface LinearModule {
  /** Module name as in HF/PEFT, e.g. `model.layers.0.self_attn.q_proj`. */
  name: string;
  inFeatures: number;
  outFeatures: number;
}

/** Options of {@link CausalLM.create}. */
export interface CreateOptions {
  /** Seed of the weight init; every weight draws from its own named sub-stream. */
  seed: number;
}

/** Options of {@link CausalLM.tokenLogProbs}. */
/**
 * Several sequences packed into each row (`@rxrl/data`'s `packSequences`):
 * `segmentIds` `[B·T]` (0 = padding) keeps attention inside each sequence and
 * `positions` `[B·T]` restart at 0 for every sequence, so a packed row computes
 * exactly what each sequence would alone.
 */
export interface PackedLayout {
  segmentIds: Int32Array;
  positions: Int32Array;
}

export interface TokenLogProbsOptions {
  /**
   * Rows (tokens) of logits materialised at a time, forward and backward;
   * bounds the `[rows, V]` logits. Default: the model's `logprobChunkSize`,
   * else ≤ 64 MiB of logits per chunk (`logitsChunkRows`).
   */
  chunkSize?: number;
  /** packed rows instead of one sequence per row (no attention mask then) */
  packing?: PackedLayout;
  /**
   * Log-probs of softmax(logits / temperature), as a sampler at that
   * temperature draws them (default 1). RL trainers pass the rollout's
   * temperature so training and generation log-probs describe the same policy.
   */
  temperature?: number;
}

export class CausalLM {
  readonly config: ModelConfig;
  private readonly weights: Map<string, tf.Variable>;
  private readonly specs: WeightSpec[];
  /**
   * Default rows per logits chunk of {@link CausalLM.tokenLogProbs} (the
   * `policy.logprob_chunk_size` setting); null: sized from the vocabulary.
   */
  logprobChunkSize: number | null = null;
  /**
   * Recompute each decoder layer's activations in the backward pass instead
   * of keeping them (`policy.activation_checkpointing`): a training step then
   * holds each layer's input plus one layer's intermediates. Not used with a
   * KV cache.
   */
  activationCheckpointing = false;
  private adapterRef: LinearAdapter | null = null;
  /** set only while {@link withProbe} runs: sees each named intermediate of the forward pass */
  private probe: ((site: string, x: tf.Tensor) => void) | null = null;

  /**
   * Run `fn` with `probe` called on every named intermediate of each forward pass
   * it makes, in order: `model.embed_tokens`, then per layer (Hugging Face module
   * names) `…input_layernorm`, `…self_attn`, `…self_attn.o_proj` (the residual
   * after attention), `…post_attention_layernorm`, `…mlp` and the layer output
   * `model.layers.<i>`, then `model.norm` and `lm_head` (log-probs / entropies).
   * For debugging (the non-finite locator): a probe that reads values syncs the
   * device at every site. GPT-2 modules use GPT-2's names.
   */
  withProbe<T>(probe: (site: string, x: tf.Tensor) => void, fn: () => T): T {
    const previous = this.probe;
    this.probe = probe;
    try {
      return fn();
    } finally {
      this.probe = previous;
    }
  }
  /** A view made by {@link withAdapter}: shares the weights, never frees them, trains nothing. */
  private readonly isView: boolean;

  private constructor(
    config: ModelConfig,
    weights: Map<string, tf.Variable>,
    specs: WeightSpec[],
    isView = false,
  ) {
    this.config = config;
    this.weights = weights;
    this.specs = specs;
    this.isView = isView;
  }

  private static build(
    config: ModelConfig,
    trainable: boolean,
    value: (spec: WeightSpec) => Float32Array,
  ): CausalLM {
    const specs = weightSpecs(config);
    const scope = `rxrl_model_${++modelCounter}`;
    const weights = new Map<string, tf.Variable>();
    try {
      for (const spec of specs) {
        const t = tf.tensor(value(spec), spec.shape, 'float32');
        weights.set(spec.name, tf.variable(t, trainable, `${scope}/${spec.name}`));
        t.dispose();
      }
    } catch (e) {
      for (const v of weights.values()) v.dispose();
      throw e;
    }
    return new CausalLM(config, weights, specs);
  }

  /**
   * A randomly initialised model (HF init: normal(0, initializer_range) for
   * matrices, ones for norm scales, zeros for biases). `config` is a
   * {@link ModelConfig} or a HF config.json object.
   */
  static create(config: ModelConfig | Record<string, unknown>, options: CreateOptions): CausalLM {
    const cfg = 'arch' in config ? (config as ModelConfig) : fromHfConfig(config);
    const rng = new Rng(options.seed);
    return CausalLM.build(cfg, true, (spec) => {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (spec.init === 'ones') data.fill(1);
      else if (spec.init === 'normal') rng.fork(spec.name).fillNormal(data, 0, spec.std!);
      return data;
    });
  }

  /**
   * A model from HF-layout host tensors (as read from safetensors). Missing or
   * misshaped weights and unexpected names are errors naming the tensor; `source`
   * names the checkpoint in them.
   */
  static fromHfWeights(
    config: ModelConfig,
    tensors: Map<string, HostTensor>,
    options: { trainable?: boolean; source?: string } = {},
  ): CausalLM {
    const shapes = new Map([...tensors].map(([name, t]) => [name, t.shape]));
    return CausalLM.fromHfReader(config, shapes, (name) => tensors.get(name)!.data, options);
  }

  /**
   * A model from a checkpoint described by its tensors' HF names and shapes,
   * whose data `read` gives one tensor at a time (so a loader can widen bf16 to
   * float32 tensor by tensor instead of holding every weight twice). Names and
   * shapes are checked ({@link checkHfWeights}) before the first `read`.
   */
  static fromHfReader(
    config: ModelConfig,
    shapes: ReadonlyMap<string, readonly number[]>,
    read: (checkpointName: string) => Float32Array,
    options: { trainable?: boolean; source?: string } = {},
  ): CausalLM {
    const names = checkHfWeights(config, shapes, options.source ?? 'checkpoint');
    return CausalLM.build(config, options.trainable ?? true, (spec) => {
      const data = read(names.get(spec.name)!);
      if (!spec.hfTransposed) return data;
      return transpose2d(data, spec.shape[1]!, spec.shape[0]!);
    });
  }

  /**
   * The weights in HF layout and naming, copied to host memory (what a checkpoint
   * stores). `mergeAdapter`: with the attached adapter's `scaling · A·B` added to
   * the weights it adapts (a full model that computes what base + adapter do).
   */
  exportHfWeights(options: { mergeAdapter?: boolean } = {}): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const spec of this.specs) {
      let data = this.weights.get(spec.name)!.dataSync() as Float32Array;
      const delta =
        options.mergeAdapter && spec.name.endsWith('.weight')
          ? (this.adapterRef?.deltaWeight(spec.name.slice(0, -'.weight'.length)) ?? null)
          : null;
      if (delta !== null) data = data.map((x, i) => x + delta[i]!);
      if (spec.hfTransposed) {
        out.set(spec.name, {
          shape: [spec.shape[1]!, spec.shape[0]!],
          data: transpose2d(data, spec.shape[0]!, spec.shape[1]!),
        });
      } else {
        out.set(spec.name, { shape: [...spec.shape], data: Float32Array.from(data) });
      }
    }
    return out;
  }

  /**
   * Trainable variables by name (empty for a frozen copy or a view); pass
   * `[...values()]` to variableGrads. With an adapter: its A/B matrices (plus
   * biases under PEFT's `bias: all | lora_only`); the base weights are frozen.
   */
  trainableVariables(): Map<string, tf.Variable> {
    if (this.isView) return new Map();
    return new Map([...this.variables()].filter(([, v]) => v.trainable));
  }

  /**
   * `tf.variableGrads` over exactly this model's trainable variables (never a
   * reference model's), with the gradients keyed by HF name. The caller disposes
   * `value` and every gradient.
   */
  variableGrads(
    loss: () => tf.Scalar,
    options: {
      /** seeds the adapter's dropout masks (LoRA `lora_dropout`); without it the adapter runs without dropout */
      dropoutSeed?: number;
    } = {},
  ): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const vars = this.trainableVariables();
    if (vars.size === 0)
      throw new RxrlUsageError(
        'CausalLM.variableGrads: this model has no trainable variables (a frozen copy?)',
      );
    const adapter = this.adapterRef;
    adapter?.setTraining(options.dropoutSeed ?? null);
    try {
      const { value, grads } = tf.variableGrads(loss, [...vars.values()]);
      return { value, grads: new Map([...vars].map(([name, v]) => [name, grads[v.name]!])) };
    } finally {
      adapter?.setTraining(null);
    }
  }

  /** Every variable by name, trainable or not: the HF weights, then the adapter's. */
  variables(): Map<string, tf.Variable> {
    const all = new Map(this.weights);
    if (this.adapterRef !== null) for (const [k, v] of this.adapterRef.variables()) all.set(k, v);
    return all;
  }

  /** The linear projections an adapter can target (not the embeddings, not the LM head), in HF order. */
  linearModules(): LinearModule[] {
    return linearModulesOfSpecs(this.specs);
  }

  /** The attached adapter (LoRA), or null. */
  get adapter(): LinearAdapter | null {
    return this.adapterRef;
  }

  /**
   * Attach `adapter` (the model owns it from now on and disposes it): every
   * base weight is frozen, except those the adapter trains (biases under
   * `bias: all | lora_only`).
   */
  attachAdapter(adapter: LinearAdapter): void {
    if (this.isView) throw new RxrlUsageError('CausalLM.attachAdapter: this model is a view');
    if (this.adapterRef !== null)
      throw new RxrlUsageError('CausalLM.attachAdapter: an adapter is attached already');
    for (const [name, v] of this.weights) v.trainable = adapter.trainsBaseWeight(name);
    this.adapterRef = adapter;
  }

  /**
   * A view of this model's weights (no copy) with `adapter` in place of its own,
   * or with none: several adapters served over one base, or the base with
   * adapters off. A view trains nothing, and disposing it frees nothing (its
   * adapter stays the caller's); it is valid while this model is.
   */
  withAdapter(adapter: LinearAdapter | null): CausalLM {
    const view = new CausalLM(this.config, this.weights, this.specs, true);
    view.adapterRef = adapter;
    view.logprobChunkSize = this.logprobChunkSize;
    return view;
  }

  /**
   * The reference policy of DPO and GRPO's KL: with an adapter, the base with
   * adapters off — a view sharing the weights, as TRL does with PEFT; without
   * one, a frozen copy. The caller disposes it either way.
   */
  referencePolicy(): CausalLM {
    return this.adapterRef !== null ? this.withAdapter(null) : this.frozenCopy();
  }

  /** A non-trainable copy with the current weights: the reference model of DPO/GRPO. */
  frozenCopy(): CausalLM {
    const vars = this.weights;
    // A real copy: on the cpu and native backends dataSync() hands out the
    // variable's own array, and the native optimizer updates that array in place.
    const copy = CausalLM.build(this.config, false, (spec) =>
      Float32Array.from(vars.get(spec.name)!.dataSync() as Float32Array),
    );
    copy.logprobChunkSize = this.logprobChunkSize;
    return copy;
  }

  /** Free every variable and the attached adapter (a view frees nothing). */
  dispose(): void {
    if (this.isView) return;
    for (const v of this.weights.values()) v.dispose();
    this.weights.clear();
    this.adapterRef?.dispose();
    this.adapterRef = null;
  }

  private w(name: string): tf.Variable {
    const v = this.weights.get(name);
    if (v === undefined)
      throw new RxrlUsageError(`CausalLM: weight ${name} not found (was the model disposed?)`);
    return v;
  }

  private wOpt(name: string): tf.Variable | undefined {
    return this.weights.get(name);
  }

  /**
   * Final (normed) hidden states `[B·T, D]`. Without a cache, positions come from
   * the attention mask (cumsum − 1, so left padding starts real tokens at 0). With
   * a cache, the new tokens attend to every cached token and are appended to it.
   * Call inside tf.tidy (every public method does).
   */
  private hidden(
    inputIds: tf.Tensor2D,
    attentionMask?: tf.Tensor2D | null,
    cache?: KVCache,
    packing?: PackedLayout,
  ): tf.Tensor2D {
    const cfg = this.config;
    const [b, t] = inputIds.shape;
    if (inputIds.rank !== 2)
      throw new RxrlUsageError(`CausalLM: inputIds must be [B,T], got shape [${inputIds.shape}]`);
    if (attentionMask != null && attentionMask.shape.join() !== inputIds.shape.join()) {
      throw new RxrlUsageError(
        `CausalLM: attentionMask shape [${attentionMask.shape}] differs from inputIds [${inputIds.shape}]`,
      );
    }
    const newMask =
      attentionMask != null ? attentionMask.dataSync() : new Uint8Array(b * t).fill(1);
    let positions: Int32Array;
    let keyMask: tf.Tensor2D | undefined;
    if (packing !== undefined) {
      if (cache !== undefined || attentionMask != null) {
        throw new RxrlUsageError(
          'CausalLM: packing replaces the attention mask and cannot be used with a KV cache',
        );
      }
      if (packing.segmentIds.length !== b * t || packing.positions.length !== b * t) {
        throw new RxrlUsageError(
          `CausalLM: packing.segmentIds and packing.positions need length B·T = ${b * t}`,
        );
      }
      positions = packing.positions;
    } else if (cache !== undefined) {
      if (cache.batch !== b)
        throw new RxrlUsageError(`CausalLM: cache holds batch ${cache.batch}, inputIds has ${b}`);
      positions = cache.appendMask(newMask, t);
      keyMask = tf.tensor2d(cache.mask, [b, cache.length], 'float32');
    } else {
      positions = positionsFromMask(newMask, b, t);
      if (attentionMask != null) keyMask = tf.cast(attentionMask, 'float32') as tf.Tensor2D;
    }

    const ids = tf.reshape(inputIds.dtype === 'int32' ? inputIds : tf.cast(inputIds, 'int32'), [
      b * t,
    ]) as tf.Tensor1D;
    let h: tf.Tensor2D;
    let rope: { cos: tf.Tensor3D; sin: tf.Tensor3D } | null = null;
    if (cfg.learnedPositions) {
      const maxPos = positions.reduce((m, p) => Math.max(m, p), 0);
      if (maxPos >= cfg.maxPositionEmbeddings) {
        throw new RxrlUsageError(
          `CausalLM: position ${maxPos} exceeds n_positions (${cfg.maxPositionEmbeddings}) of this gpt2 model`,
        );
      }
      h = tf.add(
        embedding(this.w('transformer.wte.weight') as tf.Tensor2D, ids),
        embedding(this.w('transformer.wpe.weight') as tf.Tensor2D, tf.tensor1d(positions, 'int32')),
      );
      this.probe?.('transformer.wte', h);
    } else {
      h = embedding(this.w('model.embed_tokens.weight') as tf.Tensor2D, ids);
      this.probe?.('model.embed_tokens', h);
      rope = ropeCosSin(positions, b, t, {
        headDim: cfg.headDim,
        ropeTheta: cfg.ropeTheta,
        ropeScaling: cfg.ropeScaling,
      });
    }

    /**
     * Weights by name — the model's and its adapter's variables, or (in a
     * checkpointed layer) that layer's op inputs.
     */
    type Weights = (name: string) => tf.Tensor | undefined;
    const adapter = this.adapterRef;
    const adapterVars = adapter?.variables() ?? new Map<string, tf.Variable>();
    const own: Weights = (name) =>
      adapterVars.get(name) ?? (name.endsWith('.bias') ? this.wOpt(name) : this.w(name));
    const norm = (x: tf.Tensor2D, prefix: string, W: Weights = own): tf.Tensor2D =>
      cfg.normType === 'rms'
        ? rmsNorm(x, W(prefix + '.weight') as tf.Tensor1D, cfg.normEps)
        : layerNorm(
            x,
            W(prefix + '.weight') as tf.Tensor1D,
            W(prefix + '.bias') as tf.Tensor1D,
            cfg.normEps,
          );

    const { numHeads: hq, numKvHeads: hkv, headDim: dh } = cfg;
    const gpt2 = cfg.arch === 'gpt2';
    const look = <X extends tf.Tensor>(site: string, x: X): X => {
      this.probe?.(site, x);
      return x;
    };
    /** Decoder layer `i` on the residual stream `h`, reading weights through `W`. */
    const layer = (
      i: number,
      h: tf.Tensor2D,
      W: Weights,
      keyMask: tf.Tensor2D | undefined,
      rope: { cos: tf.Tensor3D; sin: tf.Tensor3D } | null,
    ): tf.Tensor2D => {
      const p = gpt2 ? `transformer.h.${i}.` : `model.layers.${i}.`;
      // a projection plus its adapter's term (LoRA), the adapter reading its weights through W too
      const proj = (x: tf.Tensor2D, prefix: string): tf.Tensor2D => {
        const y = linear(
          x,
          W(prefix + '.weight') as tf.Tensor2D,
          W(prefix + '.bias') as tf.Tensor1D | undefined,
        );
        const delta = adapter?.delta(prefix, x, W) ?? null;
        return delta === null ? y : residualAdd(y, delta);
      };
      // attention block
      let x = look(
        p + (gpt2 ? 'ln_1' : 'input_layernorm'),
        norm(h, gpt2 ? p + 'ln_1' : p + 'input_layernorm', W),
      );
      let q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D;
      if (gpt2) {
        [q, k, v] = tf.split(proj(x, p + 'attn.c_attn'), 3, 1) as [
          tf.Tensor2D,
          tf.Tensor2D,
          tf.Tensor2D,
        ];
      } else {
        q = proj(x, p + 'self_attn.q_proj');
        k = proj(x, p + 'self_attn.k_proj');
        v = proj(x, p + 'self_attn.v_proj');
      }
      let q4 = tf.reshape(q, [b, t, hq, dh]) as tf.Tensor4D;
      let k4 = tf.reshape(k, [b, t, hkv, dh]) as tf.Tensor4D;
      let v4 = tf.reshape(v, [b, t, hkv, dh]) as tf.Tensor4D;
      if (cfg.qkNorm) {
        q4 = rmsNorm(q4, W(p + 'self_attn.q_norm.weight') as tf.Tensor1D, cfg.normEps);
        k4 = rmsNorm(k4, W(p + 'self_attn.k_norm.weight') as tf.Tensor1D, cfg.normEps);
      }
      if (rope !== null) {
        q4 = applyRope(q4, rope.cos, rope.sin);
        k4 = applyRope(k4, rope.cos, rope.sin);
      }
      if (cache !== undefined) ({ k: k4, v: v4 } = cache.update(i, k4, v4));
      const a = tf.reshape(attention(q4, k4, v4, { keyMask, segmentIds: packing?.segmentIds }), [
        b * t,
        hq * dh,
      ]) as tf.Tensor2D;
      look(p + (gpt2 ? 'attn' : 'self_attn'), a);
      h = look(
        p + (gpt2 ? 'attn.c_proj' : 'self_attn.o_proj'),
        residualAdd(h, proj(a, gpt2 ? p + 'attn.c_proj' : p + 'self_attn.o_proj')),
      );
      // MLP block
      x = look(
        p + (gpt2 ? 'ln_2' : 'post_attention_layernorm'),
        norm(h, gpt2 ? p + 'ln_2' : p + 'post_attention_layernorm', W),
      );
      const m =
        cfg.activation === 'silu'
          ? proj(
              swiglu(proj(x, p + 'mlp.gate_proj'), proj(x, p + 'mlp.up_proj')),
              p + 'mlp.down_proj',
            )
          : proj(geluTanh(proj(x, p + 'mlp.c_fc')), p + 'mlp.c_proj');
      look(p + 'mlp', m);
      return look(p.slice(0, -1), residualAdd(h, m));
    };
    const checkpoint = this.activationCheckpointing && cache === undefined;
    // one scope per layer frees its intermediates as it ends: a gradient tape keeps
    // (its own references to) only what the backward pass reads
    for (let i = 0; i < cfg.numLayers; i++) {
      const x = h;
      h = checkpoint
        ? this.checkpointedLayer(i, x, keyMask, rope, own, layer)
        : tf.tidy(() => layer(i, x, own, keyMask, rope));
    }
    return look(
      gpt2 ? 'transformer.ln_f' : 'model.norm',
      norm(h, gpt2 ? 'transformer.ln_f' : 'model.norm'),
    );
  }

  /**
   * Layer `i` as one custom-gradient op over its input and its trainable
   * weights (the adapter's A/B of the layer with LoRA; frozen base weights are
   * read as they are and get no gradient): the forward runs with the tape off
   * (its intermediates are freed at once), the backward runs the layer again
   * under `tf.grads`, with the adapter's dropout masks replayed, and returns
   * the gradients of the input and of every trainable weight of the layer.
   */
  private checkpointedLayer(
    i: number,
    h: tf.Tensor2D,
    keyMask: tf.Tensor2D | undefined,
    rope: { cos: tf.Tensor3D; sin: tf.Tensor3D } | null,
    own: (name: string) => tf.Tensor | undefined,
    layer: (
      i: number,
      h: tf.Tensor2D,
      W: (name: string) => tf.Tensor | undefined,
      keyMask: tf.Tensor2D | undefined,
      rope: { cos: tf.Tensor3D; sin: tf.Tensor3D } | null,
    ) => tf.Tensor2D,
  ): tf.Tensor2D {
    const prefix = this.config.arch === 'gpt2' ? `transformer.h.${i}.` : `model.layers.${i}.`;
    const vars = [...this.variables()].filter(([n, v]) => n.startsWith(prefix) && v.trainable);
    const names = vars.map(([n]) => n);
    const nw = names.length;
    // tensors the layer reads but does not differentiate travel as inputs, so the op keeps them
    const consts: tf.Tensor[] = [];
    if (keyMask !== undefined) consts.push(keyMask);
    if (rope !== null) consts.push(rope.cos, rope.sin);
    // the adapter's dropout stream as the forward finds it, for the recompute to draw the same masks
    const adapter = this.adapterRef;
    const position = adapter?.randomPosition?.();
    const run = (x: tf.Tensor, ws: tf.Tensor[], cs: tf.Tensor[]) => {
      const byName = new Map(names.map((n, j) => [n, ws[j]!]));
      const W = (n: string) => byName.get(n) ?? own(n);
      let c = 0;
      const km = keyMask !== undefined ? (cs[c++] as tf.Tensor2D) : undefined;
      const rp =
        rope !== null ? { cos: cs[c++] as tf.Tensor3D, sin: cs[c++] as tf.Tensor3D } : null;
      return layer(i, x as tf.Tensor2D, W, km, rp);
    };
    const op = customOp((inputs, save) => {
      save(inputs);
      return {
        value: run(inputs[0]!, inputs.slice(1, 1 + nw), inputs.slice(1 + nw)),
        gradFunc: (dy, saved) => {
          const cs = saved.slice(1 + nw);
          // tf.grads inside a backward pass starts a fresh tape and, finishing at depth 0,
          // clears the engine's: keep the outer backward's tape and put it back
          const state = tf.engine().state;
          const outerTape = state.activeTape;
          let grads: tf.Tensor[];
          const recompute = () =>
            tf.grads((...xs: tf.Tensor[]) => run(xs[0]!, xs.slice(1), cs))(
              saved.slice(0, 1 + nw),
              dy,
            );
          try {
            grads =
              position !== undefined && adapter?.replayRandom !== undefined
                ? adapter.replayRandom(position, recompute)
                : recompute();
          } finally {
            state.activeTape = outerTape;
          }
          return [...grads, ...cs.map((c) => tf.zerosLike(c))];
        },
      };
    });
    return op(h, ...vars.map(([, v]) => v), ...consts) as tf.Tensor2D;
  }

  /**
   * The LM head's weight as stored: `[D, V]`, or the tied `[V, D]` embedding
   * (vocab-major). Both {@link head} and the chunked `lmHeadTokenLogProbs` read
   * it in place; neither keeps a transposed copy.
   */
  private headTable(): { table: tf.Tensor2D; vocabMajor: boolean } {
    if (!this.config.tieWordEmbeddings)
      return { table: this.w('lm_head.weight') as tf.Tensor2D, vocabMajor: false };
    const name =
      this.config.arch === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight';
    return { table: this.w(name) as tf.Tensor2D, vocabMajor: true };
  }

  /** Full logits `[N, V]` of final hidden states `[N, D]` (generation, {@link logits}, entropies). */
  private head(h: tf.Tensor2D): tf.Tensor2D {
    const { table, vocabMajor } = this.headTable();
    return vocabMajor ? linearTransposed(h, table) : linear(h, table);
  }

  /**
   * Next-token logits `[B, T, V]`. `attentionMask` `[B, T]` (1 = token, 0 = left
   * padding) defaults to all ones. With `cache`, `inputIds` are the new tokens
   * only, they attend to everything cached, and their keys/values are appended.
   * `lastOnly` projects only each row's last position (`[B, 1, V]`): what a
   * prefill needs, without forming `[B, T, V]` over a large vocabulary.
   */
  logits(
    inputIds: tf.Tensor2D,
    attentionMask?: tf.Tensor2D | null,
    cache?: KVCache,
    options: { packing?: PackedLayout; lastOnly?: boolean } = {},
  ): tf.Tensor3D {
    const [b, t] = inputIds.shape;
    return tf.tidy(() => {
      let h = this.hidden(inputIds, attentionMask, cache, options.packing);
      if (options.lastOnly === true && t > 1) {
        const last = Int32Array.from({ length: b }, (_, i) => i * t + t - 1);
        h = tf.gather(h, tf.tensor1d(last, 'int32'));
      }
      const rows = options.lastOnly === true ? 1 : t;
      return tf.reshape(this.head(h), [b, rows, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  /**
   * `log p(targets[b,t] | inputIds[b,≤t])` as `[B, T]` — the quantity every loss
   * needs. The LM head, log-softmax and gather run fused `chunkSize` rows at a
   * time (`lmHeadTokenLogProbs`), forward and backward, so neither the
   * `[B·T, V]` logits nor their log-softmax is ever held, and a tied head uses
   * the embedding table without a transposed copy. Targets must be valid ids
   * everywhere (use any id, e.g. 0, where the loss mask is 0).
   */
  tokenLogProbs(
    inputIds: tf.Tensor2D,
    attentionMask: tf.Tensor2D | null,
    targets: tf.Tensor2D,
    options: TokenLogProbsOptions = {},
  ): tf.Tensor2D {
    const [b, t] = inputIds.shape;
    if (targets.shape.join() !== inputIds.shape.join()) {
      throw new RxrlUsageError(
        `CausalLM.tokenLogProbs: targets shape [${targets.shape}] differs from inputIds [${inputIds.shape}]`,
      );
    }
    const chunk =
      options.chunkSize ?? this.logprobChunkSize ?? logitsChunkRows(this.config.vocabSize);
    if (!Number.isInteger(chunk) || chunk <= 0)
      throw new RxrlConfigError(
        `tokenLogProbs: chunkSize must be a positive integer, got ${chunk}`,
      );
    const temperature = options.temperature ?? 1;
    if (!(temperature > 0) || !Number.isFinite(temperature))
      throw new RxrlConfigError(
        `tokenLogProbs: temperature must be a positive number, got ${temperature}`,
      );
    return tf.tidy(() => {
      const h = this.hidden(inputIds, attentionMask, undefined, options.packing);
      const tgt = tf.reshape(targets.dtype === 'int32' ? targets : tf.cast(targets, 'int32'), [
        b * t,
      ]) as tf.Tensor1D;
      const { table, vocabMajor } = this.headTable();
      const lp = lmHeadTokenLogProbs(h, table, tgt, { chunkRows: chunk, temperature, vocabMajor });
      this.probe?.('lm_head', lp);
      return tf.reshape(lp, [b, t]) as tf.Tensor2D;
    });
  }

  /**
   * {@link tokenLogProbs} and the differentiable entropy of the next-token distribution
   * at every position, both `[B, T]`, from one pass through the layers: what an entropy
   * bonus (`entropy_coef`) needs. The entropy runs chunked like the log-probs
   * (`lmHeadTokenEntropies`), so the `[B·T, V]` logits are never held; it costs one more
   * chunked head product forward and backward.
   */
  tokenLogProbsAndEntropies(
    inputIds: tf.Tensor2D,
    attentionMask: tf.Tensor2D | null,
    targets: tf.Tensor2D,
    options: TokenLogProbsOptions = {},
  ): { logprobs: tf.Tensor2D; entropies: tf.Tensor2D } {
    const [b, t] = inputIds.shape;
    if (targets.shape.join() !== inputIds.shape.join()) {
      throw new RxrlUsageError(
        `CausalLM.tokenLogProbsAndEntropies: targets shape [${targets.shape}] differs from inputIds [${inputIds.shape}]`,
      );
    }
    const chunk =
      options.chunkSize ?? this.logprobChunkSize ?? logitsChunkRows(this.config.vocabSize);
    const temperature = options.temperature ?? 1;
    if (
      !Number.isInteger(chunk) ||
      chunk <= 0 ||
      !(temperature > 0) ||
      !Number.isFinite(temperature)
    )
      throw new RxrlConfigError(
        `tokenLogProbsAndEntropies: chunkSize must be a positive integer and temperature positive, got ${chunk}, ${temperature}`,
      );
    const [logprobs, entropies] = tf.tidy(() => {
      const h = this.hidden(inputIds, attentionMask, undefined, options.packing);
      const tgt = tf.reshape(targets.dtype === 'int32' ? targets : tf.cast(targets, 'int32'), [
        b * t,
      ]) as tf.Tensor1D;
      const { table, vocabMajor } = this.headTable();
      const opts = { chunkRows: chunk, temperature, vocabMajor };
      const lp = lmHeadTokenLogProbs(h, table, tgt, opts);
      this.probe?.('lm_head', lp);
      const ent = lmHeadTokenEntropies(h, table, opts);
      this.probe?.('lm_head.entropy', ent);
      return [tf.reshape(lp, [b, t]) as tf.Tensor2D, tf.reshape(ent, [b, t]) as tf.Tensor2D];
    });
    return { logprobs, entropies };
  }

  /**
   * Entropy −Σ_v p_v·log p_v of the next-token distribution at every position, `[B, T]`
   * (TRL's per-token entropies, for `top_entropy_quantile`), at `temperature`, computed
   * `chunkSize` rows of logits at a time (freed chunk by chunk) like {@link tokenLogProbs}. Not meant for
   * gradients: call it outside a gradient tape.
   */
  tokenEntropies(
    inputIds: tf.Tensor2D,
    attentionMask: tf.Tensor2D | null,
    options: Omit<TokenLogProbsOptions, 'packing'> = {},
  ): tf.Tensor2D {
    const [b, t] = inputIds.shape;
    const chunk =
      options.chunkSize ?? this.logprobChunkSize ?? logitsChunkRows(this.config.vocabSize);
    const temperature = options.temperature ?? 1;
    if (!Number.isInteger(chunk) || chunk <= 0 || !(temperature > 0))
      throw new RxrlConfigError(
        `tokenEntropies: chunkSize must be a positive integer and temperature positive, got ${chunk}, ${temperature}`,
      );
    return tf.tidy(() => {
      const h = this.hidden(inputIds, attentionMask);
      const n = b * t;
      const parts: tf.Tensor1D[] = [];
      for (let start = 0; start < n; start += chunk) {
        const size = Math.min(chunk, n - start);
        const hs = size === n ? h : (tf.slice(h, [start, 0], [size, -1]) as tf.Tensor2D);
        // a scope per chunk: one chunk's [rows, V] logits at a time
        parts.push(
          tf.tidy(() => {
            const logits = this.head(hs);
            return tokenEntropy(temperature === 1 ? logits : tf.mul(logits, 1 / temperature));
          }),
        );
      }
      return tf.reshape(parts.length === 1 ? parts[0]! : tf.concat(parts), [b, t]) as tf.Tensor2D;
    });
  }

  /** Final hidden states averaged over real tokens, `[B, D]` (for semantic grouping). */
  meanPooledHidden(inputIds: tf.Tensor2D, attentionMask?: tf.Tensor2D | null): tf.Tensor2D {
    const [b, t] = inputIds.shape;
    return tf.tidy(() => {
      const h = tf.reshape(this.hidden(inputIds, attentionMask), [b, t, this.config.hiddenSize]);
      const m = attentionMask != null ? tf.cast(attentionMask, 'float32') : tf.ones([b, t]);
      const summed = tf.sum(tf.mul(h, tf.expandDims(m, 2)), 1);
      return tf.div(summed, tf.maximum(tf.sum(m, 1, true), 1)) as tf.Tensor2D;
    });
  }
}
