// `bfpo eval` argument parsing: flags, a YAML recipe with flags on top, help text, and argument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEvalArgs } from '../../src/cli/eval.js';
import { EVAL_HELP } from '../../src/cli/eval-help.js';
import { tempDir } from '../eval/helpers.js';

test('flags become a config; tasks split on commas; numbers parsed', () => {
  const c = parseEvalArgs(['--model', 'runs/base', '--model', 'bfpo=runs/bfpo', '--tasks', 'advbench,mc:d/q.jsonl', '--judge', 'endpoint:http://127.0.0.1:8000#cls', '--out', 'o', '--limit', '20', '--top-p', '0.9']);
  assert.deepEqual(c, { judge: 'endpoint:http://127.0.0.1:8000#cls', models: ['runs/base', 'bfpo=runs/bfpo'], tasks: ['advbench', 'mc:d/q.jsonl'], out: 'o', limit: 20, top_p: 0.9 });
  assert.equal((parseEvalArgs(['--model', 'm', '--tasks', 'advbench', '--out', 'o']) as { judge: string }).judge, 'refusal');
});

test('a YAML recipe, with flags overriding it', () => {
  const dir = tempDir();
  const file = join(dir, 'eval.yaml');
  writeFileSync(file, 'models: [runs/base, runs/bfpo]\ntasks:\n  - advbench\n  - { type: multiple-choice, path: d/q.jsonl, metric: acc }\njudge: refusal\nout: eval-out\nlimit: 50\n');
  const c = parseEvalArgs([file, '--limit', '5']);
  assert.deepEqual(c, { judge: 'refusal', models: ['runs/base', 'runs/bfpo'], tasks: ['advbench', { type: 'multiple-choice', path: 'd/q.jsonl', metric: 'acc' }], out: 'eval-out', limit: 5 });
  writeFileSync(file, 'models: [a]\ntasks: [advbench]\nout: o\nlimt: 3\n');
  assert.throws(() => parseEvalArgs(['--recipe', file]), /eval\.yaml, field "limt": unknown key/);
  writeFileSync(file, 'models: [a]\ntasks: [advbench]\nout: o\nseed: many\n');
  assert.throws(() => parseEvalArgs([file]), /eval\.yaml, field "seed": expected a number but found "many"/);
  writeFileSync(file, 'models: []\n');
  assert.throws(() => parseEvalArgs([file]), /eval\.yaml, field "models": expected a non-empty list/);
});

test('help lists the built-in tasks and judges; missing arguments are named', () => {
  assert.equal(parseEvalArgs(['--help']), 'help');
  for (const s of ['advbench', 'alert:FILE', 'pku:FILE', 'mc:FILE', 'em:FILE', 'over-refusal:FILE', 'refusal', 'classifier:PATH', 'endpoint:URL#MODEL']) {
    assert.ok(EVAL_HELP.includes(s), s);
  }
  assert.throws(() => parseEvalArgs(['--tasks', 'advbench', '--out', 'o']), /Expected at least one --model PATH for --model but received undefined/);
  assert.throws(() => parseEvalArgs(['--model', 'm', '--out', 'o']), /Expected a task list for --tasks/);
  assert.throws(() => parseEvalArgs(['--model', 'm', '--tasks', 'advbench']), /Expected an output folder for --out/);
  assert.throws(() => parseEvalArgs(['--model', 'm', '--tasks', 'advbench', '--out', 'o', '--seed', 'x']), /Expected a number for --seed but received "x"/);
  assert.throws(() => parseEvalArgs(['a.yaml', 'b.yaml']), /Expected at most one recipe file for arguments/);
});

test('recipe read errors and model naming', async () => {
  const { modelSources } = await import('bfpo/eval');
  assert.throws(() => parseEvalArgs([join(tempDir(), 'missing.yaml')]), /missing\.yaml: cannot read the recipe/);
  const dir = tempDir();
  writeFileSync(join(dir, 'list.yaml'), '- a\n- b\n');
  assert.throws(() => parseEvalArgs([join(dir, 'list.yaml')]), /list\.yaml: expected a mapping of recipe keys/);
  assert.deepEqual(modelSources(['runs/a/final', 'other/final', 'x=runs/b', { name: 'y', path: '/p' }]), [
    { name: 'final', path: 'runs/a/final' }, { name: 'final-2', path: 'other/final' }, { name: 'x', path: 'runs/b' }, { name: 'y', path: '/p' },
  ]);
  assert.throws(() => modelSources([3 as unknown as string]), /Expected a model path or \{ name, path \} for models\[0\] but received 3/);
});

test('bfpo eval is in the command table, with its help', async () => {
  const { COMMANDS, commandHelp } = await import('../../src/cli/main.js');
  const cmd = COMMANDS.find((c) => c.name === 'eval');
  assert.ok(cmd);
  const help = commandHelp(cmd);
  assert.match(help, /Usage: bfpo eval --model PATH/);
  assert.ok(help.includes('classifier:PATH') && help.includes('alert:FILE'));
});
