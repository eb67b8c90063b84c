// The checkpoint stores of a run: a full
// folder (config.json, safetensors, tokenizer files), or with LoRA a PEFT-layout adapter (adapter_model.safetensors
// + adapter_config.json) or the merged model.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeAtomic } from '../io/atomic.js';
import { findHfFolder, loadHfWeights } from '../io/hf-folder.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { saveTokenizer, type Tokenizer } from '../io/tokenizer.js';
import type { LanguageModel } from '../models/language-model.js';
import { writeModelFiles } from '../models/pretrained.js';
import { mergeLora } from '../nn/lora.js';
import { noGrad } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import type { ModelStore } from '../train/trainer.js';

function writeJsonFile(path: string, value: unknown): void {
  writeAtomic(path, (out) => out.write(Buffer.from(`${JSON.stringify(value, null, 2)}\n`)));
}

/** The trainer's store for full models: checkpoints are HF folders; resuming reads the weights back. */
export function hfModelStore(model: LanguageModel, tokenizer: Tokenizer | null): ModelStore {
  return {
    save: (dir) => writeModelFiles(model, tokenizer, dir),
    load: (dir) => {
      const weights = loadHfWeights(findHfFolder(dir), { dtype: model.outputWeight.dtype });
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
  mkdirSync(dir, { recursive: true });
  saveSafetensors(join(dir, 'adapter_model.safetensors'), new Map(adapterKeys(model).map(([k, t]) => [PEFT_PREFIX + k, t])), { format: 'pt' });
  writeJsonFile(join(dir, 'adapter_config.json'), {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: resolve(s.baseModel), r: s.r, lora_alpha: s.alpha,
    lora_dropout: s.dropout, target_modules: s.targetModules, bias: 'none', fan_in_fan_out: false, inference_mode: true,
  });
  if (tokenizer) saveTokenizer(tokenizer, dir);
}

/**
 * The store of a LoRA run: checkpoints hold the adapters only (the base stays frozen); `finish` writes the final
 * model as an adapter or merged into a full folder.
 */
export function loraModelStore(model: LanguageModel, tokenizer: Tokenizer | null, s: LoraSaveSettings, finalMode: 'adapter' | 'merged'): ModelStore {
  return {
    save: (dir) => saveLoraAdapter(model, tokenizer, dir, s),
    saveFinal: (dir) => {
      if (finalMode === 'adapter') return saveLoraAdapter(model, tokenizer, dir, s);
      mergeLora(model);
      writeModelFiles(model, tokenizer, dir);
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
