// Chat templates: Jinja programs from tokenizer_config.json, rendered with @huggingface/jinja as transformers does.
import { Template } from '@huggingface/jinja';
import { BfpoError } from '../errors.js';

/** One chat turn. Roles are usually 'system', 'user' and 'assistant' (the data layer's Message fits). */
export interface ChatMessage {
  role: string;
  content: string;
}

/**
 * Zephyr's chat template (HuggingFaceH4/zephyr-7b-beta), used for tokenizers that ship none: each turn is
 * `<|role|>\n` + content + eos_token, and the generation prompt is `<|assistant|>`.
 */
export const ZEPHYR_CHAT_TEMPLATE =
  "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n" +
  "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n" +
  "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n" +
  "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}";

/** Raised when a chat template cannot be compiled or rendered, or calls `raise_exception(message)`. */
export class ChatTemplateError extends BfpoError {}

/** The special tokens a template may refer to by name. */
export interface TemplateTokens {
  bos_token?: string;
  eos_token?: string;
  pad_token?: string;
  unk_token?: string;
}

/** A compiled chat template that knows which special-token variables it uses. */
export class ChatTemplate {
  readonly source: string;
  readonly #template: Template;
  constructor(source: string, readonly origin: string) {
    this.source = source;
    try {
      this.#template = new Template(source);
    } catch (err) {
      throw new ChatTemplateError(`${origin}: chat template does not compile: ${(err as Error).message}`);
    }
  }

  /** Names of special-token variables (bos_token, ...) that the template mentions but `tokens` lacks. */
  missingTokens(tokens: TemplateTokens): string[] {
    return (['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const).filter(
      (name) => new RegExp(`\\b${name}\\b`).test(this.source) && typeof tokens[name] !== 'string',
    );
  }

  /** Renders the conversation; extra variables (e.g. `tools`, `date_string`) pass through to the template. */
  render(messages: ChatMessage[], tokens: TemplateTokens, addGenerationPrompt: boolean, extra: Record<string, unknown> = {}): string {
    const missing = this.missingTokens(tokens);
    if (missing.length > 0) {
      throw new ChatTemplateError(
        `${this.origin}: the chat template uses ${missing.join(', ')} but the tokenizer defines none; ` +
          `set ${missing.join(', ')} in tokenizer_config.json`,
      );
    }
    try {
      return this.#template.render({
        ...extra,
        messages,
        add_generation_prompt: addGenerationPrompt,
        ...tokens,
      });
    } catch (err) {
      // Also reached through the template's own raise_exception('...'), a global of @huggingface/jinja.
      throw new ChatTemplateError(`${this.origin}: chat template failed: ${(err as Error).message}`);
    }
  }
}
