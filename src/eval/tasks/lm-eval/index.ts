// The built-in lm-evaluation-harness task families; importing this module registers them all.
import './bigbench.js';
import './ethics.js';
import './truthfulqa.js';
import './winogrande.js';

export { loadLmEvalTask, lmEvalTask, lmEvalTaskNames, registerLmEvalTasks, type LmEvalTaskEntry } from './registry.js';
export { TRUTHFULQA_PRIMER, truthfulqaContext } from './truthfulqa.js';
export { winograndeSample } from './winogrande.js';
export { BIGBENCH_SUBTASKS } from './bigbench.js';
export { ETHICS_TASKS } from './ethics.js';
