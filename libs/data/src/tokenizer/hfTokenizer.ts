import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfCoreTokenizer } from '@huggingface/tokenizers';
import { RxrlDataError, type ChatMessage, type Tokenizer } from '@rxrl/core/base';
import { ChatTemplate, templateFromConfig } from './chatTemplate';

type Json = Record<string, unknown>;

/** A special token in tokenizer_config.json: a string, null, or a serialised AddedToken. */
function tokenString(config: Json, key: string): string | null {
  const v = config[key];
  if (v == null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && typeof (v as Json)['content'] === 'string') {
    return (v as Json)['content'] as string;
  }
  throw new RxrlDataError(`tokenizer_config.json ${key} must be a string, null or {content}`, {
    field: key,
  });
}

/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) behind the
 * rxrl `Tokenizer` interface. Encoding runs through `@huggingface/tokenizers`;
 * the chat template is rendered with `@huggingface/jinja`.
 *
 * BOS/EOS: when tokenizer_config.json sets `add_bos_token` / `add_eos_token`,
 * those flags decide (as transformers' Llama-style fast tokenizers rebuild their
 * post-processor from them); otherwise tokenizer.json's post-processor decides.
 */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  /** The chat template source, or null when the tokenizer has none. */
  readonly chatTemplate: string | null;
  private readonly core: HfCoreTokenizer;
  private readonly template: ChatTemplate | null;
  private readonly addBos: boolean | undefined;
  private readonly addEos: boolean | undefined;

  private constructor(tokenizerJson: Json, config: Json, chatTemplate: string | null) {
    if (typeof tokenizerJson['model'] !== 'object' || tokenizerJson['model'] === null) {
      throw new RxrlDataError('tokenizer.json has no "model" object', { field: 'model' });
    }
    // @huggingface/tokenizers requires these keys to exist (null is allowed).
    const tj: Json = {
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...tokenizerJson,
    };
    try {
      this.core = new HfCoreTokenizer(tj, config);
    } catch (err) {
      throw new RxrlDataError(
        `tokenizer.json cannot be loaded: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
    this.bosToken = tokenString(config, 'bos_token');
    this.eosToken = tokenString(config, 'eos_token');
    this.padToken = tokenString(config, 'pad_token');
    const unkToken = tokenString(config, 'unk_token');
    this.bosTokenId = this.idOfSpecial(this.bosToken, 'bos_token');
    this.eosTokenId = this.idOfSpecial(this.eosToken, 'eos_token');
    this.padTokenId = this.idOfSpecial(this.padToken, 'pad_token');
    const ab = config['add_bos_token'];
    const ae = config['add_eos_token'];
    this.addBos = typeof ab === 'boolean' ? ab : undefined;
    this.addEos = typeof ae === 'boolean' ? ae : undefined;
    if (this.addBos && this.bosTokenId === null) {
      throw new RxrlDataError('tokenizer_config.json sets add_bos_token but has no bos_token', {
        field: 'bos_token',
      });
    }
    if (this.addEos && this.eosTokenId === null) {
      throw new RxrlDataError('tokenizer_config.json sets add_eos_token but has no eos_token', {
        field: 'eos_token',
      });
    }
    let maxId = -1;
    for (const id of this.core.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;
    this.chatTemplate = chatTemplate ?? templateFromConfig(config);
    this.template =
      this.chatTemplate === null
        ? null
        : new ChatTemplate(this.chatTemplate, {
            bos_token: this.bosToken,
            eos_token: this.eosToken,
            pad_token: this.padToken,
            unk_token: unkToken,
          });
  }

  /** Build from parsed tokenizer.json and tokenizer_config.json; `chatTemplate` overrides the config's. */
  static fromJson(
    tokenizerJson: object,
    tokenizerConfigJson: object = {},
    chatTemplate?: string,
  ): HfTokenizer {
    return new HfTokenizer(
      tokenizerJson as Json,
      tokenizerConfigJson as Json,
      chatTemplate ?? null,
    );
  }

  /**
   * Load `dir/tokenizer.json`, `dir/tokenizer_config.json` (optional) and
   * `dir/chat_template.jinja` (optional, wins over the config's chat_template).
   */
  static async fromDirectory(dir: string): Promise<HfTokenizer> {
    const tokPath = join(dir, 'tokenizer.json');
    const cfgPath = join(dir, 'tokenizer_config.json');
    const jinjaPath = join(dir, 'chat_template.jinja');
    if (!existsSync(tokPath)) {
      throw new RxrlDataError(`no tokenizer.json in ${dir}`, { source: tokPath });
    }
    const readJson = async (path: string): Promise<Json> => {
      try {
        return JSON.parse(await readFile(path, 'utf8')) as Json;
      } catch (err) {
        throw new RxrlDataError(
          `${path} is not valid JSON: ${(err as Error).message}`,
          { source: path },
          { cause: err },
        );
      }
    };
    const tokenizerJson = await readJson(tokPath);
    const config = existsSync(cfgPath) ? await readJson(cfgPath) : {};
    const template = existsSync(jinjaPath) ? await readFile(jinjaPath, 'utf8') : undefined;
    return HfTokenizer.fromJson(tokenizerJson, config, template);
  }

  /** Id of a token string (added tokens included), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }

  /** Token string of an id, or undefined. */
  idToToken(id: number): string | undefined {
    return this.core.id_to_token(id);
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    const add = options.addSpecialTokens ?? true;
    if (this.addBos === undefined && this.addEos === undefined) {
      return this.core.encode(text, { add_special_tokens: add }).ids;
    }
    const ids = this.core.encode(text, { add_special_tokens: false }).ids;
    if (!add) return ids;
    if (this.addBos) ids.unshift(this.bosTokenId as number);
    if (this.addEos) ids.push(this.eosTokenId as number);
    return ids;
  }

  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.core.decode(Array.from(ids), {
      skip_special_tokens: options.skipSpecialTokens ?? false,
    });
  }

  applyChatTemplate(
    messages: ChatMessage[],
    options: { addGenerationPrompt?: boolean; templateVariables?: Record<string, unknown> } = {},
  ): string {
    if (this.template === null) {
      throw new RxrlDataError(
        'this tokenizer has no chat template (tokenizer_config.json chat_template or chat_template.jinja)',
        {
          field: 'chat_template',
        },
      );
    }
    return this.template.render(
      messages,
      options.addGenerationPrompt ?? false,
      options.templateVariables,
    );
  }

  private idOfSpecial(token: string | null, key: string): number | null {
    if (token === null) return null;
    const id = this.core.token_to_id(token);
    if (id === undefined) {
      throw new RxrlDataError(`tokenizer_config.json ${key} "${token}" is not in the vocabulary`, {
        field: key,
      });
    }
    return id;
  }
}
