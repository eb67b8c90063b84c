// Python's random.Random seeded with a string (CPython 3, seed version 2) and its shuffle: the Mersenne Twister
// MT19937 with init_by_array, which lm-eval's ethics_utilitarianism uses to order each document's two scenarios.
import { createHash } from 'node:crypto';

const N = 624;
const M = 397;

/** A Mersenne Twister state as CPython's `random.Random(text)` leaves it. */
export class PythonRandom {
  private readonly mt = new Uint32Array(N);
  private index = N + 1;

  /**
   * Seeds as `random.Random(text)`: the integer of the UTF-8 bytes followed by their SHA-512 digest (big-endian),
   * split into 32-bit words from the least significant one, fed to init_by_array.
   */
  constructor(text: string) {
    const bytes = Buffer.from(text, 'utf8');
    const all = Buffer.concat([bytes, createHash('sha512').update(bytes).digest()]);
    let start = 0;
    while (start < all.length && all[start] === 0) start++;
    const digits = all.subarray(start); // big-endian magnitude without leading zero bytes
    const words = Math.max(1, Math.ceil(digits.length / 4));
    const key = new Uint32Array(words);
    for (let i = 0; i < digits.length; i++) {
      const fromEnd = digits.length - 1 - i; // byte significance
      key[fromEnd >> 2] |= digits[i] << (8 * (fromEnd & 3));
    }
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    this.mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.index = N;
  }

  private initByArray(key: Uint32Array): void {
    this.initGenrand(19650218);
    const mt = this.mt;
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1664525)) + key[j] + j) >>> 0;
      i++; j++;
      if (i >= N) { mt[0] = mt[N - 1]; i = 1; }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) { mt[0] = mt[N - 1]; i = 1; }
    }
    mt[0] = 0x80000000;
  }

  /** The next 32-bit output (genrand_uint32). */
  nextUint32(): number {
    const mt = this.mt;
    if (this.index >= N) {
      for (let k = 0; k < N; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % N] & 0x7fffffff);
        mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** `getrandbits(k)` for 1 <= k <= 32. */
  getrandbits(k: number): number {
    if (!(k >= 1 && k <= 32)) throw new RangeError(`getrandbits takes 1..32 bits here, not ${k}`);
    return this.nextUint32() >>> (32 - k);
  }

  /** `_randbelow(n)`: rejection sampling on getrandbits(n.bit_length()). */
  randbelow(n: number): number {
    const k = 32 - Math.clz32(n);
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }

  /** `shuffle(x)` in place (Fisher-Yates from the end, as CPython). */
  shuffle<T>(x: T[]): void {
    for (let i = x.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      [x[i], x[j]] = [x[j], x[i]];
    }
  }
}
