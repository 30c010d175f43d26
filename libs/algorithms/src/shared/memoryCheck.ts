import {
  checkRunMemory,
  chooseActivationCheckpointing,
  estimateRunMemory,
  countParameters,
  loraParameterCount,
  memoryLimit,
  type ModelConfig,
  type RunMemoryConfig,
} from '@rxrl/model';
import { policyModelConfig } from './loadPolicy';
import type { PolicyOptions } from './policyOptions';

/** The recipe keys the memory estimate of a training run reads. */
export interface TrainingMemoryConfig {
  policy: PolicyOptions & {
    generation?: { generation_batch_size: number; max_new_tokens: number };
  };
  /** DPO: pairs per micro-batch are two sequences each, and a reference unless reference-free */
  dpo?: { reference_free: boolean };
  /** GRPO: prompt length and group size decide the rollout batch and sequence length */
  grpo?: { num_prompts_per_step: number; num_generations_per_prompt: number };
  data?: { max_input_seq_length?: number; [key: string]: unknown };
  loss_fn?: { reference_policy_kl_penalty?: number; [key: string]: unknown };
}

/**
 * The run shapes of an SFT, DPO or GRPO recipe for the policy `model` (see
 * `estimateRunMemory`). With `policy.lora` only the adapter (and the biases it
 * trains) has gradients and AdamW state, and the reference is the base with
 * adapters off, not a copy.
 */
export function trainingRunMemory(
  algorithm: 'sft' | 'dpo' | 'grpo',
  config: TrainingMemoryConfig,
  backend: string,
  model: ModelConfig,
): RunMemoryConfig {
  const p = config.policy;
  let seqLen = p.max_total_sequence_length;
  let generation: RunMemoryConfig['generation'] = null;
  if (algorithm === 'grpo' && config.grpo && p.generation) {
    const prompt = config.data?.max_input_seq_length ?? seqLen;
    seqLen = Math.min(seqLen, prompt + p.generation.max_new_tokens);
    const samples = config.grpo.num_prompts_per_step * config.grpo.num_generations_per_prompt;
    generation = {
      batch: Math.min(p.generation.generation_batch_size, samples),
      maxLen: prompt + p.generation.max_new_tokens,
    };
  }
  const reference =
    algorithm === 'dpo'
      ? config.dpo?.reference_free !== true
      : algorithm === 'grpo' && (config.loss_fn?.reference_policy_kl_penalty ?? 0) > 0;
  const lora = p.lora !== null ? loraParameterCount(model, p.lora) : null;
  return {
    backend,
    train: {
      microBatch: p.train_micro_batch_size * (algorithm === 'dpo' ? 2 : 1),
      seqLen,
      activationCheckpointing: p.activation_checkpointing === true,
      logprobChunkRows: p.logprob_chunk_size,
      ...(lora !== null ? { trainableParams: lora.trainable } : {}),
    },
    referenceModel: reference && lora === null,
    ...(lora !== null ? { adapterParams: lora.adapter } : {}),
    generation,
  };
}

/**
 * Estimate a training recipe's memory before any weight loads and compare it
 * with what `backend` has here: returns the line to print, or throws a
 * configuration error (exit 2) naming the estimate, the limit and what to change.
 */
/**
 * What `auto` backend selection weighs for a run: the policy's parameter count
 * (small models run faster on wasm, large ones need native). Empty when the
 * model cannot be read yet — loading reports that properly later.
 */
export async function backendHint(
  policy: PolicyOptions,
  baseDir: string,
): Promise<{ parameters?: number }> {
  try {
    return { parameters: countParameters(await policyModelConfig(policy, baseDir)).total };
  } catch {
    return {};
  }
}

export async function checkTrainingMemory(
  algorithm: 'sft' | 'dpo' | 'grpo',
  config: TrainingMemoryConfig,
  backend: string,
  baseDir = process.cwd(),
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  const model: ModelConfig = await policyModelConfig(config.policy, baseDir);
  const limit = memoryLimit(backend, env);
  let note = '';
  if (config.policy.activation_checkpointing === 'auto') {
    // decided here, before loading, and written back: the policy loads with the choice made
    const choice = chooseActivationCheckpointing(
      model,
      trainingRunMemory(algorithm, config, backend, model),
      limit,
    );
    config.policy.activation_checkpointing = choice.checkpointing;
    note = `\nrxrl: activation checkpointing ${choice.checkpointing ? 'on' : 'off'}: ${choice.reason}`;
  }
  const run = trainingRunMemory(algorithm, config, backend, model);
  return checkRunMemory(algorithm, estimateRunMemory(model, run), limit, run) + note;
}
