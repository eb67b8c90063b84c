// One rank of the collectives test: runs each collective with known inputs and prints the results as JSON.
import { ProcessGroup } from '../../src/parallel/group.js';
import { tensor } from '../../src/tensor/creation.js';

const rank = Number(process.env.RANK);
const worldSize = Number(process.env.WORLD_SIZE);
const g = ProcessGroup.init({ masterAddr: '127.0.0.1', masterPort: Number(process.env.MASTER_PORT), rank, worldSize, timeoutMs: 20_000 });
const a = tensor([1 + rank, 2, 3 * rank], { dtype: 'float32' });
const b = tensor([[rank, 10], [20, 30 + rank]], { dtype: 'float32' });
const c = tensor([rank], { dtype: 'float64' });
// A 16-byte bucket limit puts a (12 bytes) and b (16 bytes) in buckets of their own; c's dtype starts another.
const collectives = g.allreduce([a, b, c], { average: true, bucketBytes: 16 });
const summed = tensor([rank + 0.5], { dtype: 'float32' });
g.allreduce([summed]);
const bc = tensor([rank * 5, 7 + rank]);
g.broadcast([bc], worldSize - 1);
const gathered = g.allgather(tensor([rank, 2 * rank]));
g.barrier();
g.storeSet(`hello/${rank}`, `from ${rank}`);
const other = String(g.storeGet(`hello/${(rank + 1) % worldSize}`));
process.stdout.write(`${JSON.stringify({
  rank, collectives, a: a.toArray(), b: b.toArray(), c: c.toArray(), summed: summed.toArray(), bc: bc.toArray(),
  gathered: gathered.toArray(), other, stats: g.stats,
})}\n`);
if (process.env.DIE_RANK === String(rank)) process.kill(process.pid, 'SIGKILL');
try {
  for (let i = 0; i < 3; i++) g.allreduce([a]);
  process.stdout.write('survived\n');
} catch (err) {
  process.stdout.write(`${JSON.stringify({ rank, error: (err as Error).message, name: (err as Error).name })}\n`);
}
g.destroy();
