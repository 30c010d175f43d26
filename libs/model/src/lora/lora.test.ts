import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, RxrlConfigError, useBackend } from '@rxrl/core';
import { CausalLM } from '../causalLM';
import { ARCHITECTURES, presetConfig, type Architecture } from '../modelConfig';
import { loadPretrained, savePretrained } from '../pretrained';
import { readSafetensorsFile, serializeSafetensors, type HostTensor } from '../safetensors';
import { LoraAdapter, type LoraHostPair } from './loraAdapter';
import { loraScaling, resolveTargetModules, type LoraConfigInput } from './loraConfig';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  loadPeftAdapter,
  savePeftAdapter,
} from './peft';

const V = 40;
const ids2d = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');
const IDS = [
  [3, 9, 27, 11, 5, 30],
  [7, 7, 1, 2, 3, 39],
];
const TARGETS = [
  [9, 27, 11, 5, 30, 0],
  [7, 1, 2, 3, 39, 4],
];

/** Random A and B (nonzero B, so the adapter changes the model) in PEFT's layout. */
function randomValues(model: CausalLM, cfg: LoraConfigInput, seed: number) {
  const rng = new Rng(seed);
  const r = cfg.r ?? 8;
  const values = new Map<string, LoraHostPair>();
  const targets = { target_modules: cfg.target_modules ?? null };
  for (const m of resolveTargetModules(targets, model.config.arch, model.linearModules())) {
    values.set(m.name, {
      a: rng.fillNormal(new Float32Array(r * m.inFeatures), 0, 0.2),
      b: rng.fillNormal(new Float32Array(m.outFeatures * r), 0, 0.2),
    });
  }
  return values;
}

/** Σ w·log p with fixed random weights: a loss whose gradient reaches every weight. */
function weightedLogProb(model: CausalLM): tf.Scalar {
  const ids = ids2d(IDS);
  const tgt = ids2d(TARGETS);
  const w = tf.tensor2d(new Rng(3).fillNormal(new Float32Array(12)), [2, 6]);
  return tf.sum(tf.mul(model.tokenLogProbs(ids, null, tgt), w)) as tf.Scalar;
}

const maxAbs = (a: ArrayLike<number>) =>
  Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

/** `C = A·B` in float64, A `[n, k]`, B `[k, m]` row-major. */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number) {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p]!;
      for (let j = 0; j < m; j++) c[i * m + j]! += x * b[p * m + j]!;
    }
  return c;
}
const transpose = (a: ArrayLike<number>, rows: number, cols: number) => {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
};

describe('LoRA', () => {
  let tmp: string;
  beforeAll(async () => {
    await useBackend('wasm');
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rxrl-lora-'));
  });
  afterAll(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  it.each(ARCHITECTURES.map((a) => [a]))(
    '%s: forward and gradients equal those of the merged-weights model',
    (arch: Architecture) => {
      const before = tf.memory().numTensors;
      const model = CausalLM.create(presetConfig(arch, 'tiny', V), { seed: 1 });
      // rsLoRA on one architecture, alpha/r on the others; every linear module adapted
      const cfg: LoraConfigInput = {
        r: 4,
        lora_alpha: 8,
        target_modules: 'all-linear',
        use_rslora: arch === 'qwen3',
      };
      const values = randomValues(model, cfg, 2);
      const adapter = LoraAdapter.fromValues(model, cfg, values);
      expect(adapter.scaling).toBe(arch === 'qwen3' ? 4 : 2);
      model.attachAdapter(adapter);
      const merged = CausalLM.fromHfWeights(
        model.config,
        model.exportHfWeights({ mergeAdapter: true }),
      );

      // forward: log-probs of the adapted model = those of the merged one (float32 rounding only)
      const lpLora = tf.tidy(() => weightedLogProb(model).dataSync()[0]!);
      const lpMerged = tf.tidy(() => weightedLogProb(merged).dataSync()[0]!);
      const lpBase = tf.tidy(() => weightedLogProb(model.withAdapter(null)).dataSync()[0]!);
      expect(Math.abs(lpLora - lpBase)).toBeGreaterThan(0.01); // the adapter does change the model
      expect(Math.abs(lpLora - lpMerged)).toBeLessThan(1e-4 * Math.abs(lpMerged) + 1e-4);
      const ids = ids2d(IDS);
      const logitsLora = model.logits(ids);
      const logitsMerged = merged.logits(ids);
      expect(maxDiff(logitsLora.dataSync(), logitsMerged.dataSync())).toBeLessThan(
        1e-5 * maxAbs(logitsMerged.dataSync()) + 1e-5,
      );
      tf.dispose([ids, logitsLora, logitsMerged]);

      // gradients: only the adapter trains; by the chain rule through W' = W + s·A·B
      // ([in, out] layout), dL/dA = s·G·Bᵀ and dL/dB = s·Aᵀ·G with G = dL/dW' of the merged model
      const trainable = [...model.trainableVariables().keys()];
      expect(trainable.length).toBe(2 * values.size);
      expect(trainable.every((n) => /\.lora_[AB]\.weight$/.test(n))).toBe(true);
      const g = model.variableGrads(() => weightedLogProb(model));
      const gm = merged.variableGrads(() => weightedLogProb(merged));
      const s = adapter.scaling;
      const r = 4;
      for (const m of adapter.modules) {
        const G = gm.grads.get(`${m.name}.weight`)!.dataSync(); // [in, out]
        const v = values.get(m.name)!;
        const A = transpose(v.a, r, m.inFeatures); // [in, r]
        const B = transpose(v.b, m.outFeatures, r); // [r, out]
        const wantA = matmul(G, transpose(B, r, m.outFeatures), m.inFeatures, m.outFeatures, r);
        const wantB = matmul(transpose(A, m.inFeatures, r), G, r, m.inFeatures, m.outFeatures);
        const gotA = g.grads.get(`${m.name}.lora_A.weight`)!.dataSync();
        const gotB = g.grads.get(`${m.name}.lora_B.weight`)!.dataSync();
        const wa = wantA.map((x) => s * x);
        const wb = wantB.map((x) => s * x);
        expect(maxAbs(wa)).toBeGreaterThan(0);
        expect(maxDiff(gotA, wa)).toBeLessThan(2e-3 * maxAbs(wa) + 1e-6);
        expect(maxDiff(gotB, wb)).toBeLessThan(2e-3 * maxAbs(wb) + 1e-6);
      }
      tf.dispose([g.value, gm.value, ...g.grads.values(), ...gm.grads.values()]);
      model.dispose();
      merged.dispose();
      expect(tf.memory().numTensors).toBe(before);
    },
  );

  it('a fresh adapter: A Kaiming-uniform U(±1/√in), B zero, the model unchanged bit for bit; base frozen', () => {
    const model = CausalLM.create(presetConfig('qwen2', 'tiny', V), { seed: 1 });
    const ids = ids2d(IDS);
    const base = Array.from(model.logits(ids).dataSync());
    const adapter = LoraAdapter.create(
      model,
      { r: 16, target_modules: ['q_proj', 'down_proj'] },
      { seed: 7 },
    );
    expect(adapter.modules.map((m) => m.name)).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.mlp.down_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.mlp.down_proj',
    ]);
    model.attachAdapter(adapter);
    expect(Array.from(model.logits(ids).dataSync())).toEqual(base);
    const down = adapter.hostValues().get('model.layers.0.mlp.down_proj')!; // in = 128
    const bound = 1 / Math.sqrt(128);
    expect(maxAbs(down.a)).toBeLessThanOrEqual(bound);
    const std = Math.sqrt(Array.from(down.a).reduce((t, x) => t + x * x, 0) / down.a.length);
    expect(std).toBeCloseTo(bound / Math.sqrt(3), 2); // uniform's std
    expect(maxAbs(down.b)).toBe(0);
    // the same seed gives the same A; base weights are no longer trainable
    const again = LoraAdapter.create(
      model,
      { r: 16, target_modules: ['q_proj', 'down_proj'] },
      { seed: 7 },
    );
    expect(Array.from(again.hostValues().get('model.layers.0.mlp.down_proj')!.a)).toEqual(
      Array.from(down.a),
    );
    again.dispose();
    const names = [...model.trainableVariables().keys()];
    expect(names).toHaveLength(8);
    expect(names.every((n) => n.includes('.lora_'))).toBe(true);
    expect(model.variables().get('model.embed_tokens.weight')!.trainable).toBe(false);
    ids.dispose();
    model.dispose();
  });

  it('bias: all trains every bias, lora_only those of adapted modules (qwen2 has q/k/v biases)', () => {
    for (const [bias, want] of [
      ['all', 6],
      ['lora_only', 4],
    ] as const) {
      const model = CausalLM.create(presetConfig('qwen2', 'tiny', V), { seed: 1 });
      model.attachAdapter(
        LoraAdapter.create(model, { bias, target_modules: ['q_proj', 'v_proj'] }, { seed: 0 }),
      );
      const biases = [...model.trainableVariables().keys()].filter((n) => n.endsWith('.bias'));
      expect(biases).toHaveLength(want);
      if (bias === 'lora_only') expect(biases.every((n) => /(q|v)_proj\.bias$/.test(n))).toBe(true);
      model.dispose();
    }
  });

  it('target_modules: names, a regex, all-linear, PEFT defaults; matching nothing names the modules', () => {
    const llama = CausalLM.create(presetConfig('llama', 'tiny', V), { seed: 1 });
    const gpt2 = CausalLM.create(presetConfig('gpt2', 'tiny', V), { seed: 1 });
    const names = (m: CausalLM, t: LoraConfigInput['target_modules']) =>
      resolveTargetModules({ target_modules: t ?? null }, m.config.arch, m.linearModules()).map(
        (x) => x.name,
      );
    expect(names(llama, null)).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
    expect(names(gpt2, null)).toEqual([
      'transformer.h.0.attn.c_attn',
      'transformer.h.1.attn.c_attn',
    ]);
    expect(names(llama, 'all-linear')).toHaveLength(14); // 7 per layer, not lm_head
    expect(names(gpt2, 'all-linear')).toHaveLength(8);
    expect(names(llama, 'all-linear')).not.toContain('lm_head');
    expect(names(llama, String.raw`.*\.1\.mlp\.(up|down)_proj`)).toEqual([
      'model.layers.1.mlp.up_proj',
      'model.layers.1.mlp.down_proj',
    ]);
    expect(() => names(llama, ['c_attn'])).toThrow(RxrlConfigError);
    expect(() => names(llama, ['c_attn'])).toThrow(
      /matches no module of this llama model; its linear modules are q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/,
    );
    expect(() => names(gpt2, ['q_proj'])).toThrow(/its linear modules are c_attn, c_proj, c_fc/);
    llama.dispose();
    gpt2.dispose();
  });

  it('loraScaling: alpha/r, or alpha/sqrt(r) with use_rslora', () => {
    expect(loraScaling({ r: 16, lora_alpha: 32, use_rslora: false })).toBe(2);
    expect(loraScaling({ r: 16, lora_alpha: 32, use_rslora: true })).toBe(8);
  });

  it('an adapter we write reloads bit-exact, in PEFT names, layouts and config', async () => {
    const model = CausalLM.create(presetConfig('llama', 'tiny', V), { seed: 1 });
    const cfg: LoraConfigInput = {
      r: 4,
      lora_alpha: 16,
      lora_dropout: 0.05,
      target_modules: 'all-linear',
    };
    model.attachAdapter(LoraAdapter.fromValues(model, cfg, randomValues(model, cfg, 5)));
    const baseDir = path.join(tmp, 'base');
    await savePretrained(model, baseDir);
    const dir = path.join(tmp, 'adapter');
    await savePeftAdapter(model, dir, { baseModelNameOrPath: baseDir });
    const config = JSON.parse(await fs.readFile(path.join(dir, ADAPTER_CONFIG_FILE), 'utf8'));
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: baseDir,
      r: 4,
      lora_alpha: 16,
      lora_dropout: 0.05,
      bias: 'none',
      use_rslora: false,
      target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    });
    const file = await readSafetensorsFile(path.join(dir, ADAPTER_WEIGHTS_FILE));
    expect(file.tensors.size).toBe(28);
    expect(
      file.tensors.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape,
    ).toEqual([4, 64]);
    expect(
      file.tensors.get('base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight')!.shape,
    ).toEqual([32, 4]);
    expect(
      file.tensors.get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')!.shape,
    ).toEqual([4, 128]);

    const reloaded = await loadPretrained(baseDir, { adapter: dir });
    const want = model.variables();
    const got = reloaded.variables();
    expect([...got.keys()]).toEqual([...want.keys()]);
    for (const [name, v] of want)
      expect(Buffer.from((got.get(name)!.dataSync() as Float32Array).buffer)).toEqual(
        Buffer.from((v.dataSync() as Float32Array).buffer),
      );
    const ids = ids2d(IDS);
    expect(Array.from(reloaded.logits(ids).dataSync())).toEqual(
      Array.from(model.logits(ids).dataSync()),
    );
    ids.dispose();
    model.dispose();
    reloaded.dispose();
  });

  it('trained biases travel in the file as PEFT names them, and reload into the base', async () => {
    const model = CausalLM.create(presetConfig('qwen2', 'tiny', V), { seed: 1 });
    const baseDir = path.join(tmp, 'qwen2');
    await savePretrained(model, baseDir);
    const cfg: LoraConfigInput = { r: 2, bias: 'lora_only', target_modules: ['q_proj'] };
    model.attachAdapter(LoraAdapter.fromValues(model, cfg, randomValues(model, cfg, 4)));
    const bias = model.variables().get('model.layers.1.self_attn.q_proj.bias')!;
    bias.assign(tf.fill([64], 0.25));
    const dir = path.join(tmp, 'qwen2-bias');
    await savePeftAdapter(model, dir);
    const file = await readSafetensorsFile(path.join(dir, ADAPTER_WEIGHTS_FILE));
    expect([...file.tensors.keys()].filter((k) => k.endsWith('.bias'))).toEqual([
      'base_model.model.model.layers.0.self_attn.q_proj.bias',
      'base_model.model.model.layers.1.self_attn.q_proj.bias',
    ]);
    // newer PEFT writes the wrapped layer's name, `….q_proj.base_layer.bias`: the same tensor
    const renamed = [...file.tensors].map(
      ([k, t]) => [k.replace(/q_proj\.bias$/, 'q_proj.base_layer.bias'), t] as [string, HostTensor],
    );
    await fs.writeFile(path.join(dir, ADAPTER_WEIGHTS_FILE), serializeSafetensors(renamed));
    const reloaded = await loadPretrained(baseDir, { adapter: dir });
    const got = reloaded.variables().get('model.layers.1.self_attn.q_proj.bias')!.dataSync();
    expect(Array.from(got)).toEqual(new Array(64).fill(0.25));
    expect([...reloaded.trainableVariables().keys()]).toContain(
      'model.layers.0.self_attn.q_proj.bias',
    );
    model.dispose();
    reloaded.dispose();
  });

  it('a hand-built PEFT file with known values loads into the right modules', async () => {
    // one module, layer 1's v_proj (in 64, out 32), r = 2, lora_alpha = 4 → scaling 2;
    // lora_A[k][i] = (k+1)·0.01·(i mod 3), lora_B[o][k] = 0.1 when o = k, else 0
    const model = CausalLM.create(presetConfig('llama', 'tiny', V), { seed: 9 });
    const hf = model.exportHfWeights(); // HF layout: v_proj.weight [out 32, in 64]
    const r = 2;
    const A = new Float32Array(r * 64).map(
      (_, j) => (Math.floor(j / 64) + 1) * 0.01 * ((j % 64) % 3),
    );
    const B = new Float32Array(32 * r).map((_, j) => (Math.floor(j / r) === j % r ? 0.1 : 0));
    const dir = path.join(tmp, 'handmade');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(
      path.join(dir, ADAPTER_CONFIG_FILE),
      JSON.stringify({
        peft_type: 'LORA',
        task_type: 'CAUSAL_LM',
        base_model_name_or_path: 'meta-llama/Llama-3.2-1B',
        r,
        lora_alpha: 4,
        lora_dropout: 0.1,
        target_modules: ['v_proj'],
        bias: 'none',
        fan_in_fan_out: false,
        use_rslora: false,
        use_dora: false,
        rank_pattern: {},
        alpha_pattern: {},
        modules_to_save: null,
      }),
    );
    const tensors: [string, HostTensor][] = [
      [
        'base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight',
        { shape: [r, 64], data: A },
      ],
      [
        'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight',
        { shape: [32, r], data: B },
      ],
    ];
    await fs.writeFile(path.join(dir, ADAPTER_WEIGHTS_FILE), serializeSafetensors(tensors));
    const adapter = await loadPeftAdapter(model, dir);
    expect(adapter.modules.map((m) => m.name)).toEqual(['model.layers.1.self_attn.v_proj']);
    expect(adapter.scaling).toBe(2);
    // reference: W[o][i] += 2·Σ_k B[o][k]·A[k][i] written straight into the HF tensor
    const w = hf.get('model.layers.1.self_attn.v_proj.weight')!;
    const edited = Float32Array.from(w.data);
    for (let o = 0; o < 32; o++)
      for (let i = 0; i < 64; i++) {
        let d = 0;
        for (let k = 0; k < r; k++) d += B[o * r + k]! * A[k * 64 + i]!;
        edited[o * 64 + i]! += 2 * d;
      }
    hf.set('model.layers.1.self_attn.v_proj.weight', { shape: w.shape, data: edited });
    const reference = CausalLM.fromHfWeights(model.config, hf);
    const ids = ids2d(IDS);
    const got = model.logits(ids).dataSync();
    const want = reference.logits(ids).dataSync();
    expect(maxDiff(got, want)).toBeLessThan(1e-5);
    // and it does change the model
    expect(maxDiff(got, model.withAdapter(null).logits(ids).dataSync())).toBeGreaterThan(1e-4);
    ids.dispose();
    model.dispose();
    reference.dispose();
  });

  it('PEFT files rxrl cannot honour are refused by name', async () => {
    const model = CausalLM.create(presetConfig('llama', 'tiny', V), { seed: 1 });
    const dir = path.join(tmp, 'dora');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(
      path.join(dir, ADAPTER_CONFIG_FILE),
      JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 2, use_dora: true }),
    );
    await expect(loadPeftAdapter(model, dir)).rejects.toThrow(/use_dora = true is not supported/);
    await fs.writeFile(
      path.join(dir, ADAPTER_CONFIG_FILE),
      JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 2 }),
    );
    const bad: [string, HostTensor][] = [
      [
        'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
        { shape: [3, 64], data: new Float32Array(192) },
      ],
    ];
    await fs.writeFile(path.join(dir, ADAPTER_WEIGHTS_FILE), serializeSafetensors(bad));
    await expect(loadPeftAdapter(model, dir)).rejects.toThrow(
      /has shape \[3,64\], expected \[2,64\]/,
    );
    expect(model.adapter).toBeNull();
    model.dispose();
  });

  it('lora_dropout: masks only while training, the same for the same seed', () => {
    const model = CausalLM.create(presetConfig('llama', 'tiny', V), { seed: 1 });
    const cfg: LoraConfigInput = { r: 4, lora_dropout: 0.5 };
    model.attachAdapter(LoraAdapter.fromValues(model, cfg, randomValues(model, cfg, 2)));
    const gradOf = (seed?: number) => {
      const { value, grads } = model.variableGrads(
        () => weightedLogProb(model),
        seed === undefined ? {} : { dropoutSeed: seed },
      );
      const out = [
        value.dataSync()[0]!,
        ...grads.get('model.layers.0.self_attn.q_proj.lora_B.weight')!.dataSync(),
      ];
      tf.dispose([value, ...grads.values()]);
      return out;
    };
    const noDropout = gradOf();
    const plain = tf.tidy(() => weightedLogProb(model).dataSync()[0]!);
    expect(noDropout[0]).toBe(plain);
    expect(gradOf(1)).toEqual(gradOf(1));
    expect(gradOf(1)).not.toEqual(gradOf(2));
    expect(gradOf(1)[0]).not.toBe(plain);
    expect(tf.tidy(() => weightedLogProb(model).dataSync()[0]!)).toBe(plain); // inference again after training
    model.dispose();
  });

  it('the reference policy is the base with adapters off: no second copy of the weights', () => {
    const model = CausalLM.create(presetConfig('llama', 'small', 256), { seed: 1 });
    const weightBytes = tf.memory().numBytes;
    const copy = model.referencePolicy(); // no adapter: a frozen copy
    const copyBytes = tf.memory().numBytes - weightBytes;
    copy.dispose();
    const cfg: LoraConfigInput = { r: 8, lora_alpha: 16, target_modules: 'all-linear' };
    model.attachAdapter(LoraAdapter.fromValues(model, cfg, randomValues(model, cfg, 1)));
    const withAdapter = tf.memory().numBytes;
    const ref = model.referencePolicy();
    const viewBytes = tf.memory().numBytes - withAdapter;
    console.log(
      `reference policy of llama/small (${(copyBytes / 2 ** 20).toFixed(2)} MiB of weights): frozen copy +${copyBytes} B, base-with-adapters-off view +${viewBytes} B; adapter ${model.adapter instanceof LoraAdapter ? model.adapter.numBytes : 0} B`,
    );
    expect(copyBytes).toBeGreaterThan(0);
    expect(viewBytes).toBe(0);
    expect(ref.trainableVariables().size).toBe(0);
    const ids = ids2d(IDS);
    const base = CausalLM.fromHfWeights(model.config, model.exportHfWeights());
    expect(Array.from(ref.logits(ids).dataSync())).toEqual(Array.from(base.logits(ids).dataSync()));
    ref.dispose(); // frees nothing of the policy
    expect(tf.tidy(() => model.logits(ids).shape)).toEqual([2, 6, 256]);
    tf.dispose(ids);
    base.dispose();
    model.dispose();
  });
});
