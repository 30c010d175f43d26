import { readFileSync } from 'node:fs';
import { maskedCrc32c } from './crc32c';
import { fixedToNumber, readProtoFields } from './protobuf';

export interface TensorBoardEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  /** `SessionLog.status` of a session event (1 = START) */
  sessionStatus?: number;
  scalars: { tag: string; value: number }[];
  histograms: {
    tag: string;
    min: number;
    max: number;
    num: number;
    sum: number;
    sumSquares: number;
    bucketLimit: number[];
    bucket: number[];
  }[];
}

const decoder = new TextDecoder();

function packedDoubles(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 8 }, (_, i) => view.getFloat64(8 * i, true));
}

/**
 * Read a TensorBoard event file back, verifying both CRCs of every record.
 * Throws naming the byte offset of the first corrupt or truncated record.
 */
export function readEventFile(path: string): TensorBoardEvent[] {
  const buf = new Uint8Array(readFileSync(path));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const events: TensorBoardEvent[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (pos + 12 > buf.length) throw new Error(`${path}: truncated record header at byte ${pos}`);
    const len = Number(view.getBigUint64(pos, true));
    if (view.getUint32(pos + 8, true) !== maskedCrc32c(buf.subarray(pos, pos + 8))) {
      throw new Error(`${path}: length CRC mismatch at byte ${pos}`);
    }
    const start = pos + 12;
    if (start + len + 4 > buf.length) throw new Error(`${path}: truncated record at byte ${pos}`);
    const data = buf.subarray(start, start + len);
    if (view.getUint32(start + len, true) !== maskedCrc32c(data)) {
      throw new Error(`${path}: data CRC mismatch in record at byte ${pos}`);
    }
    events.push(decodeEvent(data));
    pos = start + len + 4;
  }
  return events;
}

function decodeEvent(data: Uint8Array): TensorBoardEvent {
  const ev: TensorBoardEvent = { wallTime: 0, step: 0, scalars: [], histograms: [] };
  for (const f of readProtoFields(data)) {
    if (f.field === 1) ev.wallTime = fixedToNumber(f);
    else if (f.field === 2) ev.step = Number(BigInt.asIntN(64, f.varint!));
    else if (f.field === 3) ev.fileVersion = decoder.decode(f.bytes);
    else if (f.field === 7) {
      ev.sessionStatus = 0;
      for (const g of readProtoFields(f.bytes!))
        if (g.field === 1) ev.sessionStatus = Number(g.varint!);
    } else if (f.field === 5) {
      for (const vf of readProtoFields(f.bytes!)) {
        if (vf.field !== 1) continue;
        let tag = '';
        let simple: number | undefined;
        let histo: Uint8Array | undefined;
        for (const g of readProtoFields(vf.bytes!)) {
          if (g.field === 1) tag = decoder.decode(g.bytes);
          else if (g.field === 2) simple = fixedToNumber(g);
          else if (g.field === 5) histo = g.bytes;
        }
        if (simple !== undefined) ev.scalars.push({ tag, value: simple });
        if (histo) {
          const h = {
            tag,
            min: 0,
            max: 0,
            num: 0,
            sum: 0,
            sumSquares: 0,
            bucketLimit: [] as number[],
            bucket: [] as number[],
          };
          for (const g of readProtoFields(histo)) {
            if (g.field === 1) h.min = fixedToNumber(g);
            else if (g.field === 2) h.max = fixedToNumber(g);
            else if (g.field === 3) h.num = fixedToNumber(g);
            else if (g.field === 4) h.sum = fixedToNumber(g);
            else if (g.field === 5) h.sumSquares = fixedToNumber(g);
            else if (g.field === 6) h.bucketLimit = packedDoubles(g.bytes!);
            else if (g.field === 7) h.bucket = packedDoubles(g.bytes!);
          }
          ev.histograms.push(h);
        }
      }
    }
  }
  return ev;
}
