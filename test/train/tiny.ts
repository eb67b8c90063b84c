// Test helpers: a tiny causal LM made of engine ops (embedding, dropout, a position-mixing term, linear head) and
// in-memory batch sources of synthetic preference pairs and SFT rows, with a deterministic per-epoch order.
import { randn, tensor, tidy, keep, noGrad, type Tensor } from '../../src/index.js';
import { embedding, linear, dropout } from '../../src/tensor/index.js';
import type { BatchSource, CausalLM, PreferenceBatch, SftBatch, SourcePosition } from '../../src/train/types.js';

export class TinyLM implements CausalLM {
  params: [string, Tensor][];
  training = true;
  constructor(public vocab = 11, public hidden = 8, public dropoutP = 0.1, dtype: 'float32' | 'bfloat16' = 'float32') {
    const mk = (shape: number[]) => keep(noGrad(() => randn(shape).mul(0.3).to(dtype))).requiresGrad_(true);
    this.params = [
      ['model.embed_tokens.weight', mk([vocab, hidden])],
      ['model.layers.0.mlp.down_proj.weight', mk([hidden, hidden])],
      ['lm_head.weight', mk([vocab, hidden])],
    ];
  }
  namedParameters(): [string, Tensor][] { return this.params; }
  train(mode = true): void { this.training = mode; }
  forward(ids: Tensor): { logits: Tensor } {
    return tidy(() => {
      const [emb, mix, head] = this.params.map(([, p]) => p);
      let h = embedding(ids, emb); // [b, s, h]
      h = h.add(linear(h, mix).tanh()); // [b, s, h]
      if (this.dropoutP > 0) h = dropout(h, this.dropoutP, this.training);
      return { logits: linear(h, head) }; // [b, s, vocab]
    });
  }
  /** A copy with the same weights (a frozen reference). */
  clone(): TinyLM {
    const c = new TinyLM(this.vocab, this.hidden, this.dropoutP);
    noGrad(() => c.params.forEach(([, p], i) => p.copy_(this.params[i][1])));
    return c;
  }
  snapshot(): number[][] {
    return this.params.map(([, p]) => tidy(() => Array.from(p.float().toTypedArray() as Float32Array)));
  }
  dispose(): void { for (const [, p] of this.params) p.dispose(); }
}

/** A seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Pair { prompt: number[]; chosen: number[]; rejected: number[]; sc: 0 | 1; sr: 0 | 1 }

export function makePairs(n: number, seed: number, vocab = 11): Pair[] {
  const r = prng(seed);
  const toks = (len: number) => Array.from({ length: len }, () => 1 + Math.floor(r() * (vocab - 1)));
  return Array.from({ length: n }, () => ({
    prompt: toks(2 + Math.floor(r() * 3)), chosen: toks(2 + Math.floor(r() * 4)), rejected: toks(2 + Math.floor(r() * 4)),
    sc: (r() < 0.6 ? 1 : 0) as 0 | 1, sr: (r() < 0.5 ? 1 : 0) as 0 | 1,
  }));
}

/** Pads rows (prompt + completion) into ids, mask and labels (-100 on prompt and padding). */
function pad(rows: { prompt: number[]; completion: number[] }[]): { ids: number[][]; mask: number[][]; labels: number[][] } {
  const len = Math.max(...rows.map((x) => x.prompt.length + x.completion.length));
  const ids: number[][] = [], mask: number[][] = [], labels: number[][] = [];
  for (const x of rows) {
    const seq = [...x.prompt, ...x.completion];
    const padN = len - seq.length;
    ids.push([...seq, ...Array(padN).fill(0)]);
    mask.push([...Array(seq.length).fill(1), ...Array(padN).fill(0)]);
    labels.push([...x.prompt.map(() => -100), ...x.completion, ...Array(padN).fill(-100)]);
  }
  return { ids, mask, labels };
}

/** Batches of `batchSize` items, shuffled per epoch (seeded by the epoch) unless `shuffle` is false. */
abstract class ListSource<T, B> implements BatchSource<B> {
  #pos: SourcePosition = { epoch: 0, batch: 0 };
  #order: number[] = [];
  #orderEpoch = -1;
  nextCalls = 0;
  constructor(readonly items: T[], readonly batchSize: number, readonly shuffle = true) {}
  get length(): number { return Math.ceil(this.items.length / this.batchSize); }
  get fingerprint(): string { return JSON.stringify([this.items, this.batchSize, this.shuffle]); }
  position(): SourcePosition { return { ...this.#pos }; }
  seek(p: SourcePosition): void { this.#pos = { ...p }; }
  protected abstract build(items: T[], indices: number[]): B;
  next(): B | null {
    if (this.#pos.batch >= this.length) return null;
    if (this.#orderEpoch !== this.#pos.epoch) {
      this.#order = this.items.map((_, i) => i);
      if (this.shuffle) {
        const r = prng(1000 + this.#pos.epoch);
        for (let i = this.#order.length - 1; i > 0; i--) {
          const j = Math.floor(r() * (i + 1));
          [this.#order[i], this.#order[j]] = [this.#order[j], this.#order[i]];
        }
      }
      this.#orderEpoch = this.#pos.epoch;
    }
    const idx = this.#order.slice(this.#pos.batch * this.batchSize, (this.#pos.batch + 1) * this.batchSize);
    this.#pos.batch += 1;
    this.nextCalls += 1;
    return this.build(idx.map((i) => this.items[i]), idx);
  }
}

export class PairSource extends ListSource<Pair, PreferenceBatch> {
  protected build(items: Pair[], indices: number[]): PreferenceBatch {
    const rows = [...items.map((p) => ({ prompt: p.prompt, completion: p.chosen })), ...items.map((p) => ({ prompt: p.prompt, completion: p.rejected }))];
    const { ids, mask, labels } = pad(rows);
    return {
      inputIds: tensor(ids, { dtype: 'int64' }), attentionMask: tensor(mask, { dtype: 'int64' }), labels: tensor(labels, { dtype: 'int64' }),
      isChosenSafe: tensor(items.map((p) => p.sc), { dtype: 'float32' }), isRejectedSafe: tensor(items.map((p) => p.sr), { dtype: 'float32' }),
      indices,
    };
  }
}

export class SftSource extends ListSource<Pair, SftBatch> {
  protected build(items: Pair[]): SftBatch {
    const { ids, mask, labels } = pad(items.map((p) => ({ prompt: p.prompt, completion: p.chosen })));
    return { inputIds: tensor(ids, { dtype: 'int64' }), attentionMask: tensor(mask, { dtype: 'int64' }), labels: tensor(labels, { dtype: 'int64' }) };
  }
}


/** Every trainable parameter's gradient as a float32 copy (zeros where there is none), then clears the gradients. */
export function takeGrads(m: CausalLM): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [n, p] of m.namedParameters()) {
    if (!p.requiresGrad) continue;
    const g = p.grad;
    out.set(n, g ? (g.toTypedArray() as Float32Array).slice() : new Float32Array(p.numel()));
    g?.dispose();
    p.grad = null;
  }
  return out;
}
