import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';
import { startServe } from './serve';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-lora-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fakeIo = () => makeFakeIo(root);
const base = path.join(root, 'models/arith-sft');
/** Whether two files hold the same bytes (a boolean: a diff of megabytes would swamp the report). */
const sameBytes = (a: string, b: string) => fs.readFileSync(a).equals(fs.readFileSync(b));

// LoRA SFT of the shipped arith-sft model, shrunk to seconds; dropout on, so resume must replay its masks
const sftLora = (runDir: string, steps: number) => [
  'sft',
  '--config',
  'configs/sft_arithmetic.yaml',
  '--run-dir',
  runDir,
  '--backend',
  'wasm',
  `policy.model_name=${base}`,
  'policy.lora={r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: all-linear}',
  'policy.train_global_batch_size=16',
  // a constant, high rate: three steps move the adapter enough to change greedy completions
  'policy.scheduler={name: constant}',
  'policy.optimizer.kwargs.lr=0.03',
  'policy.train_micro_batch_size=8',
  `sft.max_num_steps=${steps}`,
  'sft.val_period=0',
  'sft.val_at_start=false',
  'sft.val_generation.num_prompts=4',
  'data.num_train_examples=64',
  'data.num_val_examples=8',
  'checkpointing.save_period=1',
];

describe('LoRA from the command line', () => {
  const full = path.join(tmp, 'full');
  const adapter = full + '/final_model_adapter';
  const merged = path.join(tmp, 'merged');

  it('target_modules that match nothing exit 2 naming the modules the model has', async () => {
    const { io, err } = fakeIo();
    const args = sftLora(path.join(tmp, 'bad'), 1);
    args[8] = 'policy.lora={target_modules: [c_attn]}';
    expect(await runCli(args, io)).toBe(2);
    expect(err.join('\n')).toContain(
      'policy.lora.target_modules = ["c_attn"] matches no module of this llama model; its linear modules are q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj',
    );
  });

  it('sft with adapters exports a PEFT adapter; an interrupted run resumes to the same adapter bit for bit', async () => {
    const a = fakeIo();
    expect(await runCli(sftLora(full, 3), a.io)).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(adapter, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: base,
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.1,
    });
    expect(fs.existsSync(path.join(adapter, 'tokenizer.json'))).toBe(true);
    expect(fs.existsSync(path.join(adapter, 'rxrl_training.json'))).toBe(true);
    // the checkpoints hold the adapter and its AdamW moments, not the frozen base
    const ckpts = path.join(full, 'checkpoints');
    const step = fs.readdirSync(ckpts).find((d) => d.startsWith('step_'))!;
    expect(fs.statSync(path.join(ckpts, step, 'policy.safetensors')).size).toBeLessThan(
      fs.statSync(path.join(base, 'model.safetensors')).size / 2,
    );

    const resumed = path.join(tmp, 'resumed');
    expect(await runCli(sftLora(resumed, 1), fakeIo().io)).toBe(0);
    const b = fakeIo();
    expect(await runCli(sftLora(resumed, 3), b.io)).toBe(0);
    expect(b.out.join('\n')).toMatch(/resum/i);
    expect(
      sameBytes(
        path.join(resumed, 'final_model_adapter/adapter_model.safetensors'),
        path.join(adapter, 'adapter_model.safetensors'),
      ),
    ).toBe(true);
    expect(
      sameBytes(
        path.join(resumed, 'final_model/model.safetensors'),
        path.join(full, 'final_model/model.safetensors'),
      ),
    ).toBe(true);
  });

  it('merge-adapter writes the merged model (as the run exported it) and refuses to overwrite without --force', async () => {
    const args = ['merge-adapter', '--adapter', adapter, '--out', merged, '--backend', 'wasm'];
    const m = fakeIo();
    expect(await runCli([...args, '--model', base], m.io)).toBe(0);
    expect(
      sameBytes(
        path.join(merged, 'model.safetensors'),
        path.join(full, 'final_model/model.safetensors'),
      ),
    ).toBe(true);
    expect(fs.existsSync(path.join(merged, 'tokenizer.json'))).toBe(true);
    expect(
      sameBytes(path.join(merged, 'rxrl_training.json'), path.join(adapter, 'rxrl_training.json')),
    ).toBe(true);
    const again = fakeIo();
    expect(await runCli(args, again.io)).toBe(2); // --model defaults to base_model_name_or_path
    expect(again.err.join('\n')).toMatch(/exists and is not empty; pass --force/);
    expect(await runCli([...args, '--force'], fakeIo().io)).toBe(0);
  });

  it('generate and eval with --adapter give what the merged model gives', async () => {
    const gen = async (...extra: string[]) => {
      const g = fakeIo();
      const prompt = ['--prompt', '12+30=', '--prompt', '7-3=', '--temperature', '0'];
      expect(
        await runCli(
          ['generate', ...prompt, '--max-new-tokens', '6', '--backend', 'wasm', ...extra],
          g.io,
        ),
      ).toBe(0);
      return g.out.join('\n');
    };
    const adapted = await gen('--model', base, '--adapter', adapter);
    expect(adapted).toBe(await gen('--model', merged));
    expect(adapted).not.toBe(await gen('--model', base)); // the adapter is applied
    // one task for all three: a merged directory has no rxrl_training.json to default to
    const task = ['--arithmetic', '{"operators":["+","-"],"min_digits":1,"max_digits":2,"seed":0}'];
    const ev = async (...extra: string[]) => {
      const e = fakeIo();
      expect(
        await runCli(['eval', ...task, '--max-samples', '16', '--backend', 'wasm', ...extra], e.io),
      ).toBe(0);
      // the scores; not the header (paths) nor the training-overlap line (read from the model directory)
      return e.out
        .filter((l) => !l.startsWith('rxrl eval:') && !l.startsWith('seen in training'))
        .join('\n');
    };
    const withAdapter = await ev('--model', base, '--adapter', adapter);
    expect(withAdapter).toMatch(/accuracy: /);
    expect(withAdapter).toBe(await ev('--model', merged));
    expect(withAdapter).not.toBe(await ev('--model', base));
    // without --arithmetic, base + adapter and the merged model both default to the adapter's training task
    const header = async (...extra: string[]) => {
      const e = fakeIo();
      expect(
        await runCli(['eval', '--max-samples', '4', '--backend', 'wasm', ...extra], e.io),
      ).toBe(0);
      return e.out[0]!.replace(/\(the task .* was trained on\)/, '');
    };
    expect(await header('--model', base, '--adapter', adapter)).toBe(
      await header('--model', merged),
    );
  });

  it('serve --lora-modules serves adapters by name over one base; each scores as its merged model', async () => {
    const io = fakeIo().io;
    const global = { backend: 'wasm', verbose: false };
    const multi = await startServe({
      values: {
        model: base,
        port: '0',
        'served-model-name': 'base',
        'lora-modules': [`tuned=${adapter}`],
      },
      positionals: [],
      global,
      io,
    });
    const single = await startServe({
      values: { model: merged, port: '0', 'served-model-name': 'merged' },
      positionals: [],
      global,
      io,
    });
    try {
      const client = (url: string) =>
        new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
      const a = client(multi.url);
      expect((await a.models.list()).data.map((m) => m.id)).toEqual(['base', 'tuned']);
      const score = async (c: OpenAI, model: string) => {
        const r = await c.completions.create({
          model,
          prompt: '12+30=42',
          max_tokens: 0,
          echo: true,
          logprobs: 0,
        });
        return r.choices[0]!.logprobs!.token_logprobs!.slice(1) as number[];
      };
      const tuned = await score(a, 'tuned');
      const want = await score(client(single.url), 'merged');
      const plain = await score(a, 'base');
      expect(tuned).toHaveLength(want.length);
      for (let i = 0; i < want.length; i++) expect(tuned[i]).toBeCloseTo(want[i]!, 4);
      expect(plain.some((x, i) => Math.abs(x - want[i]!) > 1e-3)).toBe(true);
      await expect(score(a, 'other')).rejects.toThrow(/does not exist/);
    } finally {
      await multi.close();
      await single.close();
    }
  });

  it('dpo and grpo train adapters, with the base as the reference policy', async () => {
    const dpoDir = path.join(tmp, 'dpo');
    const d = fakeIo();
    const dpo = [
      'dpo',
      '--config',
      'configs/dpo_arithmetic.yaml',
      '--run-dir',
      dpoDir,
      '--backend',
      'wasm',
      `policy.model_name=${base}`,
      'policy.lora={r: 4, target_modules: [q_proj, v_proj]}',
      'dpo.max_num_steps=1',
      'dpo.val_period=0',
      'data.num_train_examples=32',
      'data.num_val_examples=8',
    ];
    expect(await runCli(dpo, d.io)).toBe(0);
    expect(fs.existsSync(path.join(dpoDir, 'final_model_adapter/adapter_model.safetensors'))).toBe(
      true,
    );
    const grpoDir = path.join(tmp, 'grpo');
    const g = fakeIo();
    const grpo = [
      'grpo',
      '--config',
      'configs/grpo_arithmetic.yaml',
      '--run-dir',
      grpoDir,
      '--backend',
      'wasm',
      `policy.model_name=${base}`,
      'policy.lora={r: 4, target_modules: all-linear}',
      'loss_fn.reference_policy_kl_penalty=0.01',
      'policy.train_global_batch_size=8',
      'policy.train_micro_batch_size=8',
      'policy.generation.max_new_tokens=2',
      'grpo.num_prompts_per_step=4',
      'grpo.num_generations_per_prompt=2',
      'grpo.max_val_samples=4',
      'grpo.val_period=0',
      'grpo.max_num_steps=1',
      'data.num_train_prompts=32',
      'grpo.use_dynamic_sampling=false',
      'logger.progress=false',
      'logger.tensorboard_enabled=false',
    ];
    expect(await runCli(grpo, g.io)).toBe(0);
    expect(fs.existsSync(path.join(grpoDir, 'policy_adapter/adapter_config.json'))).toBe(true);
  });
});
