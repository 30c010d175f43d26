// Real size end to end (opt-in: RXRL_SLOW_TESTS=1, about 15 minutes on 2 cores):
// tools/real/e2e.sh runs SFT (with a resume), DPO and the GSM8K-format GRPO recipe,
// full fine-tune, on the Qwen2.5-0.5B layout, then generates from and serves the
// GRPO policy, and GRPO again training LoRA adapters. This checks what each run
// left behind, not only the exit code.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const steps = (run: string) =>
  fs
    .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { step: number }).step);

describe.runIf(process.env['RXRL_SLOW_TESTS'])('real size end to end (Qwen2.5-0.5B layout)', () => {
  it('SFT, DPO, GRPO and GRPO with LoRA train, resume, export, generate and serve', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-e2e-real-'));
    const { stdout } = await promisify(execFile)('bash', ['tools/real/e2e.sh', work], {
      cwd: root,
      maxBuffer: 1 << 26,
      timeout: 3_600_000,
    });
    // SFT: 2 steps, then a resume that ran step 3 only
    expect(steps(path.join(work, 'sft'))).toEqual([1, 2, 3]);
    expect(stdout).toMatch(/resumed from .*step_00000002 \(step 2/);
    for (const dir of ['sft-policy', 'dpo/final_model', 'grpo/policy'])
      expect(fs.existsSync(path.join(work, dir, 'config.json'))).toBe(true);
    expect(steps(path.join(work, 'dpo'))).toEqual([1, 2]);
    expect(steps(path.join(work, 'grpo'))).toEqual([1, 2]);
    // GRPO with LoRA: 2 steps, the adapter in PEFT's format beside the merged policy
    expect(steps(path.join(work, 'grpo-lora'))).toEqual([1, 2]);
    const adapter = path.join(work, 'grpo-lora/policy_adapter');
    const peft = JSON.parse(fs.readFileSync(path.join(adapter, 'adapter_config.json'), 'utf8'));
    expect(peft).toMatchObject({ peft_type: 'LORA', r: 16, lora_alpha: 32 });
    expect(fs.statSync(path.join(adapter, 'adapter_model.safetensors')).size).toBeGreaterThan(1e6);
    // the served policy answered an OpenAI completion with 4 tokens
    const answer = stdout.split('\n').find((l) => l.startsWith('{"id":"cmpl-'));
    expect(JSON.parse(answer!).usage.completion_tokens).toBe(4);
    expect(stdout).toContain('e2e: done');
    fs.rmSync(work, { recursive: true, force: true });
  }, 3_700_000);
});
