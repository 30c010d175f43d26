import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli';
import { fakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-memory-cmd-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A llama of about 4.9 B parameters (the tiny preset's head size): 16 B/param and more to train. */
const HUGE = [
  'policy.init.config_overrides.hidden_size=4096',
  'policy.init.config_overrides.intermediate_size=11008',
  'policy.init.config_overrides.num_hidden_layers=32',
  'policy.init.config_overrides.num_attention_heads=32',
  'policy.init.config_overrides.num_key_value_heads=32',
  // the tiny preset's head size (the recipe now sets its own head_dim): 32 heads × 16
  'policy.init.config_overrides.head_dim=16',
  'policy.init.config_overrides.vocab_size=32000',
];

describe('the memory estimate before loading', () => {
  it('sft: a run over the wasm heap exits 2 naming the estimate, the limit and what to change; nothing is written', async () => {
    const runDir = path.join(tmp, 'sft-huge');
    const { io, out, err } = fakeIo(root);
    const code = await runCli(
      [
        'sft',
        '--config',
        'configs/sft_arithmetic.yaml',
        '--run-dir',
        runDir,
        '--backend',
        'wasm',
        ...HUGE,
      ],
      io,
    );
    expect(code).toBe(2);
    const msg = err.join('\n');
    expect(msg).toMatch(/rxrl sft: sft needs about [\d.]+ GiB, more than 4\.00 GiB: the wasm heap/);
    expect(msg).toMatch(/weights +[\d.]+ GiB +4,859,367,424 parameters × 4 B/);
    expect(msg).toMatch(/AdamW state/);
    // activation_checkpointing is `auto`: it recomputes activations already, and still does not fit
    expect(msg).toMatch(/activations .*checkpointed: layer inputs \+ one layer recomputed/);
    expect(msg).not.toMatch(/policy\.activation_checkpointing=true/);
    expect(msg).toMatch(/--backend native, cpu or tensorflow/);
    expect(fs.existsSync(runDir)).toBe(false);
    expect(out.join('\n')).not.toMatch(/run directory/);
  });

  it('dpo and grpo refuse under RXRL_MEMORY_LIMIT, DPO counting its reference model', async () => {
    for (const [algo, recipe] of [
      ['dpo', 'configs/dpo_arithmetic.yaml'],
      ['grpo', 'configs/grpo_arithmetic.yaml'],
    ] as const) {
      const runDir = path.join(tmp, `${algo}-limited`);
      const { io, err } = fakeIo(root, { RXRL_MEMORY_LIMIT: '1MiB' });
      const code = await runCli(
        [algo, '--config', recipe, '--run-dir', runDir, '--backend', 'cpu'],
        io,
      );
      expect(code, err.join('\n')).toBe(2);
      expect(err.join('\n')).toMatch(
        new RegExp(`${algo} needs about [\\d.]+ [MG]iB, more than 1\\.0 MiB: RXRL_MEMORY_LIMIT`),
      );
      if (algo === 'dpo') expect(err.join('\n')).toMatch(/reference model/);
      else expect(err.join('\n')).toMatch(/KV cache/);
      expect(fs.existsSync(runDir)).toBe(false);
    }
  });

  it('generate refuses before loading the model directory', async () => {
    const { io, out, err } = fakeIo(root, { RXRL_MEMORY_LIMIT: '64000' });
    const code = await runCli(
      ['generate', '--model', 'models/arith-sft', '-p', '1+1=', '--backend', 'cpu'],
      io,
    );
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(
      /generate needs about [\d.]+ MiB, more than 0\.1 MiB[\s\S]*KV cache/,
    );
    expect(out).toEqual([]);
  });
});
