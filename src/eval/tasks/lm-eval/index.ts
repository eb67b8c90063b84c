// The built-in lm-evaluation-harness task families; importing this module registers them all.
import './bigbench.js';
import './crows-pairs.js';
import './ethics.js';
import './hhh-alignment.js';
import './toxigen.js';
import './realtoxicityprompts.js';
import './truthfulqa.js';
import './truthfulqa-gen.js';
import './winogrande.js';

export { loadLmEvalTask, lmEvalTask, lmEvalTaskNames, registerLmEvalTasks, type LmEvalTaskEntry } from './registry.js';
export { TRUTHFULQA_PRIMER, truthfulqaContext } from './truthfulqa.js';
export { winograndeSample } from './winogrande.js';
export { BIGBENCH_SUBTASKS } from './bigbench.js';
export { ETHICS_TASKS, utilitarianismSample } from './ethics.js';
export { crowsPairsScore, type CrowsPairsScore } from './crows-pairs.js';
export { toxigenLabel, toxigenPrompt } from './toxigen.js';
export { HHH_SUBSETS } from './hhh-alignment.js';
export { PythonRandom } from './python-random.js';
export { TRUTHFULQA_GEN_METRICS, truthfulqaGenAnswers, truthfulqaGenPrompt, truthfulqaGenScores, type TruthfulqaGenScores } from './truthfulqa-gen.js';
export { loadRealToxicityPrompts, loadRealToxicityPromptsBfpo, RTP_BFPO_SAMPLING, RTP_SAMPLING } from './realtoxicityprompts.js';
