import { trainingCommand } from './trainingCommand';

/** `rxrl dpo`: DPO from a YAML recipe. */
export const command = trainingCommand({
  name: 'dpo',
  summary: 'Direct preference optimisation (DPO and TRL variants) from a YAML recipe',
  sectionsHelp: 'seed, logger, policy, dpo, data, checkpointing, graph',
  async load() {
    const { dpoSections, runDpo, checkTrainingMemory } = await import('@rxrl/algorithms');
    return {
      sections: dpoSections,
      run: runDpo,
      checkMemory: (
        config: Parameters<typeof runDpo>[0],
        backend: string,
        cwd: string,
        env: Record<string, string | undefined>,
      ) => checkTrainingMemory('dpo', config, backend, cwd, env),
    };
  },
  headline: [
    ['preference accuracy', 'validation/accuracy'],
    ['reward margin', 'validation/reward_margin'],
  ],
});
