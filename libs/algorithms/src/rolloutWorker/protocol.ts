import type { GenerateOptions, GeneratedSample } from '@rxrl/rollout';
import type { HostTensor, ModelConfig } from '@rxrl/model';

/** What the generation worker starts from (structured-cloned into the thread). */
export interface GenerationWorkerData {
  /** backend name as the main thread chose it (`selectBackend`) */
  backend: string;
  config: ModelConfig;
  /** the policy's weights at start, HF layout */
  weights: Map<string, HostTensor>;
  /** directory of the tokenizer's HF files, or 'builtin' */
  tokenizerSource: string;
  /** trainable variables, in the order the flat weight buffers hold them */
  layout: { name: string; size: number }[];
}

/** Main thread → worker. Handled one at a time, in order. */
export type GenerationRequest =
  | { type: 'weights'; version: number; flat: Float32Array }
  /** a policy with an adapter: the whole model again, adapter merged (HF layout) */
  | { type: 'merged_weights'; version: number; weights: Map<string, HostTensor> }
  | {
      type: 'generate';
      id: number;
      prompts: Int32Array[];
      keys: (number | string)[];
      options: GenerateOptions;
    }
  | { type: 'memory' };

/** Worker → main thread. */
export type GenerationReply =
  | { type: 'ready' }
  | { type: 'samples'; id: number; samples: GeneratedSample[]; seconds: number }
  | { type: 'memory'; numTensors: number }
  | { type: 'error'; id: number | null; message: string };
