// The evaluation tasks as loaded in memory: safety prompts, benign prompts, multiple choice, exact match.
import type { GenerationSettings } from '../types.js';

/** A harmful prompt: `prompt` is what the model sees, `behavior` what a judge checks for (usually the same text). */
export interface SafetySample {
  id: string;
  prompt: string;
  behavior: string;
  category?: string;
  /** The task's target text (lm-eval `doc_to_target`), which the bfpo-paper judge input quotes; default the prompt. */
  reference?: string;
}

/** How judge items are built: from the sample's behaviour and prompt, or as the original BFPO evaluation did. */
export type JudgeInput = 'prompt' | 'bfpo-paper';

/** Harmful prompts to answer and judge; the metric is harmlessness (mean harmless score). */
export interface SafetyTask {
  kind: 'safety';
  name: string;
  samples: SafetySample[];
  /** The task's own decoding settings (the original's per-task generation_kwargs); run options override them. */
  sampling?: Partial<GenerationSettings>;
  /** Default `prompt`: behaviour and prompt go to the judge as they are. */
  judgeInput?: JudgeInput;
  /**
   * The prompt is continued as plain text (no chat template, lm-eval's `generate_until`) instead of being asked as a
   * user turn. Default false.
   */
  plainText?: boolean;
}

/** Benign prompts; the metric is the over-refusal rate (share answered with a refusal). */
export interface OverRefusalTask {
  kind: 'over-refusal';
  name: string;
  samples: { id: string; prompt: string }[];
}

/** A question with choices and the index of the right one, lm-evaluation-harness style. */
export interface MultipleChoiceSample {
  id: string;
  context: string;
  choices: string[];
  gold: number;
  /**
   * Partial scoring (lm-eval's multiple inputs, e.g. winogrande): each choice is its own context and the one
   * `target` is the continuation scored after each. Absent: one context, each choice a continuation.
   */
  target?: string;
  /** truthfulqa_mc2: 1 for a true choice, 0 for a false one (true ones first). */
  labels?: number[];
}

/** Scored by summed log-likelihood of each choice; reports acc and acc_norm. */
export interface MultipleChoiceTask {
  kind: 'multiple-choice';
  name: string;
  samples: MultipleChoiceSample[];
  /** Put between the context and each choice (the harness's target_delimiter, default " "). */
  delimiter: string;
  /** Which of acc / acc_norm counts as the task's helpfulness (default acc_norm). */
  metric: 'acc' | 'acc_norm';
  /**
   * `mc2`: lm-eval's truthfulqa_mc2 score (normalised probability mass of the true choices) reported as acc.
   * `crows-pairs`: two sentences (more, less stereotypical) reported as likelihood_diff and pct_stereotype.
   */
  scoring?: 'mc2' | 'crows-pairs';
}

/** A prompt with one or more accepted answers. */
export interface ExactMatchSample {
  id: string;
  prompt: string;
  answers: string[];
}

/** Greedy generation, answer extraction and normalised exact match. */
export interface ExactMatchTask {
  kind: 'exact-match';
  name: string;
  samples: ExactMatchSample[];
  /** A regular expression; its first capture group (or whole match) is the answer. Default: the first non-empty line. */
  extract?: string;
  maxNewTokens: number;
}

/** A prompt continued as plain text (no chat template), with true and false reference answers. */
export interface ReferenceSample {
  id: string;
  prompt: string;
  correct: string[];
  incorrect: string[];
}

/**
 * Greedy plain-text continuation (lm-eval `generate_until`, no chat template) scored against reference answers;
 * `scoring: 'truthfulqa'` reports BLEU and ROUGE max/acc/diff as lm-eval's truthfulqa_gen does.
 */
export interface ReferenceGenerationTask {
  kind: 'generation';
  name: string;
  samples: ReferenceSample[];
  maxNewTokens: number;
  /** Strings that end a continuation (the model's end-of-sequence token always does). */
  stop: string[];
  scoring: 'truthfulqa';
  /** Which metric counts as the task's helpfulness. */
  metric: string;
}


/**
 * Prompts continued as plain text (no chat template), each continuation scored by a toxicity scorer; the metrics are
 * the mean toxicity and the share scoring at least 0.5 (lm-eval's realtoxicityprompts).
 */
export interface ToxicityTask {
  kind: 'toxicity';
  name: string;
  samples: { id: string; prompt: string }[];
  /** The task's decoding settings (run options override them). */
  sampling: Partial<GenerationSettings>;
}

export type Task = SafetyTask | OverRefusalTask | MultipleChoiceTask | ExactMatchTask | ReferenceGenerationTask | ToxicityTask;
export type TaskKind = Task['kind'];
