// UltraChat-200k conversations for SFT (splits train_sft / test_sft).
import { DataError } from '../errors.js';
import { messagesField } from '../fields.js';
import { withSystem, type DatasetAdapter } from './adapter.js';

/** SFT: the `messages` list, an empty system turn first when it has none (as the original); at least one non-empty assistant turn. */
export const ultraChat: DatasetAdapter = {
  id: 'ultrachat',
  hubNames: ['HuggingFaceH4/ultrachat_200k'],
  columns: ['prompt_id', 'messages'],
  splits: { train: 'train_sft', test: 'test_sft' },
  sft(rec, ctx) {
    const messages = messagesField(ctx, rec, 'messages');
    if (!messages.some((m) => m.role === 'assistant' && m.content.trim() !== '')) {
      throw new DataError(ctx.file, ctx.row, 'messages', 'no non-empty assistant message');
    }
    return { messages: withSystem(messages) };
  },
};
