// The command table: help on every command, unknown commands, and errors that say what was looked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main, COMMANDS } from '../../src/cli/main.js';
import { RECIPE_KEYS } from '../../src/recipe/recipe-keys.js';

async function capture(argv: string[]): Promise<{ out: string; err: string; code: number | undefined }> {
  const [log, error] = [console.log, console.error];
  let out = '';
  let err = '';
  console.log = (...a: unknown[]) => { out += `${a.join(' ')}\n`; };
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n`; };
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(argv);
    return { out, err, code: process.exitCode as number | undefined };
  } finally {
    [console.log, console.error] = [log, error];
    process.exitCode = before;
  }
}

test('bfpo --help lists every command; every command has --help', async () => {
  const top = await capture(['--help']);
  for (const c of ['sft', 'train', 'logps']) assert.match(top.out, new RegExp(`^  ${c} `, 'm'));
  for (const c of COMMANDS) {
    const h = await capture([c.name, '--help']);
    assert.match(h.out, new RegExp(`Usage: bfpo ${c.name}`));
    assert.equal(h.code, undefined);
  }
  const train = await capture(['train', '--help']);
  assert.match(train.out, /--beta=number {2}\(default 0\.1\)/);
  assert.match(train.out, /--lr_scheduler_type=cosine, linear, constant, constant_with_warmup {2}\(default "linear"\)/);
  assert.match(train.out, /without effect: .*push_to_hub/);
});

test('train and sft --help list the recipe keys by section, each key once', async () => {
  for (const [cmd, sections, hidden] of [
    ['train', ['Model', 'Data', 'Training', 'Loss', 'Reference model', 'LoRA', 'Logging', 'Checkpoints and output'], []],
    ['sft', ['Model', 'Data', 'Training', 'LoRA', 'Logging', 'Checkpoints and output'], ['Loss', 'Reference model']],
  ] as const) {
    const { out } = await capture([cmd, '--help']);
    const headings = [...out.matchAll(/^([A-Z][A-Za-z ]+):$/gm)].map((m) => m[1]);
    assert.deepEqual(headings, sections);
    for (const h of hidden) assert.doesNotMatch(out, new RegExp(`^${h}:$`, 'm'));
    const section = (key: string): string => {
      const at = out.indexOf(`\n  --${key}=`);
      return [...out.slice(0, at).matchAll(/^([A-Z][A-Za-z ]+):$/gm)].at(-1)?.[1] ?? '';
    };
    for (const s of RECIPE_KEYS) {
      const listed = out.split(`\n  --${s.key}=`).length - 1;
      if (s.group === 'accepted') {
        assert.equal(listed, 0, s.key);
        assert.match(out, new RegExp(`without effect: (.*, )?${s.key}(,|$)`, 'm'), s.key);
      } else if (cmd === 'sft' && s.group === 'preference') {
        assert.equal(listed, 0, s.key);
      } else {
        assert.equal(listed, 1, `${cmd} --help lists --${s.key} once`);
      }
    }
    assert.equal(section('lora_r'), 'LoRA');
    assert.equal(section('save_steps'), 'Checkpoints and output');
    assert.equal(section('report_to'), 'Logging');
    assert.equal(section('learning_rate'), 'Training');
    assert.equal(section('max_length'), 'Data');
    assert.equal(section('torch_dtype'), 'Model');
    if (cmd === 'train') {
      assert.equal(section('beta'), 'Loss');
      assert.equal(section('reference_strategy'), 'Reference model');
    }
  }
});

test('an unknown command prints the command list and fails', async () => {
  const r = await capture(['trian']);
  assert.equal(r.code, 1);
  assert.match(r.err, /Unknown command "trian"/);
  assert.match(r.err, /Commands:/);
});

test('a missing recipe, model folder or dataset says what was looked for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-cli-'));
  try {
    const recipe = join(dir, 'r.yaml');
    writeFileSync(recipe, `model_name_or_path: ${join(dir, 'model')}\noutput_dir: ${join(dir, 'out')}\ndataset_mixer:\n  ${join(dir, 'data')}: 1.0\n`);
    let r = await capture(['train']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^bfpo: A recipe file is needed: bfpo train RECIPE\.yaml/);
    r = await capture(['train', recipe]);
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`model_name_or_path \\(.*\\): was not found: looked for ${join(dir, 'model')}`));
    r = await capture(['train', recipe, '--model_name_or_path=mistralai/Mistral-7B-v0.1']);
    assert.match(r.err, /looked for .*mistralai\/Mistral-7B-v0\.1 and in the Hugging Face cache at .*models--mistralai--Mistral-7B-v0\.1.*never downloads/);
    mkdirSync(join(dir, 'model'));
    r = await capture(['train', recipe]);
    assert.match(r.err, new RegExp(`model_name_or_path must be a Hugging Face model folder or a PEFT adapter folder: looked for ${join(dir, 'model', 'config.json')}`));
    writeFileSync(join(dir, 'model', 'config.json'), '{}');
    r = await capture(['train', recipe]);
    assert.match(r.err, new RegExp(`dataset_mixer \\(${join(dir, 'data')}\\): was not found: looked for ${resolve(dir, 'data')}`));
    r = await capture(['sft', recipe, '--lr_scheduler_type=cosin']);
    assert.match(r.err, /Expected one of cosine, linear, constant, constant_with_warmup for lr_scheduler_type \(in the command line\) but received "cosin"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
