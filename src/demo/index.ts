// The demo's public surface: `runDemo` (what `bfpo demo` runs), its argument parser, the synthetic world and the
// small BPE tokenizer trainer.
export { runDemo, summaryLines, DEMO_METHODS, type DemoOptions, type DemoResult } from './run.js';
export type { PhaseTime } from './phase-time.js';
export { parseDemoArgs, DEMO_USAGE, DEMO_HELP } from './args.js';
export { FULL_PLAN, TINY_PLAN, type DemoPlan } from './plan.js';
export { ANSWER_PATTERN, type DemoScores } from './evaluate.js';
export {
  buildWorld, readBehaviours, trainingTexts, writeWorld, WORLD_FILES,
  type DemoWorld, type WorldOptions, type SftRow, type PreferenceRow, type BenignEvalRow, type HarmfulEvalRow, type DemoMessage,
} from './world.js';
export {
  trainBpe, saveBpeTokenizer, tokenizerJson, tokenizerConfigJson, byteToUnicode, DEMO_SPECIAL_TOKENS, DEMO_CHAT_TEMPLATE,
  type TrainedTokenizer,
} from './train-tokenizer.js';
