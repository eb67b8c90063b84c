// acc / acc_norm of multiple choice and exact-match extraction and normalisation, on hand-made numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exactMatch, extractAnswer, multipleChoiceOutcome, normalizeAnswer } from 'bfpo/eval';

const s = (logprob: number) => ({ logprob, isGreedy: false, tokens: 1 });

test('acc picks the highest summed log-likelihood; acc_norm divides by the choice length in characters', () => {
  // lengths 1 and 4: -2/1 = -2 < -4/4 = -1, so the normalised pick is the long choice.
  const o = multipleChoiceOutcome(['a', 'bbbb'], 1, [s(-2), s(-4)]);
  assert.deepEqual(o, { logprobs: [-2, -4], pred: 0, predNorm: 1, acc: 0, accNorm: 1 });
  // Length counts characters, not UTF-16 units: '😀' is one character.
  const e = multipleChoiceOutcome(['😀', 'xy'], 0, [s(-1.5), s(-2)]);
  assert.equal(e.predNorm, 1); // -1.5/1 < -2/2
  // Ties go to the first choice, like numpy's argmax.
  assert.equal(multipleChoiceOutcome(['x', 'y', 'z'], 2, [s(-1), s(-1), s(-3)]).pred, 0);
});

test('exact match: extraction, then SQuAD-style normalisation', () => {
  assert.equal(extractAnswer('\n  Paris.\nIt is the capital.'), 'Paris.');
  assert.equal(extractAnswer('So the answer is 42, clearly', 'answer is (-?\\d+)'), '42');
  assert.equal(extractAnswer('no digits', '(\\d+)'), '');
  assert.equal(normalizeAnswer('The  Eiffel Tower!'), 'eiffel tower');
  assert.equal(normalizeAnswer('An apple, a day'), 'apple day');
  assert.equal(exactMatch('the Eiffel tower.', ['Eiffel Tower']), 1);
  assert.equal(exactMatch('Tower', ['Eiffel Tower']), 0);
  assert.equal(exactMatch('It is 12 apples', ['12', 'twelve'], '(\\d+)'), 1);
});
