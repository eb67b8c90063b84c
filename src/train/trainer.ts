// The one training loop for SFT and preference training: gradient accumulation, clipping, schedule, bf16 master
// weights, buffer data, evaluation, logging, checkpoints and automatic resuming.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { type PendingFile, pendingFile, writeFiles, writeFilesAsync } from '../io/atomic.js';
import { join } from 'node:path';
import { clipCoefficient, clipGradNormTensor_, gradNormTensor } from '../tensor/autograd.js';
import { fromBuffer } from '../tensor/creation.js';
import { ArgumentError, BfpoError, expected } from '../errors.js';
import { getRngState, manualSeed, releaseFreeHostMemory, setRngState } from '../tensor/runtime.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Device } from '../tensor/dtype.js';
import {
  assertSameRun, checkpointProblem, configDifferences, lastIntactCheckpoint, removeStaleFolders, saveCheckpoint, saveCheckpointAsync, writeJson,
  CheckpointDamagedError, CheckpointWriteError, RUN_CONFIG, TRAINER_STATE,
} from './checkpoint.js';
import { lockOutputDir, type RunLock } from './lock.js';
import { watchStopSignals, type StopWatch } from './signals.js';
import { TrainLogger, type LogRecord } from './logger.js';
import { makeOptimizer, optimizerFiles, type AnyOptimizer, type OptimSettings } from './optimizers.js';
import { isShardable, restoreOptimizer, writeOwnShard, writeShardManifest, type ShardableOptimizer, type ShardRecord } from './optimizer-shards.js';
import { freezeExcept } from '../nn/freeze.js';
import { MasterWeights } from './precision.js';
import { AdamBase } from '../optim/adam.js';
import { lrMultiplier, warmupStepsOf, type ScheduleType } from './schedule.js';
import { runStep, taskSteps, type StepBatch, type TaskSteps } from './steps.js';
import { tensorFiles } from './tensor-store.js';
import { batchTokens, disposeBatch, type BatchSource, type CausalLM, type SourcePosition, type TrainingTask } from './types.js';
import { MetricAverager, runEvaluation } from './evaluate.js';
import { stepMetricRecords } from './step-metrics.js';
import type { AgreedStop, TrainParallel } from '../parallel/data-parallel.js';
import { StepReads } from './step-reads.js';

export type { TrainingTask } from './types.js';
export type { LogRecord } from './logger.js';

/** Raised when the loss or the gradient norm stops being finite. */
export class TrainingDivergedError extends BfpoError {}

/** How model weights are written into and read from a checkpoint folder (e.g. an HF folder writer). */
export interface ModelStore {
  save(dir: string): void;
  load(dir: string): void;
  /** Writes the final model into the output folder (default: `save`); e.g. LoRA adapters merged. */
  saveFinal?(dir: string): void;
  /** `save` without blocking the event loop; `trainAsync` uses it when given (the model is unchanged until it settles). */
  saveAsync?(dir: string): Promise<void>;
  /** `saveFinal` without blocking the event loop; `trainAsync` uses it when given. */
  saveFinalAsync?(dir: string): Promise<void>;
}

export interface TrainerConfig extends OptimSettings {
  outputDir: string;
  numTrainEpochs: number;
  /** When > 0, the number of optimizer steps (overrides numTrainEpochs). */
  maxSteps: number;
  gradientAccumulationSteps: number;
  lrSchedulerType: ScheduleType;
  warmupRatio: number;
  warmupSteps: number;
  /** Clip the global gradient norm to this; 0 disables clipping. */
  maxGradNorm: number;
  loggingSteps: number;
  /** Also log after the first step. */
  loggingFirstStep?: boolean;
  /** A name written to the logs and train_results.json. */
  runName?: string | null;
  evalStrategy: 'no' | 'steps' | 'epoch';
  evalSteps: number;
  /** Evaluate after the last step even when evalStrategy is 'no'. */
  evalAtEnd?: boolean;
  saveStrategy: 'no' | 'steps' | 'epoch';
  saveSteps: number;
  saveTotalLimit: number | null;
  seed: number;
  /** Compute in bfloat16 with fp32 master weights (the model's parameters must already be bfloat16). */
  bf16: boolean;
  /** Recompute each decoder layer in the backward pass instead of keeping its activations (less memory, ~1 more forward). */
  gradientCheckpointing?: boolean;
  /** Train only parameters whose name contains one of these; null trains all. */
  selectedLayers: string[] | null;
  reportTo: string[];
  /** A checkpoint folder to resume from; undefined resumes from the last one in outputDir when there is one. */
  resumeFromCheckpoint?: string;
  /** The run's identity (recipe keys); a checkpoint is resumed only when it matches, except `resumeIgnoredKeys`. */
  runConfig: Record<string, unknown>;
  resumeIgnoredKeys?: string[];
  /** auto: progress bar on a terminal plus log lines; lines: log lines only; none: silent. */
  console?: 'auto' | 'lines' | 'none';
}

export interface TrainResult {
  globalStep: number;
  /** The last logged training metrics and the last evaluation. */
  lastLog: Record<string, number>;
  lastEval: Record<string, number>;
  resumedFrom: string | null;
  /**
   * What stopped the run early (after a checkpoint was written): a signal, or 'abort' for the `signal` of
   * {@link TrainHooks}; null when it ran to the end.
   */
  stoppedBy: StopReason | null;
  /** The last checkpoint written or resumed from. */
  lastCheckpoint: string | null;
  /** True when the output folder held a finished run: nothing was trained (lastLog/lastEval from train_results.json). */
  alreadyComplete?: boolean;
  /** What the run noticed on its way (damaged checkpoints skipped, a stale lock taken over); also shown on the console. */
  notes: string[];
  /**
   * Seconds this process spent in the training loop: from its first step to the end of its last one, reference
   * log-probs, evaluations and checkpoints during training included; loading before it and the final model write
   * after it excluded (train_results.json: `train_runtime`). Absent when this process trained no step.
   */
  trainRuntime?: number;
  /** Tokens this process trained on in that time (summed over ranks). */
  trainTokens?: number;
}

/** Why a run stopped before its last step. */
export type StopReason = 'SIGINT' | 'SIGTERM' | 'abort';

/** Ways for a program to follow and stop a run; every hook is optional. */
export interface TrainHooks {
  /** When aborted, the run stops after the current optimizer step, writes a checkpoint and returns (stoppedBy 'abort'). */
  signal?: AbortSignal;
  /** Each training record, as written to log.jsonl (every logging_steps). */
  onLog?(record: LogRecord): void;
  /** Each evaluation record, as written to log.jsonl. */
  onEval?(record: LogRecord): void;
  /** The folder of each checkpoint written. */
  onSave?(checkpointDir: string): void;
  /**
   * Data-parallel training (src/parallel): this process is one rank; gradients are averaged over the ranks each
   * optimizer step, only rank 0 logs and writes, and every rank takes the same decisions. The task's training
   * sources must already give this rank its slice of each global batch.
   */
  parallel?: TrainParallel;
}

interface LoopState {
  step: number;
  position: SourcePosition;
  bufferPosition: SourcePosition | null;
  tokensSeen: number;
}

/** Parameters marked trainable by `selectedLayers` (all when null); the others stop requiring gradients. */
export function selectTrainable(model: CausalLM, selected: string[] | null): [string, Tensor][] {
  if (selected === null) return model.namedParameters().filter(([, p]) => p.requiresGrad);
  return freezeExcept(model.namedParameters(), selected, 'selected_layers');
}

function checkConfig(c: TrainerConfig): void {
  const posInt = (v: number, k: string) => { if (!(Number.isInteger(v) && v >= 1)) throw expected('a positive integer', k, v); };
  posInt(c.gradientAccumulationSteps, 'gradient_accumulation_steps');
  posInt(c.loggingSteps, 'logging_steps');
  if (c.saveStrategy === 'steps') posInt(c.saveSteps, 'save_steps');
  if (c.evalStrategy === 'steps') posInt(c.evalSteps, 'eval_steps');
  if (!(c.maxGradNorm >= 0)) throw expected('a number >= 0 (0 disables clipping)', 'max_grad_norm', c.maxGradNorm);
  if (!(c.maxSteps > 0) && !(c.numTrainEpochs > 0)) throw expected('a number > 0 (or max_steps > 0)', 'num_train_epochs', c.numTrainEpochs);
}

/**
 * Trains `model` on `task` as `config` says, resuming from a checkpoint when one exists. Synchronous: the event
 * loop waits until the run ends (see {@link trainAsync}).
 *
 * @example
 * const result = train(model, { kind: 'preference', train: source, reference, loss: { lossType: 'bfpo', beta: 0.01 } },
 *   { ...defaults, outputDir: 'out' }, { save: (d) => savePretrained(model, d), load: (d) => loadWeights(model, d) });
 */
export function train(model: CausalLM, task: TrainingTask, config: TrainerConfig, store: ModelStore, hooks: TrainHooks = {}): TrainResult {
  const run = trainLoop(model, task, config, store, hooks, 'sync');
  for (;;) {
    const r = run.next();
    if (r.done) return r.value;
  }
}

/**
 * {@link train}, handing the event loop back between optimizer steps: timers, I/O and an AbortController's
 * `abort()` run while the model trains. Checkpoints and the final model are written through node:fs/promises
 * (the store's `saveAsync`/`saveFinalAsync` when it has them), so the event loop also runs while they are written.
 *
 * @example
 * const ac = new AbortController();
 * const result = await trainAsync(model, task, config, store, { signal: ac.signal, onLog: (r) => console.log(r.loss) });
 */
export async function trainAsync(model: CausalLM, task: TrainingTask, config: TrainerConfig, store: ModelStore, hooks: TrainHooks = {}): Promise<TrainResult> {
  const run = trainLoop(model, task, config, store, hooks, 'async');
  let r = run.next();
  while (!r.done) {
    if (r.value) {
      let value: unknown;
      try {
        value = await r.value;
      } catch (err) {
        r = run.throw(err);
        continue;
      }
      r = run.next(value);
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
      r = run.next();
    }
  }
  return r.value;
}

/** What the loop yields: nothing after an optimizer step; a write in progress ('async' runs), whose result comes back. */
type LoopYield = Promise<unknown> | undefined;

/** Waits (in the driver) for `p` and returns its value; a rejection is thrown here. */
function* settle<T>(p: Promise<T>): Generator<LoopYield, T, unknown> {
  return (yield p) as T;
}

/**
 * The training loop; it pauses (yields) after each optimizer step and returns the result. With `io` 'async' it
 * also yields the promises of its checkpoint and final-model writes.
 */
function* trainLoop(
  model: CausalLM, task: TrainingTask, config: TrainerConfig, store: ModelStore, hooks: TrainHooks, io: 'sync' | 'async',
): Generator<LoopYield, TrainResult, unknown> {
  checkConfig(config);
  const c = config;
  const { accum, stepsPerEpoch, totalSteps, schedule } = stepPlan(task, c);
  if (c.gradientCheckpointing && !model.forwardBackwardCheckpointed) {
    throw new ArgumentError('gradient_checkpointing needs a model with forwardBackwardCheckpointed (LlamaForCausalLM has it)');
  }
  const named = selectTrainable(model, c.selectedLayers);
  const params = named.map(([, p]) => p);
  const paramNames = named.map(([n]) => n);
  if (c.bf16 && params.some((p) => p.dtype !== 'bfloat16')) {
    throw new ArgumentError('bf16 needs the model in bfloat16 (load it with torch_dtype: bfloat16)');
  }
  const par = hooks.parallel ?? null;
  const main = par === null || par.isMain;
  // With optimizer sharding over ranks, the sharded optimizer keeps the fp32 masters of its own shard.
  const shardedMasters = c.bf16 && par !== null && par.shardsMasterWeights;
  const masters = c.bf16 && !shardedMasters ? new MasterWeights(params) : null;
  const optimParams = masters ? masters.params() : params;
  if (par?.shardsParameters && !c.gradientCheckpointing) {
    throw new ArgumentError('sharding: full needs gradient_checkpointing: true (each layer is gathered again and recomputed in the backward pass)');
  }
  const opt = par ? par.optimizer(optimParams, (ps) => makeOptimizer(ps, c), { masterWeights: shardedMasters }) : makeOptimizer(optimParams, c);
  // Parameter sharding: the layers gather their parameters around their use from here on (released at syncWeights).
  par?.shardModel(model, named);
  let logger: TrainLogger | null = null;
  let lock: RunLock | null = null;
  let stop: StopWatch | null = null;
  const notes: string[] = [];
  try {
    mkdirSync(c.outputDir, { recursive: true });
    if (main) {
      lock = lockOutputDir(c.outputDir, (t) => notes.push(t));
      removeStaleFolders(c.outputDir);
    }
    let resumeDir = main ? c.resumeFromCheckpoint ?? lastIntactCheckpoint(c.outputDir, (t) => notes.push(t)) : null;
    if (par) resumeDir = par.agree('resume', resumeDir);
    const state: LoopState = { step: 0, position: { epoch: 0, batch: 0 }, bufferPosition: null, tokensSeen: 0 };
    if (resumeDir) {
      if (!existsSync(join(resumeDir, TRAINER_STATE))) throw new ArgumentError(`No ${TRAINER_STATE} in ${resumeDir}: it is not a complete checkpoint`);
      const problem = checkpointProblem(resumeDir);
      if (problem) throw new CheckpointDamagedError(`${resumeDir} is damaged: ${problem}; resume from an earlier checkpoint`);
      assertSameRun(resumeDir, c.runConfig, c.resumeIgnoredKeys);
      Object.assign(state, restore(resumeDir, store, opt, masters, deviceOf(params), paramNames));
    } else {
      manualSeed(c.seed);
    }
    par?.syncWeights(masters ? [...params, ...optimParams] : params);
    const finalResults = join(c.outputDir, 'train_results.json');
    // A run with save_strategy "no" ends without a checkpoint: its run_config.json and train_results.json mark it done.
    const doneWithout = main && !resumeDir ? finishedWithoutCheckpoint(c, totalSteps) : null;
    const complete = (resumeDir && state.step >= totalSteps && existsSync(finalResults)) || doneWithout !== null;
    if (main && !complete) {
      // From here the folder's results are this run's to write: a stale train_results.json would mark it done.
      rmSync(finalResults, { force: true });
      writeJson(join(c.outputDir, RUN_CONFIG), c.runConfig);
    }
    const result: TrainResult = { globalStep: state.step, lastLog: {}, lastEval: {}, resumedFrom: resumeDir, stoppedBy: null, lastCheckpoint: resumeDir, notes };
    if (par ? par.agree('complete', complete ? 'yes' : null) !== null : complete) {
      // A finished run: nothing to train, evaluate or log (no new TensorBoard file).
      const say = (t: string): void => { if (c.console !== 'none' && main) process.stderr.write(`${t}\n`); };
      for (const n of notes) say(n);
      if (doneWithout !== null) result.globalStep = doneWithout;
      say(`already complete: ${c.outputDir} finished at step ${result.globalStep} of ${totalSteps} ` +
        `(${resumeDir ? `checkpoint ${resumeDir}` : 'save_strategy no: no checkpoint'}); nothing to do; choose another output_dir to train afresh`);
      const saved = JSON.parse(readFileSync(finalResults, 'utf8')) as Record<string, unknown>;
      for (const [k, v] of Object.entries(saved)) {
        if (typeof v !== 'number' || k === 'global_step') continue;
        if (k.startsWith('eval_')) result.lastEval[k] = v;
        else result.lastLog[k] = v;
      }
      result.alreadyComplete = true;
      return result;
    }

    const log = (logger = new TrainLogger(main
      ? { outputDir: c.outputDir, reportTo: c.reportTo, console: c.console, totalSteps, startStep: state.step }
      : { outputDir: null, console: 'none' }));
    for (const n of notes) log.info(n);
    if (c.runName) log.info(`run ${c.runName}`);
    if (resumeDir) log.info(`Resuming from ${resumeDir} at step ${state.step} of ${totalSteps}`);
    // With sharding: optimizer over ranks, each rank writes its own optimizer shard into the checkpoint folder.
    const shards = par !== null && par.worldSize > 1 && isShardable(opt) ? { par, opt } : null;
    const saveNow = function* (): Generator<LoopYield, string, unknown> {
      // With parameter sharding every rank gathers all parameters (a collective), so rank 0 can write them.
      par?.gatherParameters();
      try {
        return yield* saveGathered();
      } finally {
        par?.releaseParameters();
      }
    };
    const saveGathered = function* (): Generator<LoopYield, string, unknown> {
      if (!main) {
        if (shards) writeShardsTogether(shards.par, shards.opt, null, paramNames);
        else opt.stateDict(); // rank 0 writes; a sharded optimizer gathers its state to it in this collective
        return join(c.outputDir, `checkpoint-${state.step}`);
      }
      const limit = { totalLimit: c.saveTotalLimit };
      const withOptimizer = shards === null;
      const own = (d: string): void => { if (shards) writeShardsTogether(shards.par, shards.opt, d, paramNames); };
      const dir = io === 'async'
        ? yield* settle(saveCheckpointAsync(c.outputDir, state.step, (d) => (own(d), writeCheckpointAsync(d, state, store, withOptimizer ? opt : null, masters, c.runConfig, deviceOf(params))), limit))
        : saveCheckpoint(c.outputDir, state.step, (d) => (own(d), writeCheckpoint(d, state, store, withOptimizer ? opt : null, masters, c.runConfig, deviceOf(params))), limit);
      log.checkpoint(dir, state.step);
      hooks.onSave?.(dir);
      releaseFreeHostMemory();
      return dir;
    };
    let lastSaved = resumeDir;
    stop = watchStopSignals();
    let lastEvalStep = -1;
    const evaluate = (): void => {
      if (!task.eval || lastEvalStep === state.step) return;
      lastEvalStep = state.step;
      // Rank 0 evaluates alone: with parameter sharding every rank first gathers all parameters (a collective).
      if (!main) {
        par?.gatherParameters({ withReference: true });
        par?.releaseParameters();
        return;
      }
      const phase = log.evaluation(task.eval.length);
      let m: Record<string, number>;
      par?.gatherParameters({ withReference: true });
      try {
        m = runEvaluation(model, task, (done) => phase.update(done));
      } finally {
        phase.stop();
        par?.releaseParameters();
      }
      result.lastEval = m;
      const record = log.log(state.step, m, { epoch: state.step / stepsPerEpoch });
      hooks.onEval?.(record);
      releaseFreeHostMemory(); // evaluation batches leave holes of their own sizes in the C heap
    };

    const averager = new MetricAverager();
    const started = Date.now();
    const startStep = state.step;
    let tokensSinceStart = 0;
    const steps = taskSteps(task, { deferReads: true });
    task.train.seek(state.position);
    steps.buffer?.seek(state.bufferPosition ?? { epoch: 0, batch: 0 });
    while (state.step < totalSteps) {
      const pos = task.train.position();
      if (pos.batch >= task.train.length) {
        task.train.seek({ epoch: pos.epoch + 1, batch: 0 });
        if (c.evalStrategy === 'epoch') evaluate();
        continue;
      }
      const n = Math.min(accum, task.train.length - pos.batch);
      model.train?.(true);
      const lr = c.learningRate * lrMultiplier(c.lrSchedulerType, state.step, schedule);
      // The micro-batches' losses and metrics stay on the device until the step ends, then come over in one read
      // with the gradient norm (StepReads); a loss that is not finite stops the run before the update.
      const reads = new StepReads();
      const originalMetrics = task.kind === 'preference' && task.originalMetrics === true;
      const readStep = (normTensor: Tensor | null): number | null => {
        const { steps: values, extra } = reads.read(normTensor ? [['grad_norm', normTensor]] : []);
        for (const v of values) {
          const total = v.main.loss + (v.buffer?.loss ?? 0);
          if (!Number.isFinite(total)) throw new TrainingDivergedError(`The loss became ${total} ${describeStop(state, c, lastSaved)}`);
          for (const record of stepMetricRecords(v.main.metrics, v.buffer, v.main.loss, originalMetrics)) averager.add(record);
        }
        return normTensor ? extra.grad_norm : null;
      };
      let norm: number | null;
      let agreedStop: AgreedStop | null = null;
      try {
        let stepTokens = 0;
        for (let i = 0; i < n; i++) {
          // The last micro-step's single backward pass starts the gradients' all-reduce as they are written.
          if (par && i === n - 1 && !c.gradientCheckpointing) par.prepareFinalBackward?.(params);
          stepTokens += microStep(model, task.train, steps, { n, checkpointed: c.gradientCheckpointing ?? false }, reads);
        }
        if (par) {
          // With ranks, this rank's losses are read before the gradients are reduced, so that a diverged loss on any
          // rank is agreed on and every rank stops at this step.
          let failure: string | null = null;
          try {
            readStep(null);
          } catch (err) {
            if (!(err instanceof TrainingDivergedError)) throw err;
            failure = err.message;
          }
          const a = par.reduceGradients(params, { failure, stop: stop.requested() ?? (hooks.signal?.aborted ? 'abort' : null), tokens: stepTokens });
          if (a.failure !== null) {
            opt.zeroGrad();
            throw new TrainingDivergedError(`${a.failure} (rank ${a.failedRanks.join(', ')} of ${par.worldSize})`);
          }
          agreedStop = a.stop;
          stepTokens = a.tokens;
        }
        state.tokensSeen += stepTokens;
        tokensSinceStart += stepTokens;
        norm = optimizerStep(opt, masters, optimParams, lr, c.maxGradNorm, readStep, par === null);
      } finally {
        reads.dispose();
      }
      if (norm !== null) {
        if (!Number.isFinite(norm)) throw new TrainingDivergedError(`The gradient norm became ${norm} ${describeStop(state, c, lastSaved)}`);
        averager.add({ grad_norm: norm });
      }
      state.step += 1;
      state.position = task.train.position();
      if (steps.buffer) state.bufferPosition = steps.buffer.position();
      result.globalStep = state.step;

      const elapsed = (Date.now() - started) / 1000;
      result.trainRuntime = elapsed;
      result.trainTokens = tokensSinceStart;
      const perStep = elapsed / (state.step - startStep);
      const tokensPerSecond = tokensSinceStart / Math.max(elapsed, 1e-9);
      if (state.step % c.loggingSteps === 0 || state.step === totalSteps || (c.loggingFirstStep && state.step === 1)) {
        const m: Record<string, number> = { ...(par ? par.reduceMetrics(averager.take()) : averager.take()), learning_rate: lr, tokens_per_second: tokensPerSecond };
        result.lastLog = m;
        const epoch = state.step / stepsPerEpoch;
        const record = log.log(state.step, m, { epoch, tokens: state.tokensSeen }, {
          epoch, step: state.step, total: totalSteps, loss: m.loss, accuracy: m['rewards/accuracies'], margin: m['rewards/margins'],
          lr, tokensPerSecond, etaSeconds: perStep * (totalSteps - state.step),
        });
        hooks.onLog?.(record);
        // Batches of changing lengths fragment glibc's heap, which keeps the holes resident: a long run's memory
        // would creep up by a few MiB per 1,000 steps. Returning the free pages at each record keeps it flat. The
        // host allocator's idle blocks stay: the next step reuses them (released, they would be faulted in again).
        releaseFreeHostMemory({ keepIdleBlocks: true });
      }
      log.progress(state.step);
      if (c.evalStrategy === 'steps' && state.step % c.evalSteps === 0) evaluate();
      const finished = state.step === totalSteps;
      const epochDone = task.train.position().batch >= task.train.length;
      // The end always gets a checkpoint, except with save_strategy "no" in a run that never wrote one (resumed, it
      // does: the interrupted run's checkpoint must not stay the newest).
      const endCheckpoint = finished && (c.saveStrategy !== 'no' || resumeDir !== null);
      if (endCheckpoint || (c.saveStrategy === 'steps' && state.step % c.saveSteps === 0) || (c.saveStrategy === 'epoch' && epochDone)) {
        lastSaved = yield* saveNow();
      }
      result.lastCheckpoint = lastSaved;
      const signal: StopReason | null = par ? agreedStop : stop.requested() ?? (hooks.signal?.aborted ? 'abort' : null);
      if (signal && !finished) {
        if (lastSaved !== join(c.outputDir, `checkpoint-${state.step}`)) lastSaved = yield* saveNow();
        result.lastCheckpoint = lastSaved;
        result.stoppedBy = signal;
        log.info(`${signal === 'abort' ? 'aborted' : signal}: stopped after step ${state.step} of ${totalSteps}; checkpoint ${lastSaved} written. Run the same command again to resume`);
        return result;
      }
      yield;
    }
    if (c.evalStrategy !== 'no' || c.evalAtEnd) evaluate();
    // The model ends whole on every rank (with parameter sharding, gathered once more).
    par?.gatherParameters();
    if (!main) return result;
    try {
      const saveFinalAsync = store.saveFinal ? store.saveFinalAsync : store.saveAsync;
      if (io === 'async' && saveFinalAsync) yield* settle(saveFinalAsync.call(store, c.outputDir));
      else if (store.saveFinal) store.saveFinal(c.outputDir);
      else store.save(c.outputDir);
    } catch (err) {
      if (err instanceof BfpoError && !(err as NodeJS.ErrnoException).code) throw err;
      throw new CheckpointWriteError(`Writing the final model into ${c.outputDir} failed: ${(err as Error).message}. ` +
        `${lastSaved ? `The last checkpoint ${lastSaved} is intact; ` : ''}${(err as NodeJS.ErrnoException).code === 'ENOSPC' ? 'free disk space' : 'fix the cause'} ` +
        'and rerun the same command to write it again');
    }
    const runtime = result.trainRuntime ?? 0;
    const timing = runtime > 0 ? {
      train_runtime: runtime, train_steps_per_second: (state.step - startStep) / runtime, train_tokens_per_second: (result.trainTokens ?? 0) / runtime,
    } : {};
    writeJson(join(c.outputDir, 'train_results.json'), { run_name: c.runName ?? null, global_step: state.step, ...timing, ...result.lastLog, ...result.lastEval });
    return result;
  } finally {
    stop?.dispose();
    logger?.close();
    lock?.release();
    masters?.dispose();
    opt.dispose();
  }
}

/**
 * The final step of a finished run in `c.outputDir` that wrote no checkpoint (save_strategy "no"): its
 * train_results.json reaches `totalSteps` and its run_config.json matches this run's; null otherwise.
 */
function finishedWithoutCheckpoint(c: TrainerConfig, totalSteps: number): number | null {
  const read = (name: string): Record<string, unknown> | null => {
    try {
      return JSON.parse(readFileSync(join(c.outputDir, name), 'utf8')) as Record<string, unknown>;
    } catch {
      return null;
    }
  };
  const results = read('train_results.json');
  const saved = results ? read(RUN_CONFIG) : null;
  if (!results || !saved || configDifferences(saved, c.runConfig, c.resumeIgnoredKeys).length > 0) return null;
  const step = results.global_step;
  return typeof step === 'number' && step >= totalSteps ? step : null;
}

/** Optimizer steps per epoch and in all, and the schedule's settings. */
function stepPlan(task: TrainingTask, c: TrainerConfig) {
  const accum = c.gradientAccumulationSteps;
  const stepsPerEpoch = Math.ceil(task.train.length / accum);
  if (stepsPerEpoch === 0) throw new ArgumentError('The training data yields no batches');
  const totalSteps = c.maxSteps > 0 ? c.maxSteps : Math.ceil(c.numTrainEpochs * stepsPerEpoch);
  const schedule = { totalSteps, warmupRatio: c.warmupRatio, warmupSteps: c.warmupSteps };
  warmupStepsOf(schedule);
  return { accum, stepsPerEpoch, totalSteps, schedule };
}

/**
 * fp32 gradients onto the masters (bf16), clipping, the step's values read (`read` gets the norm tensor and returns
 * its value; it throws to stop before the update), one update at `lr`, and the rounded copy back. Returns the norm.
 * With float32 masters and Adam/AdamW in one process (`mixed`), the norm is taken over the model's bfloat16
 * gradients (in float32) and one pass per parameter scales each gradient by the clipping coefficient, updates the
 * master and rounds it into the model, instead of a float32 copy of every gradient, a clipping pass, the update and
 * a copy back (the same values).
 */
function optimizerStep(
  opt: AnyOptimizer, masters: MasterWeights | null, params: Tensor[], lr: number, maxGradNorm: number, read: (norm: Tensor | null) => number | null,
  mixed: boolean,
): number | null {
  const oneStep = masters !== null && mixed && opt instanceof AdamBase && opt.stepsMixed ? opt : null;
  let normTensor: Tensor | null;
  let drop: () => void;
  if (oneStep) {
    normTensor = maxGradNorm > 0 ? gradNormTensor(masters!.model) : null;
    drop = () => masters!.dropModelGrads();
  } else {
    masters?.gradsToMaster();
    // A sharded optimizer clips itself (the gradients it steps may not be `params`' own).
    const clip = (opt as { clipGradNormTensor_?: (max: number) => Tensor }).clipGradNormTensor_;
    normTensor = maxGradNorm > 0 ? (clip ? clip.call(opt, maxGradNorm) : clipGradNormTensor_(params, maxGradNorm)) : null;
    drop = () => opt.zeroGrad();
  }
  let norm: number | null;
  try {
    norm = read(normTensor);
  } catch (err) {
    drop();
    throw err;
  } finally {
    normTensor?.dispose();
  }
  if (norm !== null && !Number.isFinite(norm)) {
    drop();
    return norm;
  }
  for (const g of opt.groups) g.lr = lr;
  if (oneStep) {
    oneStep.stepMixed((p) => masters!.modelOf(p), norm === null ? 1 : clipCoefficient(maxGradNorm, norm));
  } else {
    opt.step();
    masters?.copyBack();
  }
  drop();
  return norm;
}

/**
 * One micro-batch (plus its buffer batch) through the step runner; the loss is scaled by 1/n for accumulation.
 * Plain: the batch's and the buffer's losses are summed and run ONE backward. Checkpointed: each ran its own.
 * Their losses and metrics are held in `reads`, unread. Returns the batch's real tokens.
 */
function microStep(
  model: CausalLM, source: BatchSource<StepBatch>, steps: TaskSteps, o: { n: number; checkpointed: boolean }, reads: StepReads,
): number {
  const batch = source.next();
  if (batch === null) throw new BfpoError('The training data ended before its announced length');
  let buffer: StepBatch | null = null;
  try {
    let tokens = batchTokens(batch);
    // A rank's slice of a global batch carries its share (1 when the ranks' slices are equal).
    const weight = batch.weight ?? 1;
    const run = { checkpointed: o.checkpointed, lossScale: weight / o.n };
    const out = runStep(model, batch, steps.head('train'), run);
    let total: Tensor | number = out.loss;
    let b: ReturnType<typeof runStep> | null = null;
    if (steps.buffer) {
      buffer = nextCycling(steps.buffer);
      tokens += batchTokens(buffer);
      b = runStep(model, buffer, steps.head('buffer'), run);
    }
    reads.add(out, b);
    if (b) total = sumLosses(out.loss, b.loss);
    if (typeof total !== 'number') {
      const graph = total;
      tidy(() => (weight === 1 ? graph.div(o.n) : graph.mul(weight / o.n)).backward());
      graph.dispose();
    }
    return tokens;
  } finally {
    disposeBatch(batch);
    if (buffer) disposeBatch(buffer);
  }
}

/** The CUDA generator's state in a checkpoint of a run on a GPU (the CPU's is rng_state.bin). */
const CUDA_RNG_FILE = 'rng_state_cuda.bin';

/** The device the trained parameters live on. */
function deviceOf(params: Tensor[]): Device {
  return params[0]?.device ?? 'cpu';
}

function rngBytesOf(device: Device): Buffer {
  const rng = getRngState(device);
  try {
    return rng.toBuffer();
  } finally {
    rng.dispose();
  }
}

/** The batch's loss plus the buffer's: numbers (backward done) add; tensors add into one graph and are freed. */
function sumLosses(a: Tensor | number, b: Tensor | number): Tensor | number {
  // Checkpointed steps ran their backward already: nothing is left to add (their values are in the step's reads).
  if (typeof a === 'number' || typeof b === 'number') return 0;
  const sum = tidy(() => a.add(b));
  a.dispose();
  b.dispose();
  return sum;
}

/** The buffer's next batch; its loader restarts (next epoch's order) when exhausted. */
function nextCycling<B>(source: BatchSource<B>): B {
  let b = source.next();
  if (b === null) {
    source.seek({ epoch: source.position().epoch + 1, batch: 0 });
    b = source.next();
    if (b === null) throw new ArgumentError('The buffer data yields no batches');
  }
  return b;
}

function describeStop(s: LoopState, c: TrainerConfig, lastSaved: string | null): string {
  const where = `at optimizer step ${s.step + 1} (epoch ${s.position.epoch}, batch ${s.position.batch}); training stopped.`;
  const keep = lastSaved ? ` The last good checkpoint is ${lastSaved}.` : ' No checkpoint was written yet.';
  return `${where}${keep} Lower learning_rate${c.maxGradNorm > 0 ? '' : ', set max_grad_norm (e.g. 1.0)'} or check the data.`;
}

/**
 * The ranks' part of a sharded checkpoint: rank 0 passes the folder it writes (`dir`; null on the others), every
 * rank writes its optimizer shard there, and once all have, rank 0 writes the manifest (then the rest of the
 * checkpoint, the trainer state last). A rank that failed to write makes every rank fail with its message, so no
 * checkpoint without all its shards is placed.
 */
function writeShardsTogether(par: TrainParallel, opt: ShardableOptimizer, dir: string | null, paramNames: string[]): void {
  const folder = par.agree('checkpoint-folder', dir);
  if (folder === null) throw new CheckpointWriteError('Rank 0 gave no checkpoint folder to write the optimizer shards into');
  let mine: string;
  try {
    mine = JSON.stringify({ ok: writeOwnShard(folder, par.rank, par.worldSize, opt) });
  } catch (err) {
    mine = JSON.stringify({ error: `${(err as Error).message}` });
  }
  const all = par.gather('checkpoint-shards', mine).map((t) => JSON.parse(t) as { ok?: ShardRecord; error?: string });
  const failed = all.flatMap((x, r) => (x.error !== undefined ? [`rank ${r}: ${x.error}`] : []));
  if (failed.length > 0) {
    throw new CheckpointWriteError(`Writing the optimizer shards of ${folder} failed (${failed.join('; ')}); the previous checkpoint is kept. Fix the cause and rerun the same command to resume.`);
  }
  if (dir !== null) writeShardManifest(dir, paramNames, all.map((x) => x.ok!));
}

function writeCheckpoint(dir: string, s: LoopState, store: ModelStore, opt: AnyOptimizer | null, masters: MasterWeights | null, runConfig: Record<string, unknown>, device: Device): void {
  const files = checkpointStateFiles(dir, s, opt, masters, runConfig, device);
  store.save(dir);
  writeFiles(files);
}

/** `writeCheckpoint` through node:fs/promises (and the store's `saveAsync` when it has one). */
async function writeCheckpointAsync(dir: string, s: LoopState, store: ModelStore, opt: AnyOptimizer | null, masters: MasterWeights | null, runConfig: Record<string, unknown>, device: Device): Promise<void> {
  // Taken before the first await, so nothing the event loop runs meanwhile (e.g. random numbers) leaks in.
  const files = checkpointStateFiles(dir, s, opt, masters, runConfig, device);
  if (store.saveAsync) await store.saveAsync(dir);
  else store.save(dir);
  await writeFilesAsync(files);
}

/**
 * A checkpoint's files besides the model: optimizer (null: written as shards by the ranks), fp32 masters, RNG (the
 * CPU's, and the CUDA device's when the model is there), run config, and the trainer state last.
 */
function checkpointStateFiles(dir: string, s: LoopState, opt: AnyOptimizer | null, masters: MasterWeights | null, runConfig: Record<string, unknown>, device: Device): PendingFile[] {
  const rngBytes = rngBytesOf('cpu');
  return [
    ...(device === 'cpu' ? [] : [pendingFile(join(dir, CUDA_RNG_FILE), rngBytesOf(device))]),
    ...(opt ? optimizerFiles(opt, join(dir, 'optimizer')) : []),
    ...(masters ? tensorFiles(join(dir, 'master_weights'), new Map(masters.master.map((t, i) => [String(i), t]))) : []),
    pendingFile(join(dir, 'rng_state.bin'), rngBytes),
    pendingFile(join(dir, RUN_CONFIG), JSON.stringify(runConfig, null, 2)),
    pendingFile(join(dir, TRAINER_STATE), JSON.stringify({
      global_step: s.step, position: s.position, buffer_position: s.bufferPosition, tokens_seen: s.tokensSeen,
    }, null, 2)),
  ];
}

function restore(dir: string, store: ModelStore, opt: AnyOptimizer, masters: MasterWeights | null, device: Device, paramNames: string[]): LoopState {
  const saved = JSON.parse(readFileSync(join(dir, TRAINER_STATE), 'utf8'));
  store.load(dir);
  restoreOptimizer(dir, opt, masters, paramNames);
  const rngBytes = readFileSync(join(dir, 'rng_state.bin'));
  const rng = fromBuffer(rngBytes, { dtype: 'uint8', shape: [rngBytes.length] });
  setRngState(rng);
  rng.dispose();
  // A checkpoint written on the CPU has no device generator state: the device keeps its seeded one.
  const cudaRng = join(dir, CUDA_RNG_FILE);
  if (device !== 'cpu' && existsSync(cudaRng)) {
    const bytes = readFileSync(cudaRng);
    const t = fromBuffer(bytes, { dtype: 'uint8', shape: [bytes.length] });
    setRngState(t, device);
    t.dispose();
  }
  return { step: saved.global_step, position: saved.position, bufferPosition: saved.buffer_position ?? null, tokensSeen: saved.tokens_seen ?? 0 };
}
