// Command-line arguments of `bfpo demo`.
import { ArgumentError, expected } from '../errors.js';
import type { DemoOptions } from './run.js';

export const DEMO_USAGE = 'bfpo demo [--out DIR] [--seed N] [--threads N] [--tiny]';

export const DEMO_HELP = [
  'Builds a synthetic assistant world (benign questions with checkable answers, harmful requests from AdvBench with',
  'a held-out part, placeholder-only unsafe answers), trains a small Llama from scratch with SFT, then DPO and IPO',
  '(helpfulness preferences only) and BFPO (with safety labels and a helpfulness buffer) from it, evaluates the four',
  'models (harmlessness on held-out harmful requests, accuracy on held-out questions, over-refusal) and writes the',
  'report with the harmlessness-vs-helpfulness plot. About 5 to 10 minutes on a 2-core CPU; nothing is downloaded.',
  '',
  '  --out DIR     output folder (default demo-out; an earlier demo there is replaced)',
  '  --seed N      seed of the world, the weights, the data order and the sampling (default 0)',
  '  --threads N   libtorch threads (default: 1, or BFPO_NUM_THREADS)',
  '  --tiny        tiny sizes: every phase in seconds, numbers without meaning (used by the tests)',
].join('\n');

/** Parses `--out DIR --seed N --threads N --tiny` (also `--key=value`). */
export function parseDemoArgs(args: string[]): DemoOptions {
  const o: DemoOptions = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const eq = a.indexOf('=');
    const key = eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      if (eq > 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new ArgumentError(`${key} needs a value (${DEMO_USAGE})`);
      return v;
    };
    const int = (name: string, v: string, min: number): number => {
      const n = Number(v);
      if (!(Number.isInteger(n) && n >= min) || v.trim() === '') throw expected(`an integer >= ${min}`, name, v);
      return n;
    };
    if (key === '--out') o.out = value();
    else if (key === '--seed') o.seed = int('--seed', value(), 0);
    else if (key === '--threads') o.threads = int('--threads', value(), 1);
    else if (key === '--tiny' && eq < 0) o.tiny = true;
    else throw new ArgumentError(`Unknown argument "${a}" (${DEMO_USAGE})`);
  }
  return o;
}
