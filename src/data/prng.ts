// A small seeded generator for data order (shuffles, bucketing). It is xoshiro128** (Blackman & Vigna, 2018)
// with its 128-bit state filled by two SplitMix64 outputs of the seed, so the same seed gives the same order on
// every machine. It cannot reproduce Python's Mersenne Twister or the datasets library's numpy shuffle.

const MASK64 = (1n << 64n) - 1n;

function splitMix64(state: { s: bigint }): bigint {
  state.s = (state.s + 0x9e3779b97f4a7c15n) & MASK64;
  let z = state.s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

const rotl = (x: number, k: number): number => ((x << k) | (x >>> (32 - k))) >>> 0;

/**
 * Deterministic pseudo-random numbers from an integer seed.
 *
 * @example
 * const rng = new Prng(42);
 * rng.nextUint32(); // 32-bit unsigned integer
 * rng.shuffle([1, 2, 3, 4]); // same order for seed 42 everywhere
 */
export class Prng {
  private s = new Uint32Array(4);

  constructor(seed: number | bigint) {
    const st = { s: BigInt.asUintN(64, BigInt(seed)) };
    const a = splitMix64(st), b = splitMix64(st);
    this.s[0] = Number(a & 0xffffffffn);
    this.s[1] = Number(a >> 32n);
    this.s[2] = Number(b & 0xffffffffn);
    this.s[3] = Number(b >> 32n);
  }

  /** The next 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** An unbiased integer in [0, n) by rejection sampling, n ≤ 2^32. */
  below(n: number): number {
    const limit = 0x100000000 - (0x100000000 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Shuffles in place (Fisher–Yates from the last element down) and returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }
}
