// ROUGE-N and summary-level ROUGE-L (rougeLsum) F-measures as Google's rouge-score package computes them without
// stemming: its tokenizer (lowercase, every run of characters other than a-z and 0-9 is a separator), n-gram overlap
// with clipped counts, and for rougeLsum the union LCS of each reference line against all prediction lines.

/**
 * rouge-score's default tokenizer without stemmer: lowercased, non-alphanumeric runs become spaces, empty tokens dropped.
 *
 * @example rougeTokenize("It's 5 o'clock!") // ['it', 's', '5', 'o', 'clock']
 */
export function rougeTokenize(text: string): string[] {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, ' ').split(/\s+/).filter((t) => /^[a-z0-9]+$/.test(t));
}

/** Precision, recall and F-measure (0-1). */
export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

const fmeasure = (p: number, r: number) => (p + r > 0 ? (2 * p * r) / (p + r) : 0);

function counts(tokens: string[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const k = tokens.slice(i, i + n).join(' ');
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

/**
 * ROUGE-N: clipped n-gram overlap over the prediction's n-grams (precision) and the target's (recall), each count at
 * least 1 in the denominator, so an empty side scores 0.
 *
 * @example rougeN('the cat sat', 'the cat ran', 1).fmeasure // 2/3
 */
export function rougeN(target: string, prediction: string, n: number): RougeScore {
  const t = counts(rougeTokenize(target), n);
  const p = counts(rougeTokenize(prediction), n);
  let overlap = 0;
  for (const [k, c] of t) overlap += Math.min(c, p.get(k) ?? 0);
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const precision = overlap / Math.max(sum(p), 1);
  const recall = overlap / Math.max(sum(t), 1);
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}

/** Indexes into `ref` of one longest common subsequence, read back from the end as rouge-score does. */
function lcsIndexes(ref: string[], can: string[]): number[] {
  const t = Array.from({ length: ref.length + 1 }, () => new Array<number>(can.length + 1).fill(0));
  for (let i = 1; i <= ref.length; i++) {
    for (let j = 1; j <= can.length; j++) t[i][j] = ref[i - 1] === can[j - 1] ? t[i - 1][j - 1] + 1 : Math.max(t[i - 1][j], t[i][j - 1]);
  }
  const out: number[] = [];
  let i = ref.length;
  let j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.unshift(i - 1);
      i--; j--;
    } else if (t[i][j - 1] > t[i - 1][j]) j--;
    else i--;
  }
  return out;
}

/**
 * rougeLsum: both texts are split into lines (empty lines dropped) and tokenized; for each target line the union of
 * its LCS token positions against every prediction line counts as hits, each token at most as often as it occurs on
 * both sides. Recall = hits / target tokens, precision = hits / prediction tokens.
 *
 * @example rougeLsum('a b c\nd e', 'a c\ne').fmeasure // hits 3: P 3/3, R 3/5 -> 0.75
 */
export function rougeLsum(target: string, prediction: string): RougeScore {
  const lines = (s: string) => s.split('\n').filter((l) => l.length > 0).map(rougeTokenize);
  const ref = lines(target);
  const can = lines(prediction);
  const m = ref.reduce((a, s) => a + s.length, 0);
  const n = can.reduce((a, s) => a + s.length, 0);
  if (ref.length === 0 || can.length === 0 || m === 0 || n === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  const left = (sents: string[][]) => {
    const c = new Map<string, number>();
    for (const s of sents) for (const tok of s) c.set(tok, (c.get(tok) ?? 0) + 1);
    return c;
  };
  const cr = left(ref);
  const cc = left(can);
  let hits = 0;
  for (const r of ref) {
    const union = [...new Set(can.flatMap((c) => lcsIndexes(r, c)))].sort((a, b) => a - b);
    for (const idx of union) {
      const tok = r[idx];
      if ((cc.get(tok) ?? 0) > 0 && (cr.get(tok) ?? 0) > 0) {
        hits++;
        cc.set(tok, cc.get(tok)! - 1);
        cr.set(tok, cr.get(tok)! - 1);
      }
    }
  }
  const precision = hits / n;
  const recall = hits / m;
  return { precision, recall, fmeasure: fmeasure(precision, recall) };
}
