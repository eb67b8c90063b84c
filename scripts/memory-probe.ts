// Memory probe (not part of the suite): runs `bfpo train` in this process and, at each record written to log.jsonl,
// prints one line with the addon's live tensor count and host bytes and process.memoryUsage() (rss, heapUsed,
// heapTotal, external, arrayBuffers), so a growth can be told apart: live tensors (a tensor not disposed), the
// JS heap (an object kept per step), or neither (the C allocator). With node --expose-gc a garbage collection runs
// before each reading. Usage:
//   node --expose-gc --conditions=bfpo-source --import tsx scripts/memory-probe.ts train recipes/tiny-cpu.yaml \
//     --output_dir=/tmp/probe --max_steps=2000 --logging_steps=100 --save_strategy=no --evaluation_strategy=no
// Compare with the C allocator's settings changed, e.g. MALLOC_MMAP_THRESHOLD_=131072 (glibc) or
// LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { main } from '../src/cli/main.js';
import { memoryStats } from '../src/tensor/runtime.js';

const started = Date.now();
const mib = (x: number): string => (x / 1048576).toFixed(1);
const append = fs.appendFileSync;
// The logger writes log.jsonl with appendFileSync; each record written is a reading.
fs.appendFileSync = function (this: unknown, file: fs.PathOrFileDescriptor, data: string | Uint8Array, options?: fs.WriteFileOptions): void {
  append(file, data, options);
  if (!String(file).endsWith('log.jsonl')) return;
  let record: Record<string, unknown>;
  try { record = JSON.parse(String(data)); } catch { return; }
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  const s = memoryStats();
  const kind = Object.keys(record).some((k) => k.startsWith('eval_')) ? 'eval' : 'train';
  process.stderr.write(`memory step=${record.step} kind=${kind} t=${((Date.now() - started) / 1000).toFixed(0)}s live_tensors=${s.liveTensors} `
    + `host_mib=${mib(s.hostBytes)} rss_mib=${mib(m.rss)} heap_used_mib=${mib(m.heapUsed)} heap_total_mib=${mib(m.heapTotal)} `
    + `external_mib=${mib(m.external)} array_buffers_mib=${mib(m.arrayBuffers)}\n`);
};
syncBuiltinESMExports();

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
