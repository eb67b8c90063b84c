// Shared by the model tests: loads the PyTorch golden fixture (scripts/fixtures/torch_llama.py) into models.
import { readFileSync } from 'node:fs';
import { fromBuffer, type Tensor, tensor } from 'bfpo';
import { LlamaForCausalLM } from 'bfpo/models';

export interface FixtureInput {
  padding: 'left' | 'right' | null;
  shape: [number, number];
  input_ids: number[][];
  attention_mask: number[][] | null;
  logits_shape: [number, number, number];
  logits: string;
}
export interface FixtureCase {
  name: string;
  config: Record<string, unknown>;
  weights: Record<string, { shape: number[]; data: string }>;
  inputs: FixtureInput[];
}

const path = new URL('../fixtures/models/torch_llama.json', import.meta.url);
export const fixture = JSON.parse(readFileSync(path, 'utf8')) as { cases: FixtureCase[] };

export function f32(b64: string, shape: number[]): Tensor {
  return fromBuffer(Buffer.from(b64, 'base64'), { dtype: 'float32', shape });
}

/** A model of the case's config with the case's weights. */
export function loadCase(c: FixtureCase): LlamaForCausalLM {
  const model = new LlamaForCausalLM(c.config, { init: 'empty' });
  const state = new Map(Object.entries(c.weights).map(([k, w]) => [k, f32(w.data, w.shape)]));
  model.loadStateDict(state);
  for (const t of state.values()) t.dispose();
  return model.eval();
}

export const ids = (rows: number[][]): Tensor => tensor(rows, { dtype: 'int64' });

/** Largest |a - b| over the positions where `mask` is 1 (all positions without a mask). */
export function maxDiffOnReal(a: Tensor, b: Tensor, mask: number[][] | null): number {
  const x = a.toTypedArray() as Float32Array;
  const y = b.toTypedArray() as Float32Array;
  const [bs, s, v] = a.shape;
  let worst = 0;
  for (let i = 0; i < bs; i++) for (let j = 0; j < s; j++) {
    if (mask && mask[i][j] === 0) continue;
    for (let k = 0; k < v; k++) worst = Math.max(worst, Math.abs(x[(i * s + j) * v + k] - y[(i * s + j) * v + k]));
  }
  return worst;
}
