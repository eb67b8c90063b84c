// The checkpoint stores of a run: a full
// folder (config.json, safetensors, tokenizer files), or with LoRA a PEFT-layout adapter (adapter_model.safetensors
// + adapter_config.json) or the merged model.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type PendingFile, pendingFile, writeFiles, writeFilesAsync } from '../io/atomic.js';
import { findHfFolder, loadHfWeights } from '../io/hf-folder.js';
import { loadSafetensors, tensorsFile } from '../io/safetensors.js';
import { tokenizerFiles, type Tokenizer } from '../io/tokenizer.js';
import type { LanguageModel } from '../models/language-model.js';
import { weightCheck, writeModelFiles, writeModelFilesAsync } from '../models/pretrained.js';
import { mergeLora } from '../nn/lora.js';
import { noGrad } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ModelStore } from '../train/trainer.js';

/** The trainer's store for full models: checkpoints are HF folders; resuming reads the weights back. */
export function hfModelStore(model: LanguageModel, tokenizer: Tokenizer | null): ModelStore {
  return {
    save: (dir) => writeModelFiles(model, tokenizer, dir),
    saveAsync: (dir) => writeModelFilesAsync(model, tokenizer, dir),
    load: (dir) => {
      const weights = loadHfWeights(findHfFolder(dir), { dtype: model.outputWeight.dtype, check: weightCheck(model, `the model being trained`) });
      try {
        model.loadStateDict(weights);
      } finally {
        for (const t of weights.values()) t.dispose();
      }
    },
  };
}

const PEFT_PREFIX = 'base_model.model.';
const adapterKeys = (model: LanguageModel): [string, Tensor][] => model.namedParameters().filter(([k]) => k.includes('.lora_A.') || k.includes('.lora_B.'));

export interface LoraSaveSettings { r: number; alpha: number; dropout: number; targetModules: string[]; baseModel: string }

/** Writes the adapters in PEFT's layout: `adapter_model.safetensors` (keys prefixed `base_model.model.`) and `adapter_config.json`. */
export function saveLoraAdapter(model: LanguageModel, tokenizer: Tokenizer | null, dir: string, s: LoraSaveSettings): void {
  writeFiles(loraAdapterFiles(model, tokenizer, dir, s));
}

/** `saveLoraAdapter` through node:fs/promises (the event loop runs while the files are written). */
export function saveLoraAdapterAsync(model: LanguageModel, tokenizer: Tokenizer | null, dir: string, s: LoraSaveSettings): Promise<void> {
  return writeFilesAsync(loraAdapterFiles(model, tokenizer, dir, s));
}

function loraAdapterFiles(model: LanguageModel, tokenizer: Tokenizer | null, dir: string, s: LoraSaveSettings): PendingFile[] {
  mkdirSync(dir, { recursive: true });
  const config = {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: resolve(s.baseModel), r: s.r, lora_alpha: s.alpha,
    lora_dropout: s.dropout, target_modules: s.targetModules, bias: 'none', fan_in_fan_out: false, inference_mode: true,
  };
  return [
    tensorsFile(join(dir, 'adapter_model.safetensors'), new Map(adapterKeys(model).map(([k, t]) => [PEFT_PREFIX + k, t])), { format: 'pt' }),
    pendingFile(join(dir, 'adapter_config.json'), `${JSON.stringify(config, null, 2)}\n`),
    ...(tokenizer ? tokenizerFiles(tokenizer, dir) : []),
  ];
}

/**
 * The store of a LoRA run: checkpoints hold the adapters only (the base stays frozen); `finish` writes the final
 * model as an adapter or merged into a full folder.
 */
export function loraModelStore(model: LanguageModel, tokenizer: Tokenizer | null, s: LoraSaveSettings, finalMode: 'adapter' | 'merged'): ModelStore {
  return {
    save: (dir) => saveLoraAdapter(model, tokenizer, dir, s),
    saveAsync: (dir) => saveLoraAdapterAsync(model, tokenizer, dir, s),
    saveFinal: (dir) => {
      if (finalMode === 'adapter') return saveLoraAdapter(model, tokenizer, dir, s);
      mergeLora(model);
      writeModelFiles(model, tokenizer, dir);
    },
    saveFinalAsync: async (dir) => {
      if (finalMode === 'adapter') return saveLoraAdapterAsync(model, tokenizer, dir, s);
      mergeLora(model);
      await writeModelFilesAsync(model, tokenizer, dir);
    },
    load: (dir) => {
      const saved = loadSafetensors(join(dir, 'adapter_model.safetensors'));
      try {
        noGrad(() => {
          for (const [k, p] of adapterKeys(model)) {
            const t = saved.get(PEFT_PREFIX + k);
            if (!t) throw new Error(`${dir}/adapter_model.safetensors lacks ${PEFT_PREFIX + k}`);
            p.copy_(t);
          }
        });
      } finally {
        for (const t of saved.values()) t.dispose();
      }
    },
  };
}
