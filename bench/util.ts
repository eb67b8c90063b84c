// Benchmark helpers: timing, the PyTorch reference interpreter, and the result table.
import { spawnSync } from 'node:child_process';

export interface BenchRow {
  name: string;
  unit: string;
  ours: number;
  torch?: number;
  /** Our speed over the reference's (>= 1: at least as fast). */
  ratio?: number;
  note?: string;
}

/** Median wall time in seconds of `fn` over `reps` runs after `warmup` runs. */
export function medianSeconds(fn: () => void, warmup: number, reps: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

let cachedPython: string | null | undefined;
/** A Python interpreter that can import torch (BFPO_BENCH_PYTHON, /usr/bin/python3, python3), or null. */
export function pythonWithTorch(): string | null {
  if (cachedPython !== undefined) return cachedPython;
  for (const py of [process.env.BFPO_BENCH_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[]) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return (cachedPython = py);
  }
  return (cachedPython = null);
}

function fmt(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '-';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(3);
}

/** Prints rows as a Markdown table. */
export function printTable(title: string, rows: BenchRow[]): void {
  console.log(`\n### ${title}\n`);
  console.log('| benchmark | unit | bfpo | reference (PyTorch unless noted) | ratio |');
  console.log('|---|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.name}${r.note ? ` (${r.note})` : ''} | ${r.unit} | ${fmt(r.ours)} | ${fmt(r.torch)} | ${fmt(r.ratio)} |`);
}
