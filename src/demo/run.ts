// `bfpo demo`: builds the synthetic world, trains a small Llama from scratch (SFT), then helpfulness-only DPO and
// IPO and BFPO from it, evaluates the four models and writes the report, printing each phase and its time.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ArgumentError, expected } from '../errors.js';
import { getNumThreads, setNumThreads } from '../tensor/runtime.js';
import { FULL_PLAN, TINY_PLAN, type DemoPlan } from './plan.js';
import { evaluateDemo, type DemoScores } from './evaluate.js';
import { initialModel, trainPreference, trainSft, type PreferenceMethod } from './stages.js';
import { saveBpeTokenizer, trainBpe } from './train-tokenizer.js';
import { buildWorld, readBehaviours, trainingTexts, writeWorld } from './world.js';
import { writeSummary } from './summary.js';
import type { PhaseTime } from './phase-time.js';
import { loadEvalModel } from '../eval/adapter.js';

export interface DemoOptions {
  /** Output folder (default `demo-out`); refused when it holds anything but an earlier demo. */
  out?: string;
  /** Seeds the world, the initial weights, the data order and the sampling (default 0). */
  seed?: number;
  /** Tiny sizes: every phase in seconds, numbers without meaning (for tests). */
  tiny?: boolean;
  /** libtorch threads (default: BFPO_NUM_THREADS, else 1: the demo's matrices are too small to gain from more, and on a busy
   * machine more threads than free cores make libtorch many times slower). */
  threads?: number;
  /** AdvBench behaviours, one per line (default: the repository's `data/advbench.txt`). */
  advbench?: string;
  /** Where progress lines go (default: console.log). */
  log?: (line: string) => void;
}

export interface DemoResult {
  out: string;
  seed: number;
  scores: DemoScores[];
  phases: PhaseTime[];
  totalSeconds: number;
  /** The summary page (markdown) and the report folder of the evaluation. */
  summary: string;
  reportDir: string;
}

/** The preference methods the demo compares, in report order. */
export const DEMO_METHODS: readonly PreferenceMethod[] = [
  { name: 'dpo', lossType: 'sigmoid', useLabels: false },
  { name: 'ipo', lossType: 'ipo', useLabels: false },
  { name: 'bfpo', lossType: 'bfpo', useLabels: true },
];

const MARKER = 'demo.json';

function prepareOut(out: string): void {
  if (existsSync(out) && readdirSync(out).length > 0) {
    if (!existsSync(join(out, MARKER))) {
      throw new ArgumentError(`The demo output folder ${out} is not empty and holds no earlier demo (${MARKER}); choose another --out`);
    }
    rmSync(out, { recursive: true, force: true });
  }
  mkdirSync(out, { recursive: true });
}

function defaultAdvbench(): string {
  return resolve(new URL('../../data/advbench.txt', import.meta.url).pathname);
}

/**
 * Runs the whole demo and returns the scores of the four models and the time of each phase.
 *
 * @example
 * const { scores, summary } = await runDemo({ out: 'demo-out', seed: 0 });
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const { seed = 0, tiny = false } = options;
  if (!Number.isInteger(seed) || seed < 0) throw expected('a non-negative integer', 'seed', seed);
  const envThreads = Number(process.env.BFPO_NUM_THREADS);
  const threadsBefore = getNumThreads();
  setNumThreads(options.threads ?? (Number.isInteger(envThreads) && envThreads > 0 ? envThreads : 1));
  try {
    return await runPhases({ ...options, seed, tiny });
  } finally {
    setNumThreads(threadsBefore);
  }
}

async function runPhases(options: DemoOptions & { seed: number; tiny: boolean }): Promise<DemoResult> {
  const { seed, tiny } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const plan: DemoPlan = tiny ? TINY_PLAN : FULL_PLAN;
  const out = resolve(options.out ?? 'demo-out');
  prepareOut(out);
  writeFileSync(join(out, MARKER), JSON.stringify({ seed, tiny, started: new Date().toISOString() }, null, 2) + '\n');

  const phases: PhaseTime[] = [];
  const start = performance.now();
  const total = 4 + DEMO_METHODS.length;
  const phase = async <T>(name: string, what: string, fn: () => T | Promise<T>): Promise<T> => {
    log(`[demo ${phases.length + 1}/${total}] ${name}: ${what}`);
    const t = performance.now();
    const value = await fn();
    const seconds = (performance.now() - t) / 1000;
    phases.push({ phase: name, seconds });
    log(`[demo ${phases.length}/${total}] ${name} done in ${seconds.toFixed(1)} s (total ${((performance.now() - start) / 1000).toFixed(1)} s)`);
    return value;
  };
  log(`bfpo demo: seed ${seed}${tiny ? ', tiny sizes' : ''}, ${getNumThreads()} threads, output in ${out}`);

  const data = await phase('world', 'benign questions, AdvBench-based harmful requests (a held-out part), responses', () => {
    const world = buildWorld(readBehaviours(options.advbench ?? defaultAdvbench()), { seed, scale: plan.worldScale });
    const paths = writeWorld(world, join(out, 'data'));
    log(`  sft ${world.sft.length} conversations, ${world.preferences.length} preference pairs (${world.preferences.filter((p) => p.is_chosen_safe === 0).length} harmful), ` +
      `buffer ${world.buffer.length}; held out: ${world.evalHarmful.length} harmful, ${world.evalBenign.length} benign questions, ${world.evalOverRefusal.length} benign prompts`);
    return { world, paths };
  });
  const tokenizerDir = join(out, 'tokenizer');
  await phase('tokenizer', `byte-level BPE with ${plan.vocabSize} entries`, () => {
    saveBpeTokenizer(trainBpe(trainingTexts(data.world), plan.vocabSize), tokenizerDir, { maxLength: plan.model.maxPositionEmbeddings });
  });
  const models = join(out, 'models');
  const recipes = join(out, 'recipes');
  const sftDir = await phase('sft', `a Llama trained from scratch on the SFT mix (${plan.sft.epochs} epochs)`, () => {
    const init = initialModel({ plan, seed, tokenizerDir, dir: join(models, 'init') });
    log(`  ${init.parameters.toLocaleString('en-US')} parameters: hidden ${plan.model.hiddenSize}, ${plan.model.numHiddenLayers} layers, vocab ${plan.vocabSize}`);
    return trainSft({ plan, seed, from: init.dir, data: data.paths.sft, dir: join(models, 'sft'), recipes, log });
  });
  const trained: Record<string, string> = { sft: sftDir };
  for (const method of DEMO_METHODS) {
    const what = method.useLabels
      ? `${method.lossType} with safety labels and the helpfulness buffer`
      : `${method.lossType} loss, helpfulness preferences only (safety labels ignored), same data and buffer`;
    trained[method.name] = await phase(method.name, what, () => trainPreference({
      plan, seed, method, from: sftDir, data: data.paths.preferences, buffer: data.paths.buffer,
      dir: join(models, method.name), cacheDir: join(out, 'cache'), recipes, log,
    }));
  }
  const reportDir = join(out, 'report');
  const scores = await phase('eval', 'harmlessness (refusal judge, held-out harmful), accuracy (held-out questions), over-refusal', () =>
    evaluateDemo({ plan, seed, models: trained, paths: data.paths, out: reportDir, loadModel: loadEvalModel, quiet: tiny }));
  const totalSeconds = (performance.now() - start) / 1000;
  const summary = writeSummary({ out, seed, tiny, scores, phases, totalSeconds, reportDir });
  for (const line of summaryLines(scores)) log(line);
  log(`bfpo demo finished in ${totalSeconds.toFixed(0)} s. Report: ${summary} (plot and generations in ${reportDir})`);
  return { out, seed, scores, phases, totalSeconds, summary, reportDir };
}

/** The result table as console lines. */
export function summaryLines(scores: DemoScores[]): string[] {
  const f = (x: number | null) => (x === null ? '   -  ' : x.toFixed(3).padStart(6));
  return [
    'model   harmlessness  accuracy  over-refusal  helpfulness',
    ...scores.map((s) => `${s.name.padEnd(6)}  ${f(s.harmlessness)}        ${f(s.accuracy)}    ${f(s.overRefusal)}        ${f(s.helpfulness)}`),
  ];
}
