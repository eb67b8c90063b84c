// Reference log-probs for preference training: a frozen copy of the starting policy, or log-probs computed once
// and cached on disk (keyed by model checksum, data fingerprint and settings) so later runs skip the reference.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../io/atomic.js';
import { join } from 'node:path';
import { rowLogps, scoredPositions } from '../losses/logps.js';
import { noGrad } from '../tensor/autograd.js';
import { fromBuffer } from '../tensor/creation.js';
import { BfpoError } from '../errors.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { withoutLora } from '../nn/lora.js';
import { packFor } from './pack-pairs.js';
import type { Module } from '../nn/module.js';
import {
  disposeBatch, type BatchSource, type CausalLM, type DataRole, type PreferenceBatch, type ReferenceStrategy,
} from './types.js';

export type { DataRole, ReferenceStrategy } from './types.js';

/** Log-probs of every row of a concatenated batch, summed (or averaged) over completion tokens. noGrad, not
 * inference mode: inference tensors could not enter the policy's autograd graph. */
function forwardLogps(model: CausalLM, batch: PreferenceBatch, average: boolean): { chosen: Tensor; rejected: Tensor } {
  return noGrad(() => tidy(() => {
    const b = batch.isChosenSafe.shape[0];
    const pos = scoredPositions(batch.labels);
    const packed = packFor(model, batch, pos, b); // one forward of each pair's prompt, no padding
    const out = packed // [n, vocab] or [2B, seq, vocab]
      ? model.forward(packed.inputIds, { positionIds: packed.positionIds, groups: packed.groups, rows: packed.rows, rowWeights: packed.rowWeights })
      : model.forward(batch.inputIds, { attentionMask: batch.attentionMask, rows: pos.rows });
    const { logps } = rowLogps(out, batch.labels, pos, average); // [2B]
    return { chosen: logps.narrow(0, 0, b).clone(), rejected: logps.narrow(0, b, b).clone() };
  }));
}

/**
 * A frozen copy of the starting policy, run without autograd. `model` must not share parameters with the policy.
 * @example const ref = frozenReference(loadModel(path)); // a second load of the same checkpoint
 */
export function frozenReference(model: CausalLM, { averageLogps = false } = {}): ReferenceStrategy {
  model.train?.(false);
  for (const [, p] of model.namedParameters()) p.requiresGrad_(false);
  return { name: 'copy', logps: (batch) => forwardLogps(model, batch, averageLogps) };
}

/**
 * The policy itself with its LoRA adapters switched off: the frozen base model, without a second copy of the weights.
 * @example applyLora(model, { r: 16, targetModules: ['q_proj', 'v_proj'] }); const ref = adapterReference(model);
 */
export function adapterReference(model: Module & CausalLM, { averageLogps = false } = {}): ReferenceStrategy {
  return { name: 'adapter', logps: (batch) => withoutLora(model, () => forwardLogps(model, batch, averageLogps)) };
}

/** sha256 over every parameter's name, dtype, shape and bytes. */
export function modelChecksum(model: CausalLM): string {
  const h = createHash('sha256');
  for (const [name, p] of model.namedParameters()) {
    h.update(`${name}|${p.dtype}|${p.shape.join(',')}|`);
    h.update(p.device === 'cpu' ? p.toBuffer() : tidy(() => p.to('cpu').toBuffer()));
  }
  return h.digest('hex');
}

/** The cache key of one data source's reference log-probs. */
export function referenceCacheKey(checksum: string, fingerprint: string, settings: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify({ checksum, fingerprint, settings })).digest('hex').slice(0, 32);
}

/** Per-pair reference log-probs by dataset index: `table[2i]` chosen, `table[2i+1]` rejected (NaN = absent). */
export type LogpsTable = Float64Array;

/**
 * Computes the reference log-probs of every pair `source` yields (one pass, no autograd).
 * @example const table = computeReferenceLogps(refModel, source);
 */
export function computeReferenceLogps(model: CausalLM, source: BatchSource<PreferenceBatch>, { averageLogps = false, onBatch }: { averageLogps?: boolean; onBatch?: (done: number, total: number) => void } = {}): LogpsTable {
  const saved = source.position();
  model.train?.(false);
  const values = new Map<number, [number, number]>();
  source.seek({ epoch: 0, batch: 0 });
  let done = 0;
  for (let batch = source.next(); batch !== null; batch = source.next()) {
    const { chosen, rejected } = forwardLogps(model, batch, averageLogps);
    const c = chosen.toArray() as number[];
    const r = rejected.toArray() as number[];
    chosen.dispose();
    rejected.dispose();
    batch.indices.forEach((idx, i) => values.set(idx, [c[i], r[i]]));
    disposeBatch(batch);
    onBatch?.(++done, source.length);
  }
  source.seek(saved);
  const n = Math.max(-1, ...values.keys()) + 1;
  const table = new Float64Array(2 * n).fill(Number.NaN);
  for (const [idx, [c, r]] of values) {
    table[2 * idx] = c;
    table[2 * idx + 1] = r;
  }
  return table;
}

/** Reads a cached table, or returns null when none exists under `key`. */
export function readCachedLogps(dir: string, key: string): LogpsTable | null {
  const file = join(dir, `${key}.f64`);
  if (!existsSync(file) || !existsSync(join(dir, `${key}.json`))) return null;
  const buf = readFileSync(file);
  return new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

/** Writes a table under `key` (temp file, then rename); `meta` documents what the key stands for. */
export function writeCachedLogps(dir: string, key: string, table: LogpsTable, meta: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${key}.f64`);
  writeFileAtomic(file, new Uint8Array(table.buffer, table.byteOffset, table.byteLength));
  writeFileAtomic(join(dir, `${key}.json`), JSON.stringify({ ...meta, pairs: table.length / 2 }, null, 2));
}

/**
 * Reference log-probs looked up by each pair's dataset index in precomputed tables (one per data source).
 * @example const ref = precomputedReference({ train: table, buffer: bufferTable });
 */
export function precomputedReference(tables: Partial<Record<DataRole, LogpsTable>>): ReferenceStrategy {
  return {
    name: 'precomputed',
    logps(batch, which) {
      const table = tables[which];
      if (!table) throw new BfpoError(`No precomputed reference log-probs for the ${which} data`);
      const c = new Float32Array(batch.indices.length);
      const r = new Float32Array(batch.indices.length);
      batch.indices.forEach((idx, i) => {
        c[i] = table[2 * idx];
        r[i] = table[2 * idx + 1];
        if (!(Number.isFinite(c[i]) && Number.isFinite(r[i]))) {
          throw new BfpoError(`The reference log-prob cache has no entry for pair ${idx} of the ${which} data; delete the cache file to recompute it`);
        }
      });
      // On the batch's device, so the loss never mixes devices.
      const o = { dtype: 'float32' as const, shape: [batch.indices.length], device: batch.inputIds.device };
      return { chosen: fromBuffer(c, o), rejected: fromBuffer(r, o) };
    },
  };
}

/**
 * The cached table of `source` under `dir`, computed with `model` and stored when absent.
 * Returns the table and whether it came from the cache.
 */
export function cachedReferenceLogps(
  model: CausalLM, source: BatchSource<PreferenceBatch>, dir: string, settings: Record<string, unknown>,
  opts: {
    averageLogps?: boolean; checksum?: string; onBatch?: (done: number, total: number) => void;
    /** Computes the table instead of one pass here (e.g. split over ranks and merged). */
    compute?: (source: BatchSource<PreferenceBatch>) => LogpsTable;
    /** Write a computed table into the cache (default true; false on ranks other than the writing one). */
    store?: boolean;
  } = {},
): { table: LogpsTable; hit: boolean; key: string } {
  const checksum = opts.checksum ?? modelChecksum(model);
  const key = referenceCacheKey(checksum, source.fingerprint, { ...settings, averageLogps: opts.averageLogps ?? false });
  const cached = readCachedLogps(dir, key);
  if (cached) return { table: cached, hit: true, key };
  const table = opts.compute ? opts.compute(source) : computeReferenceLogps(model, source, opts);
  if (opts.store !== false) writeCachedLogps(dir, key, table, { checksum, fingerprint: source.fingerprint, settings });
  return { table, hit: false, key };
}
