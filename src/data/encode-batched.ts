// Runs many tokenization generators (EncodeSteps) with a batch encoder, in groups: while one group's texts are
// encoded (the Rust library encodes on its own threads), this thread renders the next group's chat templates.
import { expected } from '../errors.js';
import type { BatchTextEncoder, EncodeSteps, TokenIds } from './tokenizer.js';

/** Options of {@link runStepsBatched}. */
export interface BatchedStepsOptions {
  /** Items per group (default 512). */
  chunkSize?: number;
  /** Called after each group with the items done and the total. */
  onProgress?: (done: number, total: number) => void;
}

interface Waiting<T> { steps: EncodeSteps<T>; index: number; texts: string[] }
interface Group<T> { waiting: Waiting<T>[]; ids: Promise<TokenIds[]>; end: number }

/**
 * The results of `steps(item)` for every item, in order, each generator's texts encoded by `encoder` together with
 * those of its group. The same results as running each generator with the tokenizer's own `encode`, given an
 * encoder that returns the same ids.
 *
 * @example
 * const pairs = await runStepsBatched(examples, (ex) => pairSteps(ex, tok, opts), encoder);
 */
export async function runStepsBatched<X, T>(items: readonly X[], steps: (item: X) => EncodeSteps<T>, encoder: BatchTextEncoder, opts: BatchedStepsOptions = {}): Promise<T[]> {
  const chunk = opts.chunkSize ?? 512;
  if (!Number.isInteger(chunk) || chunk < 1) throw expected('a positive integer', 'chunkSize', chunk);
  const out: T[] = new Array(items.length);
  const encode = (waiting: Waiting<T>[]): Promise<TokenIds[]> => {
    const texts = waiting.flatMap((w) => w.texts);
    const ids = texts.length > 0 ? encoder.encodeBatch(texts) : Promise.resolve([]);
    ids.catch(() => undefined); // awaited later; a failure surfaces there, not as an unhandled rejection
    return ids;
  };
  // Renders the group's texts (the generators run to their first yield) and starts encoding them.
  const start = (from: number): Group<T> => {
    const end = Math.min(items.length, from + chunk);
    const waiting: Waiting<T>[] = [];
    for (let i = from; i < end; i++) {
      const s = steps(items[i]!);
      const at = s.next();
      if (at.done) out[i] = at.value;
      else waiting.push({ steps: s, index: i, texts: at.value });
    }
    return { waiting, ids: encode(waiting), end };
  };
  const finish = async (group: Group<T>): Promise<void> => {
    let { waiting, ids } = group;
    while (waiting.length > 0) {
      const got = await ids;
      if (got.length !== waiting.reduce((n, w) => n + w.texts.length, 0)) throw new Error(`the batch encoder returned ${got.length} id lists for a different number of texts`);
      const next: Waiting<T>[] = [];
      let at = 0;
      for (const w of waiting) {
        const r = w.steps.next(got.slice(at, at + w.texts.length));
        at += w.texts.length;
        if (r.done) out[w.index] = r.value;
        else next.push({ ...w, texts: r.value });
      }
      waiting = next;
      ids = encode(waiting);
    }
  };
  if (items.length === 0) return out;
  let current = start(0);
  for (;;) {
    let next: Group<T> | null = null;
    let failed: { error: unknown } | null = null;
    // A rendering error of the next group is raised after this group, so errors come in data order.
    if (current.end < items.length) {
      try { next = start(current.end); } catch (error) { failed = { error }; }
    }
    await finish(current);
    opts.onProgress?.(current.end, items.length);
    if (failed) throw failed.error;
    if (!next) return out;
    current = next;
  }
}
