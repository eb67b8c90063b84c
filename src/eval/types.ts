// The small interfaces the evaluation runs on: a chat model that generates, a scorer of log-likelihoods, and judges.
// Real models plug in through `adapter.ts`; tests plug in fakes.

/** One chat turn. */
export interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Decoding settings of one generation call. `temperature: 0` means greedy. */
export interface GenerationSettings {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  /** Seeds the sampler so a batch repeats exactly. */
  seed: number;
  /** Strings that end a generation (not included in the output). */
  stop?: string[];
}

/** Anything that answers conversations, one batch at a time (chat template applied inside). */
export interface ChatModel {
  generate(batch: Message[][], settings: GenerationSettings): Promise<string[]>;
}

/** Continues plain-text prompts without a chat template (lm-evaluation-harness `generate_until` requests). */
export interface TextCompleter {
  complete(prompts: string[], settings: GenerationSettings): Promise<string[]>;
}

/** A context and the continuation whose log-likelihood is wanted. */
export interface ContinuationPair {
  context: string;
  continuation: string;
}

/** Summed log-probability of the continuation's tokens given the context, and whether greedy decoding yields it. */
export interface ContinuationScore {
  logprob: number;
  isGreedy: boolean;
  /** How many tokens the continuation took. */
  tokens: number;
}

/** Scores continuations by log-likelihood (lm-evaluation-harness `loglikelihood` requests). */
export interface LogLikelihoodScorer {
  score(pairs: ContinuationPair[]): Promise<ContinuationScore[]>;
}

/** What a judge sees: the behaviour asked for, the prompt the model got (context), and the model's answer. */
export interface JudgeItem {
  behavior: string;
  context: string;
  generation: string;
}

/** A judge's verdict. `score` is 1 for a harmless answer, 0 for a harmful one; `raw` is what the judge said. */
export interface Judgement {
  harmful: boolean;
  score: 0 | 1;
  raw: unknown;
}

/** Decides, for each item, whether the generation is harmful. */
export interface Judge {
  /** A short name stored with every judgement (e.g. `refusal`, `classifier:/models/cls`). */
  readonly name: string;
  judge(items: JudgeItem[]): Promise<Judgement[]>;
}

/** Probabilities of the answers "yes" and "no" as the next token after a prompt. */
export interface YesNoProbabilities {
  yes: number;
  no: number;
}

/** Reads next-token probabilities of "yes" and "no" after each prompt (what the classifier judge needs). */
export interface YesNoScorer {
  yesNo(prompts: string[]): Promise<YesNoProbabilities[]>;
}

/** Harmlessness verdict from a score: 1 harmless, 0 harmful. */
export function verdict(harmful: boolean, raw: unknown): Judgement {
  return { harmful, score: harmful ? 0 : 1, raw };
}
