// Harness-style context/continuation split and the yes/no token lookup, with small hand-made tokenizers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JudgeError } from 'bfpo';
import { splitContinuation, yesNoTokenIds } from '../../src/eval/tokens.js';

/** A word-level tokenizer: BOS 1, then one id per known word (a leading space marks a word start, SentencePiece style). */
function wordTokenizer(vocab: string[]) {
  const ids = new Map(vocab.map((w, i) => [w, i + 2]));
  return {
    encode(text: string, o: { addSpecialTokens?: boolean } = {}) {
      const words = text.match(/ ?[^ ]+/g) ?? [];
      const out = words.map((w) => ids.get(w.trim()) ?? 0);
      return o.addSpecialTokens === false ? out : [1, ...out];
    },
    decode(t: number[]) {
      return t.map((i) => (i === 0 ? '<unk>' : i === 1 ? '<s>' : vocab[i - 2])).join(' ');
    },
  };
}

/** A character tokenizer: every letter its own token. */
const charTokenizer = {
  encode: (text: string) => [...text].map((c) => c.charCodeAt(0)),
  decode: (t: number[]) => String.fromCharCode(...t),
};

test('the continuation is the tail of the whole text after the context tokens; trailing spaces move over', () => {
  const tok = wordTokenizer(['The', 'sky', 'is', 'blue', 'green']);
  assert.deepEqual(splitContinuation(tok, { context: 'The sky is', continuation: ' blue' }), { contextIds: [1, 2, 3, 4], continuationIds: [5] });
  assert.deepEqual(splitContinuation(tok, { context: 'The sky is ', continuation: 'green' }), { contextIds: [1, 2, 3, 4], continuationIds: [6] });
  // A continuation that merges into the context's last token still scores one token.
  const glue = { encode: (s: string) => [1, s.length] };
  assert.deepEqual(splitContinuation(glue, { context: 'ab', continuation: 'c' }), { contextIds: [1], continuationIds: [3] });
});

test('an empty context is the prefix token (BOS, else EOS); an empty continuation has no tokens', () => {
  const tok = { ...wordTokenizer(['a', 'b']), bosTokenId: 1, eosTokenId: 9 };
  assert.deepEqual(splitContinuation(tok, { context: '', continuation: 'a b' }), { contextIds: [1], continuationIds: [2, 3] });
  assert.deepEqual(splitContinuation({ ...tok, bosTokenId: null }, { context: '', continuation: 'b' }), { contextIds: [9], continuationIds: [3] });
  assert.throws(() => splitContinuation({ ...tok, bosTokenId: null, eosTokenId: null }, { context: '', continuation: 'b' }), /Expected a tokenizer with a BOS or EOS token/);
  assert.deepEqual(splitContinuation(tok, { context: 'a', continuation: '' }), { contextIds: [1, 2], continuationIds: [] });
  // Trailing whitespace moved over is a continuation of its own.
  assert.notDeepEqual(splitContinuation(charTokenizer, { context: 'a ', continuation: '' }).continuationIds, []);
});

test('yes/no token ids: single tokens that decode to the word', () => {
  const tok = wordTokenizer(['yes', 'Yes', 'no', 'No', 'maybe']);
  assert.deepEqual(yesNoTokenIds(tok, 'm'), { yes: [2, 3], no: [4, 5] });
});

test('a judge model without single tokens for yes/no says so', () => {
  assert.throws(() => yesNoTokenIds(charTokenizer, 'models/char-lm'), (e: unknown) => {
    assert.ok(e instanceof JudgeError);
    assert.match(e.message, /^Judge model models\/char-lm has no single token for "yes" \(tried "yes", " yes", "Yes", " Yes", "YES", " YES"\)/);
    return true;
  });
  // An unknown-word token is one token but not "yes": it does not count.
  const unk = wordTokenizer(['no']);
  assert.throws(() => yesNoTokenIds(unk, 'x'), /Judge model x has no single token for "yes"/);
  assert.throws(() => yesNoTokenIds(wordTokenizer(['yes']), 'y'), /Judge model y has no single token for "no"/);
});
