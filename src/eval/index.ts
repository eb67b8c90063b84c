// Evaluation: safety generation with judges (refusal, classifier, endpoint), multiple choice, exact match,
// over-refusal, resumable runs, and the harmlessness-vs-helpfulness report.
export type {
  ChatModel, GenerationSettings, LogLikelihoodScorer, ContinuationPair, ContinuationScore, Judge, JudgeItem, Judgement,
  YesNoScorer, YesNoProbabilities, TextCompleter,
} from './types.js';
export { sentenceBleu, tokenizeIntl, tokenize13a, type BleuOptions, type BleuTokenizer } from './metrics/bleu.js';
export { rougeN, rougeLsum, rougeTokenize, type RougeScore } from './metrics/rouge.js';
export { LocalCompleter, cutAtStops } from './completion.js';
export { TaskDataError, JudgeError, JudgeIncompleteError, StaleResultsError } from './errors.js';
export { readRecords, type NumberedRecord } from './records.js';
export type { JudgeInput, Task, SafetyTask, OverRefusalTask, MultipleChoiceTask, ExactMatchTask, ReferenceGenerationTask, ReferenceSample } from './tasks/types.js';
export { advbenchTask, advbenchPath, loadSafetyPrompts, loadBenignPrompts, unwrapAlertPrompt } from './tasks/safety.js';
export { loadMultipleChoice, multipleChoiceOutcome, mc2Score } from './tasks/multiple-choice.js';
export {
  loadLmEvalTask, lmEvalTask, lmEvalTaskNames, registerLmEvalTasks, TRUTHFULQA_PRIMER, truthfulqaContext, winograndeSample,
  utilitarianismSample, crowsPairsScore, toxigenLabel, toxigenPrompt, HHH_SUBSETS, PythonRandom, TRUTHFULQA_GEN_METRICS, truthfulqaGenAnswers, truthfulqaGenPrompt, truthfulqaGenScores,
  type LmEvalTaskEntry, type CrowsPairsScore, type TruthfulqaGenScores,
} from './tasks/lm-eval/index.js';
export { loadExactMatch, extractAnswer, normalizeAnswer, exactMatch } from './tasks/exact-match.js';
export { parseTaskSpec, loadTask, TASK_HELP, type TaskSpec } from './tasks/spec.js';
export { refusalJudge, isRefusal, REFUSAL_PHRASES } from './judges/refusal.js';
export {
  harmbenchPrompt, parseYesNo, bfpoPaperJudgeItem, pythonListRepr, BFPO_GENERIC_BEHAVIOR, BFPO_CONTEXT_PREFIX,
} from './judges/harmbench-prompt.js';
export {
  bfpoPaperTasks, bfpoPaperHelpfulnessTasks, BFPO_PAPER_HELPFULNESS_TASKS, paperAdvbench, paperAlert, paperBeaver, alertDocToText, BFPO_PAPER_SAMPLING, BFPO_PAPER_FILES, BFPO_PAPER_TASKS,
} from './tasks/bfpo-paper.js';
export { readManifest, recordRun, type Manifest, type TaskShape } from './manifest.js';
export { classifierJudge } from './judges/classifier.js';
export { endpointJudge, chatCompletionsUrl, type EndpointJudgeOptions } from './judges/endpoint.js';
export { parseJudgeSpec, makeJudge, JUDGE_HELP, type JudgeSpec } from './judges/spec.js';
export { redact, readBounded, postJsonOnce, withRetries, runBounded, PermanentHttpError, type HttpLimits, type ItemFailure } from './judges/http.js';
export { perspectiveScorer, PERSPECTIVE_URL, PERSPECTIVE_KEY_ENV, type PerspectiveOptions } from './judges/perspective.js';
export {
  toxicityJudge, toxicityJudgePrompt, classifierToxicityScorer, parseToxicityScorerSpec, makeToxicityScorer, toxicityScorerHelp,
  TOXICITY_THRESHOLD, type ToxicityScorer, type ToxicityScorerSpec, type ToxicityScorerContext,
} from './judges/toxicity.js';
export { JsonlStore } from './store.js';
export { groupSplit, runUnits, EvalRankError, type EvalSplit } from './rank-split.js';
export { terminalProgress, silentProgress, type Progress } from './progress.js';
export { runEval, openStores, settingsFor, checkStoredGenerations, judgementKey, SAFETY_SAMPLING, type EvalModel, type ModelSource, type RunEvalOptions } from './runner.js';
export { summarize, type EvalResults, type ModelResult, type TaskResult } from './summary.js';
export { writeReport, markdownTable } from './report.js';
export { renderScatter, scatterSpec } from './plot.js';
export { evaluate, loadEvalRecipe, loadConfigTasks, PROTOCOLS, modelSources, type EvalConfig, type EvaluateHooks } from './evaluate.js';
export { loadEvalModel, loadYesNoScorer, loadLocalModel, LocalChatModel, LocalScorer, LocalYesNoScorer } from './adapter.js';
