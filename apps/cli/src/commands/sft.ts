import { trainingCommand } from './trainingCommand';

/** `rxrl sft`: supervised fine-tuning from a YAML recipe. */
export const command = trainingCommand({
  name: 'sft',
  summary: 'Supervised fine-tuning (token-level NLL) from a YAML recipe',
  sectionsHelp: 'seed, logger, policy, sft, data, checkpointing',
  async load() {
    const { sftSections, runSft } = await import('@rxrl/algorithms');
    return { sections: sftSections, run: runSft };
  },
  headline: [
    ['loss', 'validation/loss'],
    ['accuracy', 'validation/accuracy'],
  ],
});
