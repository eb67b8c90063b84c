// A small seeded random generator (sfc32), so the demo world is the same for the same seed on every machine.

/** Deterministic random draws for building the demo world. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[];
  /** True with probability p. */
  chance(p: number): boolean;
}

/**
 * A generator whose draws depend only on `seed` (any integer; strings of seeds give independent streams).
 *
 * @example
 * const r = seededRandom(1); r.pick(['a', 'b']); // the same letter on every run
 */
export function seededRandom(seed: number, stream = ''): Random {
  // Mix the seed and the stream name into four 32-bit words.
  let h = (0x9e3779b9 ^ (seed | 0)) >>> 0;
  const words: number[] = [];
  const text = `${seed}:${stream}`;
  for (let k = 0; k < 4; k++) {
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16) ^ (k * 0x27d4eb2f)) >>> 0;
    words.push(h);
  }
  let [a, b, c, d] = words;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const out = (t + d) | 0;
    c = (c + out) | 0;
    return (out >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  const int = (n: number): number => Math.floor(next() * n);
  return {
    next,
    int,
    pick: (items) => items[int(items.length)],
    shuffle: (items) => {
      const out = items.slice();
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [out[i], out[j]] = [out[j], out[i]];
      }
      return out;
    },
    chance: (p) => next() < p,
  };
}
