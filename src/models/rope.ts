// Rotary position embeddings: inverse frequencies from rope_theta and rope_scaling (llama3, linear), the cos/sin
// tables for given position ids, following HF's Llama (applyRotaryEmbedding in the tensor layer rotates the heads).
import { cat } from '../tensor/functional.js';
import { tensor } from '../tensor/creation.js';
import type { DType, Device } from '../tensor/dtype.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { RopeScaling } from './config.js';

/**
 * The rotary inverse frequencies theta^(-2i/headDim) for i < headDim/2, adjusted by `scaling`
 * (Llama 3.1: long wavelengths divided by `factor`, a smooth blend between; linear: all divided by `factor`).
 */
export function ropeInverseFrequencies(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / theta ** ((2 * i) / headDim);
  if (scaling?.type === 'linear') for (let i = 0; i < half; i++) inv[i] /= scaling.factor;
  if (scaling?.type === 'llama3') {
    const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: oldLen } = scaling;
    const lowFreqWavelen = oldLen / lowFreqFactor;
    const highFreqWavelen = oldLen / highFreqFactor;
    for (let i = 0; i < half; i++) {
      const wavelen = (2 * Math.PI) / inv[i];
      if (wavelen > lowFreqWavelen) inv[i] = inv[i] / factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (oldLen / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        inv[i] = (1 - smooth) * (inv[i] / factor) + smooth * inv[i];
      }
    }
  }
  return inv;
}

/** Holds the inverse frequencies on the model's device and builds cos/sin tables for position ids. */
export class RotaryEmbedding {
  readonly inverseFrequencies: Float32Array;
  #inv: Tensor | null = null; // [headDim / 2] float32

  constructor(headDim: number, theta: number, scaling: RopeScaling | null) {
    this.inverseFrequencies = ropeInverseFrequencies(headDim, theta, scaling);
  }

  /** cos and sin for `positionIds` [batch, seq], each [batch, 1, seq, headDim] in `dtype` (computed in float32). */
  tables(positionIds: Tensor, dtype: DType, device: Device): { cos: Tensor; sin: Tensor } {
    if (this.#inv === null || this.#inv.device !== device) {
      this.#inv?.dispose();
      this.#inv = keep(tensor(this.inverseFrequencies, { device })); // lives with the model, outside scopes
    }
    const freqs = positionIds.to('float32').unsqueeze(-1).mul(this.#inv); // [batch, seq, headDim/2]
    const emb = cat([freqs, freqs], -1).unsqueeze(1); // [batch, 1, seq, headDim]
    let cos = emb.cos();
    let sin = emb.sin();
    if (dtype !== 'float32') [cos, sin] = [cos.to(dtype), sin.to(dtype)];
    return { cos, sin };
  }

  /** Frees the device copy of the frequencies (it is rebuilt on the next call). */
  dispose(): void {
    this.#inv?.dispose();
    this.#inv = null;
  }
}
