import { trainingCommand } from './trainingCommand';

/** `rxrl grpo`: GRPO from a YAML recipe, on the pipeline runner. */
export const command = trainingCommand({
  name: 'grpo',
  summary: 'GRPO (group relative policy optimisation) with verifiable rewards from a YAML recipe',
  sectionsHelp: 'seed, logger, policy, grpo, loss_fn, env, data, checkpointing, graph',
  async load() {
    const { grpoSections, runGrpo, checkTrainingMemory, samplesPerPrompt } =
      await import('@rxrl/algorithms');
    type Config = Parameters<typeof runGrpo>[0];
    return {
      sections: grpoSections,
      async run(config: Config, o) {
        const t0 = performance.now();
        const r = await runGrpo(config, {
          runDir: o.runDir,
          resume: o.resume,
          log: o.log,
          cwd: o.cwd,
          exportDir: o.exportDir,
        });
        return {
          modelDir: r.policyDir,
          summary: `rxrl: ${r.reason} after step ${r.step} in ${((performance.now() - t0) / 60000).toFixed(1)} min`,
          signal: r.signal,
        };
      },
      // the samples the resolved graph generates (its rollout node's group size wins over the key)
      checkMemory: (
        config: Config,
        backend: string,
        cwd: string,
        env: Record<string, string | undefined>,
      ) =>
        checkTrainingMemory(
          'grpo',
          {
            ...config,
            grpo: { ...config.grpo, num_generations_per_prompt: samplesPerPrompt(config) },
          },
          backend,
          cwd,
          env,
        ),
    };
  },
  headline: [['accuracy', 'validation/accuracy']],
});
