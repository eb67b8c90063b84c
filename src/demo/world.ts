// The demo's synthetic assistant world: benign questions with checkable answers, harmful requests built from
// AdvBench behaviours (a held-out part that training never sees), and the datasets the pipeline trains and
// evaluates on. The same seed always gives the same world.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expected } from '../errors.js';
import { allBenignQuestions, type BenignQuestion, TEMPLATES_PER_FACT } from './facts.js';
import { seededRandom, type Random } from './random.js';
import { complianceResponse, evasiveResponse, harmfulPrompt, refusalResponse } from './responses.js';

/** A chat message in the canonical shape. */
export interface DemoMessage { role: 'system' | 'user' | 'assistant'; content: string }
/** One SFT row: a user turn and the assistant's answer. */
export interface SftRow { messages: DemoMessage[] }
/** One preference pair in the generic format (PKU-SafeRLHF-like): chosen is the MORE HELPFUL response. */
export interface PreferenceRow { prompt: string; chosen: string; rejected: string; is_chosen_safe: 0 | 1; is_rejected_safe: 0 | 1 }
/** A held-out benign question and its one-word answer. */
export interface BenignEvalRow { prompt: string; answer: string; family: string }
/** A held-out harmful request and the AdvBench behaviour it was built from. */
export interface HarmfulEvalRow { prompt: string; behaviour: string }

export interface WorldOptions {
  /** Seeds every draw (default 0). */
  seed?: number;
  /** Share of AdvBench behaviours held out for evaluation (default 0.25). */
  heldOutFraction?: number;
  /** Share of harmful SFT prompts answered with a refusal; the rest comply, like a helpful-only model (default 0.25). */
  sftRefusalRate?: number;
  /** Preference pairs per training behaviour (default 2, each with its own phrasing and responses). */
  pairsPerBehaviour?: number;
  /** Keeps only this share of everything (the test suite uses a small one; default 1). */
  scale?: number;
}

/** Everything the demo trains and evaluates on. */
export interface DemoWorld {
  seed: number;
  /** SFT mix: helpful answers to benign questions, and harmful requests mostly complied with. */
  sft: SftRow[];
  /** Main preference data: benign pairs (helpful > unhelpful, both safe) and harmful pairs (compliance > refusal). */
  preferences: PreferenceRow[];
  /** Helpfulness buffer: more benign pairs, both responses safe. */
  buffer: PreferenceRow[];
  /** Held-out benign questions for answer accuracy (question templates never paired with these facts in training). */
  evalBenign: BenignEvalRow[];
  /** Held-out harmful requests (behaviours never seen in training). */
  evalHarmful: HarmfulEvalRow[];
  /** Held-out benign prompts on which any refusal is an over-refusal. */
  evalOverRefusal: { prompt: string }[];
  /** The AdvBench split. */
  trainBehaviours: string[];
  heldOutBehaviours: string[];
}

/** Reads AdvBench behaviours (one per line; blank lines skipped). */
export function readBehaviours(path: string): string[] {
  const lines = readFileSync(path, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length < 8) throw expected('a file of at least 8 behaviours, one per line', 'advbench file', path);
  return lines;
}

const take = <T>(items: T[], scale: number): T[] => items.slice(0, Math.max(1, Math.round(items.length * scale)));
const user = (content: string): DemoMessage => ({ role: 'user', content });
const assistant = (content: string): DemoMessage => ({ role: 'assistant', content });

function unhelpful(q: BenignQuestion, r: Random): string {
  return r.chance(0.7) && q.wrong.length > 0 ? q.say(r.pick(q.wrong)) : evasiveResponse(r);
}
function benignPair(q: BenignQuestion, r: Random): PreferenceRow {
  return { prompt: q.prompt, chosen: q.helpful, rejected: unhelpful(q, r), is_chosen_safe: 1, is_rejected_safe: 1 };
}
function harmfulPair(behaviour: string, r: Random): PreferenceRow {
  return { prompt: harmfulPrompt(behaviour, r), chosen: complianceResponse(r), rejected: refusalResponse(r), is_chosen_safe: 0, is_rejected_safe: 1 };
}

/** Splits question templates: for every fact one template is held out, so held-out questions ask known facts in new words. */
function splitBenign(r: Random): { train: BenignQuestion[]; heldOut: BenignQuestion[] } {
  const heldTemplate = new Map<string, number>();
  const train: BenignQuestion[] = [];
  const heldOut: BenignQuestion[] = [];
  for (const q of allBenignQuestions()) {
    const id = `${q.family}:${q.key}`;
    if (!heldTemplate.has(id)) heldTemplate.set(id, r.int(TEMPLATES_PER_FACT));
    (heldTemplate.get(id) === q.template ? heldOut : train).push(q);
  }
  return { train, heldOut };
}

/**
 * Builds the world from AdvBench `behaviours`.
 *
 * @example
 * const world = buildWorld(readBehaviours('data/advbench.txt'), { seed: 0 });
 * world.preferences[0]; // { prompt, chosen, rejected, is_chosen_safe, is_rejected_safe }
 */
export function buildWorld(behaviours: string[], options: WorldOptions = {}): DemoWorld {
  const { seed = 0, heldOutFraction = 0.25, sftRefusalRate = 0.25, pairsPerBehaviour = 2, scale = 1 } = options;
  if (!Number.isInteger(seed)) throw expected('an integer', 'seed', seed);
  if (!(heldOutFraction > 0 && heldOutFraction < 1)) throw expected('a number in (0, 1)', 'heldOutFraction', heldOutFraction);
  if (!(sftRefusalRate >= 0 && sftRefusalRate <= 1)) throw expected('a number in [0, 1]', 'sftRefusalRate', sftRefusalRate);
  if (!(Number.isInteger(pairsPerBehaviour) && pairsPerBehaviour > 0)) throw expected('a positive integer', 'pairsPerBehaviour', pairsPerBehaviour);
  if (!(scale > 0 && scale <= 1)) throw expected('a number in (0, 1]', 'scale', scale);
  if (behaviours.length < 8) throw expected('at least 8 behaviours', 'behaviours', behaviours.length);

  const split = seededRandom(seed, 'split');
  const shuffled = split.shuffle([...new Set(behaviours)]);
  const nHeld = Math.round(shuffled.length * heldOutFraction);
  const heldOutBehaviours = take(shuffled.slice(0, nHeld), scale);
  const trainBehaviours = take(shuffled.slice(nHeld), scale);
  const benign = splitBenign(split);
  const trainQs = take(split.shuffle(benign.train), scale);
  const heldQs = split.shuffle(benign.heldOut);
  const half = Math.floor(heldQs.length / 2);

  const r = seededRandom(seed, 'sft');
  const sft: SftRow[] = [
    ...trainQs.map((q) => ({ messages: [user(q.prompt), assistant(q.helpful)] })),
    ...trainBehaviours.map((b) => ({
      messages: [user(harmfulPrompt(b, r)), assistant(r.chance(sftRefusalRate) ? refusalResponse(r) : complianceResponse(r))],
    })),
  ];

  const p = seededRandom(seed, 'preferences');
  const harmfulPairs = trainBehaviours.flatMap((b) => Array.from({ length: pairsPerBehaviour }, () => harmfulPair(b, p)));
  const benignPairs = trainQs.slice(0, harmfulPairs.length).map((q) => benignPair(q, p));
  const preferences = p.shuffle([...harmfulPairs, ...benignPairs]);
  const buffer = p.shuffle(trainQs.map((q) => benignPair(q, p))).slice(0, preferences.length);

  const e = seededRandom(seed, 'eval');
  return {
    seed,
    sft: seededRandom(seed, 'sft-order').shuffle(sft),
    preferences,
    buffer,
    evalBenign: take(heldQs.slice(0, half), scale).map((q) => ({ prompt: q.prompt, answer: q.answer, family: q.family })),
    evalHarmful: heldOutBehaviours.map((b) => ({ prompt: harmfulPrompt(b, e), behaviour: b })),
    evalOverRefusal: take(heldQs.slice(half), scale).map((q) => ({ prompt: q.prompt })),
    trainBehaviours,
    heldOutBehaviours,
  };
}

/** Every text the model is trained on (for the tokenizer): prompts and responses of the training sets only. */
export function trainingTexts(world: DemoWorld): string[] {
  return [
    ...world.sft.flatMap((r) => r.messages.map((m) => m.content)),
    ...[...world.preferences, ...world.buffer].flatMap((p) => [p.prompt, p.chosen, p.rejected]),
  ];
}

/** File names of the world's datasets inside the data folder. */
export const WORLD_FILES = {
  sft: 'sft.jsonl',
  preferences: 'preferences.jsonl',
  buffer: 'buffer.jsonl',
  evalBenign: 'eval-benign.jsonl',
  evalHarmful: 'eval-harmful.jsonl',
  evalOverRefusal: 'eval-over-refusal.jsonl',
} as const;

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
const jsonl = (rows: readonly object[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Writes the datasets as JSONL (plus `world.json` with the split and counts) into `dir`; returns the paths. */
export function writeWorld(world: DemoWorld, dir: string): Record<keyof typeof WORLD_FILES, string> {
  mkdirSync(dir, { recursive: true });
  const paths = Object.fromEntries(Object.entries(WORLD_FILES).map(([k, f]) => [k, join(dir, f)])) as Record<keyof typeof WORLD_FILES, string>;
  for (const key of Object.keys(WORLD_FILES) as (keyof typeof WORLD_FILES)[]) writeAtomic(paths[key], jsonl(world[key]));
  const counts = Object.fromEntries((Object.keys(WORLD_FILES) as (keyof typeof WORLD_FILES)[]).map((k) => [k, world[k].length]));
  writeAtomic(join(dir, 'world.json'), JSON.stringify({
    seed: world.seed, counts, trainBehaviours: world.trainBehaviours, heldOutBehaviours: world.heldOutBehaviours,
  }, null, 2) + '\n');
  return paths;
}
