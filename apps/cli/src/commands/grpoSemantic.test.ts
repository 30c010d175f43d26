import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../cli';
import { fakeIo as makeFakeIo } from '../testing/fakeIo';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rxrl-grpo-semantic-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// configs/grpo_semantic_arithmetic.yaml on a fresh tiny model: 4 prompts a step, 2
// generations each, and a training set of those 4 prompts, so step 2 sees them again
const tiny = [
  'policy.model_name=null',
  'policy.init={arch: llama, preset: tiny}',
  'policy.train_global_batch_size=8',
  'policy.train_micro_batch_size=8',
  'policy.generation.max_new_tokens=2',
  'grpo.num_prompts_per_step=4',
  'grpo.num_generations_per_prompt=2',
  'grpo.max_val_samples=4',
  'grpo.val_period=0',
  'grpo.max_num_steps=2',
  'data.num_train_prompts=4',
  'logger.progress=false',
  'logger.tensorboard_enabled=false',
];

async function grpo(runDir: string, ...more: string[]) {
  const { io, out, err } = makeFakeIo(root);
  const args = ['grpo', '--config', 'configs/grpo_semantic_arithmetic.yaml', ...tiny, ...more];
  const code = await runCli([...args, '--run-dir', runDir, '--backend', 'wasm'], io);
  const rows = fs.existsSync(path.join(runDir, 'metrics.jsonl'))
    ? fs
        .readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, number>)
        .filter((r) => r['train/loss'] !== undefined)
    : [];
  return { code, out, err: err.join('\n'), rows };
}

describe("rxrl grpo with the guides' semantic grouping keys", () => {
  it('configs/grpo_semantic_arithmetic.yaml runs 2 steps: groups by prompt embedding, the cache answers step 2', async () => {
    const runDir = path.join(tmp, 'semantic');
    const { code, err, rows } = await grpo(runDir);
    expect(err).toBe('');
    expect(code).toBe(0);
    const saved = parse(fs.readFileSync(path.join(runDir, 'config.yaml'), 'utf8')) as {
      grpo: { group_strategy: string; grouping: Record<string, unknown> };
    };
    expect(saved.grpo.group_strategy).toBe('semantic');
    expect(saved.grpo.grouping).toMatchObject({
      similarity_threshold: 0.8,
      group_size: 8,
      min_group_size: 2,
      max_group_size: 8,
    });
    expect(rows.map((r) => r['step'])).toEqual([1, 2]);
    const [first, second] = rows as [Record<string, number>, Record<string, number>];
    // step 1: 4 prompts embedded in one forward pass (each prompt's 2 rows share it)
    expect(first['train/grouping/embedding_cache_misses']).toBe(4);
    expect(first['train/grouping/embedding_cache_hits']).toBe(0);
    expect(first['train/grouping/embedding_forward_passes']).toBe(1);
    // step 2: the same 4 prompts (the next epoch): all from the cache, no forward pass
    expect(second['train/grouping/embedding_cache_misses']).toBe(0);
    expect(second['train/grouping/embedding_cache_hits']).toBe(4);
    expect(second['train/grouping/embedding_forward_passes']).toBe(0);
    for (const r of rows) {
      const groups = r['train/grouping/num_groups']!;
      // every one of the 8 samples in one group, each within [2, 8]
      expect(groups * r['train/grouping/group_size_mean']!).toBeCloseTo(8, 10);
      expect(r['train/grouping/group_size_min']).toBeGreaterThanOrEqual(2);
      expect(r['train/grouping/group_size_max']).toBeLessThanOrEqual(8);
      // a prompt's two generations share its embedding: a group holds 1 to 4 prompts
      expect(groups).toBeGreaterThanOrEqual(1);
      expect(groups).toBeLessThanOrEqual(4);
      expect(r['train/grouping/embedding_spread']).toBeGreaterThanOrEqual(0);
      expect(r['train/grouping/embedding_spread']).toBeLessThan(1);
      expect(r['train/grouping/distinct_completion_fraction']).toBeGreaterThanOrEqual(1 / 8);
      expect(r['train/grouping/distinct_completion_fraction']).toBeLessThanOrEqual(1);
      expect(Number.isFinite(r['train/loss']!)).toBe(true);
    }
    // the same prompts, policy unchanged at grouping time of step 1 and cached for step 2:
    // the same embeddings, so the same groups
    expect(second['train/grouping/num_groups']).toBe(first['train/grouping/num_groups']);
    expect(second['train/grouping/embedding_spread']).toBe(
      first['train/grouping/embedding_spread'],
    );
  });

  it('an adaptive schedule embeds only in its semantic phase; the guide-style grpo.similarity_threshold loads', async () => {
    const runDir = path.join(tmp, 'adaptive');
    const { code, err, rows } = await grpo(
      runDir,
      'grpo.group_strategy=adaptive',
      'grpo.grouping.options={schedule: [{until: 0.5, strategy: random}, {strategy: semantic}]}',
    );
    expect(err).toBe('');
    expect(code).toBe(0);
    // step 1 (progress 0) is random: nothing embedded; step 2 (progress 0.5) is semantic
    expect(rows[0]).not.toHaveProperty('train/grouping/embedding_cache_misses');
    expect(rows[0]).not.toHaveProperty('train/grouping/embedding_spread');
    expect(rows[1]!['train/grouping/embedding_cache_misses']).toBe(4);
    expect(rows[1]!['train/grouping/embedding_forward_passes']).toBe(1);
    expect(rows[1]!['train/grouping/embedding_spread']).toBeGreaterThanOrEqual(0);

    // the key where the guide's YAML has it (beside group_strategy) moves to grpo.grouping
    const { io, out, err: configErr } = makeFakeIo(root);
    const code2 = await runCli(
      [
        'config',
        'configs/grpo_arithmetic.yaml',
        'grpo.group_strategy=semantic',
        'grpo.similarity_threshold=0.7',
      ],
      io,
    );
    expect(configErr.join('\n')).toBe('');
    expect(code2).toBe(0);
    const c = parse(out.join('\n')) as { grpo: { grouping: { similarity_threshold: number } } };
    expect(c.grpo.grouping.similarity_threshold).toBe(0.7);
  });
});
