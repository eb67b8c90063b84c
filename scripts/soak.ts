// Soak test (not part of the suite): trains the tiny recipe for many steps with checkpoints and evaluation in a
// child process and samples its resident memory and open file descriptors from /proc every second; fails when
// either keeps growing. Usage: npm run soak -- [steps=20000] [out=/tmp/bfpo-soak]
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const steps = Number(process.argv[2] ?? 20000);
const out = process.argv[3] ?? join(tmpdir(), `bfpo-soak-${process.pid}`);
rmSync(out, { recursive: true, force: true });
const args = ['--conditions=bfpo-source', '--import', 'tsx', 'scripts/soak-child.ts', 'train', 'recipes/tiny-cpu.yaml', `--output_dir=${out}`, `--reference_cache_dir=${join(out, 'cache')}`,
  `--max_steps=${steps}`, '--save_steps=200', '--save_total_limit=2', '--eval_steps=500', '--logging_steps=100'];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BFPO_NUM_THREADS: process.env.BFPO_NUM_THREADS ?? '1' } });
let stderr = '';
child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });

interface Sample { t: number; rssMiB: number; fds: number; step: number }
const samples: Sample[] = [];
const started = Date.now();
const lastStep = (): number => {
  try {
    const lines = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n');
    return JSON.parse(lines[lines.length - 1]!).step as number;
  } catch { return 0; }
};
const timer = setInterval(() => {
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    samples.push({ t: (Date.now() - started) / 1000, rssMiB: rss, fds: readdirSync(`/proc/${child.pid}/fd`).length, step: lastStep() });
  } catch { /* the child is gone */ }
}, 1000);

child.on('exit', (code, signal) => {
  clearInterval(timer);
  const done = lastStep();
  // The first fifth is warm-up (allocator pools, caches); compare the second fifth with the last fifth.
  const fifth = Math.max(1, Math.floor(samples.length / 5));
  const early = samples.slice(fifth, 2 * fifth);
  const late = samples.slice(-fifth);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const report = {
    steps_requested: steps, steps_done: done, exit: code ?? signal, seconds: Math.round((Date.now() - started) / 1000), samples: samples.length,
    rss_mib: { warm: +mean(early.map((s) => s.rssMiB)).toFixed(1), end: +mean(late.map((s) => s.rssMiB)).toFixed(1), max: Math.max(...samples.map((s) => s.rssMiB)) },
    fds: { warm: Math.max(...early.map((s) => s.fds)), end: Math.max(...late.map((s) => s.fds)), max: Math.max(...samples.map((s) => s.fds)) },
  };
  console.log(JSON.stringify(report, null, 2));
  const rssGrowth = report.rss_mib.end - report.rss_mib.warm;
  const failures: string[] = [];
  if (code !== 0 && !(stopped && code === 143)) failures.push(`the run failed (${code ?? signal}): ${stderr}`);
  if (rssGrowth > Math.max(32, 0.1 * report.rss_mib.warm)) failures.push(`resident memory grew by ${rssGrowth.toFixed(1)} MiB`);
  if (report.fds.end > report.fds.warm + 2) failures.push(`open file descriptors grew from ${report.fds.warm} to ${report.fds.end}`);
  if (!process.argv.includes('--keep')) rmSync(out, { recursive: true, force: true });
  if (failures.length) {
    console.error(`soak: FAILED\n${failures.join('\n')}`);
    process.exit(1);
  }
  console.log('soak: resident memory and open file descriptors stayed flat');
});
// Ctrl-C here stops the training gracefully (it writes a checkpoint) and still prints the figures so far.
let stopped = false;
process.on('SIGINT', () => { stopped = true; child.kill('SIGTERM'); });
