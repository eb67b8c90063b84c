// LoRA (Hu et al. 2021, "LoRA: Low-Rank Adaptation of Large Language Models", eq. 3): a frozen Linear plus a
// trainable low-rank update, h = W x + (alpha / r) * B A x. The frozen weight keeps its Hugging Face key
// (`...q_proj.weight`); the adapter adds `...q_proj.lora_A.weight` [r, in] and `...q_proj.lora_B.weight` [out, r].
import { noGrad } from '../tensor/autograd.js';
import { rand } from '../tensor/creation.js';
import { ArgumentError, expected } from '../errors.js';
import { dropout, linear } from '../tensor/functional.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { Linear } from './linear.js';
import { Module } from './module.js';

/** LoRA hyper-parameters, named as in PEFT's LoraConfig. */
export interface LoraOptions {
  /** Rank of the update. */
  r: number;
  /** Scale numerator: the update is multiplied by alpha / r (default: r, a scale of 1). */
  alpha?: number;
  /** Dropout on the adapter's input while training (default 0). */
  dropout?: number;
  /** Names of the Linear children to adapt, e.g. ['q_proj', 'v_proj']. */
  targetModules: string[];
}

function checkLoraOptions({ r, alpha = r, dropout: p = 0 }: Omit<LoraOptions, 'targetModules'>): void {
  if (!(Number.isInteger(r) && r > 0)) throw expected('a positive integer', 'LoRA r', r);
  if (!(typeof alpha === 'number' && alpha > 0)) throw expected('a positive number', 'LoRA alpha', alpha);
  if (!(typeof p === 'number' && p >= 0 && p < 1)) throw expected('a probability in [0, 1)', 'LoRA dropout', p);
}

/**
 * A Linear with a frozen weight and a trainable low-rank update. B starts at zero, so a fresh adapter leaves the
 * output unchanged; A starts uniform in ±1/sqrt(in) (PEFT's default).
 */
export class LoraLinear extends Module {
  readonly weight: Tensor; // [out, in], frozen
  readonly bias: Tensor | null; // [out], frozen
  readonly loraA: Linear; // weight [r, in]
  readonly loraB: Linear; // weight [out, r]
  readonly scaling: number;
  readonly dropoutP: number;
  /** When false the layer computes only the frozen part (see `withoutLora`). */
  enabled = true;

  constructor(base: Linear, { r, alpha = r, dropout: p = 0 }: Omit<LoraOptions, 'targetModules'>) {
    super();
    checkLoraOptions({ r, alpha, dropout: p });
    this.weight = this.registerParameter('weight', base.weight).requiresGrad_(false);
    this.bias = base.bias ? this.registerParameter('bias', base.bias).requiresGrad_(false) : null;
    const opts = { dtype: base.weight.dtype, device: base.weight.device, init: 'empty' as const };
    this.loraA = this.registerModule('lora_A', new Linear(base.inFeatures, r, opts));
    this.loraB = this.registerModule('lora_B', new Linear(r, base.outFeatures, opts));
    noGrad(() => tidy(() => {
      const bound = 1 / Math.sqrt(base.inFeatures);
      this.loraA.weight.copy_(rand(this.loraA.weight.shape).mul(2 * bound).sub(bound));
      this.loraB.weight.zero_();
    }));
    this.scaling = alpha / r;
    this.dropoutP = p;
  }

  forward(x: Tensor): Tensor {
    const frozen = linear(x, this.weight, this.bias); // [..., out]
    if (!this.enabled) return frozen;
    const input = this.dropoutP > 0 ? dropout(x, this.dropoutP, this.training) : x; // [..., in]
    const update = this.loraB.forward(this.loraA.forward(input)); // [..., out]
    return frozen.add(update.mul(this.scaling)); // [..., out]
  }

  /** A plain Linear whose weight is W + scaling * B A (the frozen tensors, updated in place). */
  merge(): Linear {
    noGrad(() => tidy(() => { this.weight.add_(this.loraB.weight.matmul(this.loraA.weight).mul(this.scaling)); }));
    this.loraA.dispose();
    this.loraB.dispose();
    return Linear.fromTensors(this.weight, this.bias);
  }
}

/**
 * Wraps every Linear child named in `targetModules` in a LoraLinear and freezes everything else (as PEFT's
 * get_peft_model). Returns the keys of the adapted layers.
 *
 * @example
 * applyLora(model, { r: 8, alpha: 16, targetModules: ['q_proj', 'v_proj'] });
 * const opt = new AdamW(model.trainableParameters(), { lr: 1e-4 });
 */
export function applyLora(root: Module, opts: LoraOptions): string[] {
  const targets = opts.targetModules;
  if (!Array.isArray(targets) || targets.length === 0 || targets.some((t) => typeof t !== 'string' || t === '')) {
    throw expected('a non-empty array of module names', 'targetModules', targets);
  }
  checkLoraOptions(opts);
  const matches: [Module, string, Linear, string][] = [];
  const linearNames = new Set<string>();
  for (const [path, parent] of root.namedModules()) {
    for (const [name, child] of parent.children()) {
      if (!(child instanceof Linear)) continue;
      linearNames.add(name);
      if (targets.includes(name)) matches.push([parent, name, child, path ? `${path}.${name}` : name]);
    }
  }
  if (matches.length === 0) {
    throw new ArgumentError(`No Linear layer is named ${targets.join(' or ')}; the Linear layers here are: ${[...linearNames].join(', ')}`);
  }
  root.requiresGrad_(false);
  for (const [parent, name, child] of matches) parent.replaceModule(name, new LoraLinear(child, opts));
  return matches.map((m) => m[3]);
}

/** Folds every adapter into its frozen weight and puts plain Linears back (keys as before applyLora). */
export function mergeLora(root: Module): string[] {
  const merged: string[] = [];
  for (const [path, parent] of root.namedModules()) {
    for (const [name, child] of parent.children()) {
      if (!(child instanceof LoraLinear)) continue;
      parent.replaceModule(name, child.merge());
      merged.push(path ? `${path}.${name}` : name);
    }
  }
  return merged;
}

/**
 * Runs `fn` with every adapter under `root` switched off, so the model computes as the frozen base model: the
 * reference model of DPO-style training without a second copy of the weights (PEFT's `disable_adapter()`).
 *
 * @example const refLogits = withoutLora(model, () => noGrad(() => model.forward(ids).logits));
 */
export function withoutLora<T>(root: Module, fn: () => T): T {
  const layers = root.namedModules().map(([, m]) => m).filter((m): m is LoraLinear => m instanceof LoraLinear);
  const previous = layers.map((l) => l.enabled);
  for (const l of layers) l.enabled = false;
  try {
    return fn();
  } finally {
    layers.forEach((l, i) => { l.enabled = previous[i]; });
  }
}
