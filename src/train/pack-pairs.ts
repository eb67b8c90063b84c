// Padding-free batches with a shared prompt: the real tokens of a padded batch laid back to back in one [1, T]
// sequence. A preference pair becomes ONE attention group: the prompt's tokens once, then the chosen answer, then the
// rejected one, each answer attending to the prompt and to itself only (positions restart after the prompt), so the
// prompt's layers run once per pair and no FLOP is spent on padding. Logits and log-probs equal the padded path's to
// float tolerance: every token sees exactly the tokens, at exactly the positions, it sees there.
import type { AttentionGroup, AttentionPart } from '../models/llama.js';
import { cat } from '../tensor/functional.js';
import { arange, tensor } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/scope.js';
import type { ScoredPositions } from '../losses/logps.js';
import type { CausalLM } from './types.js';

/** The forward inputs of a padding-free batch. */
export interface PackedInput {
  /** [1, T] the real tokens of every row, a pair's shared prompt once. */
  inputIds: Tensor;
  /** [1, T] each token's position in its own row. */
  positionIds: Tensor;
  /** One group per pair (or per row), tiling [0, T) in order. */
  groups: AttentionGroup[];
  /** [n] the packed slot of each of the batch's scored positions, in `pos.rows`'s order (so pos.targets still apply). */
  rows: Tensor;
  /** [rows, T] float32: 1/len on row r's tokens (prompt and its own answer), so logitsMean is each row's mean over its real tokens. */
  rowWeights: Tensor;
  /** Slots in the packed sequence, and positions of the padded batch it replaces (rows x width). */
  slots: number;
  paddedSlots: number;
}

/** What the packer reads of a batch: [rows, width] ids and mask (1 on real tokens). */
export interface PackableBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
}

/** Whether `model` takes padding-free batches (a Llama-family model, unless `padding_free: false` switched it off). */
export function takesPaddingFree(model: CausalLM): boolean {
  return model.paddingFree === true;
}

/**
 * Packs a padded batch. With `pairs` = B, rows [0, B) are chosen and [B, 2B) the rejected rows of the same pairs, and
 * each pair's longest common prefix of tokens (short of each row's last token) is laid out once; without `pairs`, each
 * row is its own group. Returns null where the packed layout cannot stand for the batch (a scored position on a
 * padding slot, or an empty row of a pair): the caller then runs the padded batch.
 *
 * @example const p = packBatch(batch, scoredPositions(batch.labels), b, null); model.forward(p.inputIds, { ...p })
 */
export function packBatch(batch: PackableBatch, pos: ScoredPositions, pairs: number | null, window: number | null): PackedInput | null {
  const [rows, width] = batch.inputIds.shape;
  if (pairs !== null && rows !== 2 * pairs) return null;
  const ids = batch.inputIds.toTypedArray() as BigInt64Array | Int32Array;
  const mask = batch.attentionMask.toTypedArray();
  const real: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const list: number[] = [];
    for (let p = 0; p < width; p++) if (Number(mask[r * width + p]) !== 0) list.push(p);
    real.push(list);
  }
  const slotOf = new Int32Array(rows * width).fill(-1);
  const packedIds: bigint[] = [];
  const positions: number[] = [];
  const branches: number[] = [];
  const spans: { start: number; length: number; rows: number[]; prompt: number; chosen: number }[] = [];
  const push = (id: bigint | number, position: number, branch: number): number => {
    packedIds.push(BigInt(id));
    positions.push(position);
    branches.push(branch);
    return packedIds.length - 1;
  };
  if (pairs !== null) {
    for (let i = 0; i < pairs; i++) {
      const c = real[i];
      const r = real[i + pairs];
      if (c.length === 0 || r.length === 0) return null;
      let shared = 0;
      const most = Math.min(c.length, r.length) - 1;
      while (shared < most && ids[i * width + c[shared]] === ids[(i + pairs) * width + r[shared]]) shared++;
      const start = packedIds.length;
      for (let k = 0; k < shared; k++) {
        const slot = push(ids[i * width + c[k]], k, 0);
        slotOf[i * width + c[k]] = slot;
        slotOf[(i + pairs) * width + r[k]] = slot;
      }
      for (let k = shared; k < c.length; k++) slotOf[i * width + c[k]] = push(ids[i * width + c[k]], k, 1);
      for (let k = shared; k < r.length; k++) slotOf[(i + pairs) * width + r[k]] = push(ids[(i + pairs) * width + r[k]], k, 2);
      spans.push({ start, length: packedIds.length - start, rows: [i, i + pairs], prompt: shared, chosen: c.length - shared });
    }
  } else {
    for (let r = 0; r < rows; r++) {
      if (real[r].length === 0) continue;
      const start = packedIds.length;
      real[r].forEach((p, k) => { slotOf[r * width + p] = push(ids[r * width + p], k, 0); });
      spans.push({ start, length: packedIds.length - start, rows: [r], prompt: 0, chosen: 0 });
    }
  }
  const flat = pos.rows.toTypedArray() as BigInt64Array;
  const rowSlots = new BigInt64Array(flat.length);
  for (let j = 0; j < flat.length; j++) {
    const slot = slotOf[Number(flat[j])];
    if (slot < 0) return null;
    rowSlots[j] = BigInt(slot);
  }
  const total = packedIds.length;
  const weights = new Float32Array(rows * total);
  for (let r = 0; r < rows; r++) {
    for (const p of real[r]) weights[r * total + slotOf[r * width + p]] = 1 / real[r].length;
  }
  const device = batch.inputIds.device;
  const groups = spans.map(({ start, length, prompt, chosen }): AttentionGroup => {
    const idx = arange(0, length, 1, { device });
    let blocked = idx.view(1, length).gt(idx.view(length, 1)); // [n, n] a key after the query
    if (pairs !== null) {
      const br = tensor(Int8Array.from(branches.slice(start, start + length)), { device }); // [n] 0 prompt, 1 chosen, 2 rejected
      blocked = blocked.logicalOr(br.view(length, 1).eq(2).logicalAnd(br.view(1, length).eq(1))); // rejected queries skip chosen keys
    }
    let blockedWindow: Tensor | null = null;
    if (window !== null) {
      const p = tensor(Int32Array.from(positions.slice(start, start + length)), { device });
      blockedWindow = blocked.logicalOr(p.view(length, 1).sub(p.view(1, length)).ge(window)).view(1, 1, length, length);
    }
    const group: AttentionGroup = { start, length, blocked: blocked.view(1, 1, length, length), blockedWindow };
    if (pairs !== null) group.parts = pairParts(group, prompt, chosen);
    return group;
  });
  return {
    inputIds: tensor(BigInt64Array.from(packedIds), { shape: [1, total], device }),
    positionIds: tensor(BigInt64Array.from(positions, (x) => BigInt(x)), { shape: [1, total], device }),
    groups,
    rows: tensor(rowSlots, { device }),
    rowWeights: tensor(weights, { shape: [rows, total], device }),
    slots: total,
    paddedSlots: rows * width,
  };
}

/** The packed input of a batch for `model`, or null when the model or the batch takes the padded path. */
export function packFor(model: CausalLM, batch: PackableBatch, pos: ScoredPositions, pairs: number | null): PackedInput | null {
  if (!takesPaddingFree(model)) return null;
  return tidy(() => packBatch(batch, pos, pairs, model.config?.slidingWindow ?? null));
}

/** Frees a packed input's tensors. */
export function disposePacked(p: PackedInput | null): void {
  if (!p) return;
  for (const t of [p.inputIds, p.positionIds, p.rows, p.rowWeights]) t.dispose();
  for (const g of p.groups) {
    for (const m of [g, ...(g.parts ?? [])]) {
      m.blocked.dispose();
      m.blockedWindow?.dispose();
    }
  }
}

/**
 * A pair's group [prompt P | chosen C | rejected R] in two parts: the prompt's and the chosen answer's queries
 * against their own keys (causal), and the rejected answer's queries against the prompt's keys and its own, so the
 * R x C block the mask would hide is never computed. The parts' masks are the group's, cut to their keys.
 */
function pairParts(g: AttentionGroup, prompt: number, chosen: number): AttentionPart[] {
  const first = prompt + chosen;
  const rejected = g.length - first;
  const keys: [number, number][] = prompt > 0 ? [[0, prompt], [first, rejected]] : [[first, rejected]];
  const cut = (m: Tensor, from: number, n: number, ranges: [number, number][]): Tensor => tidy(() => {
    const rows = m.narrow(2, from, n);
    return ranges.length === 1 ? rows.narrow(3, ranges[0][0], ranges[0][1]).contiguous() : cat(ranges.map(([a, k]) => rows.narrow(3, a, k)), 3);
  });
  const part = (from: number, n: number, ranges: [number, number][]): AttentionPart => ({
    queryStart: from, queryLength: n, keys: ranges, blocked: cut(g.blocked, from, n, ranges),
    blockedWindow: g.blockedWindow ? cut(g.blockedWindow, from, n, ranges) : null,
  });
  return [part(0, first, [[0, first]]), part(first, rejected, keys)];
}
