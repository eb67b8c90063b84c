// The red-teaming JSON format: two model outputs, which one is better (1 or 2), and a safety flag per output.
import { choiceField, safetyField, stringField } from '../fields.js';
import { promptFromText, type DatasetAdapter } from './adapter.js';

/**
 * chosen = modeloutput{better_modelout}, rejected = modeloutput{3 - better_modelout}, labels from is_modelout*_safe.
 * Labels may be numbers, booleans or strings of digits ("2"), since the original reads them with Python's int().
 */
export const redTeam: DatasetAdapter = {
  id: 'red-team',
  hubNames: [],
  columns: ['prompt', 'modeloutput1', 'modeloutput2', 'better_modelout'],
  preference(rec, ctx) {
    const better = choiceField(ctx, rec, 'better_modelout', [1, 2], true);
    const worse = 3 - better;
    const safe = [0, safetyField(ctx, rec, 'is_modelout1_safe', undefined, true), safetyField(ctx, rec, 'is_modelout2_safe', undefined, true)] as const;
    return {
      prompt: promptFromText(stringField(ctx, rec, 'prompt', true)),
      chosen: [{ role: 'assistant', content: stringField(ctx, rec, `modeloutput${better}`, true) }],
      rejected: [{ role: 'assistant', content: stringField(ctx, rec, `modeloutput${worse}`, true) }],
      isChosenSafe: safe[better] as 0 | 1,
      isRejectedSafe: safe[worse] as 0 | 1,
    };
  },
};
