import { z } from 'zod';
import { RxrlConfigError } from '@rxrl/core/base';
import type { Architecture } from '../modelConfig';
import type { LinearModule } from '../causalLM';

/** PEFT's shorthand for every linear projection except the LM head. */
export const ALL_LINEAR = 'all-linear';

/** PEFT's `bias` choices: which biases train alongside the adapter. */
export const LORA_BIAS = ['none', 'all', 'lora_only'] as const;

/** Aliases accepted for PEFT's names (`rank: 8` is `r: 8`). */
const ALIASES: Record<string, string> = {
  rank: 'r',
  alpha: 'lora_alpha',
  dropout: 'lora_dropout',
};

const loraObjectSchema = z
  .object({
    /** rank of the update `B·A` (PEFT `r`) */
    r: z.number().int().positive().default(8),
    /** the update is scaled by `lora_alpha / r` (or `/ sqrt(r)` with `use_rslora`) */
    lora_alpha: z.number().positive().default(8),
    /** dropout on the adapter's input while training (PEFT `lora_dropout`) */
    lora_dropout: z.number().min(0).lt(1).default(0),
    /**
     * modules to adapt: names matched against the end of each module name
     * (`q_proj` matches `model.layers.0.self_attn.q_proj`), one string as a
     * regular expression that must match a whole module name, or `all-linear`
     * (every linear projection but the LM head); null: PEFT's default for the
     * architecture (`q_proj`, `v_proj`; GPT-2 `c_attn`)
     */
    target_modules: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .nullable()
      .default(null),
    /** biases that train too: `none`, `all`, or `lora_only` (those of adapted modules) */
    bias: z.enum(LORA_BIAS).default('none'),
    /** rank-stabilised scaling `lora_alpha / sqrt(r)` (Kalajdzievski 2023) instead of `lora_alpha / r` */
    use_rslora: z.boolean().default(false),
  })
  .strict();

/**
 * LoRA settings with PEFT's `LoraConfig` names, defaults and meanings
 * (https://huggingface.co/docs/peft/package_reference/lora). `rank`, `alpha`
 * and `dropout` are accepted for `r`, `lora_alpha` and `lora_dropout`.
 */
export const LoraConfigSchema = z.preprocess((raw, ctx) => {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const [alias, name] of Object.entries(ALIASES)) {
    if (!(alias in out)) continue;
    if (name in out) {
      ctx.addIssue({
        code: 'custom',
        path: [alias],
        message: `give ${name} or its alias ${alias}, not both`,
      });
      continue;
    }
    out[name] = out[alias];
    delete out[alias];
  }
  return out;
}, loraObjectSchema);
export type LoraConfig = z.infer<typeof LoraConfigSchema>;
export type LoraConfigInput = z.input<typeof loraObjectSchema> & {
  rank?: number;
  alpha?: number;
  dropout?: number;
};

/** PEFT's default target modules per model_type (its TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING). */
const DEFAULT_TARGETS: Record<Architecture, string[]> = {
  llama: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  qwen3: ['q_proj', 'v_proj'],
  gpt2: ['c_attn'],
};

/** `lora_alpha / r`, or `lora_alpha / sqrt(r)` with `use_rslora`. */
export function loraScaling(cfg: Pick<LoraConfig, 'r' | 'lora_alpha' | 'use_rslora'>): number {
  return cfg.use_rslora ? cfg.lora_alpha / Math.sqrt(cfg.r) : cfg.lora_alpha / cfg.r;
}

/** Whether module `name` is one of `targets` (PEFT's check_target_module_exists). */
function matches(targets: string | string[], name: string, where: string): boolean {
  if (typeof targets === 'string') {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${targets})$`);
    } catch (e) {
      throw new RxrlConfigError(
        `${where} = ${JSON.stringify(targets)} is not a valid regular expression (${(e as Error).message})`,
      );
    }
    return re.test(name);
  }
  return targets.some((t) => name === t || name.endsWith(`.${t}`));
}

/** The last component of each module name, deduplicated in model order (`q_proj`, `c_attn`, ...). */
export function moduleKinds(modules: readonly LinearModule[]): string[] {
  return [...new Set(modules.map((m) => m.name.slice(m.name.lastIndexOf('.') + 1)))];
}

/**
 * The modules `target_modules` selects among the model's linear projections.
 * Matching nothing is a config error naming the modules the model has
 * (`where` is the key path to blame).
 */
export function resolveTargetModules(
  cfg: Pick<LoraConfig, 'target_modules'>,
  arch: Architecture,
  modules: readonly LinearModule[],
  where = 'policy.lora.target_modules',
): LinearModule[] {
  const targets = cfg.target_modules ?? DEFAULT_TARGETS[arch];
  const picked =
    targets === ALL_LINEAR ? [...modules] : modules.filter((m) => matches(targets, m.name, where));
  if (picked.length === 0) {
    throw new RxrlConfigError(
      `${where} = ${JSON.stringify(targets)} matches no module of this ${arch} model; its linear modules are ${moduleKinds(modules).join(', ')} (or '${ALL_LINEAR}')`,
    );
  }
  return picked;
}
