import type { CliIo } from '../io';

/** A CliIo that records what a command prints, for in-process command tests. */
export function fakeIo(cwd: string, env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => void out.push(t), err: (t) => void err.push(t), env, cwd };
  return { io, out, err };
}
