import { trainingCommand } from './trainingCommand';

/** `rxrl sft`: supervised fine-tuning from a YAML recipe. */
export const command = trainingCommand({
  name: 'sft',
  summary: 'Supervised fine-tuning (token-level NLL) from a YAML recipe',
  sectionsHelp: 'seed, logger, policy, sft, data, checkpointing, graph',
  async load() {
    const { sftSections, runSft, checkTrainingMemory } = await import('@rxrl/algorithms');
    return {
      sections: sftSections,
      run: runSft,
      checkMemory: (
        config: Parameters<typeof runSft>[0],
        backend: string,
        cwd: string,
        env: Record<string, string | undefined>,
      ) => checkTrainingMemory('sft', config, backend, cwd, env),
    };
  },
  headline: [
    ['loss', 'validation/loss'],
    ['accuracy', 'validation/accuracy'],
  ],
});
