// A test ModelStore: the model's parameters as raw files (the CLI plugs in the HF folder writer instead).
import { readTensors, writeTensors } from '../../src/train/tensor-store.js';
import { noGrad } from '../../src/index.js';
import { join } from 'node:path';
import type { ModelStore } from '../../src/train/trainer.js';
import type { TinyLM } from './tiny.js';

export function rawStore(model: TinyLM): ModelStore {
  return {
    save: (dir) => writeTensors(join(dir, 'model'), new Map(model.namedParameters())),
    load: (dir) => {
      const t = readTensors(join(dir, 'model'));
      noGrad(() => model.namedParameters().forEach(([n, p]) => p.copy_(t.get(n)!)));
      for (const v of t.values()) v.dispose();
    },
  };
}
