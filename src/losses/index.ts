// Losses: per-sequence log-probs, preference losses (BFPO and the DPO family) in a registry, and their metrics.
export { sequenceLogps, scoredPositions, packedSequenceLogps, rowLogps, type ScoredPositions, type RowScores } from './logps.js';
export {
  preferenceLoss, checkPreferenceOptions, lossSpec, safetyLabels, LOSS_TYPES,
  type LossType, type PreferenceInputs, type PreferenceOptions, type PreferenceOutput,
} from './preference.js';
export { LOSSES, DEFAULT_LOSS, registerLoss, lossNames, findLoss, type BuiltinLossType } from './registry.js';
export { LOSS_PARAMS, type LossSpec, type LossParam, type LossParamName, type SafetyLabelPair } from './loss-spec.js';
export { preferenceMetrics } from './metrics.js';
