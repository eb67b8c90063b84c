// Soak test (not part of the suite): trains the tiny recipe for many steps with checkpoints and evaluation in a
// child process and samples its resident memory and open file descriptors from /proc every second; fails when
// either keeps growing. Usage: npm run soak -- [steps=20000] [out=/tmp/bfpo-soak-<pid>] [--keep] [--key=value ...]
// (each --key=value is passed on to `bfpo train`, after the soak's own settings, e.g. --per_device_train_batch_size=2).
// It fails when the last quarter's peak resident memory exceeds the early window's (5%–25% of the steps) by more
// than 5% or 16 MiB, when the least-squares slope of resident memory over the steps after warm-up projects more
// than that growth over the run, or when the last quarter's peak count of open file descriptors exceeds the early
// window's by more than 2.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const overrides = process.argv.slice(2).filter((a) => a.startsWith('--') && a.includes('='));
const steps = Number(positional[0] ?? 20000);
const out = positional[1] ?? join(tmpdir(), `bfpo-soak-${process.pid}`);
rmSync(out, { recursive: true, force: true });
const args = ['--conditions=bfpo-source', '--import', 'tsx', 'scripts/soak-child.ts', 'train', 'recipes/tiny-cpu.yaml', `--output_dir=${out}`, `--reference_cache_dir=${join(out, 'cache')}`,
  `--max_steps=${steps}`, '--save_steps=200', '--save_total_limit=2', '--eval_steps=500', '--logging_steps=100', ...overrides];
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
    const vm = /VmRSS:\s+(\d+)/.exec(status);
    if (!vm) return; // the child has exited (a zombie has no resident memory to sample)
    const rss = Number(vm[1]) / 1024;
    samples.push({ t: (Date.now() - started) / 1000, rssMiB: rss, fds: readdirSync(`/proc/${child.pid}/fd`).length, step: lastStep() });
  } catch { /* the child is gone */ }
}, 1000);

// Least-squares slope of y against x.
const slope = (xs: number[], ys: number[]): number => {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i]! - mx) * (ys[i]! - my); den += (xs[i]! - mx) ** 2; }
  return den === 0 ? 0 : num / den;
};
const max = (xs: number[]): number => xs.reduce((a, b) => Math.max(a, b), -Infinity);

child.on('exit', (code, signal) => {
  clearInterval(timer);
  const done = lastStep();
  // Windows by training step: the first 5% of the steps is warm-up (reference log-probabilities, allocator pools,
  // the first checkpoint and evaluation); the early window is 5%–25% of the steps, the late window the last quarter.
  const at = (from: number, to: number) => samples.filter((s) => s.step >= from * done && s.step < to * done + (to >= 1 ? 1 : 0));
  const early = at(0.05, 0.25);
  const late = at(0.75, 1);
  const steady = at(0.05, 1);
  const first = samples[0];
  const last = samples[samples.length - 1];
  const earlyRss = max(early.map((s) => s.rssMiB));
  const lateRss = max(late.map((s) => s.rssMiB));
  // The last quarter's peak may exceed the early window's peak by at most 5% or 16 MiB, whichever is larger.
  const rssLimit = earlyRss + Math.max(16, 0.05 * earlyRss);
  const rssSlope = slope(steady.map((s) => s.step), steady.map((s) => s.rssMiB)) * 1000; // MiB per 1000 steps
  const steadySteps = steady.length ? steady[steady.length - 1]!.step - steady[0]!.step : 0;
  const projected = (rssSlope * steadySteps) / 1000;
  const earlyFds = max(early.map((s) => s.fds));
  const lateFds = max(late.map((s) => s.fds));
  const round = (x: number) => +x.toFixed(2);
  const report = {
    command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(),
    steps_requested: steps, steps_done: done, exit: code ?? signal, wall_seconds: Math.round((Date.now() - started) / 1000), samples: samples.length,
    rss_mib: {
      start: round(first?.rssMiB ?? 0), end: round(last?.rssMiB ?? 0), max: round(max(samples.map((s) => s.rssMiB))),
      early_window_max: round(earlyRss), last_quarter_max: round(lateRss), last_quarter_limit: round(rssLimit),
      slope_per_1000_steps: +rssSlope.toFixed(4), slope_projected_over_run: round(projected),
    },
    fds: { start: first?.fds ?? 0, end: last?.fds ?? 0, max: max(samples.map((s) => s.fds)), early_window_max: earlyFds, last_quarter_max: lateFds },
    windows: { early_samples: early.length, last_quarter_samples: late.length, steady_samples: steady.length },
  };
  console.log(JSON.stringify(report, null, 2));
  const failures: string[] = [];
  if (code !== 0 && !(stopped && code === 143)) failures.push(`the run failed (${code ?? signal}): ${stderr}`);
  if (!stopped && done < steps) failures.push(`the run stopped at step ${done} of ${steps}`);
  if (early.length < 3 || late.length < 3) failures.push(`too few samples to judge (${early.length} early, ${late.length} in the last quarter); run more steps`);
  if (lateRss > rssLimit) failures.push(`resident memory grew: last-quarter peak ${lateRss.toFixed(1)} MiB > limit ${rssLimit.toFixed(1)} MiB (early-window peak ${earlyRss.toFixed(1)} MiB)`);
  // A steady leak shows as a slope even when it is too small to cross the peak limit within one run.
  if (projected > Math.max(16, 0.05 * earlyRss)) failures.push(`resident memory trends upward: ${rssSlope.toFixed(3)} MiB per 1000 steps, ${projected.toFixed(1)} MiB over the run`);
  if (lateFds > earlyFds + 2) failures.push(`open file descriptors grew from ${earlyFds} (early-window peak) to ${lateFds} (last-quarter peak)`);
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
