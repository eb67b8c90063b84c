// Where the time of a piece of work goes, operator by operator: libtorch's profiler records every aten call (forward
// and backward) while `fn` runs; the calls are summed by operator name, as self time (a call's time minus that of the
// calls it made).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from './native.js';

/** One operator's share of a profiled run. */
export interface OpTime {
  /** The aten operator (e.g. aten::mm), or a backward node (e.g. MmBackward0). */
  name: string;
  calls: number;
  /** Self time in milliseconds: the operator's own work, without the operators it called. */
  selfMs: number;
}

interface TraceEvent { name: string; ph?: string; ts: number; dur: number; tid?: number | string }

/** Self time per name from Chrome-trace complete events (nested calls on the same thread subtracted). */
export function selfTimes(events: TraceEvent[]): OpTime[] {
  const byThread = new Map<string, TraceEvent[]>();
  for (const e of events) {
    if (e.ph !== undefined && e.ph !== 'X') continue;
    const k = String(e.tid ?? 0);
    (byThread.get(k) ?? byThread.set(k, []).get(k)!).push(e);
  }
  const totals = new Map<string, OpTime>();
  for (const list of byThread.values()) {
    list.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
    const stack: { e: TraceEvent; child: number }[] = [];
    const close = (upTo: number): void => {
      while (stack.length > 0 && stack[stack.length - 1].e.ts + stack[stack.length - 1].e.dur <= upTo) {
        const { e, child } = stack.pop()!;
        const t = totals.get(e.name) ?? { name: e.name, calls: 0, selfMs: 0 };
        t.calls += 1;
        t.selfMs += Math.max(0, e.dur - child) / 1000;
        totals.set(e.name, t);
        if (stack.length > 0) stack[stack.length - 1].child += e.dur;
      }
    };
    for (const e of list) {
      close(e.ts);
      stack.push({ e, child: 0 });
    }
    close(Infinity);
  }
  return [...totals.values()].sort((a, b) => b.selfMs - a.selfMs);
}

/**
 * Runs `fn` under libtorch's operator profiler and returns its result and the self time of every operator, largest
 * first. The profiler adds some overhead per call; compare runs profiled alike.
 * @example const { ops } = profileOps(() => { const l = step(); l.backward(); }); ops[0] // { name: 'aten::mm', ... }
 */
export function profileOps<T>(fn: () => T): { result: T; ops: OpTime[]; wallMs: number } {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-profile-'));
  const file = join(dir, 'trace.json');
  try {
    native.profileStart(file);
    let result: T;
    let wallMs = 0;
    try {
      const t0 = performance.now();
      result = fn();
      wallMs = performance.now() - t0;
    } finally {
      native.profileStop();
    }
    const events = JSON.parse(readFileSync(file, 'utf8').trim().replace(/,\s*\]$/, ']')) as TraceEvent[];
    return { result, ops: selfTimes(events), wallMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
