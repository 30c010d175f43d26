// Child process for the signal test: a slow run that prints each step and its stop reason.
import { runTraining } from '../src/runner';

const runDir = process.argv[2]!;
const result = await runTraining({
  runDir,
  progress: false,
  tensorboard: false,
  algorithm: {
    async trainStep(_batch: number, step: number) {
      process.stdout.write(`step ${step}\n`);
      await new Promise((r) => setTimeout(r, 150));
      return { metrics: { 'train/loss': 1 / step } };
    },
    saveState: () => ({ 'w.txt': 'x' }),
    loadState: () => {},
  },
  data: {
    *batches() {
      for (let i = 0; i < 1000; i++) yield i;
    },
  },
  loop: { max_num_steps: 1000 },
  checkpointing: { save_period: 1000 },
});
process.stdout.write(`done ${result.step} ${result.reason}\n`);
