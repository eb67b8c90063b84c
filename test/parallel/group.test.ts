// The c10d binding with the Gloo backend: collectives between real processes (reduce-scatter included), a killed rank,
// an unreachable master.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distributedSupport } from '../../src/parallel/group.js';
import { finished, freePort, runTs } from './helpers.js';

const haveGloo = distributedSupport().gloo;

async function ranks(worldSize: number, env: NodeJS.ProcessEnv = {}) {
  const port = await freePort();
  return Promise.all(Array.from({ length: worldSize }, (_, rank) => finished(runTs('test/parallel/collectives-worker.ts', [],
    { RANK: String(rank), WORLD_SIZE: String(worldSize), MASTER_PORT: String(port), ...env }))));
}

test('allreduce (sum and average, in buckets), broadcast, allgather, barrier and the store between 3 processes', { skip: !haveGloo && 'built without Gloo' }, async () => {
  const done = await ranks(3);
  for (const [rank, r] of done.entries()) {
    assert.equal(r.code, 0, r.err);
    const [first, last] = r.out.trim().split('\n');
    const v = JSON.parse(first!);
    assert.equal(v.rank, rank);
    assert.equal(v.collectives, 3, 'a bucket per tensor under the 16-byte limit');
    assert.deepEqual(v.a, [2, 2, 3]); // mean of [1,2,0], [2,2,3], [3,2,6]
    assert.deepEqual(v.b, [[1, 10], [20, 31]]);
    assert.deepEqual(v.c, [1]);
    assert.deepEqual(v.summed, [4.5]);
    assert.deepEqual(v.bc, [10, 9], 'rank 2\'s values everywhere');
    assert.deepEqual(v.gathered, [[0, 0], [1, 2], [2, 4]]);
    assert.equal(v.other, `from ${(rank + 1) % 3}`);
    assert.equal(v.stats.allreduceBytes, 12 + 16 + 8 + 4);
    assert.equal(last, 'survived');
  }
});

test('a rank killed with SIGKILL makes the collective of the others fail at once with a message naming it', { skip: !haveGloo && 'built without Gloo' }, async () => {
  const [r0, r1] = await ranks(2, { DIE_RANK: '1' });
  assert.equal(r1!.signal, 'SIGKILL');
  const last = JSON.parse(r0!.out.trim().split('\n').pop()!);
  assert.equal(last.name, 'DistributedError');
  assert.match(last.error, /^allreduce failed on rank 0 of 2: .*(Connection closed by peer|Connection reset|Broken pipe).*\. rank 1 \(pid \d+\) on this machine is no longer running/);
  assert.equal(Number(/rank 1 \(pid (\d+)\)/.exec(last.error)![1]), r1!.pid, 'the pid of the killed rank');
  assert.ok(r0!.seconds < 15, `rank 0 stopped after ${r0!.seconds} s`);
});

test('an unreachable master (wrong MASTER_PORT) fails within the timeout, naming the address', { skip: !haveGloo && 'built without Gloo' }, async () => {
  const port = await freePort();
  const code = `import { ProcessGroup } from './src/parallel/group.ts';
try { ProcessGroup.init({ masterAddr: '127.0.0.1', masterPort: ${port}, rank: 1, worldSize: 2, timeoutMs: 2000 }); }
catch (e) { console.log(e.name + ': ' + e.message); }`;
  const { spawn } = await import('node:child_process');
  const { root } = await import('./helpers.js');
  const r = await finished(spawn(process.execPath, ['--conditions=bfpo-source', '--import', 'tsx', '--input-type=module', '-e', code], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }));
  assert.match(r.out, new RegExp(`DistributedError: Rank 1 of 2 could not join the process group at 127.0.0.1:${port}: .*timed out.*is MASTER_ADDR/MASTER_PORT \\(127.0.0.1:${port}\\) the address of rank 0`));
  assert.ok(r.seconds < 12, `${r.seconds} s`);
});

for (const worldSize of [2, 3]) {
  test(`reduce-scatter between ${worldSize} processes (uneven pieces, float32 and bfloat16) is the all-reduce's slice`, { skip: !haveGloo && 'built without Gloo' }, async () => {
    const port = await freePort();
    const done = await Promise.all(Array.from({ length: worldSize }, (_, rank) => finished(runTs('test/parallel/reduce-scatter-worker.ts', [],
      { RANK: String(rank), WORLD_SIZE: String(worldSize), MASTER_PORT: String(port) }))));
    for (const [rank, r] of done.entries()) {
      assert.equal(r.code, 0, r.err);
      const v = JSON.parse(r.out.trim());
      const mine = v.counts[rank] as number;
      for (const dtype of ['float32', 'bfloat16']) {
        const ex = v[`${dtype}/exact`];
        assert.equal(ex.dtype, dtype);
        assert.deepEqual(ex.shape, [mine]);
        // Sums of quarters are exact in any order: the piece equals the independent sum and the all-reduce's slice.
        assert.deepEqual(ex.piece, ex.expected, `${dtype} rank ${rank}`);
        assert.deepEqual(ex.allreduceSlice, ex.expected);
        const ro = v[`${dtype}/rough`];
        // Full-mantissa values: the ranks' sums may be added in another order than the all-reduce's ring adds them.
        const tol = dtype === 'float32' ? 1e-6 : 2 ** -7;
        for (let i = 0; i < mine; i++) {
          const scale = Math.max(1, Math.abs(ro.expected[i]));
          assert.ok(Math.abs(ro.piece[i] - ro.expected[i]) <= tol * scale, `${dtype} rank ${rank} [${i}]: ${ro.piece[i]} vs ${ro.expected[i]}`);
          // Against the all-reduce: at most one rounding step of the result apart (bfloat16: one unit in the last place).
          const ulp = dtype === 'float32' ? 1e-6 * scale : 2 ** -7 * Math.abs(ro.allreduceSlice[i]);
          assert.ok(Math.abs(ro.piece[i] - ro.allreduceSlice[i]) <= ulp, `${dtype} rank ${rank} [${i}] vs all-reduce: ${ro.piece[i]} vs ${ro.allreduceSlice[i]}`);
        }
        if (worldSize === 2) assert.deepEqual(ro.piece, ro.allreduceSlice, 'two addends: the same sum bit for bit');
      }
      assert.match(v.refused, worldSize === 2 ? /the tensors hold 3 elements but counts sum to 2/ : /Expected 3 element counts .* for counts but received \[1,1\]/);
      // Four calls of 17 elements at 4 bytes (bfloat16 travels as float32); this rank sent all but its own piece.
      assert.equal(v.stats.reduceScatterCalls, 4);
      assert.equal(v.stats.reduceScatterBytes, 4 * 17 * 4);
      assert.equal(v.stats.reduceScatterSentBytes, 4 * 4 * (17 - mine));
    }
  });
}
