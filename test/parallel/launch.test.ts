// The launcher's flags and the launch variables a rank reads (torchrun's names), with their error messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { takeLaunchFlags, wantsLaunch } from '../../src/cli/launch.js';
import { rankEnv } from '../../src/parallel/env.js';
import { partitionParams } from '../../src/parallel/zero.js';
import { distributedSupport } from '../../src/parallel/group.js';
import { bfpo, finished, freePort } from './helpers.js';

test('launcher flags are taken out of the arguments in both spellings; the rest stays in order', () => {
  const { flags, rest } = takeLaunchFlags(['recipe.yaml', '--nproc_per_node=2', '--learning_rate=1', '--master-port', '29501', '--dist_backend=gloo', '--dist_timeout=60']);
  assert.deepEqual(rest, ['recipe.yaml', '--learning_rate=1']);
  assert.equal(flags.nprocPerNode, 2);
  assert.equal(flags.masterPort, 29501);
  assert.equal(flags.backend, 'gloo');
  assert.equal(flags.timeout, 60);
  assert.ok(wantsLaunch(flags, {}));
  assert.ok(!wantsLaunch(flags, { RANK: '0' }), 'a rank does not launch again');
  assert.ok(!wantsLaunch(takeLaunchFlags(['--nproc_per_node=1']).flags, {}));
  assert.throws(() => takeLaunchFlags(['--nproc_per_node=0']), /--nproc_per_node must be an integer >= 1 but is "0"/);
  assert.throws(() => takeLaunchFlags(['--master_port=70000']), /--master_port must be a port number \(1\.\.65535\) but is "70000"/);
  assert.throws(() => takeLaunchFlags(['--dist_backend=mpi']), /--dist_backend must be one of gloo, nccl but is "mpi"/);
  assert.throws(() => takeLaunchFlags(['--nnodes=2', '--node_rank=2']), /--node_rank must be in 0\.\.1 for --nnodes=2 but is 2/);
  assert.throws(() => takeLaunchFlags(['--nproc_per_node']), /--nproc_per_node needs a value/);
});

test('rankEnv reads torchrun\'s variables and names the one that is wrong', () => {
  assert.equal(rankEnv({}), null);
  assert.equal(rankEnv({ WORLD_SIZE: '1', RANK: '0' }), null, 'one process is not a group');
  const e = rankEnv({ RANK: '1', WORLD_SIZE: '2', LOCAL_RANK: '1', MASTER_ADDR: 'h', MASTER_PORT: '29500', TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '2' })!;
  assert.deepEqual([e.rank, e.worldSize, e.localRank, e.masterAddr, e.masterPort, e.backend, e.agentStore, e.restart], [1, 2, 1, 'h', 29500, 'gloo', true, 2]);
  assert.equal(e.timeoutMs, 1_800_000);
  assert.equal(e.initTimeoutMs, 300_000);
  assert.throws(() => rankEnv({ RANK: '2', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1' }), /RANK must be an integer in 0\.\.1 but is "2"/);
  assert.throws(() => rankEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h' }), /MASTER_PORT is not/);
  assert.throws(() => rankEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: 'x' }), /MASTER_PORT must be an integer in 1\.\.65535 but is "x"/);
  assert.throws(() => rankEnv({ RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: 'h', MASTER_PORT: '1', BFPO_DIST_BACKEND: 'mpi' }), /BFPO_DIST_BACKEND must be one of gloo, nccl/);
});

test('partitionParams balances elements over ranks, largest first, the same on every rank', () => {
  assert.deepEqual(partitionParams([10, 1, 9, 2, 8], 2), [0, 0, 1, 0, 1]); // loads 10+2+1 and 9+8
  assert.deepEqual(partitionParams([5, 5, 5], 3), [0, 1, 2]);
  assert.deepEqual(partitionParams([4], 3), [0]);
});

test('bfpo train as rank 1 with no rank 0 at MASTER_PORT exits within the join timeout, with a message', { skip: !distributedSupport().gloo && 'built without Gloo' }, async () => {
  const port = await freePort();
  const r = await finished(bfpo(['train', 'recipes/tiny-cpu.yaml', '--output_dir=/nonexistent/never-written'],
    { RANK: '1', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), BFPO_DIST_INIT_TIMEOUT: '2' }));
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`bfpo: Rank 1 of 2 could not join the process group at 127\\.0\\.0\\.1:${port}: .*did rank 0 start within 2 s\\?`));
  assert.ok(r.seconds < 20, `${r.seconds} s`);
});
