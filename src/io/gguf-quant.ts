// Element conversions for GGUF tensors: IEEE half and bfloat16 <-> float32, and ggml's Q8_0 blocks
// (32 values share one float16 scale d; each value is stored as int8 q with x = d * q).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float16 bits -> number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number -> float16 bits, rounding to nearest even as IEEE (and PyTorch) does. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && (m & 1))) m++;
    return sign | m;
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1))) {
    m++;
    if (m === 0x400) {
      m = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | m;
}

export const Q8_0_BLOCK = 32;
export const Q8_0_BYTES = 34;

/** Dequantises Q8_0 blocks to float32 little-endian bytes. `n` is the number of values (a multiple of 32). */
export function dequantizeQ8_0(src: Uint8Array, n: number): Buffer {
  const out = Buffer.allocUnsafe(n * 4);
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const values = new Float32Array(out.buffer, out.byteOffset, n);
  for (let b = 0; b < n / Q8_0_BLOCK; b++) {
    const base = b * Q8_0_BYTES;
    const d = halfToFloat(view.getUint16(base, true));
    for (let i = 0; i < Q8_0_BLOCK; i++) values[b * Q8_0_BLOCK + i] = d * view.getInt8(base + 2 + i);
  }
  return out;
}

/**
 * Quantises float32 values to Q8_0 as ggml's reference quantiser does: d = max|x| / 127 (stored as float16),
 * q = round(x / d) computed with the float32 d.
 */
export function quantizeQ8_0(values: Float32Array): Buffer {
  const blocks = values.length / Q8_0_BLOCK;
  const out = Buffer.alloc(blocks * Q8_0_BYTES);
  for (let b = 0; b < blocks; b++) {
    let amax = 0;
    for (let i = 0; i < Q8_0_BLOCK; i++) amax = Math.max(amax, Math.abs(values[b * Q8_0_BLOCK + i]));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    out.writeUInt16LE(floatToHalf(d), b * Q8_0_BYTES);
    for (let i = 0; i < Q8_0_BLOCK; i++) {
      // roundf rounds halves away from zero; Math.round rounds them up, so round magnitudes.
      const v = Math.fround(values[b * Q8_0_BLOCK + i] * id);
      out.writeInt8(v < 0 ? -Math.round(-v) : Math.round(v), b * Q8_0_BYTES + 2 + i);
    }
  }
  return out;
}
