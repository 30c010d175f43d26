import type { StageDefinition } from '@rxrl/core/base';
import { groupingStageDefinitions } from '@rxrl/grouping';
import { StageRegistry } from '@rxrl/pipeline';
import { rewardStageDefinitions } from '@rxrl/reward';
import { rolloutStageDefinitions } from '@rxrl/rollout';
import { dpoLossStage, preferenceObjectiveStages } from './dpo/preferenceLoss';
import { referenceLogprobsStage } from './dpo/referenceLogprobs';
import { gkdLossStage, sampleCompletionsStage } from './gkd/gkdStages';
import { clippedPgLossStage } from './grpo/clippedPgLossStage';
import { dataStageDefinitions } from './shared/dataStages';
import { optimizerStepStage } from './shared/optimizerStepStage';
import { dftLossStage, nllLossStage } from './sft/sftLoss';

/**
 * The training stages of SFT and DPO graphs, defined here because they join the
 * model, loss and optimizer libraries: `loss.nll`, `loss.dft`, `loss.dpo`,
 * `loss.orpo`, `loss.cpo`, `loss.kto`, `loss.gkd`, `policy.reference_logprobs`,
 * `gkd.sample_completions`, `optimizer.step`.
 */
export function trainingStageDefinitions(): StageDefinition[] {
  return [
    nllLossStage,
    dftLossStage,
    dpoLossStage,
    ...preferenceObjectiveStages,
    referenceLogprobsStage,
    sampleCompletionsStage,
    gkdLossStage,
    clippedPgLossStage,
    optimizerStepStage,
  ];
}

/**
 * Every built-in stage a recipe's `graph:` may name: the definitions each stage
 * library exports (reward, grouping, rollout), the data stages (`data.tokenize`,
 * `data.pad`, `data.pack`), the training stages ({@link trainingStageDefinitions}), gathered here explicitly, plus `extra`
 * (a user's stages; a taken name throws unless it is meant to replace, which
 * `registry.register(def, { replace: true })` says).
 */
export function builtinStageRegistry(extra: readonly StageDefinition[] = []): StageRegistry {
  return new StageRegistry([
    ...rewardStageDefinitions(),
    ...groupingStageDefinitions(),
    ...rolloutStageDefinitions(),
    ...dataStageDefinitions(),
    ...trainingStageDefinitions(),
    ...extra,
  ]);
}
