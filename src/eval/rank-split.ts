// Evaluation split over ranks: the units of work (a generation batch, a judge call, a scoring call) go round robin
// to the ranks; each rank's records are gathered through the group's store, and every rank then stores all of them
// in unit order, so the files rank 0 writes are those one process writes.
import { BfpoError } from '../errors.js';
import type { ProcessGroup } from '../parallel/group.js';

/** Raised on every rank when a unit of the evaluation failed on some rank. */
export class EvalRankError extends BfpoError {}

/** A unit's index in its phase and the records it produced. */
export type UnitRecords<R> = [unit: number, records: R[]];

/** What the runner needs of the ranks. */
export interface EvalSplit {
  readonly rank: number;
  readonly worldSize: number;
  /** Whether this rank does the next unit of work: every rank calls it once per unit, in the same order. */
  take(): boolean;
  /**
   * Every rank's units of one phase, merged and sorted by unit, and every rank's failure (rank and message), in
   * rank order. A collective: every rank calls it at the same point.
   */
  gather<R>(mine: UnitRecords<R>[], failure: string | null): { units: UnitRecords<R>[]; failures: { rank: number; message: string }[] };
  /** Rank 0's `text` on every rank (the others pass null). A collective. */
  share(text: string | null): string;
}

/**
 * The split over a process group: units are dealt round robin over all phases (so short tasks do not all land on
 * rank 0); records travel through the group's store as JSON, after a barrier (so a slow rank is waited for with
 * the collective timeout, not the store's).
 *
 * @example const split = groupSplit(group); await evaluate(config, { ...hooks, split });
 */
export function groupSplit(group: ProcessGroup): EvalSplit {
  let next = 0;
  let round = 0;
  const exchange = (payload: string): string[] => {
    const key = `eval/${round++}/`;
    group.storeSet(key + group.rank, payload);
    group.barrier();
    return Array.from({ length: group.worldSize }, (_, r) => (r === group.rank ? payload : String(group.storeGet(key + r))));
  };
  return {
    rank: group.rank,
    worldSize: group.worldSize,
    take: () => next++ % group.worldSize === group.rank,
    gather<R>(mine: UnitRecords<R>[], failure: string | null) {
      const all = exchange(JSON.stringify({ units: mine, failure })).map((t) => JSON.parse(t) as { units: UnitRecords<R>[]; failure: string | null });
      return {
        units: all.flatMap((x) => x.units).sort((a, b) => a[0] - b[0]),
        failures: all.flatMap((x, rank) => (x.failure === null ? [] : [{ rank, message: x.failure }])),
      };
    },
    share(text: string | null): string {
      const key = `eval/${round++}/shared`;
      if (group.rank === 0) group.storeSet(key, text ?? '');
      group.barrier();
      return group.rank === 0 ? text ?? '' : String(group.storeGet(key));
    },
  };
}

/** Carries the records a unit finished before it failed (a judge that answered part of a call). */
export class PartialUnit<R> extends Error {
  constructor(readonly records: R[], readonly error: unknown) {
    super((error as Error)?.message ?? String(error));
  }
}

/**
 * Runs `units` in order and stores each one's records with `append`. With a split, this rank computes only the
 * units it takes; the records of all ranks are then appended in unit order on every rank. A failure on any rank
 * is raised on every rank after the records that did finish are stored (this rank's own error as it is).
 */
export async function runUnits<U, R>(split: EvalSplit | undefined, units: U[], compute: (u: U) => Promise<R[]>, append: (records: R[]) => void): Promise<void> {
  if (!split || split.worldSize === 1) {
    for (const u of units) append(await compute(u));
    return;
  }
  const mine: UnitRecords<R>[] = [];
  let error: unknown = null;
  for (const [k, u] of units.entries()) {
    if (!split.take() || error !== null) continue;
    try {
      mine.push([k, await compute(u)]);
    } catch (err) {
      if (err instanceof PartialUnit) {
        mine.push([k, err.records as R[]]);
        error = err.error;
      } else error = err;
    }
  }
  const { units: all, failures } = split.gather(mine, error === null ? null : (error as Error)?.message ?? String(error));
  for (const [, records] of all) append(records);
  if (error !== null) throw error;
  if (failures.length > 0) {
    throw new EvalRankError(failures.map((f) => `rank ${f.rank} of ${split.worldSize} failed: ${f.message}`).join('; '));
  }
}
