import { trainingCommand } from './trainingCommand';

/** `rxrl dpo`: DPO from a YAML recipe. */
export const command = trainingCommand({
  name: 'dpo',
  summary: 'Direct preference optimisation (DPO and TRL variants) from a YAML recipe',
  sectionsHelp: 'seed, logger, policy, dpo, data, checkpointing',
  async load() {
    const { dpoSections, runDpo } = await import('@rxrl/algorithms');
    return { sections: dpoSections, run: runDpo };
  },
  headline: [
    ['preference accuracy', 'validation/accuracy'],
    ['reward margin', 'validation/reward_margin'],
  ],
});
