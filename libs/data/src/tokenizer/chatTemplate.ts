import { Template } from '@huggingface/jinja';
import { RxrlDataError, type ChatMessage } from '@rxrl/core/base';

/** The special-token strings a chat template may reference (`{{ bos_token }}` ...). */
export interface TemplateTokens {
  bos_token?: string | null;
  eos_token?: string | null;
  pad_token?: string | null;
  unk_token?: string | null;
}

/**
 * A compiled Hugging Face chat template. Rendered with `@huggingface/jinja`, which
 * accepts the same variables `transformers.apply_chat_template` passes.
 */
export class ChatTemplate {
  private readonly template: Template;

  constructor(
    readonly source: string,
    private readonly tokens: TemplateTokens,
  ) {
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new RxrlDataError(
        `chat template does not parse: ${(err as Error).message}`,
        {
          field: 'chat_template',
        },
        { cause: err },
      );
    }
  }

  /** Render `messages`; `extra` adds template variables such as `enable_thinking`. */
  render(
    messages: ChatMessage[],
    addGenerationPrompt: boolean,
    extra: Record<string, unknown> = {},
  ): string {
    return this.template.render({
      ...this.tokens,
      ...extra,
      messages,
      add_generation_prompt: addGenerationPrompt,
    });
  }
}

/**
 * The chat template named in a tokenizer_config.json: a string, or a list of
 * `{name, template}` where the one named `default` is used.
 */
export function templateFromConfig(config: Record<string, unknown>): string | null {
  const t = config['chat_template'];
  if (t == null) return null;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const pick = named.find((x) => x.name === 'default') ?? named[0];
    if (pick && typeof pick.template === 'string') return pick.template;
  }
  throw new RxrlDataError(
    'tokenizer_config.json chat_template must be a string or a list of {name, template}',
    { field: 'chat_template' },
  );
}
