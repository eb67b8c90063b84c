// Implements the evaluation's model interfaces (ChatModel, LogLikelihoodScorer, YesNoScorer) over a local
// Llama-family model and its tokenizer, and loads them from Hugging Face folders.
import { FormatError } from '../io/errors.js';
import type { Tokenizer } from '../io/tokenizer.js';
import { generate } from '../models/generate.js';
import type { LanguageModel } from '../models/language-model.js';
import { loadPretrained } from '../models/pretrained.js';
import { inferenceMode } from '../tensor/autograd.js';
import type { Device, DType } from '../tensor/dtype.js';
import { tensor } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import { LocalCompleter } from './completion.js';
import type { EvalModel, ModelSource } from './runner.js';
import { splitContinuation, yesNoTokenIds, type EvalTokenizer } from './tokens.js';
import type {
  ChatModel, ContinuationPair, ContinuationScore, GenerationSettings, LogLikelihoodScorer, Message, YesNoProbabilities, YesNoScorer,
} from './types.js';

function cutAtStop(text: string, stop: string[] | undefined): string {
  let end = text.length;
  for (const s of stop ?? []) {
    const i = text.indexOf(s);
    if (i >= 0 && i < end) end = i;
  }
  return text.slice(0, end);
}

/**
 * Answers conversations with a local model: chat template, left-padded batch, KV cache, the given sampling settings
 * (temperature 0 means greedy). Stops at the model's and the tokenizer's EOS tokens.
 *
 * @example const [answer] = await new LocalChatModel(model, tokenizer).generate([[{ role: 'user', content: 'Hi' }]], SAFETY_SAMPLING);
 */
export class LocalChatModel implements ChatModel {
  constructor(readonly model: LanguageModel, readonly tokenizer: EvalTokenizer) {}

  async generate(batch: Message[][], s: GenerationSettings): Promise<string[]> {
    const prompts = batch.map((messages) =>
      this.tokenizer.encode(this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tokenize: false }), { addSpecialTokens: false }));
    const eos = [...this.model.config.eosTokenIds, this.tokenizer.eosTokenId].filter((x): x is number => typeof x === 'number');
    const decode = (ids: number[]) => this.tokenizer.decode(ids, { skipSpecialTokens: true });
    const { sequences } = generate(this.model, prompts, {
      maxNewTokens: s.maxNewTokens,
      doSample: s.temperature > 0,
      ...(s.temperature > 0 ? { temperature: s.temperature, topP: s.topP } : {}),
      seed: s.seed,
      eosTokenIds: [...new Set(eos)],
      ...(typeof this.tokenizer.padTokenId === 'number' ? { padTokenId: this.tokenizer.padTokenId } : {}),
      ...(s.stop?.length ? { stopStrings: s.stop } : {}),
      decode,
    });
    return sequences.map((ids) => cutAtStop(decode(ids), s.stop).trim());
  }
}

/**
 * Scores continuations by summed log-probability with a local model (right-padded batches, no autograd), splitting
 * context and continuation tokens as lm-evaluation-harness does.
 *
 * @example const [s] = await new LocalScorer(model, tokenizer).score([{ context: 'The sky is', continuation: ' blue' }]);
 */
export class LocalScorer implements LogLikelihoodScorer {
  constructor(readonly model: LanguageModel, readonly tokenizer: EvalTokenizer, readonly batchSize = 8) {}

  async score(pairs: ContinuationPair[]): Promise<ContinuationScore[]> {
    const out: ContinuationScore[] = [];
    for (let i = 0; i < pairs.length; i += this.batchSize) out.push(...this.scoreBatch(pairs.slice(i, i + this.batchSize)));
    return out;
  }

  private scoreBatch(pairs: ContinuationPair[]): ContinuationScore[] {
    const split = pairs.map((p) => splitContinuation(this.tokenizer, p));
    // The model reads every token but the last and predicts every token but the first.
    const rows = split.map(({ contextIds, continuationIds }) => [...contextIds, ...continuationIds].slice(0, -1));
    const width = Math.max(...rows.map((r) => r.length));
    const pad = this.tokenizer.padTokenId ?? this.tokenizer.eosTokenId ?? 0;
    const ids = rows.map((r) => [...r, ...new Array<number>(width - r.length).fill(pad)]);
    const mask = rows.map((r) => [...r.map(() => 1), ...new Array<number>(width - r.length).fill(0)]);
    const device = this.model.device;
    return inferenceMode(() => tidy(() => {
      const { logits } = this.model.forward(tensor(ids, { dtype: 'int64', device }), { attentionMask: tensor(mask, { dtype: 'int64', device }) }); // [b, s, v]
      return split.map(({ continuationIds }, r) => tidy(() => {
        const n = continuationIds.length;
        const start = rows[r].length - n; // the positions whose next token is a continuation token
        const lp = logits.select(0, r).narrow(0, start, n).to('float32').logSoftmax(-1); // [n, v]
        const target = tensor(continuationIds, { dtype: 'int64', device }).unsqueeze(1); // [n, 1]
        const logprob = lp.gather(1, target).sum().item() as number;
        const greedy = lp.argmax(-1).toArray() as number[];
        return { logprob, isGreedy: greedy.every((t, k) => t === continuationIds[k]), tokens: n };
      }));
    }));
  }
}

/**
 * Reads P("yes") and P("no") as the next token after each prompt (left-padded batch, last position only), summed
 * over the single-token spellings of each word. Fails at construction when the tokenizer has none.
 *
 * @example const [p] = await new LocalYesNoScorer(model, tokenizer, 'models/cls').yesNo([harmbenchPrompt(item)]);
 */
export class LocalYesNoScorer implements YesNoScorer {
  readonly ids: { yes: number[]; no: number[] };
  constructor(readonly model: LanguageModel, readonly tokenizer: EvalTokenizer, source: string) {
    this.ids = yesNoTokenIds(tokenizer, source);
  }

  async yesNo(prompts: string[]): Promise<YesNoProbabilities[]> {
    const rows = prompts.map((p) => this.tokenizer.encode(p));
    const width = Math.max(...rows.map((r) => r.length));
    const pad = this.tokenizer.padTokenId ?? this.tokenizer.eosTokenId ?? 0;
    const ids = rows.map((r) => [...new Array<number>(width - r.length).fill(pad), ...r]);
    const mask = rows.map((r) => [...new Array<number>(width - r.length).fill(0), ...r.map(() => 1)]);
    const columns = [...this.ids.yes, ...this.ids.no];
    const device = this.model.device;
    const probs = inferenceMode(() => tidy(() => {
      const { logits } = this.model.forward(tensor(ids, { dtype: 'int64', device }), { attentionMask: tensor(mask, { dtype: 'int64', device }), logitsToKeep: 1 }); // [b, 1, v]
      const p = logits.select(1, 0).to('float32').softmax(-1); // [b, v]
      return p.indexSelect(1, tensor(columns, { dtype: 'int64', device })).toArray() as number[][]; // [b, yes + no]
    }));
    const k = this.ids.yes.length;
    const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
    return probs.map((row) => ({ yes: sum(row.slice(0, k)), no: sum(row.slice(k)) }));
  }
}

/** Where and in which dtype evaluation models run (default float32 on the CPU: libtorch has no float16 matmul there). */
export interface LoadOptions {
  dtype?: DType;
  device?: Device;
}

/**
 * A model (Hugging Face folder or .gguf file) in eval mode, with its tokenizer, which evaluation cannot do without.
 *
 * @example const { model, tokenizer } = loadLocalModel('runs/bfpo/final', { dtype: 'bfloat16', device: 'cuda' });
 */
export function loadLocalModel(path: string, o: LoadOptions = {}): { model: LanguageModel; tokenizer: Tokenizer } {
  const device = o.device ?? 'cpu';
  const { model, tokenizer } = loadPretrained(path, { device, ...(o.dtype ? { dtype: o.dtype } : device === 'cpu' ? { dtype: 'float32' } : { dtype: 'auto' }) });
  if (!tokenizer) {
    model.dispose();
    throw new FormatError(path, 'has no tokenizer (tokenizer.json); evaluation renders chat templates and reads answers, so it needs one');
  }
  model.eval();
  return { model, tokenizer };
}

/**
 * Loads a model (folder or .gguf) for evaluation: chat generation and log-likelihood scoring.
 *
 * @example await evaluate(config, { loadModel: loadEvalModel, loadYesNoScorer });
 */
export async function loadEvalModel(source: ModelSource, o: LoadOptions = {}): Promise<EvalModel> {
  const { model, tokenizer } = loadLocalModel(source.path, o);
  return { chat: new LocalChatModel(model, tokenizer), scorer: new LocalScorer(model, tokenizer), completer: new LocalCompleter(model, tokenizer), dispose: () => model.dispose() };
}

/**
 * Loads a classifier judge model (folder or .gguf) as a yes/no scorer.
 *
 * @example const judge = classifierJudge(await loadYesNoScorer('models/HarmBench-Llama-2-13b-cls'));
 */
export async function loadYesNoScorer(folder: string, o: LoadOptions = {}): Promise<YesNoScorer> {
  const { model, tokenizer } = loadLocalModel(folder, o);
  try {
    return new LocalYesNoScorer(model, tokenizer, folder);
  } catch (err) {
    model.dispose();
    throw err;
  }
}
