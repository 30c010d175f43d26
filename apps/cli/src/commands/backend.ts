import type { Command } from '../command';

/** `rxrl backend`: select the backend exactly as a run would, and say which and why. */
export const command: Command = {
  name: 'backend',
  summary: 'Show which tensor backend a run would use, and why',
  usage: 'rxrl backend [--backend auto|tensorflow|webgpu|native|wasm|cpu]',
  options: {},
  async run({ positionals, global, io }) {
    if (positionals.length > 0) {
      const { RxrlUsageError } = await import('@rxrl/core/base');
      throw new RxrlUsageError(`unexpected argument '${positionals[0]}'`);
    }
    // loaded here, not at the top: the other commands should not pay for TensorFlow.js
    const { selectBackend, describeBackend, TENSORFLOW_INSTALL_HINT } = await import('@rxrl/core');
    const choice = await selectBackend(global.backend ?? null);
    io.out(describeBackend(choice));
    // auto fell back to a CPU backend: say how to get a native one
    if (
      choice.backend !== 'tensorflow' &&
      choice.backend !== 'webgpu' &&
      choice.reason.startsWith('auto')
    )
      io.out(`rxrl: for a native backend: ${TENSORFLOW_INSTALL_HINT}`);
  },
};
