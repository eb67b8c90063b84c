// Losses: per-sequence log-probs, preference losses (BFPO and the DPO family), and their metrics.
export { sequenceLogps, scoredPositions, packedSequenceLogps, rowLogps, type ScoredPositions, type RowScores } from './logps.js';
export {
  preferenceLoss, checkPreferenceOptions, safetyLabels, LOSS_TYPES,
  type LossType, type PreferenceInputs, type PreferenceOptions, type PreferenceOutput,
} from './preference.js';
export { preferenceMetrics } from './metrics.js';
