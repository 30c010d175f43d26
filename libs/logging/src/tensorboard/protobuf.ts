/**
 * The few protobuf wire-format pieces TensorBoard's Event, Summary and
 * HistogramProto need, written out by hand so logging has no dependency.
 * Field numbers follow tensorflow/core/util/event.proto and summary.proto.
 */
export class ProtoWriter {
  private chunks: number[] = [];

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.chunks.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.chunks.push(Number(v));
  }

  private key(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  int64(field: number, value: number): this {
    this.key(field, 0);
    this.varint(Math.trunc(value));
    return this;
  }

  double(field: number, value: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    this.chunks.push(...b);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.chunks.push(...b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.varint(value.length);
    for (let i = 0; i < value.length; i++) this.chunks.push(value[i]!);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, inner: ProtoWriter): this {
    return this.bytes(field, inner.finish());
  }

  packedDoubles(field: number, values: ArrayLike<number>): this {
    const b = new Uint8Array(8 * values.length);
    const view = new DataView(b.buffer);
    for (let i = 0; i < values.length; i++) view.setFloat64(8 * i, values[i]!, true);
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

/** One decoded field: numbers for varint / fixed fields, bytes for length-delimited ones. */
export interface ProtoField {
  field: number;
  wireType: number;
  /** varint as bigint, fixed64 and fixed32 as raw little-endian bytes */
  varint?: bigint;
  bytes?: Uint8Array;
}

/** Decode every top-level field of a message (enough for reading our own files back). */
export function readProtoFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('protobuf: truncated varint');
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wireType = key & 7;
    if (wireType === 0) out.push({ field, wireType, varint: readVarint() });
    else if (wireType === 1 || wireType === 5) {
      const n = wireType === 1 ? 8 : 4;
      if (pos + n > buf.length) throw new Error('protobuf: truncated fixed field');
      out.push({ field, wireType, bytes: buf.subarray(pos, pos + n) });
      pos += n;
    } else if (wireType === 2) {
      const len = Number(readVarint());
      if (pos + len > buf.length) throw new Error('protobuf: truncated length-delimited field');
      out.push({ field, wireType, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else throw new Error(`protobuf: unsupported wire type ${wireType}`);
  }
  return out;
}

export function fixedToNumber(f: ProtoField): number {
  const b = f.bytes!;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return f.wireType === 1 ? view.getFloat64(0, true) : view.getFloat32(0, true);
}
