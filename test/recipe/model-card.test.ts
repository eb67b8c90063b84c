// A training output carries its chat template (tokenizer_config.json, GGUF, ollama Modelfile), generation_config.json
// and a model card; a tokenizer without a template gets a warning naming the default, which is then saved.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { main } from '../../src/cli/main.js';
import { convertCommand } from '../../src/cli/convert.js';
import { readGguf, ZEPHYR_CHAT_TEMPLATE } from 'bfpo/io';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'bfpo-card-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const TEMPLATE = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";

async function run(args: string[]): Promise<{ err: string; code: number | undefined }> {
  const write = process.stderr.write.bind(process.stderr);
  let err = '';
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  const error = console.error;
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n`; };
  process.exitCode = undefined;
  try {
    await main(args);
    return { err, code: process.exitCode as number | undefined };
  } finally {
    process.stderr.write = write;
    console.error = error;
    process.exitCode = undefined;
  }
}

const sft = (out: string, extra: string[], model = join(root, 'recipes/tiny/model')): string[] => ['sft', join(root, 'recipes/tiny-cpu.yaml'), `--output_dir=${out}`,
  `--dataset_mixer={${join(root, 'test/fixtures/data/ultrachat')}: 1.0}`, '--dataset_splits=train_sft,test_sft', '--use_buffer=false',
  '--max_seq_length=128', '--max_steps=1', '--logging_steps=1', `--model_name_or_path=${model}`, ...extra];

function sha256Tree(folder: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(folder, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(folder);
  return out;
}

test('the recipe chat_template, generation_config.json and the model card travel with the output, into GGUF and the Modelfile', async () => {
  const out = join(dir, 'out');
  const r = await run(sft(out, [`--chat_template=${TEMPLATE}`]));
  assert.equal(r.code, undefined, r.err);
  assert.doesNotMatch(r.err, /has no chat template/);
  assert.equal(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).chat_template, TEMPLATE);
  const tokCfg = JSON.parse(readFileSync(join(root, 'recipes/tiny/model/tokenizer.json'), 'utf8'));
  const eosName = JSON.parse(readFileSync(join(root, 'recipes/tiny/model/tokenizer_config.json'), 'utf8')).eos_token;
  const eosId = (tokCfg.added_tokens as { id: number; content: string }[]).find((t) => t.content === eosName)?.id ?? tokCfg.model.vocab[eosName];
  assert.equal(JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8')).eos_token_id, eosId);
  const card = readFileSync(join(out, 'README.md'), 'utf8');
  assert.match(card, new RegExp(`^base_model: "${join(root, 'recipes/tiny/model')}"`, 'm'));
  for (const [file, hash] of sha256Tree(join(root, 'test/fixtures/data/ultrachat'))) assert.ok(card.includes(`| ${file} | \`${hash}\` |`), file);
  assert.match(card, /\| train\/loss \| [\d.]+ \|/);
  assert.match(card, /## Recipe\n\n```yaml\n[\s\S]*max_steps: 1\n/);
  assert.match(card, new RegExp(`bfpo generate --model ${out} `));
  const gguf = join(dir, 'out.gguf');
  convertCommand([out, gguf, '--type', 'f32'], () => {});
  const meta = readGguf(gguf).metadata;
  assert.equal(meta['tokenizer.chat_template']?.value, TEMPLATE);
  const modelfile = readFileSync(join(dir, 'out.Modelfile'), 'utf8');
  assert.match(modelfile, /^FROM \.\/out\.gguf$/m);
  assert.match(modelfile, new RegExp(`^PARAMETER stop "${eosName}"$`, 'm'));
});

test('a tokenizer without a chat template warns, naming the default, and the default is saved with the model', async () => {
  const model = join(dir, 'plain');
  cpSync(join(root, 'recipes/tiny/model'), model, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(model, 'tokenizer_config.json'), 'utf8'));
  delete cfg.chat_template;
  writeFileSync(join(model, 'tokenizer_config.json'), JSON.stringify(cfg));
  const out = join(dir, 'out-plain');
  const r = await run(sft(out, [], model));
  assert.equal(r.code, undefined, r.err);
  assert.match(r.err, /The tokenizer of .*plain has no chat template; the default Zephyr template is used/);
  assert.equal(JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8')).chat_template, ZEPHYR_CHAT_TEMPLATE);
  convertCommand([out, join(dir, 'plain.gguf'), '--type', 'f32'], () => {});
  const modelfile = readFileSync(join(dir, 'plain.Modelfile'), 'utf8');
  assert.ok(modelfile.includes('TEMPLATE """{{- range .Messages }}<|{{ .Role }}|>\n{{ .Content }}</s>\n{{ end }}<|assistant|>\n"""\n'), modelfile);
});
