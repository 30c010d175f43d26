import { RxrlDataError, type Tokenizer } from '@rxrl/core/base';
import type { FinishReason } from '../generate';

/** One completion as the remote stage stores it. */
export interface RemoteSample {
  completionTokens: Int32Array;
  completionText: string;
  genLogprobs: Float32Array;
  finishReason: FinishReason;
}

interface Choice {
  index?: unknown;
  text?: unknown;
  finish_reason?: unknown;
  /** vLLM's `return_token_ids` answer. */
  token_ids?: unknown;
  logprobs?: { tokens?: unknown; token_logprobs?: unknown } | null;
}

const TOKEN_ID = /^token_id:(\d+)$/;

/**
 * The `n` choices of a /v1/completions answer for one prompt, in index order,
 * with token ids from the choice's `token_ids` (vLLM's `return_token_ids`),
 * else from `token_id:<id>` logprob tokens or, with `tokenizer`
 * (re-tokenising), from the text. Anything missing or malformed is an error
 * that says what the server sent and which option fixes it.
 */
export function parseCompletion(
  json: unknown,
  n: number,
  url: string,
  tokenizer: Tokenizer | null,
): RemoteSample[] {
  const fail = (what: string) => {
    throw new RxrlDataError(`rollout.remote: unexpected answer from ${url}: ${what}`, {
      source: url,
    });
  };
  const choices = (json as { choices?: unknown } | null)?.choices;
  if (!Array.isArray(choices))
    return fail(`no 'choices' array in ${JSON.stringify(json).slice(0, 200)}`);
  if (choices.length !== n) return fail(`${choices.length} choices for n=${n}`);
  const out = new Array<RemoteSample>(n);
  (choices as Choice[]).forEach((c, pos) => {
    const index = typeof c.index === 'number' ? c.index : pos;
    if (!Number.isInteger(index) || index < 0 || index >= n || out[index])
      return fail(`choice index ${String(c.index)} is not one of 0..${n - 1} exactly once`);
    if (typeof c.text !== 'string') return fail(`choice ${index} has no 'text'`);
    const finish =
      c.finish_reason === 'stop' || c.finish_reason === 'length'
        ? c.finish_reason
        : fail(
            `choice ${index} finish_reason ${JSON.stringify(c.finish_reason)}; expected 'stop' or 'length'`,
          );
    const lp = c.logprobs;
    if (!lp || !Array.isArray(lp.tokens) || !Array.isArray(lp.token_logprobs))
      return fail(
        `choice ${index} has no logprobs.tokens / logprobs.token_logprobs (does the server support 'logprobs'?)`,
      );
    const logprobs = lp.token_logprobs as unknown[];
    if (logprobs.some((v) => typeof v !== 'number'))
      return fail(`choice ${index} has a non-numeric token_logprob`);
    let ids: number[];
    if (Array.isArray(c.token_ids) && c.token_ids.every((t) => Number.isInteger(t))) {
      ids = c.token_ids as number[];
    } else if (tokenizer === null) {
      ids = (lp.tokens as unknown[]).map((t) => {
        const m = typeof t === 'string' ? TOKEN_ID.exec(t) : null;
        return m
          ? Number(m[1])
          : fail(
              `logprob token ${JSON.stringify(t)} of choice ${index} is not 'token_id:<id>': the server ignored return_tokens_as_token_ids (for vLLM start it with --return-tokens-as-token-ids, or set completion_token_ids: retokenize)`,
            );
      });
    } else {
      ids = tokenizer.encode(c.text, { addSpecialTokens: false });
      // a stop token (EOS) is scored but not in the text
      if (ids.length === logprobs.length - 1 && finish === 'stop' && tokenizer.eosTokenId !== null)
        ids.push(tokenizer.eosTokenId);
      if (ids.length !== logprobs.length)
        return fail(
          `re-tokenising choice ${index}'s text gives ${ids.length} tokens but the server scored ${logprobs.length}; use a server that returns token ids (completion_token_ids: return_tokens_as_token_ids)`,
        );
    }
    if (ids.length !== logprobs.length)
      return fail(`choice ${index} has ${ids.length} tokens but ${logprobs.length} log-probs`);
    out[index] = {
      completionTokens: Int32Array.from(ids),
      completionText: c.text,
      genLogprobs: Float32Array.from(logprobs as number[]),
      finishReason: finish,
    };
  });
  return out;
}
