// One rank of the reduce-scatter test: reduce-scatters two tensors with uneven per-rank counts and prints its piece,
// the same slice of an all-reduce of the same tensors, and the piece the rank expects from every rank's inputs
// (which it can generate: each rank's values follow from its rank).
import { ProcessGroup } from '../../src/parallel/group.js';
import { tensor } from '../../src/tensor/creation.js';
import type { DType } from '../../src/tensor/dtype.js';

const rank = Number(process.env.RANK);
const worldSize = Number(process.env.WORLD_SIZE);
const g = ProcessGroup.init({ masterAddr: '127.0.0.1', masterPort: Number(process.env.MASTER_PORT), rank, worldSize, timeoutMs: 20_000 });

/** Rank r's values: quarters of small integers (exact in float32 and bfloat16, and so are their sums). */
const exact = (r: number, n: number, salt: number): number[] => Array.from({ length: n }, (_, i) => ((i * 7 + r * 13 + salt) % 23 - 11) / 4);
/** Rank r's values with full mantissas (sums depend on their order in the last bits). */
const rough = (r: number, n: number, salt: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(1 + i * 0.37 + r * 1.91 + salt) * 3.3);

// 5 + 12 = 17 elements over the ranks, unevenly (rank 1 gets none with 3 ranks).
const counts = worldSize === 2 ? [11, 6] : [9, 0, 8];
const out: Record<string, unknown> = { rank, counts };
for (const dtype of ['float32', 'bfloat16'] as DType[]) {
  for (const [kind, make] of [['exact', exact], ['rough', rough]] as const) {
    const a = tensor(make(rank, 5, 0), { dtype: 'float32' }).to(dtype);
    const b = tensor(make(rank, 12, 5), { dtype: 'float32' }).reshape([3, 4]).to(dtype);
    const piece = g.reduceScatter([a, b], counts, { average: kind === 'rough' });
    const start = counts.slice(0, rank).reduce((x, c) => x + c, 0);
    g.allreduce([a, b], { average: kind === 'rough' });
    const all = [...(a.to('float32').toArray() as number[]), ...(b.to('float32').reshape([12]).toArray() as number[])];
    const expected = Array.from({ length: counts[rank]! }, (_, i) => {
      let s = 0;
      for (let r = 0; r < worldSize; r++) s += [...make(r, 5, 0), ...make(r, 12, 5)][start + i]!;
      return kind === 'rough' ? s / worldSize : s;
    });
    out[`${dtype}/${kind}`] = {
      dtype: piece.dtype, shape: piece.shape, piece: piece.to('float32').toArray(), allreduceSlice: all.slice(start, start + counts[rank]!), expected,
    };
  }
}
let refused = '';
try { g.reduceScatter([tensor([1, 2, 3])], [1, 1]); } catch (err) { refused = (err as Error).message; }
out.refused = refused;
out.stats = g.stats;
process.stdout.write(`${JSON.stringify(out)}\n`);
g.destroy();
