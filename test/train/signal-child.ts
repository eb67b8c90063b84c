// A tiny training run for the SIGINT/SIGTERM test: checkpoints only every 5 steps, prints a line per batch so the
// parent can signal it mid-run, and exits with the signal's status when the run stopped early.
import { writeTensors } from '../../src/train/tensor-store.js';
import { join } from 'node:path';
import { manualSeed } from '../../src/index.js';
import { train } from '../../src/train/trainer.js';
import { signalExitCode } from '../../src/train/signals.js';
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
const source = new PairSource(makePairs(24, 20), 2);
const next = source.next.bind(source);
source.next = () => {
  process.stdout.write('batch\n');
  Atomics.wait(pause, 0, 0, 5); // leave room for the signal to land inside a step
  return next();
};
const store = {
  save: (dir: string) => {
    writeTensors(join(dir, 'model'), new Map(model.namedParameters()));
    Atomics.wait(pause, 0, 0, 100); // a save long enough for a second signal to land inside it
  },
  load: base.load,
};
process.stdout.write('ready\n');
const r = train(model, { kind: 'preference', train: source, reference, loss: { lossType: 'bfpo', beta: 0.5 } },
  testConfig(outputDir, { numTrainEpochs: 2, saveStrategy: 'steps', saveSteps: 5, saveTotalLimit: 2, lrSchedulerType: 'cosine', warmupRatio: 0.1, learningRate: 0.02 }), store);
if (r.stoppedBy) {
  process.stdout.write(`stopped ${r.stoppedBy} at ${r.globalStep} ${r.lastCheckpoint}\n`);
  process.exit(signalExitCode(r.stoppedBy));
}
process.stdout.write('done\n');
