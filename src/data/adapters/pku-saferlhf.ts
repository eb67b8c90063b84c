// PKU-SafeRLHF pairs: two responses, a helpfulness preference (better_response_id), a safety preference
// (safer_response_id) and a safety flag per response.
import { choiceField, safetyField, stringField } from '../fields.js';
import { promptFromText, type DatasetAdapter } from './adapter.js';

/**
 * BFPO: chosen = response_{better_response_id} (the more helpful one), rejected = the other, safety labels from
 * is_response_{0,1}_safe. SFT: an empty system turn, the prompt and the safer response (safer_response_id), as the original.
 */
export const pkuSafeRlhf: DatasetAdapter = {
  id: 'pku-saferlhf',
  hubNames: ['PKU-Alignment/PKU-SafeRLHF', 'PKU-Alignment/PKU-SafeRLHF-30K', 'PKU-Alignment/PKU-SafeRLHF-10K'],
  columns: ['prompt', 'response_0', 'response_1', 'better_response_id'],
  // The dataset has only train/test; the original's recipes ask for the preference and SFT split names.
  splits: { train_prefs: 'train', test_prefs: 'test', train_sft: 'train', test_sft: 'test' },
  preference(rec, ctx) {
    const prompt = stringField(ctx, rec, 'prompt', true);
    const better = choiceField(ctx, rec, 'better_response_id', [0, 1]);
    const worse = 1 - better;
    const safe = [safetyField(ctx, rec, 'is_response_0_safe'), safetyField(ctx, rec, 'is_response_1_safe')];
    return {
      prompt: promptFromText(prompt),
      chosen: [{ role: 'assistant', content: stringField(ctx, rec, `response_${better}`, true) }],
      rejected: [{ role: 'assistant', content: stringField(ctx, rec, `response_${worse}`, true) }],
      isChosenSafe: safe[better]!,
      isRejectedSafe: safe[worse]!,
    };
  },
  sft(rec, ctx) {
    const safer = choiceField(ctx, rec, 'safer_response_id', [0, 1]);
    return {
      messages: [
        { role: 'system', content: '' },
        { role: 'user', content: stringField(ctx, rec, 'prompt', true) },
        { role: 'assistant', content: stringField(ctx, rec, `response_${safer}`, true) },
      ],
    };
  },
};
