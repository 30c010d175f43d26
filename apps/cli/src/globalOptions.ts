import type { CommandOption } from './command';

/** Options every command accepts (before or after the command name). */
export const GLOBAL_OPTIONS: Record<string, CommandOption> = {
  backend: {
    type: 'string',
    valueName: 'auto|tensorflow|webgpu|native|wasm|cpu',
    description:
      'tensor backend (default: $RXRL_BACKEND, else auto: tfjs-node-gpu > webgpu on a GPU > tfjs-node > native > wasm > cpu)',
  },
  verbose: { type: 'boolean', description: 'print stack traces of failures (also RXRL_DEBUG=1)' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};
