// Optimizers.
export { Optimizer, type ParamGroup, type ParamState, type OptimizerStateDict } from './optimizer.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { SGD, RMSprop, type SgdOptions, type RmspropOptions } from './sgd.js';
