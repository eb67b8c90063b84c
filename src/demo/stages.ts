// The demo's training stages: the initial model folder, then SFT and the preference runs, each as an ordinary
// recipe written to the output folder (so `bfpo sft` / `bfpo train` can rerun it) and run by the training layer.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { prepareRecipe } from '../recipe/prepare.js';
import { runTraining } from '../recipe/run.js';
import { saveSafetensors } from '../io/safetensors.js';
import { loadTokenizer } from '../io/tokenizer.js';
import type { LossType } from '../losses/preference.js';
import { toHfConfig } from '../models/config.js';
import { LlamaForCausalLM } from '../models/llama.js';
import { manualSeed } from '../tensor/runtime.js';
import type { DemoPlan } from './plan.js';

/** One preference method of the comparison. */
export interface PreferenceMethod {
  name: string;
  lossType: LossType;
  /** Whether the loss reads the safety labels (only BFPO does; the others see helpfulness preferences only). */
  useLabels: boolean;
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/**
 * Writes a freshly initialised Llama (HF folder: config.json, model.safetensors, the tokenizer files) sized by the
 * plan, with the vocabulary of the tokenizer in `tokenizerDir`.
 */
export function initialModel(o: { plan: DemoPlan; seed: number; tokenizerDir: string; dir: string }): { dir: string; parameters: number } {
  const tok = loadTokenizer(o.tokenizerDir);
  const m = o.plan.model;
  manualSeed(o.seed);
  const model = new LlamaForCausalLM({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: tok.vocabSize,
    hidden_size: m.hiddenSize, intermediate_size: m.intermediateSize, num_hidden_layers: m.numHiddenLayers,
    num_attention_heads: m.numAttentionHeads, num_key_value_heads: m.numAttentionHeads,
    max_position_embeddings: m.maxPositionEmbeddings, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true,
    bos_token_id: tok.bosTokenId, eos_token_id: tok.eosTokenId, pad_token_id: tok.padTokenId, torch_dtype: 'float32',
  });
  try {
    mkdirSync(o.dir, { recursive: true });
    writeFileSync(join(o.dir, 'config.json'), JSON.stringify(toHfConfig(model.config), null, 2) + '\n');
    saveSafetensors(join(o.dir, 'model.safetensors'), model.stateDict(), { format: 'pt' });
    for (const f of TOKENIZER_FILES) copyFileSync(join(o.tokenizerDir, f), join(o.dir, f));
    return { dir: o.dir, parameters: model.numParameters() };
  } finally {
    model.dispose();
  }
}

function writeRecipe(dir: string, name: string, values: Record<string, unknown>): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify(values));
  return file;
}

interface StageOptions { plan: DemoPlan; seed: number; from: string; data: string; dir: string; recipes: string; log: (line: string) => void }

const COMMON = {
  dataset_splits: ['train'], lr_scheduler_type: 'cosine', warmup_ratio: 0.1, weight_decay: 0, max_grad_norm: 1,
  save_strategy: 'no', report_to: ['none'],
};

/** SFT of the initial model on the mix; returns the trained model's folder. */
export async function trainSft(o: StageOptions): Promise<string> {
  const file = writeRecipe(o.recipes, 'sft', {
    model_name_or_path: o.from, dataset_mixer: { [o.data]: 1.0 }, ...COMMON,
    max_seq_length: o.plan.model.maxPositionEmbeddings, num_train_epochs: o.plan.sft.epochs,
    per_device_train_batch_size: o.plan.sft.batchSize, learning_rate: o.plan.sft.learningRate,
    output_dir: o.dir, seed: o.seed, logging_steps: 50,
  });
  o.log(`  recipe ${file}`);
  await runTraining('sft', prepareRecipe('sft', [file]));
  return o.dir;
}

/** One preference run from the SFT model with the main data and the buffer; returns the trained model's folder. */
export async function trainPreference(o: StageOptions & { method: PreferenceMethod; buffer: string; cacheDir: string }): Promise<string> {
  const p = o.plan.preference;
  const file = writeRecipe(o.recipes, o.method.name, {
    model_name_or_path: o.from, dataset_mixer: { [o.data]: 1.0 }, use_buffer: true, buffer_dataset_mixer: { [o.buffer]: 1.0 },
    buffer_dataset_splits: ['train'], ...COMMON, loss_type: o.method.lossType, beta: p.beta,
    max_length: o.plan.model.maxPositionEmbeddings, max_prompt_length: Math.floor(o.plan.model.maxPositionEmbeddings / 2),
    num_train_epochs: p.epochs, per_device_train_batch_size: p.batchSize, learning_rate: p.learningRate,
    reference_strategy: 'precomputed', reference_cache_dir: o.cacheDir, output_dir: o.dir, seed: o.seed, logging_steps: 10,
  });
  o.log(`  recipe ${file}`);
  await runTraining('preference', prepareRecipe('preference', [file]));
  return o.dir;
}
