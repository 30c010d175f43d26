import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
  fstatSync,
  readSync,
} from 'node:fs';
import { join } from 'node:path';
import { RxrlError } from '@rxrl/core/base';

/** What one checkpoint holds: named files (already serialised) plus the step and metrics at save time. */
export interface CheckpointContent {
  step: number;
  metrics?: Record<string, number>;
  files: Record<string, CheckpointFileData>;
}

/**
 * One file's content: text, bytes, or byte pieces written one after another
 * (a safetensors header and views of the tensors themselves: no joined copy,
 * and no 4 GiB limit of one buffer).
 */
export type CheckpointFileData = string | Uint8Array | readonly Uint8Array[];

export interface CheckpointManifest {
  format: 'rxrl-checkpoint/1';
  step: number;
  metrics: Record<string, number>;
  createdAt: string;
  files: Record<string, { bytes: number; sha256: string }>;
}

export interface CheckpointInfo {
  dir: string;
  step: number;
  manifest: CheckpointManifest;
}

const STEP_DIR = /^step_(\d+)$/;
const TMP_PREFIX = '.tmp-';

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Node's file and hash calls take at most 2 GiB at once; a 0.5B-parameter
 * model's AdamW moments alone are 4 GB, so large files go in slices.
 */
const SLICE = 1 << 30;

/** Writes the pieces in order, fsyncs, and returns the file's size and SHA-256. */
function writeDurable(
  path: string,
  pieces: readonly Uint8Array[],
): { bytes: number; sha256: string } {
  const fd = openSync(path, 'w');
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for (const data of pieces) {
      let off = 0;
      while (off < data.length) {
        const n = Math.min(SLICE, data.length - off);
        hash.update(data.subarray(off, off + n));
        off += writeSync(fd, data, off, n);
      }
      bytes += data.length;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** A whole file, read in slices (readFileSync refuses files over 2 GiB). */
function readWhole(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const out = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, out, off, Math.min(SLICE, size - off), off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? out : out.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

function sha256(data: Uint8Array): string {
  const hash = createHash('sha256');
  for (let off = 0; off < data.length; off += SLICE) hash.update(data.subarray(off, off + SLICE));
  return hash.digest('hex');
}

/** Distinguishes two saves of one process within the same millisecond. */
let saveCounter = 0;

/**
 * Checkpoints under one root directory, each `step_<n>/` with a manifest.
 *
 * A save is a transaction: files go into a hidden temp directory, each is
 * fsynced, the manifest is written last, then one `rename` makes the
 * checkpoint visible and the root is fsynced. A process killed at any point
 * leaves either the complete new checkpoint or none — never a half-written
 * one in place of the last good one. Loading verifies every file's size and
 * SHA-256 against the manifest.
 *
 * @example
 * const ckpt = new CheckpointManager('runs/a/checkpoints', { keepTopK: 3 });
 * ckpt.save({ step: 10, metrics: { 'validation/accuracy': 0.4 }, files: { 'state.json': JSON.stringify(state) } });
 * const latest = ckpt.latest(); // { dir, step, manifest } or null
 * const files = ckpt.load(latest!.dir);
 */
export class CheckpointManager {
  constructor(
    readonly root: string,
    private readonly options: {
      keepTopK?: number | null;
      metricName?: string | null;
      higherIsBetter?: boolean;
    } = {},
  ) {}

  save(content: CheckpointContent): CheckpointInfo {
    if (!Number.isInteger(content.step) || content.step < 0) {
      throw new RxrlError(`checkpoint step must be a non-negative integer, got ${content.step}`);
    }
    // Check every name before touching the disk, so a bad call leaves nothing behind.
    for (const file of Object.keys(content.files)) {
      if (file === 'manifest.json' || file.includes('/') || file.startsWith('.')) {
        throw new RxrlError(`checkpoint file name '${file}' is reserved or not a plain file name`);
      }
    }
    mkdirSync(this.root, { recursive: true });
    const name = `step_${String(content.step).padStart(8, '0')}`;
    const tmp = join(
      this.root,
      `${TMP_PREFIX}${name}-${process.pid}-${Date.now()}-${saveCounter++}`,
    );
    const final = join(this.root, name);
    const manifest: CheckpointManifest = {
      format: 'rxrl-checkpoint/1',
      step: content.step,
      metrics: content.metrics ?? {},
      createdAt: new Date().toISOString(),
      files: {},
    };
    mkdirSync(tmp);
    try {
      for (const [file, value] of Object.entries(content.files)) {
        const pieces =
          typeof value === 'string'
            ? [new TextEncoder().encode(value)]
            : value instanceof Uint8Array
              ? [value]
              : value;
        manifest.files[file] = writeDurable(join(tmp, file), pieces);
      }
      writeDurable(join(tmp, 'manifest.json'), [
        new TextEncoder().encode(JSON.stringify(manifest, null, 2)),
      ]);
      fsyncPath(tmp);
      // Re-saving a step replaces it: move the old one aside first so the rename below stays atomic.
      if (existsSync(final)) renameSync(final, `${tmp}.old`);
      renameSync(tmp, final);
      fsyncPath(this.root);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    rmSync(`${tmp}.old`, { recursive: true, force: true });
    this.prune();
    return { dir: final, step: content.step, manifest };
  }

  /** Complete checkpoints, oldest step first. Temp directories and unreadable manifests are skipped. */
  list(): CheckpointInfo[] {
    if (!existsSync(this.root)) return [];
    const out: CheckpointInfo[] = [];
    for (const entry of readdirSync(this.root)) {
      const m = STEP_DIR.exec(entry);
      if (!m) continue;
      const dir = join(this.root, entry);
      try {
        const manifest = JSON.parse(
          readFileSync(join(dir, 'manifest.json'), 'utf8'),
        ) as CheckpointManifest;
        if (manifest.format !== 'rxrl-checkpoint/1') continue;
        out.push({ dir, step: manifest.step, manifest });
      } catch {
        continue;
      }
    }
    return out.sort((a, b) => a.step - b.step);
  }

  /** The newest checkpoint whose files all verify, or null. */
  latest(): CheckpointInfo | null {
    const all = this.list();
    for (let i = all.length - 1; i >= 0; i--) {
      try {
        this.load(all[i]!.dir);
        return all[i]!;
      } catch {
        continue;
      }
    }
    return null;
  }

  /** The best checkpoint by the configured metric (ties: newest), or null. */
  best(): CheckpointInfo | null {
    const { metricName, higherIsBetter = true } = this.options;
    if (!metricName) return this.latest();
    const scored = this.list().filter((c) => Number.isFinite(c.manifest.metrics[metricName]));
    if (scored.length === 0) return null;
    const sign = higherIsBetter ? 1 : -1;
    return scored.reduce((a, b) =>
      sign * (b.manifest.metrics[metricName]! - a.manifest.metrics[metricName]!) >= 0 ? b : a,
    );
  }

  /** Read and verify every file of a checkpoint. */
  load(dir: string): { manifest: CheckpointManifest; files: Record<string, Uint8Array> } {
    let manifest: CheckpointManifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as CheckpointManifest;
    } catch (err) {
      throw new RxrlError(`${dir}: missing or unreadable manifest.json`, { cause: err });
    }
    const files: Record<string, Uint8Array> = {};
    for (const [name, meta] of Object.entries(manifest.files)) {
      const path = join(dir, name);
      if (!existsSync(path))
        throw new RxrlError(`${dir}: file '${name}' listed in the manifest is missing`);
      const data = readWhole(path);
      if (data.length !== meta.bytes || sha256(data) !== meta.sha256) {
        throw new RxrlError(
          `${dir}: file '${name}' does not match its manifest checksum (corrupt checkpoint)`,
        );
      }
      files[name] = data;
    }
    return { manifest, files };
  }

  /**
   * Keep the newest `keepTopK` checkpoints, or with `metricName` the best
   * `keepTopK` by that metric plus always the newest (resume needs it).
   * Leftover temp directories of dead writers are removed too.
   */
  private prune(): void {
    for (const entry of readdirSync(this.root)) {
      if (entry.startsWith(TMP_PREFIX) && !entry.includes(`-${process.pid}-`)) {
        rmSync(join(this.root, entry), { recursive: true, force: true });
      }
    }
    const k = this.options.keepTopK;
    if (k == null) return;
    const all = this.list();
    if (all.length <= k) return;
    const newest = all.at(-1)!;
    const { metricName, higherIsBetter = true } = this.options;
    let keep: CheckpointInfo[];
    if (metricName) {
      const sign = higherIsBetter ? -1 : 1;
      const score = (c: CheckpointInfo) => c.manifest.metrics[metricName];
      const ranked = [...all].sort((a, b) => {
        const sa = score(a);
        const sb = score(b);
        if (!Number.isFinite(sa) && !Number.isFinite(sb)) return b.step - a.step;
        if (!Number.isFinite(sa)) return 1;
        if (!Number.isFinite(sb)) return -1;
        return sign * (sa! - sb!) || b.step - a.step;
      });
      keep = ranked.slice(0, k);
      if (!keep.includes(newest)) keep.push(newest);
    } else keep = all.slice(-k);
    for (const c of all) if (!keep.includes(c)) rmSync(c.dir, { recursive: true, force: true });
  }
}
