// The tiny test model's byte-level tokenizer (recipes/tiny/model), written out by hand: byte b is token b + 3,
// "<s>" is 0 and "</s>" is 1. Tests derive expected token sequences with it, independently of the tokenizer code.
export const BOS = 0;
export const EOS = 1;

/** Token ids of `text` as the tiny tokenizer encodes it without special tokens added. */
export function byteIds(text: string): number[] {
  const out: number[] = [];
  for (const [i, part] of text.split('</s>').entries()) {
    if (i > 0) out.push(EOS);
    for (const b of Buffer.from(part, 'utf8')) out.push(b + 3);
  }
  return out;
}

/** The tiny model's chat template (Zephyr's layout, a newline after each end of turn), written out by hand. */
export function tinyChat(messages: { role: string; content: string }[], addGenerationPrompt = false): string {
  return messages.map((m) => `<|${m.role}|>\n${m.content}</s>\n`).join('') + (addGenerationPrompt ? '<|assistant|>\n' : '');
}
