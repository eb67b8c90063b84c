// Training on CUDA against the CPU: a short BFPO run of the tiny recipe whose loss curve follows the CPU run's, a
// checkpoint written on the GPU resumed on the CPU (and the reverse) reaching the uninterrupted run's weights, and
// greedy generation giving the CPU's answer. Skips with the reason where no CUDA device is usable.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMain } from '../cli/run-main.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { noCudaReason } from './reason.js';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'bfpo-cuda-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const common = ['--num_train_epochs=1', '--max_steps=6', '--save_steps=3', '--logging_steps=1', '--per_device_train_batch_size=4',
  '--do_eval=false', '--evaluation_strategy=no', '--reference_strategy=copy'];
const train = async (out: string, device: string, extra: string[] = []): Promise<string> => {
  const r = await runMain(['train', 'recipes/tiny-cpu.yaml', ...common, `--output_dir=${join(dir, out)}`, `--device=${device}`, ...extra], root);
  assert.equal(r.code, undefined, r.err);
  return r.err;
};
const losses = (out: string): number[] => readFileSync(join(dir, out, 'log.jsonl'), 'utf8').trim().split('\n')
  .map((l) => JSON.parse(l)).filter((l) => 'loss' in l).map((l) => l.loss as number);
const weights = (out: string): Map<string, number[]> => {
  const t = loadSafetensors(join(dir, out, 'model.safetensors'));
  const m = new Map([...t].map(([k, v]) => [k, Array.from(v.float().toTypedArray() as Float32Array)]));
  for (const v of t.values()) v.dispose();
  return m;
};
const maxWeightDiff = (a: Map<string, number[]>, b: Map<string, number[]>): number =>
  Math.max(...[...a].map(([k, v]) => v.reduce((m, x, i) => Math.max(m, Math.abs(x - b.get(k)![i])), 0)));

describe('training on CUDA', { skip: noCudaReason }, () => {
  test('a BFPO run on CUDA follows the CPU loss curve', async () => {
    assert.match(await train('gpu', 'cuda'), /^bfpo: device: cuda:0$/m);
    await train('cpu', 'cpu');
    const [g, c] = [losses('gpu'), losses('cpu')];
    assert.equal(g.length, 6);
    g.forEach((x, i) => assert.ok(Math.abs(x - c[i]) <= 1e-3 * Math.max(1, Math.abs(c[i])), `step ${i + 1}: cuda ${x}, cpu ${c[i]}`));
    assert.ok(maxWeightDiff(weights('gpu'), weights('cpu')) < 1e-3);
  });

  test('a checkpoint written on the GPU resumes on the CPU, and the reverse', async () => {
    for (const [first, second] of [['cuda', 'cpu'], ['cpu', 'cuda']]) {
      const out = `resume-${first}-${second}`;
      await train(out, first);
      // Drop the last checkpoint: the rerun on the other device resumes from checkpoint-3 and trains steps 4 to 6.
      rmSync(join(dir, out, 'checkpoint-6'), { recursive: true });
      assert.match(await train(out, second), /Resuming from .*checkpoint-3 at step 3 of 6/);
      assert.ok(maxWeightDiff(weights(out), weights('cpu')) < 1e-3, `${first} then ${second}`);
    }
  });

  test('greedy generation on CUDA gives the CPU answer', async () => {
    const answer = async (device: string): Promise<string> => {
      let text = '';
      const { generateCommand } = await import('../../src/cli/generate.js');
      await generateCommand(['--model', 'recipes/tiny/model', '--prompt', 'How do I bake bread?', '--max-new-tokens', '24', '--device', device], (s) => { text += s; });
      return text;
    };
    assert.equal(await answer('cuda'), await answer('cpu'));
  });
});
