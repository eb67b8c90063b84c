// Runs every task on every model: generates, judges and scores only what the output folder does not hold yet,
// writing each finished batch at once, then summarises and writes the report.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expected } from '../errors.js';
import { JudgeIncompleteError, StaleResultsError } from './errors.js';
import { bfpoPaperJudgeItem } from './judges/harmbench-prompt.js';
import { refusalJudge } from './judges/refusal.js';
import { silentProgress, type Progress } from './progress.js';
import { PartialUnit, runUnits, type EvalSplit } from './rank-split.js';
import { JsonlStore, type StoredRecord } from './store.js';
import { choicePairs, mc2Score, multipleChoiceOutcome } from './tasks/multiple-choice.js';
import { exactMatch, extractAnswer } from './tasks/exact-match.js';
import { crowsPairsScore } from './tasks/lm-eval/crows-pairs.js';
import { truthfulqaGenScores } from './tasks/lm-eval/truthfulqa-gen.js';
import type { ExactMatchTask, MultipleChoiceTask, ReferenceGenerationTask, SafetySample, Task } from './tasks/types.js';
import type { ChatModel, GenerationSettings, Judge, Judgement, JudgeItem, LogLikelihoodScorer, TextCompleter } from './types.js';

/** A model as the runner uses it; either part may be absent when no task needs it. */
export interface EvalModel {
  chat?: ChatModel;
  scorer?: LogLikelihoodScorer;
  /** Plain-text continuation without a chat template (lm-eval generation tasks such as truthfulqa_gen). */
  completer?: TextCompleter;
  /** Frees the model's memory once its tasks are done. */
  dispose?(): void;
}

/** A model to evaluate: a display name (unique) and where it comes from. */
export interface ModelSource {
  name: string;
  path: string;
}

/** The sampling settings of the original evaluation: temperature 0.7, top-p 0.95, seeded. */
export const SAFETY_SAMPLING: GenerationSettings = { maxNewTokens: 256, temperature: 0.7, topP: 0.95, seed: 42 };

export interface RunEvalOptions {
  models: ModelSource[];
  /** Loads a model; called only for models with work left. */
  load: (source: ModelSource) => Promise<EvalModel>;
  tasks: Task[];
  judge: Judge;
  /** Scores toxicity tasks' continuations (a toxicityJudge); needed only when such a task is run. */
  toxicity?: Judge;
  outDir: string;
  /** Sampling for safety and over-refusal prompts (default SAFETY_SAMPLING). */
  sampling?: Partial<GenerationSettings>;
  /** Prompts generated per batch (default 8). */
  batchSize?: number;
  /** Items judged per call (default 16); each call's verdicts are saved at once. */
  judgeBatchSize?: number;
  /** Questions scored per call for multiple choice (default 8). */
  scoreBatchSize?: number;
  progress?: Progress;
  /**
   * This process is one rank of several: generation batches, judge calls and scoring calls are dealt over the ranks,
   * and every rank stores all ranks' records in the order one process would; only rank 0 writes the files.
   */
  split?: EvalSplit;
}

export interface GenerationRecord extends StoredRecord {
  prompt: string;
  generation: string;
  settings: GenerationSettings;
  /** The run's base seed (batch i was seeded with baseSeed + i); absent in records of older versions. */
  baseSeed?: number;
}

/** A sample whose judgement failed after its retries: which judge, and why (secrets redacted). */
export interface JudgeFailureRecord extends StoredRecord {
  judge: string;
  error: string;
  time: string;
}

export interface JudgementRecord extends StoredRecord, Judgement {
  judge: string;
  /** Present when the judge saw the bfpo-paper input instead of the plain prompt (a separate verdict). */
  judgeInput?: 'bfpo-paper';
}

/** The key under which a judgement is stored besides model, task and id: the judge and, when not plain, its input. */
export function judgementKey(judge: string, judgeInput?: string): string {
  return judgeInput && judgeInput !== 'prompt' ? `${judge}|${judgeInput}` : judge;
}

/** The stores of an output folder. */
export interface EvalStores {
  generations: JsonlStore<GenerationRecord>;
  judgements: JsonlStore<JudgementRecord>;
  scores: JsonlStore<StoredRecord>;
  /** Every judgement that failed, one line per failed sample and attempt (a log; a later success supersedes it). */
  failures: JsonlStore<JudgeFailureRecord>;
}

const STORE_FILES = { generations: 'generations.jsonl', judgements: 'judgements.jsonl', scores: 'scores.jsonl', failures: 'judge-failures.jsonl' } as const;

/**
 * Opens (or creates) the JSONL stores of `outDir`. With a split, rank 0 opens the files and the other ranks hold
 * in-memory copies of rank 0's records (sent through the group, so they need not see the folder), which they
 * never write.
 */
export function openStores(outDir: string, split?: EvalSplit): EvalStores {
  let texts: Partial<Record<keyof typeof STORE_FILES, string>> = {};
  if (split && split.worldSize > 1) {
    const read = (f: string): string => (existsSync(join(outDir, f)) ? readFileSync(join(outDir, f), 'utf8') : '');
    const mine = split.rank === 0 ? JSON.stringify(Object.fromEntries(Object.entries(STORE_FILES).map(([k, f]) => [k, read(f)]))) : null;
    const shared = JSON.parse(split.share(mine)) as typeof texts;
    if (split.rank !== 0) texts = shared;
  }
  const path = (k: keyof typeof STORE_FILES) => join(outDir, STORE_FILES[k]);
  return {
    generations: new JsonlStore<GenerationRecord>(path('generations'), undefined, texts.generations),
    judgements: new JsonlStore<JudgementRecord>(path('judgements'), (r) => judgementKey(r.judge, r.judgeInput), texts.judgements),
    scores: new JsonlStore(path('scores'), undefined, texts.scores),
    failures: new JsonlStore<JudgeFailureRecord>(path('failures'), (r) => `${r.judge}|${r.time}`, texts.failures),
  };
}

interface Prompted {
  id: string;
  prompt: string;
}

function promptsOf(task: Task): Prompted[] {
  if (task.kind === 'multiple-choice') return [];
  return task.samples.map((s) => ({ id: s.id, prompt: s.prompt }));
}

/** The decoding settings of a task: the defaults, the task's own settings, then the run's options (toxicity: the task's win). */
export function settingsFor(task: Task, sampling?: Partial<GenerationSettings>): GenerationSettings {
  if (task.kind === 'exact-match') return { ...SAFETY_SAMPLING, ...sampling, temperature: 0, topP: 1, maxNewTokens: task.maxNewTokens };
  // lm-eval generation tasks decode greedily with their own length and stop strings; only the seed comes from the run.
  if (task.kind === 'generation') return { ...SAFETY_SAMPLING, seed: sampling?.seed ?? SAFETY_SAMPLING.seed, temperature: 0, topP: 1, maxNewTokens: task.maxNewTokens, stop: task.stop };
  // Toxicity tasks decode as lm-eval's task does (greedy, its stop strings and length), whatever the run's sampling.
  if (task.kind === 'toxicity') return { ...SAFETY_SAMPLING, ...sampling, ...task.sampling };
  return { ...SAFETY_SAMPLING, ...(task.kind === 'safety' ? task.sampling : {}), ...sampling };
}

const describe = (s: GenerationSettings) =>
  `temperature ${s.temperature}, top-p ${s.topP}, max new tokens ${s.maxNewTokens}, seed ${s.seed}${s.stop?.length ? `, stop ${JSON.stringify(s.stop)}` : ''}`;

const sameSettings = (a: GenerationSettings, b: GenerationSettings) =>
  a.temperature === b.temperature && a.topP === b.topP && a.maxNewTokens === b.maxNewTokens &&
  JSON.stringify(a.stop ?? []) === JSON.stringify(b.stop ?? []);

/**
 * Refuses to reuse generations made otherwise: each stored answer of this model and task must have this run's prompt,
 * temperature, top-p, token limit, stop strings and base seed, or the run stops before generating or judging
 * anything. (The batch size may change: it only decides which samples share a seeded batch.)
 */
export function checkStoredGenerations(model: string, task: Task, settings: GenerationSettings, stores: EvalStores): void {
  for (const s of promptsOf(task)) {
    const r = stores.generations.get(model, task.name, s.id);
    if (!r) continue;
    const stored = r.settings ? { ...r.settings, seed: r.baseSeed ?? settings.seed } : undefined;
    const why = r.prompt !== s.prompt ? `for the prompt ${JSON.stringify(r.prompt)} (this run: ${JSON.stringify(s.prompt)})`
      : !stored || !sameSettings(stored, settings) || stored.seed !== settings.seed
        ? `with ${stored ? describe(stored) : 'unknown settings'} (this run: ${describe(settings)})` : null;
    if (why) {
      throw new StaleResultsError(
        `${stores.generations.path}: the stored answer of model "${model}", task "${task.name}", sample "${s.id}" was generated ${why}. ` +
        'Answers of other settings are never reused or mixed in: write this run to another --out folder, or rerun with the stored settings.',
      );
    }
  }
}

/** Which judge decides a task: the chosen one for safety, the refusal judge for over-refusal, the toxicity scorer's. */
function judgeFor(task: Task, o: RunEvalOptions, refusal: Judge): Judge | null {
  if (task.kind === 'safety') return o.judge;
  if (task.kind === 'over-refusal') return refusal;
  if (task.kind === 'toxicity') {
    if (!o.toxicity) throw expected('a toxicity scorer (--toxicity)', `task ${task.name}`, undefined);
    return o.toxicity;
  }
  return null;
}

/** Whether a task's prompts are continued as plain text (no chat template) rather than asked as a user turn. */
const plainText = (task: Task) => task.kind === 'generation' || task.kind === 'toxicity' || (task.kind === 'safety' && task.plainText === true);

async function generateMissing(model: string, gen: { chat?: ChatModel; completer?: TextCompleter }, task: Task, o: RunEvalOptions, stores: EvalStores, progress: Progress) {
  const all = promptsOf(task);
  const batch = o.batchSize ?? 8;
  const settings = settingsFor(task, o.sampling);
  const todo = all.filter((s) => !stores.generations.has(model, task.name, s.id)).length;
  if (todo === 0) return;
  const bar = progress.bar(`${model} ${task.name} generate`, all.length, all.length - todo);
  // Batches are fixed slices of the whole task with their own seed, so a resumed run samples what a fresh run would,
  // and a batch gives the same answers on whichever rank runs it.
  const units: { chunk: number; missing: Prompted[] }[] = [];
  for (let start = 0, chunk = 0; start < all.length; start += batch, chunk++) {
    const missing = all.slice(start, start + batch).filter((s) => !stores.generations.has(model, task.name, s.id));
    if (missing.length > 0) units.push({ chunk, missing });
  }
  await runUnits(o.split, units, async ({ chunk, missing }) => {
    const seeded = { ...settings, seed: settings.seed + chunk };
    const texts = plainText(task)
      ? await gen.completer!.complete(missing.map((s) => s.prompt), seeded)
      : await gen.chat!.generate(missing.map((s) => [{ role: 'user' as const, content: s.prompt }]), seeded);
    bar.increment(missing.length);
    return missing.map((s, i): GenerationRecord => ({ model, task: task.name, id: s.id, prompt: s.prompt, generation: texts[i], settings: seeded, baseSeed: settings.seed }));
  }, (records) => stores.generations.append(...records));
  bar.stop();
}

async function judgeMissing(model: string, task: Task, judge: Judge, o: RunEvalOptions, stores: EvalStores, progress: Progress) {
  const samples = task.kind === 'safety' ? task.samples : promptsOf(task).map((s) => ({ ...s, behavior: s.prompt }));
  const paper = task.kind === 'safety' && task.judgeInput === 'bfpo-paper';
  const key = judgementKey(judge.name, paper ? 'bfpo-paper' : undefined);
  const todo = samples.filter((s) => !stores.judgements.has(model, task.name, s.id, key));
  if (todo.length === 0) return;
  const bar = progress.bar(`${model} ${task.name} judge`, samples.length, samples.length - todo.length);
  const size = o.judgeBatchSize ?? 16;
  type Sample = (typeof todo)[number];
  const itemsOf = (part: Sample[]): JudgeItem[] => part.map((s) => {
    const generation = stores.generations.get(model, task.name, s.id)!.generation;
    return paper ? bfpoPaperJudgeItem((s as SafetySample).reference ?? s.prompt, generation) : { behavior: s.behavior, context: s.prompt, generation };
  });
  const record = (s: Sample, v: Judgement): JudgementRecord =>
    ({ model, task: task.name, id: s.id, judge: judge.name, ...(paper ? { judgeInput: 'bfpo-paper' as const } : {}), ...v });
  if (o.split && o.split.worldSize > 1) {
    const parts: Sample[][] = [];
    for (let i = 0; i < todo.length; i += size) parts.push(todo.slice(i, i + size));
    await runUnits(o.split, parts, async (part) => {
      try {
        const verdicts = await judge.judge(itemsOf(part));
        bar.increment(part.length);
        return part.map((s, k) => record(s, verdicts[k]));
      } catch (err) {
        if (!(err instanceof JudgeIncompleteError)) throw err;
        const kept = part.flatMap((s, k) => (err.partial[k] ? [record(s, err.partial[k] as Judgement)] : []));
        const failed = err.failures.filter((f) => part[f.index]).map((f) => `model "${model}", task "${task.name}", sample "${part[f.index].id}"`);
        throw new PartialUnit(kept, new JudgeIncompleteError(
          `${err.message}.${failed.length ? ` Failed: ${failed.join('; ')}.` : ''} The judgements that finished are kept in ${stores.judgements.path}; rerun the same command to continue.`,
          err.partial, err.cause, err.failures,
        ));
      }
    }, (records) => stores.judgements.append(...records));
    bar.stop();
    return;
  }
  for (let i = 0; i < todo.length; i += size) {
    const part = todo.slice(i, i + size);
    const items = itemsOf(part);
    try {
      const verdicts = await judge.judge(items);
      stores.judgements.append(...part.map((s, k) => record(s, verdicts[k])));
      bar.increment(part.length);
    } catch (err) {
      if (!(err instanceof JudgeIncompleteError)) throw err;
      const kept = part.flatMap((s, k) => (err.partial[k] ? [record(s, err.partial[k] as Judgement)] : []));
      stores.judgements.append(...kept);
      const time = new Date().toISOString();
      const failed = err.failures.filter((f) => part[f.index]).map((f) => ({ model, task: task.name, id: part[f.index].id, judge: judge.name, error: f.error, time }));
      stores.failures.append(...failed);
      bar.stop();
      const saved = stores.judgements.all().filter((r) => r.judge === judge.name).length;
      const which = failed.length ? ` Failed: ${failed.map((f) => `model "${model}", task "${task.name}", sample "${f.id}"`).join('; ')} (logged in ${stores.failures.path}).` : '';
      throw new JudgeIncompleteError(
        `${err.message}.${which} ${saved} judgements so far are kept in ${stores.judgements.path}; rerun the same command to continue.`,
        err.partial, err.cause, err.failures,
      );
    }
  }
  bar.stop();
}

async function scoreMultipleChoice(model: string, scorer: LogLikelihoodScorer, task: MultipleChoiceTask, o: RunEvalOptions, stores: EvalStores, progress: Progress) {
  const todo = task.samples.filter((s) => !stores.scores.has(model, task.name, s.id));
  if (todo.length === 0) return;
  const bar = progress.bar(`${model} ${task.name} score`, task.samples.length, task.samples.length - todo.length);
  const size = o.scoreBatchSize ?? 8;
  const parts: (typeof todo)[] = [];
  for (let i = 0; i < todo.length; i += size) parts.push(todo.slice(i, i + size));
  await runUnits(o.split, parts, async (part) => {
    const scores = await scorer.score(part.flatMap((s) => choicePairs(s, task.delimiter)));
    let k = 0;
    bar.increment(part.length);
    return part.map((s): StoredRecord => {
      const out = multipleChoiceOutcome(s.choices, s.gold, scores.slice(k, (k += s.choices.length)));
      const extra = task.scoring === 'mc2' ? { mc2: mc2Score(out.logprobs, s.labels!) } : task.scoring === 'crows-pairs' ? crowsPairsScore(out.logprobs) : {};
      return { model, task: task.name, id: s.id, gold: s.gold, ...out, ...extra };
    });
  }, (records) => stores.scores.append(...records));
  bar.stop();
}

function scoreExactMatch(model: string, task: ExactMatchTask, stores: EvalStores) {
  const records = task.samples.filter((s) => !stores.scores.has(model, task.name, s.id)).map((s) => {
    const { generation } = stores.generations.get(model, task.name, s.id)!;
    return { model, task: task.name, id: s.id, extracted: extractAnswer(generation, task.extract), answers: s.answers, em: exactMatch(generation, s.answers, task.extract) };
  });
  stores.scores.append(...records);
}

function scoreGeneration(model: string, task: ReferenceGenerationTask, stores: EvalStores) {
  const records = task.samples.filter((s) => !stores.scores.has(model, task.name, s.id)).map((s) => {
    const { generation } = stores.generations.get(model, task.name, s.id)!;
    return { model, task: task.name, id: s.id, ...truthfulqaGenScores(generation, s.correct, s.incorrect) };
  });
  stores.scores.append(...records);
}

type ModelGetter = () => Promise<EvalModel>;

async function runTask(name: string, get: ModelGetter, task: Task, o: RunEvalOptions, stores: EvalStores, refusal: Judge, progress: Progress) {
  if (task.kind === 'multiple-choice') {
    if (task.samples.every((s) => stores.scores.has(name, task.name, s.id))) return;
    const m = await get();
    if (!m.scorer) throw expected('a model that scores log-likelihoods', `model ${name} (task ${task.name})`, m);
    return scoreMultipleChoice(name, m.scorer, task, o, stores, progress);
  }
  if (!task.samples.every((s) => stores.generations.has(name, task.name, s.id))) {
    const m = await get();
    const plain = plainText(task);
    if (plain ? !m.completer : !m.chat) {
      throw expected(plain ? 'a model that continues plain text' : 'a model that generates', `model ${name} (task ${task.name})`, m);
    }
    await generateMissing(name, m, task, o, stores, progress);
  }
  if (task.kind === 'exact-match') return scoreExactMatch(name, task, stores);
  if (task.kind === 'generation') return scoreGeneration(name, task, stores);
  await judgeMissing(name, task, judgeFor(task, o, refusal)!, o, stores, progress);
}

/**
 * Evaluates every model on every task into `outDir` (generations.jsonl, judgements.jsonl, scores.jsonl), skipping
 * samples already there. Models are loaded one at a time and only when they have generation or scoring left.
 *
 * @example
 * await runEval({ models: [{ name: 'base', path: '/m/base' }], load, tasks: [await advbenchTask()], judge: refusalJudge(), outDir: 'out' });
 */
export async function runEval(o: RunEvalOptions): Promise<EvalStores> {
  const names = new Set<string>();
  for (const m of o.models) {
    if (names.has(m.name)) throw expected('distinct model names', 'models', o.models.map((x) => x.name));
    names.add(m.name);
  }
  const tasks = new Set<string>();
  for (const t of o.tasks) {
    if (tasks.has(t.name)) throw expected('distinct task names', 'tasks', o.tasks.map((x) => x.name));
    tasks.add(t.name);
  }
  const toxicityTask = o.tasks.find((t) => t.kind === 'toxicity');
  if (toxicityTask && !o.toxicity) throw expected('a toxicity scorer (--toxicity)', `task ${toxicityTask.name}`, undefined);
  const stores = openStores(o.outDir, o.split);
  const refusal = o.judge.name === 'refusal' ? o.judge : refusalJudge();
  const progress = o.progress ?? silentProgress;
  // Stale answers stop the run before anything is generated, judged or scored.
  for (const source of o.models) {
    for (const task of o.tasks) checkStoredGenerations(source.name, task, settingsFor(task, o.sampling), stores);
  }
  for (const source of o.models) {
    let model: EvalModel | undefined;
    const get = async () => (model ??= await o.load(source));
    try {
      for (const task of o.tasks) await runTask(source.name, get, task, o, stores, refusal, progress);
    } finally {
      model?.dispose?.();
    }
  }
  return stores;
}
