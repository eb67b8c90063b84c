// BLEU of one hypothesis against references as sacrebleu 2.x computes `corpus_bleu` on a single segment: its "intl"
// (mteval-v14 international) or "13a" tokenizer, n-grams up to 4, clipped counts, the closest reference length for
// the brevity penalty, "exp" smoothing, and 0 when no n-gram matches at all. Scores are on sacrebleu's 0-100 scale.

/** Python's `str.split()` whitespace (str.isspace), so tokens split as sacrebleu's do. */
const PY_SPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** Python's `' '.join(text.split())`. */
export function pythonSplit(text: string): string[] {
  return text.split(PY_SPACE).filter((t) => t !== '');
}

/**
 * sacrebleu's "intl" tokenizer: punctuation not preceded by a digit is split off (then punctuation not followed by
 * a digit), symbols are split off, and whitespace collapses to single spaces.
 *
 * @example tokenizeIntl('It costs $3,000.') // 'It costs $ 3,000.'
 */
export function tokenizeIntl(line: string): string {
  const out = line
    .replace(/(\P{N})(\p{P})/gu, '$1 $2 ')
    .replace(/(\p{P})(\P{N})/gu, ' $1 $2')
    .replace(/(\p{S})/gu, ' $1 ');
  return pythonSplit(out).join(' ');
}

/**
 * sacrebleu's default "13a" tokenizer (mteval-v13a): skipped tags and line joins removed, `&quot; &amp; &lt; &gt;`
 * unescaped, punctuation and symbols split off, a period or comma kept inside numbers, a dash kept after a digit.
 *
 * @example tokenize13a('Hello, world!') // 'Hello , world !'
 */
export function tokenize13a(line: string): string {
  let s = line.replace(/<skipped>/g, '').replace(/-\n/g, '').replace(/\n/g, ' ');
  if (s.includes('&')) s = s.replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');
  s = ` ${s} `;
  s = s.replace(/([{-~[-` -&(-+:-@/])/g, ' $1 ');
  s = s.replace(/([^0-9])([.,])/g, '$1 $2 ');
  s = s.replace(/([.,])([^0-9])/g, ' $1 $2');
  s = s.replace(/([0-9])(-)/g, '$1 $2 ');
  return pythonSplit(s).join(' ');
}

export type BleuTokenizer = 'intl' | '13a';

function ngrams(tokens: string[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = tokens.slice(i, i + n).join(' ');
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/** Options of `sentenceBleu`; the defaults are what lm-eval's truthfulqa_gen passes to sacrebleu. */
export interface BleuOptions {
  tokenize?: BleuTokenizer;
  /** Use the highest n-gram order the hypothesis has instead of 4 (sacrebleu's use_effective_order; default false). */
  effectiveOrder?: boolean;
}

/**
 * BLEU (0-100) of `hypothesis` against `references` with exp smoothing: a precision with no match becomes
 * 100 / (2^k * total) for the k-th such order; without any match at all the score is 0; orders with no hypothesis
 * n-grams end the product, counting as log(0) unless `effectiveOrder`. Brevity penalty exp(1 - r/c) when the
 * hypothesis (c tokens) is shorter than the closest reference length r (the shorter one on a tie); 0 when c = 0.
 *
 * @example sentenceBleu('the cat sat on the mat', ['the cat sat on the mat']) // 100
 */
export function sentenceBleu(hypothesis: string, references: string[], o: BleuOptions = {}): number {
  const tok = (o.tokenize ?? 'intl') === 'intl' ? tokenizeIntl : tokenize13a;
  const hyp = pythonSplit(tok(hypothesis.trimEnd()));
  const refs = references.map((r) => pythonSplit(tok(r.trimEnd())));
  if (refs.length === 0) throw new RangeError('BLEU needs at least one reference');
  let refLen = refs[0].length;
  for (const r of refs) {
    const d = Math.abs(r.length - hyp.length);
    const best = Math.abs(refLen - hyp.length);
    if (d < best || (d === best && r.length < refLen)) refLen = r.length;
  }
  const correct: number[] = [];
  const total: number[] = [];
  for (let n = 1; n <= 4; n++) {
    const h = ngrams(hyp, n);
    const maxRef = new Map<string, number>();
    for (const r of refs) for (const [k, c] of ngrams(r, n)) maxRef.set(k, Math.max(maxRef.get(k) ?? 0, c));
    let match = 0;
    for (const [k, c] of h) match += Math.min(c, maxRef.get(k) ?? 0);
    correct.push(match);
    total.push(Math.max(0, hyp.length - n + 1));
  }
  const bp = hyp.length < refLen ? (hyp.length > 0 ? Math.exp(1 - refLen / hyp.length) : 0) : 1;
  if (correct.every((c) => c === 0)) return 0;
  const precisions = [0, 0, 0, 0];
  let smooth = 1;
  let order = 4;
  for (let n = 0; n < 4; n++) {
    if (total[n] === 0) break;
    if (o.effectiveOrder) order = n + 1;
    if (correct[n] === 0) {
      smooth *= 2;
      precisions[n] = 100 / (smooth * total[n]);
    } else {
      precisions[n] = (100 * correct[n]) / total[n];
    }
  }
  // sacrebleu's my_log: log(0) is -9999999999, so a missing order drives the score to 0 without a NaN.
  const logs = precisions.slice(0, order).map((p) => (p === 0 ? -9999999999 : Math.log(p)));
  return bp * Math.exp(logs.reduce((a, b) => a + b, 0) / order);
}
