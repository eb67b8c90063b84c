// On-disk cache of tokenized data: one binary file of int32 records (KEY.bin) and a small JSON index (KEY.json)
// holding its length, sha256, dataset names and split offsets. A file that does not match its index is never trusted.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomic, writeFileAtomic } from '../io/atomic.js';
import type { PackedSftBlock } from './pack-sft.js';
import type { TokenizedPair } from './tokenize.js';
import type { TokenizedSft } from './tokenize-sft.js';
import type { ExampleSource } from './types.js';

/** What a cache entry holds: preference pairs, SFT conversations, or packed SFT blocks. */
export type TokenizedKind = 'pairs' | 'sft' | 'sft-packed';

/** The item type of each kind. */
export type TokenizedItem<K extends TokenizedKind> = K extends 'pairs' ? TokenizedPair : K extends 'sft' ? TokenizedSft : PackedSftBlock;

/** Named splits of tokenized items (e.g. train, test, buffer). */
export type TokenizedSplits<K extends TokenizedKind> = Record<string, TokenizedItem<K>[]>;

/** Result of {@link readTokenizedCache}: the splits, or why there were none (`warning` when a file was bad). */
export type CacheRead<K extends TokenizedKind> = { splits: TokenizedSplits<K> } | { splits: null; warning?: string };

const FORMAT = 1;

interface CacheIndex {
  format: number;
  kind: TokenizedKind;
  /** Length of KEY.bin in bytes and the sha256 of its bytes. */
  bytes: number;
  sha256: string;
  datasets: string[];
  /** Per split: item count and where its records start and end (in int32 words). */
  splits: Record<string, { items: number; start: number; end: number }>;
}

/** The two files of a cache entry. */
export function tokenizedCachePaths(dir: string, key: string): { bin: string; index: string } {
  return { bin: join(dir, `${key}.bin`), index: join(dir, `${key}.json`) };
}

// Run lengths of a 0/1 mask, the first run being zeros (possibly empty).
function maskRuns(mask: Uint8Array): number[] {
  const runs: number[] = [];
  let value = 0;
  let n = 0;
  for (const m of mask) {
    if ((m ? 1 : 0) === value) { n++; continue; }
    runs.push(n);
    value = 1 - value;
    n = 1;
  }
  runs.push(n);
  return runs;
}

function encodeItem(kind: TokenizedKind, item: TokenizedPair | TokenizedSft, ds: (name: string) => number, out: WordWriter): void {
  if (kind === 'pairs') {
    const p = item as TokenizedPair;
    out.put([ds(p.source.dataset), p.source.row, p.isChosenSafe, p.isRejectedSafe, p.chosen.ids.length, p.chosen.promptLength,
      p.rejected.ids.length, p.rejected.promptLength]);
    out.put(p.chosen.ids);
    out.put(p.rejected.ids);
    return;
  }
  const s = item as TokenizedSft;
  const sources: ExampleSource[] = kind === 'sft-packed' ? (item as PackedSftBlock).sources : [s.source];
  const runs = maskRuns(s.learn);
  out.put([sources.length, ...sources.flatMap((x) => [ds(x.dataset), x.row]), s.ids.length, runs.length, ...runs]);
  out.put(s.ids);
}

/**
 * 32-bit words gathered into blocks of 1M (4 MiB), each hashed and written whole: a few large writes instead of one
 * small write per pair (12,000 for 4,000 pairs took longer than encoding them).
 */
class WordWriter {
  static readonly BLOCK = 1 << 20;
  #block = new Int32Array(WordWriter.BLOCK);
  #used = 0;
  words = 0;
  constructor(private readonly sink: (bytes: Uint8Array) => void) {}
  put(values: ArrayLike<number>): void {
    let from = 0;
    while (from < values.length) {
      const n = Math.min(values.length - from, WordWriter.BLOCK - this.#used);
      const part = from === 0 && n === values.length ? values : Array.prototype.slice.call(values, from, from + n);
      this.#block.set(part as ArrayLike<number>, this.#used);
      this.#used += n;
      from += n;
      if (this.#used === WordWriter.BLOCK) this.flush();
    }
    this.words += values.length;
  }
  flush(): void {
    if (this.#used > 0) this.sink(new Uint8Array(this.#block.buffer, 0, this.#used * 4));
    this.#used = 0;
  }
}

/**
 * Stores tokenized splits as `dir/KEY.bin` and `dir/KEY.json`, each written atomically (the index last, so an entry
 * is complete when its index exists). Returns the binary file's path.
 */
export function writeTokenizedCache<K extends TokenizedKind>(dir: string, key: string, kind: K, splits: TokenizedSplits<K>): string {
  mkdirSync(dir, { recursive: true });
  const datasets: string[] = [];
  const dsIndex = new Map<string, number>();
  const ds = (name: string): number => {
    let i = dsIndex.get(name);
    if (i === undefined) { i = datasets.length; datasets.push(name); dsIndex.set(name, i); }
    return i;
  };
  const index: CacheIndex = { format: FORMAT, kind, bytes: 0, sha256: '', datasets, splits: {} };
  const paths = tokenizedCachePaths(dir, key);
  const hash = createHash('sha256');
  let words = 0;
  writeAtomic(paths.bin, (out) => {
    const w = new WordWriter((bytes) => { hash.update(bytes); out.write(bytes); });
    for (const [name, items] of Object.entries(splits)) {
      const start = w.words;
      for (const item of items) encodeItem(kind, item as TokenizedPair | TokenizedSft, ds, w);
      index.splits[name] = { items: items.length, start, end: w.words };
    }
    w.flush();
    words = w.words;
  });
  index.bytes = words * 4;
  index.sha256 = hash.digest('hex');
  writeFileAtomic(paths.index, `${JSON.stringify(index)}\n`);
  return paths.bin;
}

class Corrupt extends Error {}

function decodeSplit(kind: TokenizedKind, words: Int32Array, start: number, end: number, items: number, datasets: string[]): (TokenizedPair | TokenizedSft)[] {
  let at = start;
  const take = (n: number): Int32Array => {
    if (!Number.isInteger(n) || n < 0 || at + n > end) throw new Corrupt(`a record runs past its split's end (word ${at})`);
    const out = words.slice(at, at + n);
    at += n;
    return out;
  };
  const one = (): number => take(1)[0]!;
  const dataset = (i: number): string => {
    const d = datasets[i];
    if (d === undefined) throw new Corrupt(`dataset index ${i} is out of range`);
    return d;
  };
  const out: (TokenizedPair | TokenizedSft)[] = [];
  for (let i = 0; i < items; i++) {
    if (kind === 'pairs') {
      const [d, row, cs, rs, cl, cp, rl, rp] = take(8);
      if ((cs !== 0 && cs !== 1) || (rs !== 0 && rs !== 1) || cp! > cl! || rp! > rl!) throw new Corrupt(`pair ${i} has bad labels or lengths`);
      out.push({
        source: { dataset: dataset(d!), row: row! },
        isChosenSafe: cs as 0 | 1, isRejectedSafe: rs as 0 | 1,
        chosen: { ids: take(cl!), promptLength: cp! },
        rejected: { ids: take(rl!), promptLength: rp! },
      });
      continue;
    }
    const n = one();
    const pairs = take(2 * n);
    const sources: ExampleSource[] = [];
    for (let j = 0; j < n; j++) sources.push({ dataset: dataset(pairs[2 * j]!), row: pairs[2 * j + 1]! });
    if (sources.length === 0) throw new Corrupt(`conversation ${i} names no source`);
    const length = one();
    const runs = take(one());
    const ids = take(length);
    const learn = new Uint8Array(length);
    let pos = 0;
    runs.forEach((r, j) => { if (pos + r > length) throw new Corrupt(`conversation ${i}'s label mask is too long`); learn.fill(j % 2, pos, pos + r); pos += r; });
    if (pos !== length) throw new Corrupt(`conversation ${i}'s label mask is too short`);
    const block: PackedSftBlock = { ids, learn, source: sources[0]!, sources };
    out.push(kind === 'sft-packed' ? block : { ids, learn, source: sources[0]! });
  }
  if (at !== end) throw new Corrupt(`split ends at word ${at}, its index says ${end}`);
  return out;
}

/**
 * Reads the entry `KEY` of `dir`. No index file is a plain miss; an index or binary file that is unreadable, of the
 * wrong length or checksum, or inconsistent is a miss with a warning naming the file (the caller recomputes).
 */
export function readTokenizedCache<K extends TokenizedKind>(dir: string, key: string, kind: K): CacheRead<K> {
  const paths = tokenizedCachePaths(dir, key);
  if (!existsSync(paths.index)) return { splits: null };
  try {
    let index: CacheIndex;
    try { index = JSON.parse(readFileSync(paths.index, 'utf8')) as CacheIndex; } catch (e) { throw new Corrupt(`${paths.index} is not valid JSON (${(e as Error).message})`); }
    if (index.format !== FORMAT || index.kind !== kind || !Array.isArray(index.datasets) || typeof index.splits !== 'object') {
      throw new Corrupt(`${paths.index} is not a ${kind} index of format ${FORMAT}`);
    }
    if (!existsSync(paths.bin)) throw new Corrupt(`${paths.bin} is missing`);
    const buf = readFileSync(paths.bin);
    if (buf.byteLength !== index.bytes) throw new Corrupt(`${paths.bin} has ${buf.byteLength} bytes, its index says ${index.bytes}`);
    if (createHash('sha256').update(buf).digest('hex') !== index.sha256) throw new Corrupt(`${paths.bin} does not match its sha256`);
    const words = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const splits: Record<string, (TokenizedPair | TokenizedSft)[]> = {};
    for (const [name, s] of Object.entries(index.splits)) {
      if (!(s.start >= 0 && s.start <= s.end && s.end <= words.length)) throw new Corrupt(`${paths.index}: split ${name} lies outside ${paths.bin}`);
      splits[name] = decodeSplit(kind, words, s.start, s.end, s.items, index.datasets);
    }
    return { splits: splits as TokenizedSplits<K> };
  } catch (e) {
    if (!(e instanceof Corrupt)) throw e;
    const msg = e.message.includes(dir) ? e.message : `${paths.bin}: ${e.message}`;
    return { splits: null, warning: `the tokenized-data cache entry is damaged and is recomputed: ${msg}` };
  }
}
