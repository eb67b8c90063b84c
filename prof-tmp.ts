import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeInputs, prepareRun } from './bench/prepare.js';
const dir = mkdtempSync(join(tmpdir(), 'bfpo-prof-'));
const recipe = writeInputs(dir, 4000, 'zipf');
await prepareRun(recipe, 'auto', join(dir, 'w'));
const { Session } = await import('node:inspector/promises');
const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.start');
const r = await prepareRun(recipe, 'auto', join(dir, 'm'));
const { profile } = await s.post('Profiler.stop') as any;
console.log('wall', r.wall, 'cpu', r.cpu, 'tokens', r.tokens, (r.tokens / r.wall / 1e6).toFixed(2), 'M/s');
const self = new Map<string, number>();
const dt = profile.timeDeltas as number[]; const byId = new Map(profile.nodes.map((n: any) => [n.id, n]));
const counts = new Map<number, number>();
(profile.samples as number[]).forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)));
for (const [id, us] of counts) { const n: any = byId.get(id); const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + us); }
[...self].sort((a, b) => b[1] - a[1]).slice(0, 30).forEach(([k, us]) => console.log((us / 1000).toFixed(0).padStart(6), 'ms', k));
