// bf16 training with fp32 master weights: the model computes in bfloat16, the optimizer steps fp32 copies, and the
// updated values are copied back, so small updates (lr 5e-7) are not lost to bfloat16's 8-bit mantissa.
import { noGrad } from '../tensor/autograd.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * fp32 copies of low-precision parameters. `params()` are what the optimizer steps.
 * @example const mw = new MasterWeights(trainable); loss.backward(); mw.gradsToMaster(); opt.step(); mw.copyBack();
 */
export class MasterWeights {
  readonly model: Tensor[];
  readonly master: Tensor[];

  constructor(modelParams: Tensor[]) {
    this.model = modelParams;
    this.master = modelParams.map((p) => noGrad(() => keep(p.to('float32'))).requiresGrad_(true));
    this.#byMaster = new Map(this.master.map((m, i) => [m, modelParams[i]]));
  }

  readonly #byMaster: Map<Tensor, Tensor>;

  params(): Tensor[] {
    return this.master;
  }

  /** Moves each model gradient, as fp32, onto its master (and clears the model's). */
  gradsToMaster(): void {
    this.model.forEach((p, i) => {
      const g = p.grad;
      if (g === null) return;
      const g32 = g.to('float32');
      this.master[i].grad = g32;
      g32.dispose();
      g.dispose();
      p.grad = null;
    });
  }

  /** The model parameter a master stands for. */
  modelOf(master: Tensor): Tensor | undefined {
    return this.#byMaster.get(master);
  }

  /** Drops the model parameters' gradients (after a mixed step, which read them directly). */
  dropModelGrads(): void {
    for (const p of this.model) p.grad = null;
  }

  /** Rounds the updated masters into the model's parameters. */
  copyBack(): void {
    noGrad(() => this.model.forEach((p, i) => p.copy_(this.master[i])));
  }

  /** Sets the masters from loaded values (resuming) and refreshes the model's copies. */
  load(values: Tensor[]): void {
    noGrad(() => this.master.forEach((m, i) => m.copy_(values[i])));
    this.copyBack();
  }

  dispose(): void {
    for (const m of this.master) m.dispose();
  }
}
