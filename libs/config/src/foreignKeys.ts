import { getAt } from './deepMerge';
import { describeValue } from './describeValue';
import { isPlainObject, setOwn } from './plainObject';
import type { KeyPath } from './source';

/**
 * What a recipe key from another toolkit (NeMo RL, TRL, the customisation guides)
 * means here: `accept` (it changes nothing rxrl would not do anyway, so it loads and
 * is dropped), `move` (the same setting lives at another key path), or `reject`
 * with a one-line reason and what to use instead.
 */
export type ForeignKeyVerdict =
  | { kind: 'accept' }
  | { kind: 'move'; to: KeyPath }
  | { kind: 'reject'; problem: string; hint: string };

/** A rule for one foreign key name, consulted only where the schema does not know the key. */
export interface ForeignKeyRule {
  /** the key's own name (last path segment) */
  key: string;
  /** the parent path it must sit under; absent: any parent */
  under?: KeyPath;
  judge(value: unknown, keyPath: KeyPath, config: Record<string, unknown>): ForeignKeyVerdict;
}

const accept: ForeignKeyVerdict = { kind: 'accept' };
const reject = (problem: string, hint: string): ForeignKeyVerdict => ({
  kind: 'reject',
  problem,
  hint,
});

const FLOAT32 = new Set(['float32', 'fp32', '32', '32-true', 'torch.float32']);
const NOT_BUNDLED = (name: string) =>
  reject(
    `${name} is not bundled with rxrl (it logs nowhere off this machine)`,
    'every run writes TensorBoard event files (<run dir>/tensorboard: `tensorboard --logdir <run dir>`) and metrics.jsonl; remove the key',
  );
const trackerSwitch =
  (name: string) =>
  (v: unknown): ForeignKeyVerdict =>
    v === false ? accept : NOT_BUNDLED(name);
const NO_CRITIC = reject(
  'rxrl has no critic (value model) to train: GRPO-family advantages come from the group baseline (grpo.normalize_rewards, grpo.use_leave_one_out_baseline)',
  'remove the value-loss key',
);
const ALGORITHM_SECTIONS = ['sft', 'dpo', 'grpo', 'gkd'];

/**
 * The foreign keys of the guides' and NeMo RL's recipes, each with its verdict.
 * Exported so the READMEs and tests enumerate the same list.
 */
export const FOREIGN_KEYS: readonly ForeignKeyRule[] = [
  {
    key: 'precision',
    judge: (v) =>
      FLOAT32.has(String(v).toLowerCase())
        ? accept
        : reject(
            'rxrl trains in float32 only (TensorFlow.js has no bfloat16 / float16 training kernels)',
            'set `precision: float32` or remove the key',
          ),
  },
  { key: 'wandb_enabled', under: ['logger'], judge: trackerSwitch('Weights & Biases') },
  { key: 'wandb', under: ['logger'], judge: () => NOT_BUNDLED('Weights & Biases') },
  { key: 'mlflow_enabled', under: ['logger'], judge: trackerSwitch('MLflow') },
  { key: 'mlflow', under: ['logger'], judge: () => NOT_BUNDLED('MLflow') },
  { key: 'swanlab_enabled', under: ['logger'], judge: trackerSwitch('SwanLab') },
  { key: 'swanlab', under: ['logger'], judge: () => NOT_BUNDLED('SwanLab') },
  {
    key: 'tensorboard_enabled',
    under: ['logger'],
    judge: (v) =>
      v === true
        ? accept
        : reject(
            'this command always writes TensorBoard event files (a few KB per step)',
            'remove tensorboard_enabled',
          ),
  },
  ...ALGORITHM_SECTIONS.map((section): ForeignKeyRule => ({
    key: 'seed',
    under: [section],
    judge: (v, _path, config) => {
      const top = config['seed'];
      if (top === undefined || top === v) return { kind: 'move', to: ['seed'] };
      return reject(
        `the run has one seed, the top-level \`seed\` (${describeValue(top)}), and this differs`,
        `keep one: remove ${section}.seed or set seed: ${describeValue(v)}`,
      );
    },
  })),
  ...[
    'value_loss_coef',
    'value_loss_weight',
    'vf_coef',
    'custom_value_loss',
    'cliprange_value',
  ].map((key): ForeignKeyRule => ({ key, judge: () => NO_CRITIC })),
  {
    key: 'entropy_coef',
    judge: () =>
      reject(
        'the entropy bonus belongs to the clipped policy-gradient loss',
        'set it as `loss_fn.entropy_coef` in a GRPO recipe',
      ),
  },
  {
    key: 'similarity_threshold',
    judge: (_v, keyPath) =>
      keyPath.length === 2 && String(keyPath[0]) === 'grpo'
        ? { kind: 'move', to: ['grpo', 'grouping', 'similarity_threshold'] }
        : reject(
            'similarity_threshold belongs to GRPO semantic grouping',
            'set `grpo.group_strategy: semantic` and `grpo.grouping.similarity_threshold` in a GRPO recipe',
          ),
  },
  {
    key: 'group_size',
    under: ['grpo'],
    judge: () =>
      reject(
        'a GRPO group is the generations of one prompt unless grpo.group_strategy says otherwise',
        'set `grpo.num_generations_per_prompt` (by prompt), or `grpo.grouping.group_size` with another grpo.group_strategy',
      ),
  },
  {
    key: 'clip_ratio',
    judge: () =>
      reject(
        'the PPO clip range is two keys here',
        'set `loss_fn.ratio_clip_min` and `loss_fn.ratio_clip_max` (0.2 each by default)',
      ),
  },
  {
    key: 'learning_rate',
    judge: () =>
      reject('the learning rate is an optimizer argument here', 'set `policy.optimizer.kwargs.lr`'),
  },
  {
    key: 'algorithm',
    under: [],
    judge: (v) =>
      typeof v === 'string'
        ? reject(
            '`algorithm:` names a plugin module (./my_algo.ts#MyAlgo), which `rxrl train` runs; this command is a built-in algorithm',
            'run `rxrl train --config …`, or remove the key',
          )
        : reject(
            'rxrl recipes have no `algorithm:` section: the command names the algorithm and reads its own section',
            `use \`rxrl grpo --config …\` with a \`grpo:\` section (or ${ALGORITHM_SECTIONS.filter((s) => s !== 'grpo').join(', ')}); a custom algorithm is a plugin: \`algorithm: ./my_algo.ts#MyAlgo\` run by \`rxrl train\``,
          ),
  },
  {
    key: 'custom_algorithm',
    under: [],
    judge: () =>
      reject(
        'a custom algorithm is a plugin here, not a `custom_algorithm:` section',
        'write a module exporting a TrainingAlgorithm, name it as `algorithm: ./my_algo.ts#MyAlgo` and run `rxrl train --config …` (examples/unlikelihood_plugin.yaml)',
      ),
  },
];

const samePath = (a: KeyPath, b: KeyPath) =>
  a.length === b.length && a.every((s, i) => String(s) === String(b[i]));

/** The rule for an unknown key at `keyPath`, if any. */
export function foreignKeyRule(keyPath: KeyPath): ForeignKeyRule | undefined {
  const key = String(keyPath[keyPath.length - 1]);
  const parent = keyPath.slice(0, -1);
  return FOREIGN_KEYS.find(
    (r) => r.key === key && (r.under === undefined || samePath(r.under, parent)),
  );
}

/** A deep copy of a plain config value (mappings and lists). */
function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) setOwn(out, k, clone(v));
    return out;
  }
  return value;
}

/**
 * A copy of `config` with each accepted foreign key removed and each moved one
 * set at its new path (the original is untouched). `verdicts` come from
 * {@link foreignKeyRule} for the unknown keys found.
 */
export function applyForeignKeys(
  config: Record<string, unknown>,
  verdicts: ReadonlyArray<{ keyPath: KeyPath; verdict: ForeignKeyVerdict }>,
): Record<string, unknown> {
  const out = clone(config) as Record<string, unknown>;
  for (const { keyPath, verdict } of verdicts) {
    if (verdict.kind === 'reject') continue;
    const parent = getAt(out, keyPath.slice(0, -1));
    if (!isPlainObject(parent)) continue;
    const key = String(keyPath[keyPath.length - 1]);
    const v = parent[key];
    delete parent[key];
    if (verdict.kind === 'move') {
      let at: Record<string, unknown> = out;
      for (const seg of verdict.to.slice(0, -1)) {
        const next = at[String(seg)];
        if (!isPlainObject(next)) setOwn(at, String(seg), {});
        at = at[String(seg)] as Record<string, unknown>;
      }
      setOwn(at, String(verdict.to[verdict.to.length - 1]), v);
    }
  }
  return out;
}
