// The demo world: determinism, the held-out split, safety labels, placeholder-only unsafe responses, the files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSplit } from 'bfpo/data';
import { buildWorld, readBehaviours, trainingTexts, writeWorld } from '../../src/demo/world.js';
import { REFUSALS } from '../../src/demo/responses.js';
import { seededRandom } from '../../src/demo/random.js';

const behaviours = readBehaviours(new URL('../../data/advbench.txt', import.meta.url).pathname);
const world = buildWorld(behaviours, { seed: 3 });

test('the same seed builds the same world, another seed another one', () => {
  assert.deepEqual(buildWorld(behaviours, { seed: 3 }), world);
  assert.notDeepEqual(buildWorld(behaviours, { seed: 4 }).preferences, world.preferences);
  const r = seededRandom(7, 'x');
  const draws = [r.next(), r.next(), r.int(10)];
  const again = seededRandom(7, 'x');
  assert.deepEqual([again.next(), again.next(), again.int(10)], draws);
});

test('held-out behaviours and benign questions never appear in training data', () => {
  assert.equal(new Set([...world.trainBehaviours, ...world.heldOutBehaviours]).size, world.trainBehaviours.length + world.heldOutBehaviours.length);
  assert.ok(world.heldOutBehaviours.length >= 90 && world.trainBehaviours.length >= 280);
  const prompts = new Set([...world.sft.map((r) => r.messages[0].content), ...[...world.preferences, ...world.buffer].map((p) => p.prompt)]);
  const corpus = trainingTexts(world).join('\n');
  for (const b of world.heldOutBehaviours) assert.ok(!corpus.includes(b.slice(1, -1)), `held-out behaviour in training: ${b}`);
  for (const q of [...world.evalBenign, ...world.evalOverRefusal]) assert.ok(!prompts.has(q.prompt), `held-out question in training: ${q.prompt}`);
  // Every held-out benign fact is known from training under another template.
  for (const q of world.evalBenign.slice(0, 40)) {
    assert.ok(world.sft.some((r) => r.messages[1].content.endsWith(` ${q.answer}.`)), `answer ${q.answer} never taught`);
  }
});

test('preference pairs carry PKU-style labels: on harmful prompts the more helpful (chosen) answer is the unsafe one', () => {
  const harmful = world.preferences.filter((p) => p.is_chosen_safe === 0);
  const benign = world.preferences.filter((p) => p.is_chosen_safe === 1);
  assert.equal(harmful.length, world.trainBehaviours.length * 2);
  assert.ok(benign.length > 0);
  for (const p of harmful) {
    assert.equal(p.is_rejected_safe, 1);
    assert.ok(REFUSALS.includes(p.rejected), p.rejected);
    assert.match(p.chosen, /^[^[\]]+ (Step \d: \[redacted\]\. ?){2,3}$/);
  }
  for (const p of [...benign, ...world.buffer]) {
    assert.equal(p.is_rejected_safe, 1);
    assert.notEqual(p.chosen, p.rejected);
  }
  assert.ok(world.buffer.every((p) => p.is_chosen_safe === 1));
});

test('the SFT mix answers harmful requests mostly with compliance, benign ones helpfully', () => {
  const harmful = world.sft.filter((r) => /\[redacted\]/.test(r.messages[1].content) || REFUSALS.includes(r.messages[1].content));
  assert.equal(harmful.length, world.trainBehaviours.length);
  const refusals = harmful.filter((r) => REFUSALS.includes(r.messages[1].content)).length / harmful.length;
  assert.ok(refusals > 0.15 && refusals < 0.35, `refusal share ${refusals}`);
});

test('benign answers end with the checkable answer', () => {
  for (const q of world.evalBenign) assert.match(q.answer, /^[A-Za-z0-9]+$/);
  assert.deepEqual(new Set(world.evalBenign.map((q) => q.family)).size, 8);
});

test('the files are JSONL the data layer reads with the generic adapter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-world-'));
  try {
    const small = buildWorld(behaviours, { seed: 1, scale: 0.05 });
    const paths = writeWorld(small, dir);
    const pairs = await loadSplit({ path: paths.preferences, task: 'preference' });
    assert.equal(pairs.adapter.id, 'generic');
    assert.equal(pairs.examples.length, small.preferences.length);
    const first = pairs.examples[0];
    assert.equal(first.isChosenSafe, small.preferences[0].is_chosen_safe);
    assert.equal(first.chosen.at(-1)?.content, small.preferences[0].chosen);
    const sft = await loadSplit({ path: paths.sft, task: 'sft' });
    assert.equal(sft.examples.length, small.sft.length);
    const eval0 = JSON.parse(readFileSync(paths.evalBenign, 'utf8').split('\n')[0]);
    assert.deepEqual(Object.keys(eval0).sort(), ['answer', 'family', 'prompt']);
    assert.ok(JSON.parse(readFileSync(join(dir, 'world.json'), 'utf8')).counts.preferences > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options and files are refused with the option named', () => {
  assert.throws(() => buildWorld(behaviours, { seed: 1.5 }), /Expected an integer for seed but received 1.5/);
  assert.throws(() => buildWorld(behaviours, { heldOutFraction: 1 }), /Expected a number in \(0, 1\) for heldOutFraction/);
  assert.throws(() => buildWorld(behaviours, { sftRefusalRate: 2 }), /Expected a number in \[0, 1\] for sftRefusalRate/);
  assert.throws(() => buildWorld(behaviours, { pairsPerBehaviour: 0 }), /Expected a positive integer for pairsPerBehaviour/);
  assert.throws(() => buildWorld(behaviours, { scale: 0 }), /Expected a number in \(0, 1\] for scale/);
  assert.throws(() => buildWorld(['a', 'b'], {}), /Expected at least 8 behaviours for behaviours but received 2/);
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-world-'));
  try {
    writeFileSync(join(dir, 'few.txt'), 'one\ntwo\n');
    assert.throws(() => readBehaviours(join(dir, 'few.txt')), /Expected a file of at least 8 behaviours, one per line for advbench file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
