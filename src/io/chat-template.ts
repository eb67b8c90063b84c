// Chat templates: Jinja programs from tokenizer_config.json, rendered with @huggingface/jinja as transformers does,
// inside bounds: a template from a stranger that loops for long or builds huge strings is stopped with an error.
import { Environment, Interpreter, Template } from '@huggingface/jinja';
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

/**
 * Bounds of one rendering: wall-clock time, the longest string any expression may produce (the output included),
 * and the longest `range()`. Real chat templates render in well under a millisecond and a few kB.
 */
export const TEMPLATE_LIMITS = { maxMilliseconds: 2000, maxChars: 16 * 1024 * 1024, maxRange: 100_000 };

/** The bounds of the rendering in progress (renderings are synchronous, so one at a time). */
let active: { deadline: number; steps: number } | null = null;

class LimitExceeded extends Error {}

// The interpreter evaluates every expression and statement through `evaluate`; checking there bounds any template.
const proto = Interpreter.prototype as unknown as { evaluate(this: unknown, statement: unknown, env: unknown): { value?: unknown } };
const evaluate = proto.evaluate;
proto.evaluate = function bounded(statement, env) {
  if (active && (active.steps += 1) % 256 === 0 && Date.now() > active.deadline) {
    throw new LimitExceeded(`rendering took more than ${TEMPLATE_LIMITS.maxMilliseconds} ms (an endless or exponential template?)`);
  }
  const result = evaluate.call(this, statement, env);
  if (active && typeof result?.value === 'string' && result.value.length > TEMPLATE_LIMITS.maxChars) {
    throw new LimitExceeded(`an expression produced ${result.value.length} characters, more than the ${TEMPLATE_LIMITS.maxChars} allowed`);
  }
  return result;
};

// The global `range` is installed through Environment.set when a rendering starts; ours replaces it while bounded.
const envProto = Environment.prototype as unknown as { set(this: unknown, name: string, value: unknown): unknown };
const envSet = envProto.set;
envProto.set = function boundedSet(name, value) {
  return envSet.call(this, name, active && name === 'range' ? boundedRange : value);
};

/** `range()` as Jinja has it, refusing more than TEMPLATE_LIMITS.maxRange numbers. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  const [from, to] = stop === undefined ? [0, start] : [start, stop];
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((to - from) / step));
  if (!Number.isFinite(n) || n > TEMPLATE_LIMITS.maxRange) throw new LimitExceeded(`range() of ${n} numbers, more than the ${TEMPLATE_LIMITS.maxRange} allowed`);
  return Array.from({ length: n }, (_, i) => from + i * step);
}

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
  /** The special-token variables the source mentions (found once, not per rendering). */
  readonly #uses: readonly (keyof TemplateTokens)[];
  constructor(source: string, readonly origin: string) {
    this.source = source;
    this.#uses = (['bos_token', 'eos_token', 'pad_token', 'unk_token'] as const).filter((name) => new RegExp(`\\b${name}\\b`).test(source));
    try {
      this.#template = new Template(source);
    } catch (err) {
      throw new ChatTemplateError(`${origin}: chat template does not compile: ${(err as Error).message}`);
    }
  }

  /** Names of special-token variables (bos_token, ...) that the template mentions but `tokens` lacks. */
  missingTokens(tokens: TemplateTokens): string[] {
    return this.#uses.filter((name) => typeof tokens[name] !== 'string');
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
    const outer = active;
    active = { deadline: Date.now() + TEMPLATE_LIMITS.maxMilliseconds, steps: 0 };
    try {
      const text = this.#template.render({
        ...extra,
        messages,
        add_generation_prompt: addGenerationPrompt,
        ...tokens,
      });
      if (text.length > TEMPLATE_LIMITS.maxChars) throw new LimitExceeded(`the output has ${text.length} characters, more than the ${TEMPLATE_LIMITS.maxChars} allowed`);
      return text;
    } catch (err) {
      if (err instanceof LimitExceeded || err instanceof RangeError) {
        throw new ChatTemplateError(`${this.origin}: chat template stopped: ${err.message}`);
      }
      // Also reached through the template's own raise_exception('...'), a global of @huggingface/jinja.
      throw new ChatTemplateError(`${this.origin}: chat template failed: ${(err as Error).message}`);
    } finally {
      active = outer;
    }
  }
}
