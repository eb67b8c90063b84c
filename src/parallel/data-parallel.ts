// Data parallelism for the training loop: each rank computes the gradients of its slice of the global batch, the
// gradients are averaged over the ranks once per optimizer step (bucketed all-reduce; with sharding, a bucketed
// reduce-scatter that leaves each rank only the gradients it owns), and every decision the loop takes from per-rank
// facts (a diverged loss, a stop signal) is agreed in a collective, so all ranks take it together.
import { ArgumentError } from '../errors.js';
import { zerosLike } from '../tensor/creation.js';
import { keep, tidy } from '../tensor/scope.js';
import { tensor } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { GradientOverlap, ProcessGroup } from './group.js';
import { noGrad } from '../tensor/autograd.js';
import { partitionParams, ShardedOptimizer } from './zero.js';
import { ParameterShards, type HookableModel } from './full-shard.js';

const elementBytes = (t: Tensor): number => (t.dtype === 'float64' || t.dtype === 'int64' ? 8 : t.dtype === 'bfloat16' || t.dtype === 'float16' ? 2 : 4);

/**
 * How training state is distributed: replicated on every rank (none), each rank keeping a slice of the optimizer
 * state and gradients (optimizer: ZeRO-2), or of the parameters too (full: ZeRO-3 / FSDP).
 */
export type Sharding = 'none' | 'optimizer' | 'full';
export const SHARDING_VALUES: readonly Sharding[] = ['none', 'optimizer', 'full'];

/** Why the loop should stop: the codes of the stop reasons agreed over ranks. */
const STOP_CODES = ['SIGINT', 'SIGTERM', 'abort'] as const;
export type AgreedStop = (typeof STOP_CODES)[number];

/** What the ranks agreed on after an optimizer step's gradient reduction. */
export interface StepAgreement {
  /** Ranks whose loss stopped being finite, with the message of the lowest one. */
  failedRanks: number[];
  failure: string | null;
  /** A stop requested on any rank (the strongest reason). */
  stop: AgreedStop | null;
  /** Real tokens of this step over all ranks. */
  tokens: number;
}

/** What the training loop calls; one object per rank. */
export interface TrainParallel {
  readonly rank: number;
  readonly worldSize: number;
  /** The rank that logs and writes (rank 0). */
  readonly isMain: boolean;
  /**
   * The optimizer over `params`: `make(params)` as is, or sharded over the ranks; with `masterWeights` (bf16
   * parameters and {@link shardsMasterWeights}) it also keeps the fp32 masters of its shard, and clips.
   */
  optimizer<O extends Optimizer<{ lr: number }>>(params: Tensor[], make: (params: Tensor[]) => O, o?: { masterWeights?: boolean }): O;
  /** Whether bf16 training's fp32 master weights are split over the ranks (by the optimizer) rather than kept whole. */
  readonly shardsMasterWeights: boolean;
  /** Rank 0's value on every rank (e.g. the checkpoint to resume from). */
  agree(key: string, value: string | null): string | null;
  /** Every rank's `value`, in rank order, once all ranks gave theirs (a barrier, then the store). */
  gather(key: string, value: string): string[];
  /** Copies rank 0's weights into every rank (so all ranks start from the same point). */
  syncWeights(params: Tensor[]): void;
  /**
   * Called before the single backward pass of an optimizer step's last micro-step: the gradients' all-reduce then
   * starts, bucket by bucket, during that backward pass (not with sharding, and not when the step runs several
   * backward passes, e.g. with gradient checkpointing: those are reduced after the backward as before).
   */
  prepareFinalBackward?(params: Tensor[]): void;
  /**
   * Averages the gradients of `params` over the ranks (missing gradients count as zeros) and agrees on the step's
   * outcome. Called once per optimizer step, after the last accumulation micro-step.
   */
  reduceGradients(params: Tensor[], local: { failure: string | null; stop: AgreedStop | null; tokens: number }): StepAgreement;
  /** Averages logged metrics over the ranks (every rank calls it at the same steps). */
  reduceMetrics(m: Record<string, number>): Record<string, number>;
  /**
   * Parameter sharding: whether each rank keeps only its own parameters; then `shardModel` installs the per-layer
   * gathering (after `optimizer`, before `syncWeights`), and `gatherParameters`/`releaseParameters` (collectives)
   * bring every parameter in around evaluation and saving.
   */
  readonly shardsParameters: boolean;
  shardModel(model: unknown, named: [string, Tensor][]): void;
  /** Parameter sharding: splits a frozen reference model (loaded whole on every rank) the same way. */
  shardReference(model: unknown, named: [string, Tensor][]): void;
  gatherParameters(o?: { withReference?: boolean }): void;
  releaseParameters(): void;
  /** Bytes and time of the collectives so far. */
  readonly group: ProcessGroup;
}

export interface DataParallelOptions {
  sharding?: Sharding;
  /** Largest all-reduce bucket in bytes (default 25 MiB, as PyTorch's DDP). */
  bucketBytes?: number;
  /**
   * All-reduce each bucket of gradients during the backward pass, as soon as its gradients are written (default
   * true; `BFPO_OVERLAP_GRAD_REDUCE=0` turns it off). Without sharding only.
   */
  overlap?: boolean;
}

/**
 * The data-parallel strategy over a process group.
 *
 * @example
 * const dp = new DataParallel(ProcessGroup.init({ ...fromEnv }), { sharding: 'optimizer' });
 * await trainAsync(model, task, config, store, { parallel: dp });
 */
export class DataParallel implements TrainParallel {
  readonly sharding: Sharding;
  readonly bucketBytes: number;
  #agreeCount = 0;
  /**
   * Bytes of gradients reduced so far (the payload: all-reduced, or with sharding reduce-scattered; a ring all-reduce
   * moves about 2(W-1)/W of it per rank each way, a reduce-scatter (W-1)/W).
   */
  gradientBytes = 0;
  /** The most gradient elements this rank held after a step's gradient reduction (with sharding: only its own). */
  heldGradientElements = 0;
  #zero: ShardedOptimizer<{ lr: number }> | null = null;
  #shards: ParameterShards | null = null;
  #referenceShards: ParameterShards | null = null;

  /** Elements of the parameters each rank owns (keeps optimizer state and gradients for); null without sharding. */
  ownedElementsPerRank: number[] | null = null;
  #metricRound = 0;
  readonly overlap: boolean;
  #overlap: GradientOverlap | null = null;
  #armed = false;

  constructor(readonly group: ProcessGroup, o: DataParallelOptions = {}) {
    this.sharding = o.sharding ?? 'none';
    this.bucketBytes = o.bucketBytes ?? 25 * 2 ** 20;
    this.overlap = o.overlap ?? process.env.BFPO_OVERLAP_GRAD_REDUCE !== '0';
  }

  /** Buckets of gradients whose all-reduce started during a backward pass, and all buckets reduced by the overlap. */
  get overlapStats(): { launchedEarly: number; buckets: number } {
    return { launchedEarly: this.#overlap?.launchedEarly ?? 0, buckets: this.#overlap?.buckets ?? 0 };
  }

  prepareFinalBackward(params: Tensor[]): void {
    if (!this.overlap || this.sharding !== 'none' || this.worldSize === 1 || params.length === 0) return;
    if (this.#overlap && (this.#overlap.params.length !== params.length || this.#overlap.params.some((p, i) => p !== params[i]))) {
      this.#overlap.release();
      this.#overlap = null;
    }
    this.#overlap ??= this.group.overlapGradients(params, this.bucketBytes);
    this.#overlap.start();
    this.#armed = true;
  }

  /** Releases the backward-pass hooks. */
  dispose(): void {
    this.#overlap?.release();
    this.#overlap = null;
    this.#armed = false;
  }

  get rank(): number { return this.group.rank; }
  get worldSize(): number { return this.group.worldSize; }
  get isMain(): boolean { return this.group.rank === 0; }

  get shardsMasterWeights(): boolean { return this.sharding !== 'none' && this.worldSize > 1; }

  get shardsParameters(): boolean { return this.sharding === 'full' && this.worldSize > 1; }

  /** The parameter shards of `sharding: full` (null otherwise, or before `shardModel`). */
  get parameterShards(): ParameterShards | null { return this.#shards; }

  /** The frozen reference model's shards (`sharding: full` with a live reference copy). */
  get referenceShards(): ParameterShards | null { return this.#referenceShards; }

  shardModel(model: unknown, named: [string, Tensor][]): void {
    if (!this.shardsParameters) return;
    if (!this.#zero) throw new ArgumentError('sharding: full needs the optimizer made (DataParallel.optimizer) before the model is sharded');
    const shards = new ParameterShards(this.group, named, this.#zero.owner);
    shards.attach(hookable(model));
    this.#shards = shards;
  }

  shardReference(model: unknown, named: [string, Tensor][]): void {
    if (!this.shardsParameters) return;
    const shards = new ParameterShards(this.group, named, partitionParams(named.map(([, p]) => p.numel()), this.worldSize));
    shards.attach(hookable(model));
    // Every rank loaded the same weights: each keeps only its own at once.
    shards.releaseAll();
    this.#referenceShards = shards;
  }

  // Rank 0 writes the model, and evaluates (with the reference), alone: every parameter it needs is gathered first,
  // and the layer hooks do nothing meanwhile.
  gatherParameters(o: { withReference?: boolean } = {}): void {
    this.#shards?.gatherAll();
    if (o.withReference) this.#referenceShards?.gatherAll();
  }

  releaseParameters(): void {
    this.#shards?.releaseAll();
    this.#referenceShards?.releaseAll();
  }

  optimizer<O extends Optimizer<{ lr: number }>>(params: Tensor[], make: (params: Tensor[]) => O, o: { masterWeights?: boolean } = {}): O {
    if (this.sharding === 'none' || this.worldSize === 1) return make(params);
    const z = new ShardedOptimizer(this.group, params, make, { ...o, shardedParameters: this.sharding === 'full' });
    this.#zero = z as unknown as ShardedOptimizer<{ lr: number }>;
    this.ownedElementsPerRank = new Array<number>(this.worldSize).fill(0);
    params.forEach((p, i) => { this.ownedElementsPerRank![z.owner[i]!]! += p.numel(); });
    return z as unknown as O;
  }

  agree(key: string, value: string | null): string | null {
    const k = `agree/${this.#agreeCount++}/${key}`;
    if (this.isMain) this.group.storeSet(k, JSON.stringify(value));
    return JSON.parse(String(this.group.storeGet(k))) as string | null;
  }

  gather(key: string, value: string): string[] {
    const k = `gather/${this.#gatherCount++}/${key}/`;
    this.group.storeSet(k + this.rank, value);
    // The barrier waits with the collective timeout (a rank still writing its part), the reads then find every key.
    this.group.barrier();
    return Array.from({ length: this.worldSize }, (_, r) => (r === this.rank ? value : String(this.group.storeGet(k + r))));
  }

  #gatherCount = 0;

  syncWeights(params: Tensor[]): void {
    if (this.worldSize > 1) this.group.broadcast(params, 0);
    // Every rank now has rank 0's weights: keep only this rank's own.
    this.#shards?.releaseAll();
  }

  reduceGradients(params: Tensor[], local: { failure: string | null; stop: AgreedStop | null; tokens: number }): StepAgreement {
    const W = this.worldSize;
    if (local.failure !== null) this.group.storeSet(`failure/${this.rank}`, local.failure);
    // With the overlap armed, the buckets not yet reduced go now, and the means are written into the gradients
    // (every rank reduces the same buckets, also one whose loss failed: its step is abandoned below).
    const overlapped = this.#armed && W > 1;
    this.#armed = false;
    if (overlapped) this.#overlap!.finish({ average: true });
    // Handles on the gradients (they alias the parameters' .grad, so reducing them in place updates those).
    const grads: Tensor[] = [];
    // With parameter sharding the gradients were reduce-scattered layer by layer during the backward pass: each rank
    // has (and zero-fills) only its own.
    const shards = this.#shards;
    for (const [i, p] of params.entries()) {
      if (shards && this.#zero!.owner[i] !== this.rank) continue;
      let g = p.grad;
      if (!g || local.failure !== null) {
        // A rank without a gradient (an unused parameter, or a diverged step) contributes zeros.
        g?.dispose();
        g = keep(tidy(() => zerosLike(p)));
        p.grad = g;
      }
      grads.push(g);
    }
    // [failed per rank..., ranks asking to stop per reason..., tokens]: summed, so every rank learns all of it.
    const S = STOP_CODES.length;
    const flags = new Array<number>(W + S + 1).fill(0);
    if (local.failure !== null) flags[this.rank] = 1;
    if (local.stop !== null) flags[W + STOP_CODES.indexOf(local.stop)] = 1;
    flags[W + S] = local.tokens;
    const status = tensor(flags, { dtype: 'float64' });
    try {
      if (W > 1) {
        if (shards) {
          this.gradientBytes = shards.gradientBytes;
        } else {
          if (this.#zero) this.#reduceScatterGradients(params, grads, this.#zero);
          else if (!overlapped) this.group.allreduce(grads, { average: true, bucketBytes: this.bucketBytes });
          // bfloat16 is summed as float32 (4 bytes on the wire).
          for (const g of grads) this.gradientBytes += g.numel() * (g.dtype === 'float64' ? 8 : 4);
        }
        this.group.allreduce([status]);
      }
      let held = 0;
      for (const p of params) {
        const g = p.grad;
        if (g) { held += g.numel(); g.dispose(); }
      }
      this.heldGradientElements = Math.max(this.heldGradientElements, held);
      const v = status.toArray() as number[];
      const failedRanks = v.slice(0, W).flatMap((x, r) => (x > 0 ? [r] : []));
      const failure = failedRanks.length === 0 ? null
        : failedRanks[0] === this.rank ? local.failure : String(this.group.storeGet(`failure/${failedRanks[0]}`));
      const stop = STOP_CODES.find((_, i) => v[W + i]! > 0) ?? null;
      return { failedRanks, failure, stop, tokens: Math.round(v[W + S]!) };
    } finally {
      status.dispose();
      for (const g of grads) g.dispose();
    }
  }

  /**
   * ZeRO-2: the gradients, in the optimizer's owner-major layout, reduce-scattered (averaged) in buckets of at most
   * `bucketBytes`, so each rank receives only the averaged gradients of the parameters it owns; it writes them into
   * those parameters' gradients and frees the gradients of the others.
   */
  #reduceScatterGradients(params: Tensor[], grads: Tensor[], zero: ShardedOptimizer<{ lr: number }>): void {
    if (zero.owner.length !== params.length) throw new ArgumentError(`sharding: optimizer reduces the gradients of the ${zero.owner.length} parameters it optimizes, not ${params.length}`);
    const order = zero.layout;
    let k = 0;
    while (k < order.length) {
      // One bucket: consecutive parameters (owner-major) of one dtype, up to bucketBytes (at least one).
      const bucket: number[] = [order[k]!];
      let bytes = grads[order[k]!]!.numel() * elementBytes(grads[order[k]!]!);
      k++;
      while (k < order.length && grads[order[k]!]!.dtype === grads[bucket[0]!]!.dtype) {
        const b = grads[order[k]!]!.numel() * elementBytes(grads[order[k]!]!);
        if (bytes + b > this.bucketBytes) break;
        bucket.push(order[k]!);
        bytes += b;
        k++;
      }
      const counts = new Array<number>(this.worldSize).fill(0);
      for (const i of bucket) counts[zero.owner[i]!]! += grads[i]!.numel();
      const piece = this.group.reduceScatter(bucket.map((i) => grads[i]!), counts, { average: true });
      try {
        let off = 0;
        noGrad(() => {
          for (const i of bucket) {
            if (zero.owner[i] !== this.rank) continue;
            const n = grads[i]!.numel();
            tidy(() => { grads[i]!.copy_(piece.narrow(0, off, n).view(grads[i]!.shape)); });
            off += n;
          }
        });
      } finally {
        piece.dispose();
      }
    }
    // The gradients of parameters other ranks own are not needed any more.
    for (const [i, p] of params.entries()) if (zero.owner[i] !== this.rank) p.grad = null;
  }

  reduceMetrics(m: Record<string, number>): Record<string, number> {
    if (this.worldSize === 1) return m;
    // The ranks may hold different keys (a metric of pairs that only one rank's slice had): the union, each key
    // averaged over the ranks that have it.
    const round = this.#metricRound++;
    this.group.storeSet(`metrics/${round}/${this.rank}`, JSON.stringify(Object.keys(m)));
    const all = new Set<string>();
    for (let r = 0; r < this.worldSize; r++) for (const k of JSON.parse(String(this.group.storeGet(`metrics/${round}/${r}`))) as string[]) all.add(k);
    const keys = [...all].sort();
    const t = tensor([...keys.map((k) => (k in m ? m[k]! : 0)), ...keys.map((k) => (k in m ? 1 : 0))], { dtype: 'float64' });
    try {
      this.group.allreduce([t]);
      const v = t.toArray() as number[];
      return Object.fromEntries(keys.map((k, i) => [k, v[i]! / v[keys.length + i]!]));
    } finally {
      t.dispose();
    }
  }
}

/** `model` as a model with per-layer hooks, or an error saying `sharding: full` needs them. */
function hookable(model: unknown): HookableModel {
  if (typeof model !== 'object' || model === null || !('layerHooks' in model)) {
    throw new ArgumentError('sharding: full needs a model with per-layer hooks (layerHooks: LlamaForCausalLM has them)');
  }
  return model as HookableModel;
}
