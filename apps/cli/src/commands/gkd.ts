import { trainingCommand } from './trainingCommand';

/** `rxrl gkd`: generalised knowledge distillation (on-policy distillation) from a YAML recipe. */
export const command = trainingCommand({
  name: 'gkd',
  summary:
    'Distil a teacher model into the policy (GKD: generalised JSD, on-policy samples) from a YAML recipe',
  sectionsHelp: 'seed, logger, policy (the student), gkd (with gkd.teacher), data, checkpointing',
  async load() {
    const { gkdSections, runGkd, checkTrainingMemory } = await import('@rxrl/algorithms');
    return {
      sections: gkdSections,
      run: runGkd,
      // the student's training estimate (as SFT's); the frozen teacher's weights come on top
      checkMemory: (
        config: Parameters<typeof runGkd>[0],
        backend: string,
        cwd: string,
        env: Record<string, string | undefined>,
      ) => checkTrainingMemory('sft', config, backend, cwd, env),
    };
  },
  headline: [
    ['jsd', 'validation/loss'],
    ['accuracy', 'validation/accuracy'],
  ],
});
