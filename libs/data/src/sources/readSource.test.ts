import { existsSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { RxrlDataError } from '@rxrl/core/base';
import { tempDir } from '../../test/tmp';
import { readSource } from './readSource';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const openFds = () => readdirSync('/proc/self/fd').length;

describe('readSource', () => {
  it('errors with the file name when the file cannot be opened', async () => {
    const err = await firstValueFrom(readSource(`${tmp.dir}/missing.jsonl`)).catch((e) => e);
    expect(err).toBeInstanceOf(RxrlDataError);
    expect(err.location.source).toBe(`${tmp.dir}/missing.jsonl`);
  });

  it.runIf(existsSync('/proc/self/fd'))(
    'closes the file on completion and on early unsubscribe',
    async () => {
      const path = tmp.write(
        'x.jsonl',
        Array.from({ length: 30 }, (_, i) => `{"i":${i}}`).join('\n'),
      );
      const before = openFds();
      expect((await lastValueFrom(readSource(path).pipe(toArray()))).length).toBe(30);
      expect(
        (await lastValueFrom(readSource(path, { block_rows: 4 }).pipe(take(2), toArray()))).length,
      ).toBe(2);
      await new Promise((r) => setTimeout(r, 50));
      expect(openFds()).toBe(before);
    },
  );
});
