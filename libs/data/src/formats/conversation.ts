import { RxrlDataError, type ChatMessage, type Tokenizer } from '@rxrl/core/base';

/** Tokens of a rendered conversation, split into runs that train or not. */
export interface ConversationTokens {
  tokens: number[];
  /** 1 where the token belongs to a trained message. */
  mask: number[];
  /** The full template rendering the tokens encode. */
  text: string;
}

/**
 * Render `messages` with the tokenizer's chat template and tokenise it message by
 * message, marking the messages for which `train(i)` holds. A trained message's
 * piece starts after the template's header for it (the prefix up to message `i`
 * is rendered with `add_generation_prompt` when message `i` is the assistant's,
 * so the role header stays untrained) and runs to the start of the next untrained
 * message (its end-of-turn marker trains, so the model learns to stop).
 *
 * `{% generation %}` markers are not available in @huggingface/jinja, hence the
 * prefix renderings. Two checks keep this exact: every prefix rendering must be
 * a prefix of the full rendering, and the pieces' tokens concatenated must equal
 * the full rendering's tokens; otherwise a `RxrlDataError` names the field.
 */
export function tokenizeConversation(
  tokenizer: Tokenizer,
  messages: ChatMessage[],
  train: (index: number, message: ChatMessage) => boolean,
  field: string,
  rowIndex?: number,
): ConversationTokens {
  const where = rowIndex === undefined ? {} : { row: rowIndex };
  const rowText = rowIndex === undefined ? '' : `row ${rowIndex}: `;
  const text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: false });
  const flags = messages.map((m, i) => train(i, m));
  const cuts: number[] = [0];
  for (let i = 1; i < messages.length; i++) {
    if (flags[i] === flags[i - 1]) continue;
    const prefix = tokenizer.applyChatTemplate(messages.slice(0, i), {
      addGenerationPrompt: messages[i]!.role === 'assistant',
    });
    if (!text.startsWith(prefix) || prefix.length < cuts[cuts.length - 1]!) {
      throw new RxrlDataError(
        `${rowText}the chat template is not prefix-stable at ${field}[${i}]: rendering the first ${i} ` +
          `messages is not a prefix of rendering all ${messages.length}, so per-message loss masks are ` +
          'undefined (use the final-assistant-only mask, or a template that renders earlier turns unchanged)',
        { ...where, field: `${field}[${i}]` },
      );
    }
    cuts.push(prefix.length);
  }
  cuts.push(text.length);
  const tokens: number[] = [];
  const mask: number[] = [];
  // Runs alternate between trained and untrained, starting with flags[0].
  let trainRun = flags[0] ?? false;
  for (let k = 0; k + 1 < cuts.length; k++) {
    const piece = tokenizer.encode(text.slice(cuts[k], cuts[k + 1]), { addSpecialTokens: false });
    for (const id of piece) {
      tokens.push(id);
      mask.push(trainRun ? 1 : 0);
    }
    trainRun = !trainRun;
  }
  const whole = tokenizer.encode(text, { addSpecialTokens: false });
  if (whole.length !== tokens.length || whole.some((id, i) => id !== tokens[i])) {
    let at = 0;
    while (at < whole.length && whole[at] === tokens[at]) at++;
    throw new RxrlDataError(
      `${rowText}tokenising ${field} message by message differs from tokenising the whole rendering ` +
        `at token ${at} (a token spans a message boundary), so the loss mask would be misaligned`,
      { ...where, field },
    );
  }
  return { tokens, mask, text };
}
