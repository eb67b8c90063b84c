// `npm run bench`: every benchmark section, or those named on the command line (e.g. `npm run bench -- engine`).
import { buildInfo, detectBlas, getNumThreads } from 'bfpo';
import { benchData } from './data.js';
import { benchDistributed } from './distributed.js';
import { benchEngine } from './engine.js';
import { benchEval } from './eval.js';
import { benchLlamaCpp } from './llamacpp.js';
import { benchModels } from './models.js';
import { benchTrain } from './train.js';
import { benchProfile } from './profile.js';
import { benchTrainCuda } from './train-cuda.js';
import { checkDeviceSetting, resolveDevice } from '../src/tensor/device.js';
import type { Device } from 'bfpo';
import { pythonWithTorch, printTable, type BenchRow } from './util.js';

async function dataRows(): Promise<BenchRow[]> {
  const r = await benchData();
  return [
    { name: `read + adapt ${r.pairs} PKU-SafeRLHF pairs, Parquet`, unit: 'rows/s', ours: r.readParquetRowsPerSec },
    { name: `read + adapt ${r.pairs} PKU-SafeRLHF pairs, JSONL`, unit: 'rows/s', ours: r.readJsonlRowsPerSec },
    { name: `tokenize ${r.tokenizedPairs} pairs (${r.tokensPerPair.toFixed(0)} tokens/pair), 1 thread`, unit: 'rows/s', ours: r.tokenizeRowsPerSecOneThread },
    { name: `tokenize ${r.tokenizedPairs} pairs, ${r.workers} workers`, unit: 'rows/s', ours: r.tokenizeRowsPerSecWorkers },
    { name: 'padding ratio, length-bucketed batches of 8 (random order)', unit: 'ratio', ours: r.paddingRatioBucketed, note: `random: ${r.paddingRatioRandom.toFixed(3)}` },
  ];
}

async function modelRows(): Promise<BenchRow[]> {
  return (await benchModels()).flatMap((r) => [
    { name: `${r.name} prefill, batch ${r.batch} x ${r.promptTokens}`, unit: 'tokens/s', ours: r.prefillTokensPerSecond },
    { name: `${r.name} greedy decode, batch ${r.batch}, ${r.newTokens} new`, unit: 'tokens/s', ours: r.decodeTokensPerSecond },
  ]);
}

const sections: Record<string, () => Promise<BenchRow[]>> = {
  engine: benchEngine,
  models: modelRows,
  llamacpp: benchLlamaCpp,
  data: dataRows,
  train: benchTrain,
  eval: benchEval,
  distributed: benchDistributed,
  profile: benchProfile,
};

// --device D (or --device=D): where the train section runs; cuda / cuda:N runs the GPU training benchmark.
const argv = process.argv.slice(2);
const deviceAt = argv.findIndex((a) => a === '--device');
const deviceArg = deviceAt >= 0 ? argv[deviceAt + 1] : argv.find((a) => a.startsWith('--device='))?.slice('--device='.length);
const wanted = argv.filter((a, i) => !a.startsWith('-') && !(deviceAt >= 0 && i === deviceAt + 1));
let device: Device = 'cpu';
try {
  device = resolveDevice(checkDeviceSetting(deviceArg ?? 'cpu', '--device'), '--device');
} catch (e) {
  console.error(`npm run bench: ${(e as Error).message}`);
  process.exit(2);
}
if (device !== 'cpu') sections.train = () => benchTrainCuda(device);
for (const name of wanted) {
  if (!sections[name]) {
    console.error(`Unknown benchmark section '${name}'; choose from ${Object.keys(sections).join(', ')}`);
    process.exit(2);
  }
}
console.log(`bfpo benchmarks: libtorch ${buildInfo().torchVersion}, device ${device}, ${getNumThreads()} threads, BLAS ${detectBlas()}, ` +
  `OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY} (PyTorch runs inherit it), ` +
  `PyTorch reference: ${pythonWithTorch() ?? 'none found (install python3-torch to compare)'}`);
for (const [name, run] of Object.entries(sections)) {
  if (wanted.length && !wanted.includes(name)) continue;
  printTable(name, await run());
}
