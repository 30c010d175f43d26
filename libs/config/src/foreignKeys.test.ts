import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineSections } from './defineSections';
import { ConfigValidationError } from './configIssue';
import { FOREIGN_KEYS } from './foreignKeys';

// a recipe's shape in miniature: a run seed, a logger, a policy and an algorithm section
const sections = defineSections({
  seed: z.int().default(42),
  logger: z.object({ log_dir: z.string().nullable().default(null) }).prefault({}),
  policy: z.object({ lr: z.number().default(1e-5) }).prefault({}),
  dpo: z.object({ beta: z.number().default(0.1) }).prefault({}),
  loss_fn: z.object({ entropy_coef: z.number().default(0) }).prefault({}),
});

/** The single issue line for a recipe that must fail. */
function issueLines(config: Record<string, unknown>): string[] {
  try {
    sections.validate(config);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigValidationError);
    return (e as ConfigValidationError).issues.map(
      (i) => `${i.keyPath.join('.')}: ${i.problem}; ${i.hint}`,
    );
  }
  return [];
}

describe('foreign recipe keys (NeMo RL, TRL, the customisation guides)', () => {
  it('precision: float32 (any spelling) loads and is dropped; bfloat16 fails with the reason', () => {
    for (const p of ['float32', 'fp32', 32, 'FP32'])
      expect(sections.validate({ policy: { precision: p, lr: 2e-5 } })).toEqual({
        seed: 42,
        logger: { log_dir: null },
        policy: { lr: 2e-5 },
        dpo: { beta: 0.1 },
        loss_fn: { entropy_coef: 0 },
      });
    expect(issueLines({ policy: { precision: 'bfloat16' } })).toEqual([
      'policy.precision: rxrl trains in float32 only (TensorFlow.js has no bfloat16 / float16 training kernels); set `precision: float32` or remove the key',
    ]);
  });

  it('logger.wandb*: disabled loads, enabled or configured fails naming TensorBoard and metrics.jsonl', () => {
    expect(
      sections.validate({ logger: { wandb_enabled: false, tensorboard_enabled: true } }).logger,
    ).toEqual({ log_dir: null });
    const lines = issueLines({
      logger: { wandb_enabled: true, wandb: { project: 'p' }, mlflow_enabled: true },
    });
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^logger\.wandb_enabled: Weights & Biases is not bundled.*TensorBoard.*metrics\.jsonl/,
    );
    expect(lines[1]).toMatch(/^logger\.wandb: Weights & Biases is not bundled/);
    expect(lines[2]).toMatch(/^logger\.mlflow_enabled: MLflow is not bundled/);
    expect(issueLines({ logger: { tensorboard_enabled: false } })[0]).toMatch(
      /always writes TensorBoard/,
    );
  });

  it('dpo.seed moves to the run seed; a different top-level seed is a conflict', () => {
    expect(sections.validate({ dpo: { seed: 7, beta: 0.2 } })).toMatchObject({
      seed: 7,
      dpo: { beta: 0.2 },
    });
    expect(sections.validate({ seed: 7, dpo: { seed: 7 } }).seed).toBe(7);
    expect(issueLines({ seed: 3, dpo: { seed: 7 } })).toEqual([
      'dpo.seed: the run has one seed, the top-level `seed` (3), and this differs; keep one: remove dpo.seed or set seed: 7',
    ]);
  });

  it('value-loss keys name the missing critic; entropy_coef, clip_ratio, learning_rate, similarity_threshold name their place', () => {
    const lines = issueLines({
      dpo: {
        value_loss_coef: 0.5,
        entropy_coef: 0.01,
        clip_ratio: 0.2,
        learning_rate: 3e-4,
        similarity_threshold: 0.8,
      },
    });
    expect(lines).toHaveLength(5);
    expect(lines.find((l) => l.startsWith('dpo.value_loss_coef:'))).toMatch(
      /no critic \(value model\).*group baseline/,
    );
    expect(lines.find((l) => l.startsWith('dpo.entropy_coef:'))).toMatch(/`loss_fn\.entropy_coef`/);
    expect(lines.find((l) => l.startsWith('dpo.clip_ratio:'))).toMatch(
      /ratio_clip_min.*ratio_clip_max/,
    );
    expect(lines.find((l) => l.startsWith('dpo.learning_rate:'))).toMatch(
      /policy\.optimizer\.kwargs\.lr/,
    );
    expect(lines.find((l) => l.startsWith('dpo.similarity_threshold:'))).toMatch(
      /GRPO semantic grouping.*`grpo\.grouping\.similarity_threshold`/,
    );
    // where the key is known it is the real setting, not a foreign one
    expect(sections.validate({ loss_fn: { entropy_coef: 0.01 } }).loss_fn.entropy_coef).toBe(0.01);
  });

  it('grpo.similarity_threshold moves to grpo.grouping.similarity_threshold; grpo.group_size names the two keys', () => {
    const grpo = defineSections({
      grpo: z
        .object({
          grouping: z
            .object({ similarity_threshold: z.number().nullable().default(null) })
            .prefault({}),
        })
        .prefault({}),
    });
    expect(grpo.validate({ grpo: { similarity_threshold: 0.8 } })).toEqual({
      grpo: { grouping: { similarity_threshold: 0.8 } },
    });
    try {
      grpo.validate({ grpo: { group_size: 4 } });
      expect.unreachable();
    } catch (e) {
      const [issue] = (e as ConfigValidationError).issues;
      expect(`${issue!.keyPath.join('.')}: ${issue!.problem}; ${issue!.hint}`).toMatch(
        /^grpo\.group_size: .*`grpo\.num_generations_per_prompt`.*`grpo\.grouping\.group_size`/,
      );
    }
  });

  it('a top-level algorithm: section says the command names the algorithm; a plugin name points to rxrl train', () => {
    expect(issueLines({ algorithm: { name: 'custom_grpo' } })[0]).toMatch(
      /^algorithm: rxrl recipes have no `algorithm:` section.*rxrl grpo --config.*rxrl train/,
    );
    expect(issueLines({ algorithm: './my_algo.ts#MyAlgo' })[0]).toMatch(
      /^algorithm: `algorithm:` names a plugin module.*rxrl train --config/,
    );
    expect(issueLines({ custom_algorithm: { enabled: true } })[0]).toMatch(
      /^custom_algorithm: a custom algorithm is a plugin here.*algorithm: \.\/my_algo\.ts#MyAlgo/,
    );
  });

  it("every rule is one line; the caller's config is never modified", () => {
    for (const r of FOREIGN_KEYS) {
      const v = r.judge('bfloat16', [r.key], { seed: 1 });
      if (v.kind === 'reject') expect(`${v.problem}; ${v.hint}`).not.toMatch(/\n/);
    }
    const config = { dpo: { seed: 7 }, policy: { precision: 'float32' } };
    sections.validate(config);
    expect(config).toEqual({ dpo: { seed: 7 }, policy: { precision: 'float32' } });
  });
});
