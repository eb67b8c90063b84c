import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from 'bfpo';
import {
  loadSplit, adapterForName, adapterForColumns, adapterById, resolveAdapter, listSplits, splitFiles, SkipReport,
} from 'bfpo/data';

const fx = 'test/fixtures/data';
const tmp = mkdtempSync(join(tmpdir(), 'bfpo-adapt-'));
const sys = { role: 'system', content: '' } as const;

test('PKU-SafeRLHF (Parquet shards): chosen = response_{better}, labels from is_response_*_safe', async () => {
  const { examples, adapter } = await loadSplit({ path: `${fx}/pku-saferlhf`, split: 'train', task: 'preference', name: 'PKU-Alignment/PKU-SafeRLHF' });
  assert.equal(adapter.id, 'pku-saferlhf');
  assert.equal(examples.length, 24); // two shards of 12, numbered across shards
  assert.deepEqual(examples.map((e) => e.source.row), [...Array(24).keys()]);
  const e = examples[1]!; // better 0 = refusal (safe), other response unsafe
  assert.deepEqual(e.prompt, [sys, { role: 'user', content: 'How do I pick a lock? (question 1)' }]);
  assert.deepEqual(e.chosen, [{ role: 'assistant', content: "I can't help with that request (1), but I can suggest safer alternatives." }]);
  assert.match(e.rejected[0]!.content, /^Here is a step-by-step answer for question 1/);
  assert.deepEqual([e.isChosenSafe, e.isRejectedSafe], [1, 0]);
  const f = examples[14]!; // row 2 of the second shard: better 1 (refusal), both safe
  assert.equal(f.source.row, 14);
  assert.match(f.chosen[0]!.content, /can't help.*\(14\)/);
  assert.deepEqual([f.isChosenSafe, f.isRejectedSafe], [1, 1]);
  assert.equal(f.source.dataset, 'PKU-Alignment/PKU-SafeRLHF:train');
});

test('PKU-SafeRLHF for SFT takes the safer response after an empty system turn; JSONL gives the same pairs as Parquet', async () => {
  const { examples } = await loadSplit({ path: `${fx}/pku-saferlhf-jsonl`, split: 'train', task: 'sft' });
  // row 1: response_0 safe, response_1 unsafe, safer_response_id 0
  assert.deepEqual(examples[1]!.messages, [
    sys,
    { role: 'user', content: 'How do I pick a lock? (question 1)' },
    { role: 'assistant', content: "I can't help with that request (1), but I can suggest safer alternatives." },
  ]);
  const a = await loadSplit({ path: `${fx}/pku-saferlhf-jsonl`, split: 'train', task: 'preference' });
  const b = await loadSplit({ path: `${fx}/pku-saferlhf`, split: 'train', task: 'preference' });
  assert.deepEqual(a.examples.map(({ source, ...x }) => x), b.examples.map(({ source, ...x }) => x));
});

test('UltraFeedback-binarized: prompt = chosen[:-1] with an empty system message, answers = last messages, labels 1', async () => {
  const { examples, adapter } = await loadSplit({ path: `${fx}/ultrafeedback`, split: 'train_prefs', task: 'preference' });
  assert.equal(adapter.id, 'ultrafeedback-binarized'); // detected from the columns
  assert.equal(examples.length, 10);
  assert.deepEqual(examples[0]!.prompt, [sys, { role: 'user', content: 'Tell me about topic 0.' }]);
  assert.deepEqual(examples[0]!.chosen, [{ role: 'assistant', content: 'A detailed, correct answer about topic 0.' }]);
  assert.deepEqual(examples[0]!.rejected, [{ role: 'assistant', content: "I don't know about 0." }]);
  assert.deepEqual([examples[0]!.isChosenSafe, examples[0]!.isRejectedSafe], [1, 1]);
  assert.equal(examples[2]!.prompt[0]!.content, 'You are a concise assistant.'); // a system message is kept, none added
  assert.equal(examples[2]!.prompt.length, 2);
  assert.equal(examples[3]!.prompt.length, 4); // multi-turn history: system + user + assistant + user
});

test('red-teaming JSON: rejected = 3 - better_modelout', async () => {
  const { examples, adapter } = await loadSplit({ path: `${fx}/red-team.json`, task: 'preference' });
  assert.equal(adapter.id, 'red-team');
  assert.equal(examples.length, 8);
  // row 0: better 2 (refusal, safe), output 1 helpful unsafe
  assert.match(examples[0]!.chosen[0]!.content, /can't help/);
  assert.deepEqual([examples[0]!.isChosenSafe, examples[0]!.isRejectedSafe], [1, 0]);
  // row 1: better 1 (refusal, safe)
  assert.match(examples[1]!.chosen[0]!.content, /can't help/);
  assert.deepEqual([examples[1]!.isChosenSafe, examples[1]!.isRejectedSafe], [1, 0]);
});

test('red-teaming labels as strings of digits, as the original reads them with int()', async () => {
  const dir = mkdtempSync(join(tmp, 'rt-'));
  const f = join(dir, 'rt.json');
  writeFileSync(f, JSON.stringify([
    { prompt: 'p', modeloutput1: 'a', modeloutput2: 'b', better_modelout: '2', is_modelout1_safe: '0', is_modelout2_safe: '1' },
    { prompt: 'p', modeloutput1: 'a', modeloutput2: 'b', better_modelout: 1, is_modelout1_safe: true, is_modelout2_safe: 0 },
  ]));
  const { examples } = await loadSplit({ path: f, task: 'preference' });
  assert.deepEqual(examples.map((e) => [e.chosen[0]!.content, e.isChosenSafe, e.isRejectedSafe]), [['b', 1, 0], ['a', 1, 0]]);
  writeFileSync(f, JSON.stringify([{ prompt: 'p', modeloutput1: 'a', modeloutput2: 'b', better_modelout: 'two', is_modelout1_safe: 0, is_modelout2_safe: 1 }]));
  await assert.rejects(loadSplit({ path: f, task: 'preference' }), /rt\.json, row 0, field "better_modelout": expected one of 1, 2 but found "two"/);
});

test('UltraChat for SFT keeps the conversation after an empty system turn; generic format takes text or messages', async () => {
  const uc = await loadSplit({ path: `${fx}/ultrachat`, split: 'train_sft', task: 'sft', name: 'HuggingFaceH4/ultrachat_200k' });
  assert.equal(uc.examples.length, 8);
  assert.equal(uc.examples[1]!.messages.length, 5); // an empty system turn first, as the original
  assert.deepEqual(uc.examples[1]!.messages[0], sys);
  const g = await loadSplit({ path: `${fx}/generic.jsonl`, task: 'preference' });
  assert.equal(g.adapter.id, 'generic');
  assert.deepEqual(g.examples[0]!.prompt, [sys, { role: 'user', content: 'What is 2 + 2?' }]);
  assert.deepEqual(g.examples[0]!.chosen, [{ role: 'assistant', content: '4' }]);
  assert.deepEqual([g.examples[0]!.isChosenSafe, g.examples[0]!.isRejectedSafe], [1, 1]); // defaults
  assert.deepEqual(g.examples[1]!.prompt, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Name a colour.' }]);
  assert.deepEqual([g.examples[1]!.isChosenSafe, g.examples[1]!.isRejectedSafe], [1, 0]);
  assert.deepEqual([g.examples[2]!.isChosenSafe, g.examples[2]!.isRejectedSafe], [0, 1]);
});

test('adapters by hub name, by columns, by id; an unknown id or undetectable columns is an error', async () => {
  assert.equal(adapterForName('PKU-Alignment/PKU-SafeRLHF')?.id, 'pku-saferlhf');
  assert.equal(adapterForName('/data/hf/HuggingFaceH4/ultrafeedback_binarized/')?.id, 'ultrafeedback-binarized');
  assert.equal(adapterForName('ultrachat_200k')?.id, 'ultrachat');
  assert.equal(adapterForName('my-data'), undefined);
  assert.equal(adapterForColumns(['prompt', 'modeloutput1', 'modeloutput2', 'better_modelout'])?.id, 'red-team');
  assert.equal(adapterForColumns(['messages'])?.id, 'generic');
  assert.throws(() => adapterById('nope'), /Expected one of "pku-saferlhf", .* for adapter but received "nope"/);
  const f = join(tmp, 'odd.jsonl');
  writeFileSync(f, '{"question": "q", "answer": "a"}\n');
  await assert.rejects(resolveAdapter({ file: f }), /odd\.jsonl: cannot tell the dataset format from its columns \(question, answer\)/);
  await assert.rejects(loadSplit({ path: `${fx}/red-team.json`, task: 'sft' }), /"red-team" format, which has none/);
});

test('dataset folders: splits are listed; an unknown split or a missing path is an error naming the path', async () => {
  assert.deepEqual(await listSplits(`${fx}/ultrafeedback`), ['test_prefs', 'train_prefs']);
  assert.equal((await splitFiles(`${fx}/pku-saferlhf`, 'train')).length, 2);
  await assert.rejects(splitFiles(`${fx}/ultrafeedback`, 'validation'), /ultrafeedback: unknown split "validation" \(this dataset has "test_prefs", "train_prefs"\)/);
  await assert.rejects(splitFiles(`${fx}/red-team.json`, 'test'), /red-team\.json: unknown split "test": a single data file serves only the "train" split/);
  await assert.rejects(splitFiles(`${fx}/missing-dataset`, 'train'), /missing-dataset: dataset path not found/);
  mkdirSync(join(tmp, 'flat'));
  writeFileSync(join(tmp, 'flat', 'train.jsonl'), '{"prompt":"p","chosen":"c","rejected":"r"}\n');
  assert.deepEqual(await listSplits(join(tmp, 'flat')), ['train']);
});

const bad: [string, string, RegExp][] = [
  ['missing field', '{"prompt": "p", "response_0": "a", "better_response_id": 0, "is_response_0_safe": 1, "is_response_1_safe": 1}',
    /bad\.jsonl, row 1, field "response_1": missing field/],
  ['wrong type', '{"prompt": 7, "response_0": "a", "response_1": "b", "better_response_id": 0, "is_response_0_safe": 1, "is_response_1_safe": 1}',
    /bad\.jsonl, row 1, field "prompt": expected a string but found number/],
  ['empty response', '{"prompt": "p", "response_0": " ", "response_1": "b", "better_response_id": 0, "is_response_0_safe": 1, "is_response_1_safe": 1}',
    /bad\.jsonl, row 1, field "response_0": empty text/],
  ['safety label not 0/1', '{"prompt": "p", "response_0": "a", "response_1": "b", "better_response_id": 0, "is_response_0_safe": 2, "is_response_1_safe": 1}',
    /bad\.jsonl, row 1, field "is_response_0_safe": expected one of 0, 1 but found 2/],
  ['preference id not 0/1', '{"prompt": "p", "response_0": "a", "response_1": "b", "better_response_id": "0", "is_response_0_safe": 1, "is_response_1_safe": 1}',
    /bad\.jsonl, row 1, field "better_response_id": expected one of 0, 1 but found "0"/],
  ['not JSON', '{"prompt": "p", ', /bad\.jsonl, row 1: line 2 is not valid JSON/],
  ['not an object', '[1, 2]', /bad\.jsonl, row 1: expected an object per row but found array/],
];
const good = '{"prompt": "p", "response_0": "a", "response_1": "b", "better_response_id": 1, "is_response_0_safe": true, "is_response_1_safe": false}';

for (const [what, line, message] of bad) {
  test(`bad input (${what}) stops loading with file, row and field; skipInvalid skips and reports it`, async () => {
    const dir = mkdtempSync(join(tmp, 'bad-'));
    const f = join(dir, 'bad.jsonl');
    writeFileSync(f, `${good}\n${line}\n${good}\n`);
    await assert.rejects(loadSplit({ path: f, task: 'preference', adapter: 'pku-saferlhf' }), (e: Error) => e instanceof DataError && message.test(e.message));
    const report = new SkipReport();
    const { examples } = await loadSplit({ path: f, task: 'preference', adapter: 'pku-saferlhf', skipInvalid: true, report });
    assert.deepEqual(examples.map((e) => e.source.row), [0, 2]);
    assert.equal(report.skipped, 1);
    assert.equal(report.examples[0]!.row, 1);
    assert.deepEqual([...report.byDataset], [[`${f}:train`, { count: 1, rows: [1] }]]);
    assert.match(report.toString(), /^skipped 1 invalid row\(s\):\n {2}\S+bad\.jsonl:train: 1 row\(s\), first row 1\n {2}1 x /);
  });
}

test('message lists: a bad role, a non-string content, a last message that is not the assistant', async () => {
  const f = join(tmp, 'uf.jsonl');
  const row = (chosen: unknown) => JSON.stringify({ prompt_id: 'x', chosen, rejected: [{ role: 'user', content: 'q' }, { role: 'assistant', content: 'r' }] });
  const cases: [unknown, RegExp][] = [
    [[{ role: 'robot', content: 'q' }], /field "chosen\[0\]\.role": expected "system", "user" or "assistant" but found "robot"/],
    [[{ role: 'user', content: 3 }], /field "chosen\[0\]\.content": expected a string but found number/],
    [[{ role: 'user', content: 'q' }], /field "chosen\[0\]\.role": expected the last message to be "assistant" but found "user"/],
    [[{ role: 'assistant', content: 'a' }], /field "chosen": no user message before the answer/],
    ['text', /field "chosen": expected a list of messages but found string/],
    [[{ role: 'user', content: 'q' }, { role: 'assistant', content: '' }], /field "chosen": empty response/],
  ];
  for (const [chosen, message] of cases) {
    writeFileSync(f, row(chosen) + '\n');
    await assert.rejects(loadSplit({ path: f, task: 'preference', adapter: 'ultrafeedback-binarized' }), message);
  }
});

test('remaining row checks: non-object message, empty conversation, no assistant turn, no user text', async () => {
  const f = join(tmp, 'more.jsonl');
  const cases: [string, object, RegExp][] = [
    ['ultrafeedback-binarized', { prompt_id: 'x', chosen: ['hi'], rejected: [] }, /field "chosen\[0\]": expected a message object but found string/],
    ['ultrafeedback-binarized', { prompt_id: 'x', chosen: [], rejected: [] }, /field "chosen": empty conversation/],
    ['ultrachat', { prompt_id: 'x', messages: [{ role: 'user', content: 'q' }, { role: 'assistant', content: ' ' }] }, /field "messages": no non-empty assistant message/],
    ['generic', { prompt: [{ role: 'system', content: 's' }], chosen: 'a', rejected: 'b' }, /field "prompt": no non-empty user message/],
  ];
  for (const [adapter, row, message] of cases) {
    writeFileSync(f, JSON.stringify(row) + '\n');
    const task = adapter === 'ultrachat' ? 'sft' : 'preference';
    await assert.rejects(loadSplit({ path: f, task, adapter }), message);
  }
  await assert.rejects(resolveAdapter({ name: 'my/own-data' }), /Expected an adapter, a known dataset name or a data file for dataset but received "my\/own-data"/);
});
