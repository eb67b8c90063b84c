// Generative exact-match tasks: answer extraction from a generation and SQuAD-style normalisation before comparing.
import { TaskDataError } from '../errors.js';
import { readRecords, sampleId, stringField } from '../records.js';
import type { ExactMatchSample, ExactMatchTask } from './types.js';

export interface ExactMatchFileOptions {
  promptField?: string;
  answerField?: string;
  extract?: string;
  maxNewTokens?: number;
  limit?: number;
}

/**
 * Loads a generative exact-match task: records with a prompt and an answer (a string or a list of accepted strings).
 *
 * @example
 * // {"prompt": "What is 2 + 3? Answer with a number.", "answer": "5"}
 * const task = await loadExactMatch('arith.jsonl', 'arith', { extract: '(-?\\d+)' });
 */
export async function loadExactMatch(file: string, name: string, o: ExactMatchFileOptions = {}): Promise<ExactMatchTask> {
  const [pf, af] = [o.promptField ?? 'prompt', o.answerField ?? 'answer'];
  if (o.extract !== undefined) compileExtract(o.extract);
  const samples: ExactMatchSample[] = [];
  for (const r of await readRecords(file)) {
    if (o.limit !== undefined && samples.length >= o.limit) break;
    const prompt = stringField(file, r, pf);
    const a = r.record[af];
    const answers = typeof a === 'string' || typeof a === 'number' ? [String(a)] : a;
    if (!Array.isArray(answers) || answers.length === 0 || !answers.every((x) => typeof x === 'string' || typeof x === 'number')) {
      throw new TaskDataError(file, r.row, af, `expected a string, a number or a non-empty list of them but found ${JSON.stringify(a)}`);
    }
    samples.push({ id: sampleId(r), prompt, answers: answers.map(String) });
  }
  return { kind: 'exact-match', name, samples, extract: o.extract, maxNewTokens: o.maxNewTokens ?? 64 };
}

function compileExtract(pattern: string): RegExp {
  try {
    return new RegExp(pattern, 'i');
  } catch (err) {
    throw new TaskDataError('extract', null, null, `not a valid regular expression: ${(err as Error).message}`);
  }
}

/**
 * The answer part of a generation. With a pattern: its first capture group (or the whole match) at the first match,
 * or '' when nothing matches. Without: the first non-empty line.
 *
 * @example extractAnswer('The answer is 42.\nMore text', '(-?\\d+)') // '42'
 */
export function extractAnswer(generation: string, pattern?: string): string {
  if (pattern !== undefined) {
    const m = compileExtract(pattern).exec(generation);
    return m ? (m[1] ?? m[0]) : '';
  }
  return generation.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}

/**
 * Normalises an answer before comparison, as SQuAD's evaluation does: lower case, punctuation removed, the articles
 * a/an/the removed, whitespace collapsed.
 *
 * @example normalizeAnswer('The  Eiffel Tower!') // 'eiffel tower'
 */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, ' ')
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** 1 when the extracted, normalised answer equals one of the normalised accepted answers. */
export function exactMatch(generation: string, answers: string[], pattern?: string): 0 | 1 {
  const got = normalizeAnswer(extractAnswer(generation, pattern));
  return answers.some((a) => normalizeAnswer(a) === got) ? 1 : 0;
}
