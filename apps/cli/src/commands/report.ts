import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { RxrlUsageError } from '@rxrl/core/base';
import { writeReport } from '@rxrl/logging';
import type { Command } from '../command';

/** `rxrl report <run-dir>`: (re)build a run's self-contained HTML report from its metrics.jsonl. */
export const command: Command = {
  name: 'report',
  summary:
    "Write a run directory's HTML report (plots of loss, reward, KL, accuracy, lr, grad norm, throughput)",
  usage: 'rxrl report <run-dir> [--title TEXT]',
  options: {
    title: {
      type: 'string',
      valueName: 'text',
      description: 'page title (default: the run directory)',
    },
  },
  run({ values, positionals, io }) {
    if (positionals.length !== 1)
      throw new RxrlUsageError('rxrl report: expected exactly one run directory');
    const dir = resolve(io.cwd, positionals[0]!);
    if (!existsSync(dir)) throw new RxrlUsageError(`rxrl report: ${positionals[0]} does not exist`);
    const out = writeReport(
      dir,
      typeof values['title'] === 'string' ? values['title'] : `rxrl run ${positionals[0]}`,
    );
    io.out(`rxrl: wrote ${out}`);
  },
};
