// mulberry32: a small seeded generator, so every fuzz run mutates the same bytes.
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values a hostile JSON file might hold where a number, string or object is expected. */
export const HOSTILE_JSON: readonly unknown[] = [
  1e12, -1, 0, 1.5, 2 ** 53, -(2 ** 31), 1e308, '', 'x'.repeat(5000), '\u0000', '../../etc/passwd', '<s>', null, true, [], {}, [[[[]]]], { a: { b: {} } },
];

/**
 * `root` (parsed JSON) with 1 to 4 seeded structural mutations: a value anywhere in the tree replaced by a hostile
 * one or another value of the tree, or a key or array item removed.
 */
export function mutateJson(root: unknown, rand: () => number): unknown {
  const copy = structuredClone(root);
  const slots: [Record<string | number, unknown>, string | number][] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 8 || slots.length > 20000 || v === null || typeof v !== 'object') return;
    const c = v as Record<string | number, unknown>;
    for (const k of Array.isArray(v) ? v.keys() : Object.keys(v)) {
      slots.push([c, k]);
      walk(c[k], depth + 1);
    }
  };
  walk(copy, 0);
  if (slots.length === 0) return HOSTILE_JSON[Math.floor(rand() * HOSTILE_JSON.length)];
  for (let n = 0; n < 1 + Math.floor(rand() * 4); n++) {
    const [parent, key] = slots[Math.floor(rand() * slots.length)]!;
    const r = rand();
    if (r < 0.15) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1);
      else delete parent[key];
    } else if (r < 0.3) {
      const [p2, k2] = slots[Math.floor(rand() * slots.length)]!;
      parent[key] = structuredClone(p2[k2]);
    } else {
      parent[key] = structuredClone(HOSTILE_JSON[Math.floor(rand() * HOSTILE_JSON.length)]);
    }
  }
  return copy;
}
