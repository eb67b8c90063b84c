// A tiny training run for the SIGKILL test: saves every step (slowly, so kills land inside saves too) and
// resumes from whatever complete checkpoint the output folder holds.
import { writeTensors } from '../../src/train/tensor-store.js';
import { basename, join } from 'node:path';
import { manualSeed } from '../../src/index.js';
import { train } from '../../src/train/trainer.js';
import { frozenReference } from '../../src/train/reference.js';
import { TinyLM, PairSource, makePairs } from './tiny.js';
import { rawStore } from './store.js';
import { testConfig } from './config.js';

const outputDir = process.argv[2];
manualSeed(11);
const model = new TinyLM(11, 8, 0.3);
const reference = frozenReference(model.clone());
const base = rawStore(model);
const pause = new Int32Array(new SharedArrayBuffer(4));
const store = {
  save: (dir: string) => {
    process.stdout.write(`saving ${basename(dir)}\n`);
    writeTensors(join(dir, 'model'), new Map(model.namedParameters()));
    Atomics.wait(pause, 0, 0, 15); // widen the window in which a kill interrupts a save
  },
  load: base.load,
};
const buffer = new PairSource(makePairs(5, 21).map((p) => ({ ...p, sc: 1 as const, sr: 1 as const })), 2);
process.stdout.write('ready\n');
train(model, { kind: 'preference', train: new PairSource(makePairs(24, 20), 2), buffer, reference, loss: { lossType: 'bfpo', beta: 0.5 } },
  testConfig(outputDir, { numTrainEpochs: 3, gradientAccumulationSteps: 2, saveStrategy: 'steps', saveSteps: 1, saveTotalLimit: 2,
    lrSchedulerType: 'cosine', warmupRatio: 0.1, maxGradNorm: 1, learningRate: 0.02 }), store);
process.stdout.write('done\n');
