// UltraFeedback-binarized pairs: `chosen` and `rejected` are whole conversations that share their history.
import { DataError } from '../errors.js';
import { messagesField, nonEmptyResponse, type RowContext } from '../fields.js';
import type { Message } from '../types.js';
import { withSystem, type DatasetAdapter } from './adapter.js';

function lastAssistant(ctx: RowContext, name: string, messages: Message[]): Message[] {
  const last = messages[messages.length - 1];
  if (!last) throw new DataError(ctx.file, ctx.row, name, 'empty conversation');
  if (last.role !== 'assistant') {
    throw new DataError(ctx.file, ctx.row, `${name}[${messages.length - 1}].role`, `expected the last message to be "assistant" but found "${last.role}"`);
  }
  return nonEmptyResponse(ctx, name, [last]);
}

/**
 * Prompt = every message of `chosen` but the last (an empty system message prepended when there is none);
 * chosen/rejected = the last message of each; both safety labels are 1. SFT: the `chosen` conversation.
 */
export const ultraFeedback: DatasetAdapter = {
  id: 'ultrafeedback-binarized',
  hubNames: ['HuggingFaceH4/ultrafeedback_binarized', 'argilla/ultrafeedback-binarized-preferences-cleaned'],
  columns: ['prompt_id', 'chosen', 'rejected'],
  splits: { train: 'train_prefs', test: 'test_prefs' },
  preference(rec, ctx) {
    const chosenAll = messagesField(ctx, rec, 'chosen');
    const rejectedAll = messagesField(ctx, rec, 'rejected');
    const chosen = lastAssistant(ctx, 'chosen', chosenAll);
    const rejected = lastAssistant(ctx, 'rejected', rejectedAll);
    const history = chosenAll.slice(0, -1);
    if (!history.some((m) => m.role === 'user')) throw new DataError(ctx.file, ctx.row, 'chosen', 'no user message before the answer');
    return { prompt: withSystem(history), chosen, rejected, isChosenSafe: 1, isRejectedSafe: 1 };
  },
  sft(rec, ctx) {
    const messages = messagesField(ctx, rec, 'chosen');
    lastAssistant(ctx, 'chosen', messages);
    return { messages };
  },
};
