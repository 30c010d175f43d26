import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensorsFile } from '../src/safetensors';

/** Fixtures written by tools/reference/models.py (independent PyTorch reference). */
export const FIXTURE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const FIXTURE_ARCHS = ['llama', 'qwen2', 'qwen3', 'gpt2'] as const;

export interface Fixture {
  dir: string;
  ids: tf.Tensor2D;
  mask: tf.Tensor2D;
  paddedIds: tf.Tensor2D;
  paddedMask: tf.Tensor2D;
  /** row-major [B,T,V] */
  logits: Float32Array;
  paddedLogits: Float32Array;
  shape: [number, number, number];
}

export async function loadFixture(arch: string): Promise<Fixture> {
  const dir = path.join(FIXTURE_DIR, arch);
  const inputs = JSON.parse(await fs.readFile(path.join(dir, 'inputs.json'), 'utf8'));
  const expected = await readSafetensorsFile(path.join(dir, 'expected.safetensors'));
  const logits = expected.tensors.get('logits')!;
  const t2 = (rows: number[][]) => tf.tensor2d(rows, undefined, 'int32');
  return {
    dir,
    ids: t2(inputs.input_ids),
    mask: t2(inputs.attention_mask),
    paddedIds: t2(inputs.padded_input_ids),
    paddedMask: t2(inputs.padded_attention_mask),
    logits: logits.data,
    paddedLogits: expected.tensors.get('padded_logits')!.data,
    shape: logits.shape as [number, number, number],
  };
}

/**
 * max |got − want| / max |want| over the [B,T,V] rows where `mask` is 1
 * (padding rows are not defined by the reference and are skipped).
 */
export function relativeError(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  shape: [number, number, number],
  mask?: ArrayLike<number>,
): number {
  const [b, t, v] = shape;
  let maxDiff = 0;
  let maxRef = 0;
  for (let r = 0; r < b * t; r++) {
    if (mask && !mask[r]) continue;
    for (let j = 0; j < v; j++) {
      const i = r * v + j;
      maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
      maxRef = Math.max(maxRef, Math.abs(want[i]!));
    }
  }
  return maxDiff / maxRef;
}
