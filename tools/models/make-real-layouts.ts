/**
 * Write Hugging Face model directories laid out exactly like five published
 * checkpoints — Qwen2.5-0.5B-Instruct, Qwen3-0.6B, SmolLM2-135M, SmolLM2-360M,
 * Llama-3.2-1B — with random weights, so real-size loading, generation,
 * training and serving can be tried without downloading anything.
 *
 * Each directory gets the published config.json and generation_config.json
 * (values in layouts.ts), bf16 safetensors drawn at the initialisation the
 * config implies (normal(0, initializer_range) for matrices, ones for norms,
 * zeros for biases: the values `CausalLM.create(config, { seed })` draws,
 * rounded to bf16), sharded as transformers' save_pretrained does above
 * `--max-shard-size` (default 5GB, so none of the five shards), and
 * tokenizer.json / tokenizer_config.json (tokenizers.ts).
 *
 *   npm run models:real -- --only qwen2.5-0.5b,smollm2-135m --out runs/real-layouts
 *   npx tsx tools/models/make-real-layouts.ts --dry-run        # sizes only
 *   npx tsx tools/models/make-real-layouts.ts --tiny --out /tmp/tiny   # 2 layers, small dims
 *
 * Exit code 2 for usage errors (unknown model, existing directory without --force).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { Rng } from '@rxrl/core/base';
import { fromHfConfig, hfWeightLayout, type HfWeightSpec } from '@rxrl/model';
import {
  LAYOUTS,
  LAYOUT_NAMES,
  configJson,
  generationConfig,
  tinyConfig,
  type LayoutName,
  type LayoutRow,
} from './layouts';
import { buildTokenizer, checkTokenizer } from './tokenizers';

const USAGE = `usage: npx tsx tools/models/make-real-layouts.ts [options]
  --only NAMES         comma-separated, of ${LAYOUT_NAMES.join(', ')} (default: all)
  --out DIR            parent directory; each model goes to DIR/<name> (default runs/real-layouts)
  --force              replace a model directory that exists
  --seed N             seed of the weights (default 0)
  --tiny               2 layers and small dims, same config keys, flags, vocabulary and tokenizer
                       (directories DIR/<name>-tiny; for tests)
  --max-shard-size S   shard above this size, as save_pretrained does (default 5GB; e.g. 500MB, 2GiB)
  --dry-run            print what would be written (parameters, bytes, files) and write nothing`;

class UsageError extends Error {}

/** "5GB" → 5e9 (decimal, as transformers reads it), "2GiB" → 2·2^30, "1000" → 1000 bytes. */
function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--max-shard-size ${text}: expected a size such as 5GB or 500MB`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const scale: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
  };
  const bytes = Math.floor(Number(m[1]) * scale[unit]!);
  if (bytes <= 0) throw new UsageError(`--max-shard-size ${text}: must be positive`);
  return bytes;
}

interface Options {
  only: LayoutName[];
  out: string;
  force: boolean;
  seed: number;
  tiny: boolean;
  maxShardBytes: number;
  dryRun: boolean;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      out: { type: 'string', default: 'runs/real-layouts' },
      force: { type: 'boolean', default: false },
      seed: { type: 'string', default: '0' },
      tiny: { type: 'boolean', default: false },
      'max-shard-size': { type: 'string', default: '5GB' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return null;
  const only = values.only === undefined ? [...LAYOUT_NAMES] : values.only.split(',');
  for (const name of only)
    if (!(LAYOUT_NAMES as readonly string[]).includes(name))
      throw new UsageError(`--only: unknown model '${name}'; expected ${LAYOUT_NAMES.join(', ')}`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new UsageError(`--seed ${values.seed}: expected an integer in [0, 2^32)`);
  return {
    only: only as LayoutName[],
    out: values.out,
    force: values.force,
    seed,
    tiny: values.tiny,
    maxShardBytes: parseSize(values['max-shard-size']),
    dryRun: values['dry-run'],
  };
}

const BF16 = 2;
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Shards as transformers' save_pretrained forms them (huggingface_hub's
 * split_state_dict_into_shards): tensors in state-dict order; a tensor that
 * would take the current shard past `max` starts a new one; one larger than
 * `max` gets a shard of its own.
 */
function planShards(specs: HfWeightSpec[], max: number): HfWeightSpec[][] {
  const shards: HfWeightSpec[][] = [];
  let current: HfWeightSpec[] = [];
  let size = 0;
  for (const spec of specs) {
    const bytes = count(spec.shape) * BF16;
    if (bytes > max) {
      shards.push([spec]);
      continue;
    }
    if (size + bytes > max && current.length > 0) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(spec);
    size += bytes;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

function shardNames(n: number): string[] {
  if (n === 1) return ['model.safetensors'];
  const total = String(n).padStart(5, '0');
  return Array.from(
    { length: n },
    (_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${total}.safetensors`,
  );
}

/** float32 → bf16 bits, round to nearest even (what torch's .to(bfloat16) does for finite values). */
function toBf16(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const u = bits[i]!;
    dst[i] = (u + 0x7fff + ((u >>> 16) & 1)) / 65536;
  }
}

const CHUNK = 1 << 22;

/** Progress over one model's bytes: a line at every 10% for writes over 64 MB. */
class Progress {
  private done = 0;
  private nextTenth = 1;
  private readonly t0 = performance.now();
  constructor(
    private readonly label: string,
    private readonly total: number,
  ) {}
  add(bytes: number, file: string): void {
    this.done += bytes;
    if (this.total < 64e6) return;
    while (this.done >= (this.nextTenth * this.total) / 10 && this.nextTenth <= 10) {
      const s = (performance.now() - this.t0) / 1000;
      console.log(
        `  ${this.label}: ${file} ${(this.done / 1e6).toFixed(0)} / ${(this.total / 1e6).toFixed(0)} MB (${this.nextTenth * 10}%), ${s.toFixed(1)} s, ${(this.done / 1e6 / s).toFixed(0)} MB/s`,
      );
      this.nextTenth++;
    }
  }
}

/**
 * The bf16 bytes of one weight, in chunks: the values CausalLM.create draws for
 * it (its own stream `Rng(seed).fork(name)`, drawn in CausalLM's layout), in HF layout.
 */
function* tensorChunks(spec: HfWeightSpec, seed: number): Generator<Uint16Array> {
  const n = count(spec.shape);
  if (spec.init !== 'normal') {
    const value = spec.init === 'ones' ? 0x3f80 : 0;
    for (let i = 0; i < n; i += CHUNK) yield new Uint16Array(Math.min(CHUNK, n - i)).fill(value);
    return;
  }
  const rng = new Rng(seed).fork(spec.name);
  if (spec.transposed) {
    // drawn as [in, out] = [shape[1], shape[0]], stored as [out, in]
    const [rows, cols] = [spec.shape[1]!, spec.shape[0]!];
    const drawn = rng.fillNormal(new Float32Array(n), 0, spec.std!);
    const hf = new Float32Array(n);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) hf[c * rows + r] = drawn[r * cols + c]!;
    const out = new Uint16Array(n);
    toBf16(hf, out);
    for (let i = 0; i < n; i += CHUNK) yield out.subarray(i, Math.min(n, i + CHUNK));
    return;
  }
  const buf = new Float32Array(Math.min(CHUNK, n));
  for (let i = 0; i < n; i += CHUNK) {
    const part = buf.subarray(0, Math.min(CHUNK, n - i));
    rng.fillNormal(part, 0, spec.std!);
    const out = new Uint16Array(part.length);
    toBf16(part, out);
    yield out;
  }
}

/** One bf16 safetensors file: header (tensors sorted by name, 8-byte aligned) then data. */
async function writeShard(
  file: string,
  specs: HfWeightSpec[],
  seed: number,
  progress: Progress,
): Promise<void> {
  const sorted = [...specs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const spec of sorted) {
    const bytes = count(spec.shape) * BF16;
    header[spec.name] = {
      dtype: 'BF16',
      shape: spec.shape,
      data_offsets: [offset, offset + bytes],
    };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fh = await fs.open(file, 'w');
  try {
    await fh.write(Buffer.concat([prefix, Buffer.from(json)]));
    for (const spec of sorted)
      for (const chunk of tensorChunks(spec, seed)) {
        await fh.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        progress.add(chunk.byteLength, path.basename(file));
      }
  } finally {
    await fh.close();
  }
}

interface Plan {
  row: LayoutRow;
  name: string;
  config: Record<string, unknown>;
  specs: HfWeightSpec[];
  parameters: number;
  shards: HfWeightSpec[][];
}

function plan(row: LayoutRow, opts: Options): Plan {
  const config = opts.tiny ? tinyConfig(configJson(row)) : configJson(row);
  // our own parser: a layout rxrl cannot load fails here, before anything is written
  const specs = hfWeightLayout(fromHfConfig(config));
  const parameters = specs.reduce((a, s) => a + count(s.shape), 0);
  if (!opts.tiny && parameters !== row.parameters)
    throw new Error(
      `${row.name}: the table's dims give ${parameters} parameters, the published checkpoint has ${row.parameters}`,
    );
  return {
    row,
    name: opts.tiny ? `${row.name}-tiny` : row.name,
    config,
    specs,
    parameters,
    shards: planShards(specs, opts.maxShardBytes),
  };
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

async function writeModel(p: Plan, opts: Options): Promise<void> {
  const t0 = performance.now();
  const dir = path.join(opts.out, p.name);
  const partial = `${dir}.partial`;
  await fs.rm(partial, { recursive: true, force: true });
  await fs.mkdir(partial, { recursive: true });
  const json = (name: string, value: unknown) =>
    fs.writeFile(path.join(partial, name), JSON.stringify(value, null, 2) + '\n');

  const tok = buildTokenizer(p.row.tokenizer, p.row.vocab_size);
  const charsPerToken = checkTokenizer(tok, p.row.vocab_size);
  await json('config.json', p.config);
  await json('generation_config.json', generationConfig(p.row));
  await fs.writeFile(path.join(partial, 'tokenizer.json'), JSON.stringify(tok.tokenizerJson));
  await json('tokenizer_config.json', tok.tokenizerConfig);

  const total = p.parameters * BF16;
  const progress = new Progress(p.name, total);
  const names = shardNames(p.shards.length);
  for (let i = 0; i < p.shards.length; i++)
    await writeShard(path.join(partial, names[i]!), p.shards[i]!, opts.seed, progress);
  if (p.shards.length > 1) {
    const weightMap: Record<string, string> = {};
    p.shards.forEach((shard, i) => shard.forEach((s) => (weightMap[s.name] = names[i]!)));
    const sortedMap = Object.fromEntries(
      Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)),
    );
    await json('model.safetensors.index.json', {
      metadata: { total_size: total },
      weight_map: sortedMap,
    });
  }
  await fs.rm(dir, { recursive: true, force: true });
  await fs.rename(partial, dir);
  const s = (performance.now() - t0) / 1000;
  console.log(
    `${p.name}: ${p.parameters.toLocaleString('en-US')} parameters, ${(total / 1e6).toFixed(1)} MB bf16 in ${names.length} file${names.length > 1 ? 's' : ''}, tokenizer ${p.row.tokenizer} (${tok.size} ids, ${charsPerToken.toFixed(2)} chars/token on English), ${s.toFixed(1)} s -> ${dir}`,
  );
}

async function main(argv: string[]): Promise<number> {
  let opts: Options | null;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    console.error(`make-real-layouts: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts === null) {
    console.log(USAGE);
    return 0;
  }
  const plans = LAYOUTS.filter((r) => opts.only.includes(r.name)).map((r) => plan(r, opts));
  if (opts.dryRun) {
    for (const p of plans)
      console.log(
        `${p.name}: ${p.row.model_type}, ${p.parameters.toLocaleString('en-US')} parameters, ${((p.parameters * BF16) / 1e6).toFixed(1)} MB bf16 in ${p.shards.length} file${p.shards.length > 1 ? 's' : ''} (${p.row.repo})`,
      );
    return 0;
  }
  // refuse before writing anything
  for (const p of plans) {
    const dir = path.join(opts.out, p.name);
    if (!opts.force && (await exists(dir))) {
      console.error(`make-real-layouts: ${dir} exists; pass --force to replace it`);
      return 2;
    }
  }
  for (const p of plans) await writeModel(p, opts);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
