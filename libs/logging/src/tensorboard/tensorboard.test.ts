import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32c, maskedCrc32c } from './crc32c';
import { readEventFile } from './eventReader';
import { TensorBoardWriter } from './eventWriter';

describe('crc32c', () => {
  it('matches the published check values of CRC-32C', () => {
    // RFC 3720 appendix B.4 and the common "123456789" check value.
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
  });

  it('masks as TensorFlow does: rotate right 15 bits and add 0xa282ead8', () => {
    const crc = 0xe3069283;
    const expected = (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).toBe(expected);
  });
});

describe('TensorBoardWriter', () => {
  it('writes scalars and histograms that read back exactly, with a file_version first event', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxrl-tb-'));
    const tb = new TensorBoardWriter(dir);
    tb.scalar('train/loss', 0.5, 1, 1000.25);
    tb.scalar('train/loss', 0.25, 2, 1001.5);
    tb.histogram('train/advantage', [-1, 0, 0, 1, 3, NaN], 2, 4, 1002);
    tb.close();
    const events = readEventFile(tb.path);
    expect(events[0]!.fileVersion).toBe('brain.Event:2');
    expect(events.slice(1, 3).map((e) => [e.step, e.wallTime, e.scalars])).toEqual([
      [1, 1000.25, [{ tag: 'train/loss', value: 0.5 }]],
      [2, 1001.5, [{ tag: 'train/loss', value: 0.25 }]],
    ]);
    const h = events[3]!.histograms[0]!;
    // 5 finite values in 4 buckets of width 1 over [-1, 3]: [-1,0) [0,1) [1,2) [2,3]
    expect(h).toEqual({
      tag: 'train/advantage',
      min: -1,
      max: 3,
      num: 5,
      sum: 3,
      sumSquares: 11,
      bucketLimit: [0, 1, 2, 3],
      bucket: [1, 2, 1, 1],
    });
  });

  it('the reader rejects a flipped bit and a truncated file, naming the byte offset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxrl-tb-'));
    const tb = new TensorBoardWriter(dir);
    tb.scalar('a', 1, 1);
    tb.close();
    const bytes = readFileSync(tb.path);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 6]! ^= 0x01;
    writeFileSync(join(dir, 'flipped'), flipped);
    expect(() => readEventFile(join(dir, 'flipped'))).toThrow(
      /data CRC mismatch in record at byte \d+/,
    );
    writeFileSync(join(dir, 'short'), bytes.subarray(0, bytes.length - 3));
    expect(() => readEventFile(join(dir, 'short'))).toThrow(/truncated record at byte \d+/);
  });

  it('encodes negative and large steps as int64', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxrl-tb-'));
    const tb = new TensorBoardWriter(dir);
    tb.scalar('s', 1, 2 ** 40);
    tb.scalar('s', 2, -3);
    tb.close();
    expect(
      readEventFile(tb.path)
        .slice(1)
        .map((e) => e.step),
    ).toEqual([2 ** 40, -3]);
  });

  it('writes a SessionLog START event (Event field 7, status 1) that marks a restart at a step', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxrl-tb-'));
    const tb = new TensorBoardWriter(dir);
    tb.sessionStart(301, 1234.5);
    tb.scalar('train/loss', 0.5, 301);
    tb.close();
    const [, start, scalar] = readEventFile(tb.path);
    expect(start).toMatchObject({ step: 301, wallTime: 1234.5, sessionStatus: 1, scalars: [] });
    expect(scalar!.sessionStatus).toBeUndefined();
    // wire format: key (7 << 3 | 2) = 0x3a, length 2, then status: key 0x08, value 1
    const bytes = readFileSync(tb.path);
    expect(bytes.includes(Buffer.from([0x3a, 0x02, 0x08, 0x01]))).toBe(true);
  });

  it('a second writer in the same directory and second gets its own file, leaving the first intact', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxrl-tb-'));
    const a = new TensorBoardWriter(dir);
    a.scalar('x', 1, 1);
    a.close();
    const b = new TensorBoardWriter(dir);
    b.scalar('x', 2, 2);
    b.close();
    expect(b.path).not.toBe(a.path);
    expect(readEventFile(a.path)[1]!.scalars).toEqual([{ tag: 'x', value: 1 }]);
    expect(readEventFile(b.path)[1]!.scalars).toEqual([{ tag: 'x', value: 2 }]);
  });
});
