import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenizePair, tokenizeSft, type PreferenceExample, type TextTokenizer } from 'bfpo/data';
import { boundaryStats } from '../../src/data/tokenize.js';
import { zephyrTokenizer } from './zephyr-tokenizer.js';

const tok = zephyrTokenizer();
const source = { dataset: 'test', row: 0 };
const example: PreferenceExample = {
  prompt: [{ role: 'system', content: '' }, { role: 'user', content: 'Hi there' }],
  chosen: [{ role: 'assistant', content: 'Hello!' }],
  rejected: [{ role: 'assistant', content: 'Go away.' }],
  isChosenSafe: 1, isRejectedSafe: 0, source,
};
const PROMPT = ['▁<', '|', 'system', '|', '>', '<0x0A>', '</s>', '▁', '<0x0A>', '<', '|', 'user', '|', '>', '<0x0A>', 'Hi', '▁there', '</s>', '▁', '<0x0A>'];
const HEADER = ['<', '|', 'ass', 'istant', '|', '>', '<0x0A>'];
const lengths = { maxLength: 1024, maxPromptLength: 512 };

test('clean mode: prompt with the generation prompt, answer + one EOS, one BOS', () => {
  const p = tokenizePair(example, tok, { ...lengths, mode: 'clean' });
  const c = tok.tokens(p.chosen.ids);
  assert.deepEqual(c.slice(0, p.chosen.promptLength), ['<s>', ...PROMPT, ...HEADER]);
  assert.deepEqual(c.slice(p.chosen.promptLength), ['Hello', '!', '</s>']);
  assert.deepEqual(tok.tokens(p.rejected.ids.subarray(p.rejected.promptLength)), ['Go', '▁away', '.', '</s>']);
  assert.deepEqual(p.chosen.ids.subarray(0, p.chosen.promptLength), p.rejected.ids.subarray(0, p.rejected.promptLength));
  // the prompt is exactly what generation sees: BOS + enc(template(prompt, add_generation_prompt))
  const gen = tok.encode(tok.applyChatTemplate(example.prompt, { addGenerationPrompt: true }), { addSpecialTokens: false });
  assert.deepEqual(Array.from(p.chosen.ids.subarray(1, p.chosen.promptLength)), gen);
  assert.deepEqual([p.isChosenSafe, p.isRejectedSafe], [1, 0]);
});

test('trl-0.7 mode: BOS prepended, assistant header inside the completion, EOS appended after the template EOS', () => {
  const p = tokenizePair(example, tok, { ...lengths, mode: 'trl-0.7' });
  const c = tok.tokens(p.chosen.ids);
  assert.deepEqual(c.slice(0, p.chosen.promptLength), ['<s>', ...PROMPT]);
  assert.deepEqual(c.slice(p.chosen.promptLength), [...HEADER, 'Hello', '!', '</s>', '▁', '<0x0A>', '</s>']);
});

test('a BOS already rendered by the template is not duplicated in clean mode', () => {
  const withBos = zephyrTokenizer('{{ bos_token }}' + "{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + eos_token + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}");
  const p = tokenizePair(example, withBos, { ...lengths, mode: 'clean' });
  assert.equal(p.chosen.ids[0], 1);
  assert.notEqual(p.chosen.ids[1], 1);
});

test('a token merged across the boundary: trl-0.7 moves the split left, clean keeps enc(prompt) as the prompt', () => {
  const plain = zephyrTokenizer("{% for m in messages %}{{ m['content'] }}{% endfor %}");
  const ex = { ...example, prompt: [{ role: 'user' as const, content: 'Hello wor' }], chosen: [{ role: 'assistant' as const, content: 'ld' }] };
  const trl = tokenizePair(ex, plain, { ...lengths, mode: 'trl-0.7' });
  assert.deepEqual(plain.tokens(trl.chosen.ids), ['<s>', '▁Hello', '▁world', '</s>']);
  assert.equal(trl.chosen.promptLength, 2); // '▁world' counts as completion
  const before = boundaryStats.reencoded;
  const clean = tokenizePair(ex, plain, { ...lengths, mode: 'clean' });
  assert.deepEqual(plain.tokens(clean.chosen.ids.subarray(0, clean.chosen.promptLength)), ['<s>', '▁Hello', '▁wor']);
  assert.equal(boundaryStats.reencoded, before + 1);
  assert.equal(clean.chosen.ids[clean.chosen.ids.length - 1], 2);
});

test('truncation as the original: prompt keeps its end, then answers cut to maxLength - maxPromptLength', () => {
  const long = { ...example, prompt: [{ role: 'system' as const, content: '' }, { role: 'user' as const, content: 'one two three four five six seven eight nine ten eleven twelve' }],
    chosen: [{ role: 'assistant' as const, content: 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu' }] };
  const full = tokenizePair(long, tok, { ...lengths, mode: 'clean' });
  const P = full.chosen.promptLength, A = full.chosen.ids.length - P, R = full.rejected.ids.length - full.rejected.promptLength;
  assert.ok(A > R);
  // 1) only the prompt needs cutting: maxLength = 10 + A, maxPromptLength 10
  const a = tokenizePair(long, tok, { maxLength: 10 + A, maxPromptLength: 10, mode: 'clean' });
  assert.equal(a.chosen.promptLength, 10);
  assert.deepEqual(a.chosen.ids.subarray(0, 10), full.chosen.ids.subarray(P - 10, P)); // keeps the END of the prompt
  assert.deepEqual(a.chosen.ids.subarray(10), full.chosen.ids.subarray(P));
  // 2) still too long: answers cut to maxLength - maxPromptLength (both, since the check uses the longer answer)
  const b = tokenizePair(long, tok, { maxLength: 16, maxPromptLength: 10, mode: 'clean' });
  assert.equal(b.chosen.ids.length, 16);
  assert.deepEqual(b.chosen.ids.subarray(10), full.chosen.ids.subarray(P, P + 6));
  assert.equal(b.rejected.ids.length - b.rejected.promptLength, Math.min(R, 6));
  // keep_start keeps the beginning of the prompt
  const c = tokenizePair(long, tok, { maxLength: 10 + A, maxPromptLength: 10, mode: 'clean', truncationMode: 'keep_start' });
  assert.deepEqual(c.chosen.ids.subarray(0, 10), full.chosen.ids.subarray(0, 10));
  // short pairs are untouched
  assert.deepEqual(tokenizePair(long, tok, { maxLength: P + A, maxPromptLength: 10 }).chosen.ids, full.chosen.ids);
});

test('trl-0.7: prompts of chosen and rejected differing by more than one token is an error', () => {
  const odd: TextTokenizer = {
    bosTokenId: null, eosTokenId: 0, padTokenId: null,
    encode: (text) => Array.from(text, (ch) => ch.charCodeAt(0) + (text.includes('!') ? 1000 : 0)),
    applyChatTemplate: (messages) => messages.map((m) => m.content).join(''),
  };
  const ex = { ...example, prompt: [{ role: 'user' as const, content: 'abc' }], chosen: [{ role: 'assistant' as const, content: '!' }], rejected: [{ role: 'assistant' as const, content: 'd' }] };
  assert.throws(() => tokenizePair(ex, odd, { ...lengths, mode: 'trl-0.7' }), /test, row 0: chosen and rejected prompt tokens differ by more than one token/);
});

test('a template that renders the generation prompt inconsistently is refused in clean mode', () => {
  const weird = zephyrTokenizer("{% if add_generation_prompt %}GEN{% endif %}{% for m in messages %}{{ m['content'] }}{% endfor %}");
  assert.throws(() => tokenizePair(example, weird, lengths), /renders the prompt with its generation prompt differently.*use mode "trl-0.7"/);
});

test('length options are checked', () => {
  assert.throws(() => tokenizePair(example, tok, { maxLength: 1, maxPromptLength: 1 }), /Expected an integer ≥ 2 for maxLength but received 1/);
  assert.throws(() => tokenizePair(example, tok, { maxLength: 8, maxPromptLength: 8 }), /Expected an integer in \[1, maxLength\) = \[1, 8\) for maxPromptLength but received 8/);
  assert.throws(() => tokenizePair(example, tok, { ...lengths, mode: 'raw' as 'clean' }), /Expected "clean" or "trl-0.7" for mode but received "raw"/);
});

test('SFT: clean learns the assistant turns only, trl-0.7 every token', () => {
  const ex = { messages: [{ role: 'user' as const, content: 'Hi' }, { role: 'assistant' as const, content: 'Hello!' }, { role: 'user' as const, content: 'Bye' }, { role: 'assistant' as const, content: 'Ciao' }], source };
  const clean = tokenizeSft(ex, tok, { maxLength: 512 });
  const t = tok.tokens(clean.ids);
  assert.equal(t[0], '<s>');
  const learned = t.filter((_, i) => clean.learn[i] === 1).join(' ');
  assert.equal(learned, 'Hello ! </s> C iao </s>');
  const trl = tokenizeSft(ex, tok, { maxLength: 512, mode: 'trl-0.7' });
  assert.deepEqual(trl.ids, clean.ids);
  assert.ok(trl.learn.every((x) => x === 1));
  assert.equal(tokenizeSft(ex, tok, { maxLength: 5 }).ids.length, 5);
  const weird = zephyrTokenizer("{% for m in messages %}{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}GEN{% endif %}");
  assert.throws(() => tokenizeSft(ex, weird, { maxLength: 64 }), /does not render conversations prefix by prefix/);
});
