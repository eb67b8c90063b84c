// `bfpo logps --nproc_per_node=2`: each rank computes every second batch; the merged table is the one a single
// process writes, byte for byte.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distributedSupport } from '../../src/parallel/group.js';
import { RankBatches } from '../../src/parallel/split-work.js';
import { bfpo, finished } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'bfpo-logps-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A source of `n` batches, each its own index. */
function numbers(n: number) {
  let pos = { epoch: 0, batch: 0 };
  return {
    length: n, fingerprint: 'f',
    next: () => (pos.batch < n ? pos.batch++ : null),
    position: () => ({ ...pos }),
    seek: (p: { epoch: number; batch: number }) => { pos = { ...p }; },
  };
}

test('RankBatches gives rank r the batches r, r + W, r + 2W, ... and drops the others', () => {
  const dropped: number[] = [];
  const got = (rank: number, w: number, n: number): number[] => {
    const s = new RankBatches(numbers(n), rank, w, (b) => dropped.push(b));
    s.seek({ epoch: 0, batch: 0 });
    const out: number[] = [];
    for (let b = s.next(); b !== null; b = s.next()) out.push(b);
    assert.equal(out.length, s.length);
    return out;
  };
  assert.deepEqual(got(0, 2, 5), [0, 2, 4]);
  assert.deepEqual(got(1, 2, 5), [1, 3]);
  assert.deepEqual(got(2, 3, 7), [2, 5]);
  assert.deepEqual(got(3, 4, 2), []);
  assert.ok(dropped.includes(1) && dropped.includes(3));
});

test('bfpo logps over 2 ranks writes the same reference tables as one process', { skip: !distributedSupport().gloo && 'built without Gloo' }, async () => {
  const env = { OMP_NUM_THREADS: '1' }; // the same threads in both runs, so the same kernels
  const one = await finished(bfpo(['logps', 'recipes/tiny-cpu.yaml', `--reference_cache_dir=${join(dir, 'one')}`], env));
  assert.equal(one.code, 0, one.err);
  const two = await finished(bfpo(['logps', 'recipes/tiny-cpu.yaml', `--reference_cache_dir=${join(dir, 'two')}`, '--nproc_per_node=2'], env));
  assert.equal(two.code, 0, two.err);
  assert.equal(two.err.match(/reference log-probs of the train data computed and stored/g)?.length, 1, 'rank 0 reports for the run');
  const files = readdirSync(join(dir, 'one')).filter((f) => f.endsWith('.f64')).sort();
  assert.equal(files.length, 3);
  assert.deepEqual(readdirSync(join(dir, 'two')).filter((f) => f.endsWith('.f64')).sort(), files);
  for (const f of files) {
    const a = readFileSync(join(dir, 'one', f));
    const b = readFileSync(join(dir, 'two', f));
    assert.ok(a.equals(b), `${f} differs`);
    assert.ok(new Float64Array(a.buffer, a.byteOffset, a.length / 8).every(Number.isFinite), `${f}: every pair has log-probs`);
  }
});
