// Data-parallel benchmark: the tiny BFPO recipe in one process (batch 4) and as 2 ranks × batch 2 with Gloo (the
// same global batch). Steps/s come from the difference of a short and a long run (start-up, data and reference
// passes cancel out); the 2-rank rows add the all-reduce time and bytes per step that rank 0 measured
// (comm_stats.json). On a machine with few cores this shows the overhead of the ranks, not a speedup.
// Steps: BFPO_BENCH_DIST_STEPS=short,long (default 4,24).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import type { BenchRow } from './util.js';

const root = new URL('../', import.meta.url).pathname;

function run(out: string, steps: number, ranks: number, cache: string, threads?: number): number {
  const args = ['--conditions=bfpo-source', '--import', 'tsx', join(root, 'bench/bfpo-cli.ts'), 'train', 'recipes/tiny-cpu.yaml',
    `--output_dir=${out}`, `--reference_cache_dir=${cache}`, `--max_steps=${steps}`, '--logging_steps=1000', '--save_strategy=no',
    '--do_eval=false', '--evaluation_strategy=no', '--disable_tqdm=true', '--report_to=none',
    `--per_device_train_batch_size=${4 / ranks}`, ...(ranks > 1 ? [`--nproc_per_node=${ranks}`] : [])];
  const t0 = performance.now();
  const env = threads ? { ...process.env, OMP_NUM_THREADS: String(threads) } : process.env;
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`bench distributed: the run failed:\n${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

export async function benchDistributed(): Promise<BenchRow[]> {
  const [short, long] = (process.env.BFPO_BENCH_DIST_STEPS ?? '4,44').split(',').map(Number) as [number, number];
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-bench-dist-'));
  try {
    const cache = join(dir, 'cache');
    run(join(dir, 'warm'), 1, 1, cache); // fills the tokenized and reference caches
    const rows: BenchRow[] = [];
    const rate = (ranks: number, threads?: number): number => {
      const tag = `r${ranks}-t${threads ?? 'd'}`;
      const ts = run(join(dir, `${tag}-short`), short, ranks, cache, threads);
      const tl = run(join(dir, `${tag}-long`), long, ranks, cache, threads);
      return (long - short) / (tl - ts);
    };
    const cores = availableParallelism();
    const one = rate(1);
    rows.push({ name: `tiny BFPO, 1 process, batch 4, ${process.env.OMP_NUM_THREADS ?? cores} threads`, unit: 'steps/s', ours: one });
    const oneThread = rate(1, 1);
    rows.push({ name: 'tiny BFPO, 1 process, batch 4, 1 thread', unit: 'steps/s', ours: oneThread });
    const two = rate(2);
    const st = JSON.parse(readFileSync(join(dir, 'r2-td-long', 'comm_stats.json'), 'utf8'));
    rows.push({ name: `tiny BFPO, 2 ranks × batch 2 (Gloo), ${Math.max(1, Math.floor(cores / 2))} thread(s) each`, unit: 'steps/s', ours: two, ratio: two / oneThread, note: 'ratio: against 1 process, 1 thread' });
    rows.push({ name: `  all-reduce time per step, rank 0 (${st.allreduce_calls_per_step.toFixed(1)} calls)`, unit: 'ms', ours: st.allreduce_seconds_per_step * 1000 });
    rows.push({ name: '  gradient bytes all-reduced per step', unit: 'bytes', ours: st.gradient_bytes_per_step });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
