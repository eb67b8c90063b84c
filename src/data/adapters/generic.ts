// The generic format for users' own data: `prompt`, `chosen`, `rejected` as text or message lists, optional
// `is_chosen_safe` / `is_rejected_safe` (default 1); for SFT, `messages` or `prompt` + `completion`.
import { DataError } from '../errors.js';
import { messagesField, nonEmptyResponse, safetyField, stringField, textOrMessages } from '../fields.js';
import type { Message } from '../types.js';
import { withSystem, type DatasetAdapter } from './adapter.js';

/**
 * Preference: prompt text becomes one user message (message lists are kept); an empty system message is prepended
 * when there is none, as the original does. Answers given as text become one assistant message.
 *
 * @example
 * {"prompt": "What is 2 + 2?", "chosen": "4", "rejected": "5", "is_chosen_safe": 1, "is_rejected_safe": 1}
 */
export const generic: DatasetAdapter = {
  id: 'generic',
  hubNames: [],
  columns: ['prompt', 'chosen', 'rejected'],
  preference(rec, ctx) {
    const prompt = textOrMessages(ctx, rec, 'prompt', 'user');
    if (!prompt.some((m: Message) => m.role === 'user' && m.content.trim() !== '')) {
      throw new DataError(ctx.file, ctx.row, 'prompt', 'no non-empty user message');
    }
    return {
      prompt: withSystem(prompt),
      chosen: nonEmptyResponse(ctx, 'chosen', textOrMessages(ctx, rec, 'chosen', 'assistant')),
      rejected: nonEmptyResponse(ctx, 'rejected', textOrMessages(ctx, rec, 'rejected', 'assistant')),
      isChosenSafe: safetyField(ctx, rec, 'is_chosen_safe', 1),
      isRejectedSafe: safetyField(ctx, rec, 'is_rejected_safe', 1),
    };
  },
  sft(rec, ctx) {
    if (rec.messages !== undefined) return { messages: messagesField(ctx, rec, 'messages') };
    const prompt = textOrMessages(ctx, rec, 'prompt', 'user');
    const completion = nonEmptyResponse(ctx, 'completion', [{ role: 'assistant', content: stringField(ctx, rec, 'completion') }]);
    return { messages: [...prompt, ...completion] };
  },
};
