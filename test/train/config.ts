// A small trainer configuration for tests.
import type { TrainerConfig } from '../../src/train/trainer.js';

export function testConfig(outputDir: string, over: Partial<TrainerConfig> = {}): TrainerConfig {
  const base: TrainerConfig = {
    outputDir, numTrainEpochs: 1, maxSteps: -1, gradientAccumulationSteps: 1, learningRate: 0.05,
    lrSchedulerType: 'constant', warmupRatio: 0, warmupSteps: 0, optim: 'adamw_torch', weightDecay: 0,
    adamBeta1: 0.9, adamBeta2: 0.999, adamEpsilon: 1e-8, momentum: 0, maxGradNorm: 0, loggingSteps: 1,
    evalStrategy: 'no', evalSteps: 1, saveStrategy: 'no', saveSteps: 1, saveTotalLimit: null, seed: 42, bf16: false,
    selectedLayers: null, reportTo: [], console: 'none', runConfig: {},
  };
  const c = { ...base, ...over };
  c.runConfig = { learning_rate: c.learningRate, seed: c.seed, ...over.runConfig };
  return c;
}
