// A model family defined only in the tests, to prove a family is one file plus one registration: Llama layers
// with every logit multiplied by `logit_scale` (HF class TinyScaledForCausalLM, GGUF architecture `tinyscaled`).
import { ConfigError, type Tensor } from 'bfpo';
import {
  LlamaForCausalLM, parseConfig, registerFamily, registeredArchitectures, toHfConfig, type ForwardOptions,
  type ForwardOutput, type ModelConfig, type ModelFamily,
} from 'bfpo/models';
import { type ModuleOptions } from 'bfpo/nn';

/** The internal config: the Llama one plus the family's own key. */
export interface ScaledConfig extends ModelConfig { logitScale: number }

/** Llama with scaled logits: forward multiplies logits (and logitsMean) by config.logitScale. */
export class TinyScaledForCausalLM extends LlamaForCausalLM {
  constructor(readonly scaled: ScaledConfig, opts: ModuleOptions = {}) {
    super(scaled, opts);
  }

  override forward(inputIds: Tensor, opts: ForwardOptions = {}): ForwardOutput {
    const out = super.forward(inputIds, opts);
    const logits = out.logits.mul(this.scaled.logitScale);
    out.logits.dispose();
    const logitsMean = out.logitsMean?.mul(this.scaled.logitScale);
    out.logitsMean?.dispose();
    return { ...out, logits, ...(logitsMean ? { logitsMean } : {}) };
  }
}

export const TINY_SCALED: ModelFamily = {
  architectures: ['TinyScaledForCausalLM'],
  modelTypes: ['tinyscaled'],
  parseConfig(raw) {
    const scale = raw.logit_scale ?? 1;
    if (typeof scale !== 'number' || !(scale > 0)) throw new ConfigError(`Expected a positive number for config key logit_scale but received ${JSON.stringify(scale)}`);
    const base = parseConfig({ ...raw, architectures: ['LlamaForCausalLM'], model_type: 'llama' });
    return { ...base, architecture: 'TinyScaledForCausalLM', modelType: 'tinyscaled', logitScale: scale } satisfies ScaledConfig;
  },
  toHfConfig(c) {
    return { ...toHfConfig(c), architectures: ['TinyScaledForCausalLM'], model_type: 'tinyscaled', logit_scale: (c as ScaledConfig).logitScale };
  },
  create: (c, o) => new TinyScaledForCausalLM(c as ScaledConfig, o),
  gguf: {
    name: 'tinyscaled', hfClasses: ['TinyScaledForCausalLM'], hfClass: 'TinyScaledForCausalLM', modelType: 'tinyscaled', permuteQk: true,
    extraKeys: [{ hf: 'logit_scale', gguf: 'logit_scale', type: 'float32' }],
  },
};

if (!registeredArchitectures().includes('TinyScaledForCausalLM')) registerFamily(TINY_SCALED);
