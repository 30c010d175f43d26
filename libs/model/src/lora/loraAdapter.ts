import * as tf from '@tensorflow/tfjs-core';
import { Rng, RxrlDataError, RxrlUsageError, linear } from '@rxrl/core';
import type { CausalLM, LinearAdapter, LinearModule } from '../causalLM';
import {
  LoraConfigSchema,
  loraScaling,
  resolveTargetModules,
  type LoraConfig,
  type LoraConfigInput,
} from './loraConfig';

/** One adapted module: `A` `[in, r]` and `B` `[r, out]` (PEFT's `lora_A.weight`, `lora_B.weight` transposed). */
interface LoraPair {
  module: LinearModule;
  a: tf.Variable;
  b: tf.Variable;
}

/** Host values of one module's adapter, in PEFT's layout: `A` `[r, in]`, `B` `[out, r]`. */
export interface LoraHostPair {
  a: Float32Array;
  b: Float32Array;
}

let adapterCounter = 0;

function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/**
 * LoRA (Hu et al. 2021, https://arxiv.org/abs/2106.09685) on a {@link CausalLM}'s
 * linear projections, as PEFT computes it: `y = x·W + b + scaling · dropout(x)·A·B`
 * with `scaling = lora_alpha / r` (or `/ sqrt(r)` with `use_rslora`). `A` starts
 * Kaiming-uniform (PEFT: `kaiming_uniform_(a=√5)`, i.e. U(±1/√in)), `B` at zero, so
 * a fresh adapter changes nothing. Variables are named as PEFT names its tensors,
 * without the `base_model.model.` prefix: `model.layers.0.self_attn.q_proj.lora_A.weight`.
 *
 * @example
 * const adapter = LoraAdapter.create(model, { r: 16, lora_alpha: 32, target_modules: 'all-linear' }, { seed: 0 });
 * model.attachAdapter(adapter); // base frozen; model.trainableVariables() = the A/B matrices
 */
export class LoraAdapter implements LinearAdapter {
  readonly config: LoraConfig;
  readonly scaling: number;
  /** The modules adapted, in model order. */
  readonly modules: readonly LinearModule[];
  private readonly pairs: Map<string, LoraPair>;
  private readonly trainedBiases: Set<string>;
  private dropoutSeed: number | null = null;
  private dropoutCalls = 0;
  /** The init seed, mixed into every dropout mask's seed (two runs with other seeds draw other masks). */
  private readonly seed: number;

  private constructor(
    config: LoraConfig,
    pairs: Map<string, LoraPair>,
    biases: Set<string>,
    seed: number,
  ) {
    this.config = config;
    this.seed = seed;
    this.scaling = loraScaling(config);
    this.pairs = pairs;
    this.modules = [...pairs.values()].map((p) => p.module);
    this.trainedBiases = biases;
  }

  private static build(
    model: CausalLM,
    config: LoraConfig,
    modules: LinearModule[],
    value: (m: LinearModule) => { a: Float32Array; b: Float32Array },
    seed = 0,
  ): LoraAdapter {
    const scope = `rxrl_lora_${++adapterCounter}`;
    const pairs = new Map<string, LoraPair>();
    const r = config.r;
    try {
      for (const m of modules) {
        const { a, b } = value(m);
        const [ta, tb] = [
          tf.tensor2d(a, [m.inFeatures, r], 'float32'),
          tf.tensor2d(b, [r, m.outFeatures], 'float32'),
        ];
        pairs.set(m.name, {
          module: m,
          a: tf.variable(ta, true, `${scope}/${m.name}.lora_A.weight`),
          b: tf.variable(tb, true, `${scope}/${m.name}.lora_B.weight`),
        });
        tf.dispose([ta, tb]);
      }
    } catch (e) {
      for (const p of pairs.values()) tf.dispose([p.a, p.b]);
      throw e;
    }
    const names = new Set(modules.map((m) => m.name));
    const biases = new Set<string>();
    for (const name of model.variables().keys()) {
      if (!name.endsWith('.bias')) continue;
      const module = name.slice(0, -'.bias'.length);
      if (config.bias === 'all' || (config.bias === 'lora_only' && names.has(module)))
        biases.add(name);
    }
    return new LoraAdapter(config, pairs, biases, seed);
  }

  /**
   * A fresh adapter for `model` (not attached: call `model.attachAdapter`).
   * `target_modules` matching nothing is an RxrlConfigError naming the model's
   * modules. Each A draws from its own stream of `seed`, forked by module name.
   */
  static create(model: CausalLM, options: LoraConfigInput, init: { seed: number }): LoraAdapter {
    const config = LoraConfigSchema.parse(options);
    const modules = resolveTargetModules(config, model.config.arch, model.linearModules());
    const rng = new Rng(init.seed).fork('lora');
    return LoraAdapter.build(
      model,
      config,
      modules,
      (m) => {
        const a = new Float32Array(m.inFeatures * config.r);
        const bound = 1 / Math.sqrt(m.inFeatures);
        const stream = rng.fork(m.name);
        for (let i = 0; i < a.length; i++) a[i] = (2 * stream.float() - 1) * bound;
        return { a, b: new Float32Array(config.r * m.outFeatures) };
      },
      init.seed,
    );
  }

  /**
   * An adapter with given values in PEFT's layout (`A` `[r, in]`, `B` `[out, r]`)
   * for exactly the modules of `values` (names as {@link CausalLM.linearModules}).
   * `source` names the file in errors.
   */
  static fromValues(
    model: CausalLM,
    options: LoraConfigInput,
    values: Map<string, LoraHostPair>,
    source = 'adapter',
  ): LoraAdapter {
    const config = LoraConfigSchema.parse(options);
    const byName = new Map(model.linearModules().map((m) => [m.name, m]));
    const modules: LinearModule[] = [];
    for (const [name, v] of values) {
      const m = byName.get(name);
      if (m === undefined) {
        throw new RxrlDataError(
          `${source}: ${name} is not a linear module of this ${model.config.arch} model`,
          { source, field: name },
        );
      }
      if (v.a.length !== config.r * m.inFeatures || v.b.length !== m.outFeatures * config.r) {
        throw new RxrlDataError(
          `${source}: ${name} needs lora_A [${config.r}, ${m.inFeatures}] and lora_B [${m.outFeatures}, ${config.r}] (r = ${config.r})`,
          { source, field: name },
        );
      }
      modules.push(m);
    }
    if (modules.length === 0)
      throw new RxrlDataError(`${source}: the adapter holds no LoRA tensors`, { source });
    const order = model.linearModules().map((m) => m.name);
    modules.sort((x, y) => order.indexOf(x.name) - order.indexOf(y.name));
    return LoraAdapter.build(model, config, modules, (m) => {
      const v = values.get(m.name)!;
      return {
        a: transpose2d(v.a, config.r, m.inFeatures),
        b: transpose2d(v.b, m.outFeatures, config.r),
      };
    });
  }

  /** Host copies in PEFT's layout (`A` `[r, in]`, `B` `[out, r]`), by module name in model order. */
  hostValues(): Map<string, LoraHostPair> {
    const out = new Map<string, LoraHostPair>();
    for (const [name, p] of this.pairs) {
      out.set(name, {
        a: transpose2d(p.a.dataSync() as Float32Array, p.module.inFeatures, this.config.r),
        b: transpose2d(p.b.dataSync() as Float32Array, this.config.r, p.module.outFeatures),
      });
    }
    return out;
  }

  delta(
    module: string,
    x: tf.Tensor2D,
    read?: (name: string) => tf.Tensor | undefined,
  ): tf.Tensor2D | null {
    const p = this.pairs.get(module);
    if (p === undefined) return null;
    const a = (read?.(`${module}.lora_A.weight`) ?? p.a) as tf.Tensor2D;
    const b = (read?.(`${module}.lora_B.weight`) ?? p.b) as tf.Tensor2D;
    let input = x;
    const rate = this.config.lora_dropout;
    if (rate > 0 && this.dropoutSeed !== null) {
      // one mask per call: the seed and the call's index within this training pass
      const seed = new Rng(this.seed)
        .fork(`dropout/${this.dropoutSeed}/${this.dropoutCalls++}`)
        .uint32();
      input = tf.dropout(x, rate, undefined, seed) as tf.Tensor2D;
    }
    // scale the [N, r] low-rank activations, not the [N, out] product: the multiply keeps its
    // operand for the backward pass, and r columns are far fewer than out
    const low = tf.mul(linear(input, a), this.scaling) as tf.Tensor2D;
    return linear(low, b);
  }

  deltaWeight(module: string): Float32Array | null {
    const p = this.pairs.get(module);
    if (p === undefined) return null;
    return tf.tidy(() => tf.mul(tf.matMul(p.a, p.b), this.scaling).dataSync() as Float32Array);
  }

  variables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [name, p] of this.pairs) {
      out.set(`${name}.lora_A.weight`, p.a);
      out.set(`${name}.lora_B.weight`, p.b);
    }
    return out;
  }

  trainsBaseWeight(name: string): boolean {
    return this.trainedBiases.has(name);
  }

  setTraining(seed: number | null): void {
    if (seed !== null && !Number.isFinite(seed))
      throw new RxrlUsageError(`LoraAdapter: dropout seed must be a finite number, got ${seed}`);
    this.dropoutSeed = seed;
    this.dropoutCalls = 0;
  }

  randomPosition(): number {
    return this.dropoutCalls;
  }

  replayRandom<T>(position: number, fn: () => T): T {
    const now = this.dropoutCalls;
    this.dropoutCalls = position;
    try {
      return fn();
    } finally {
      this.dropoutCalls = now;
    }
  }

  /** Bytes of the adapter's variables (float32). */
  get numBytes(): number {
    let n = 0;
    for (const p of this.pairs.values()) n += 4 * (p.a.size + p.b.size);
    return n;
  }

  dispose(): void {
    for (const p of this.pairs.values()) tf.dispose([p.a, p.b]);
    this.pairs.clear();
  }
}
