// The device flag and recipe key on the command line: a CUDA device that cannot be used stops train, sft, logps,
// generate and eval at once with the reason and the fix; a malformed device is a recipe error; and device: cpu
// given explicitly trains exactly as the default does on a machine without a GPU.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMain } from './run-main.js';
import { cuda } from '../../src/index.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'bfpo-device-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const run = (args: string[]) => runMain(args, root);
const usable = cuda.isBuilt() && cuda.isAvailable();
const needsNoCuda = usable && 'a CUDA device is usable here, so cuda does not fail';
const WHY = /device is cuda, but (this bfpo addon was built against a libtorch without CUDA|no CUDA device is visible)/;

test('--device cuda fails at once on train, sft and logps, before any model or data is read', { skip: needsNoCuda }, async () => {
  for (const cmd of ['train', 'sft']) {
    const out = join(dir, `never-${cmd}`);
    const r = await run([cmd, 'recipes/tiny-cpu.yaml', `--output_dir=${out}`, ...(cmd === 'sft' ? ['--use_buffer=false'] : []), '--device', 'cuda']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, WHY);
    assert.match(r.err, /docs\/gpu\.md/);
    assert.doesNotMatch(r.err, /tokeniz|reference|model:/, 'nothing was loaded');
    assert.equal(existsSync(out), false, 'no output folder was made');
  }
  const logps = await run(['logps', 'recipes/tiny-cpu.yaml', `--reference_cache_dir=${join(dir, 'c')}`, '--device=cuda']);
  assert.equal(logps.code, 1, logps.err);
  assert.match(logps.err, WHY);
});

test('--device cuda fails at once on generate and eval', { skip: needsNoCuda }, async () => {
  const gen = await run(['generate', '--model', 'recipes/tiny/model', '--prompt', 'hi', '--device', 'cuda']);
  assert.equal(gen.code, 1, gen.err);
  assert.match(gen.err, /--device is cuda, but/);
  const ev = await run(['eval', '--model', 'recipes/tiny/model', '--tasks', 'advbench', '--judge', 'refusal', '--out', join(dir, 'ev'), '--device', 'cuda']);
  assert.equal(ev.code, 1, ev.err);
  assert.match(ev.err, /--device is cuda, but/);
});

test('a malformed device is refused with the allowed values, on the command line and in generate', async () => {
  const r = await run(['train', 'recipes/tiny-cpu.yaml', `--output_dir=${join(dir, 'bad')}`, '--device=gpu']);
  assert.equal(r.code, 1);
  assert.match(r.err, /Expected one of auto, cpu, cuda, cuda:N \(N a device index\) for device \(in the command line\) but received "gpu"/);
  const g = await run(['generate', '--model', 'recipes/tiny/model', '--prompt', 'hi', '--device', 'tpu']);
  assert.equal(g.code, 1);
  assert.match(g.err, /Expected one of auto, cpu, cuda, cuda:N \(N a device index\) for --device but received "tpu"/);
});

test('device: cpu given explicitly trains exactly as the default (auto) run on this machine', { skip: usable && 'auto picks CUDA here' }, async () => {
  const common = ['--num_train_epochs=1', '--max_steps=3', '--save_steps=3', '--logging_steps=1', '--per_device_train_batch_size=4',
    '--do_eval=false', '--evaluation_strategy=no', `--reference_cache_dir=${join(dir, 'cache')}`];
  const a = await run(['train', 'recipes/tiny-cpu.yaml', ...common, `--output_dir=${join(dir, 'auto')}`]);
  assert.equal(a.code, undefined, a.err);
  assert.match(a.err, /device: cpu \(device: auto\)/);
  const b = await run(['train', 'recipes/tiny-cpu.yaml', ...common, `--output_dir=${join(dir, 'cpu')}`, '--device=cpu']);
  assert.equal(b.code, undefined, b.err);
  assert.match(b.err, /^bfpo: device: cpu$/m);
  const weights = (d: string) => readFileSync(join(dir, d, 'model.safetensors'));
  assert.ok(weights('auto').equals(weights('cpu')), 'the final weights are byte-identical');
  const losses = (d: string) => readFileSync(join(dir, d, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'loss' in l).map((l) => l.loss);
  assert.equal(losses('auto').length, 3);
  assert.deepEqual(losses('cpu'), losses('auto'));
});

test('--dry-run prints the estimate for the device, with checkpointing and LoRA, and notes a CUDA device it cannot use here', { skip: needsNoCuda }, async () => {
  const { dryRun } = await import('../../src/recipe/dry-run.js');
  const { prepareRecipe } = await import('../../src/recipe/prepare.js');
  const base = ['recipes/tiny-cpu.yaml', `--output_dir=${join(dir, 'dry')}`, `--reference_cache_dir=${join(dir, 'c2')}`];
  const cpu = await dryRun(prepareRecipe('preference', [...base, '--device=cpu']), () => undefined);
  assert.match(cpu, /^# device: cpu; gradient_checkpointing off, no LoRA, reference precomputed, attention eager \(probabilities computed again in the backward pass\)$/m);
  assert.match(cpu, /^# estimated peak .* fits in the .* of RAM$/m);
  const gpu = await dryRun(prepareRecipe('preference', [...base, '--device=cuda', '--use_peft=true', '--gradient_checkpointing=true', '--reference_strategy=adapter']), () => undefined);
  assert.match(gpu, /^# device: cuda; gradient_checkpointing on, LoRA r=16 on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, reference adapter, attention fused/m);
  assert.match(gpu, /^# note: device is cuda, but/m);
  const total = (t: string) => /^# total +(\S+) GiB/m.exec(t)![1];
  assert.ok(Number(total(gpu)) <= Number(total(cpu)), 'LoRA, the adapter reference and checkpointing need less');
  assert.equal(existsSync(join(dir, 'dry')), false, 'a dry run writes nothing');
});
