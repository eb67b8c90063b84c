// `npm run bench`: every benchmark section, or those named on the command line (e.g. `npm run bench -- engine`).
import { buildInfo, detectBlas, getNumThreads } from 'bfpo';
// Sections load when they run, so a machine that has only the production packages (a GPU machine unpacked from
// .device/, see docs/gpu.md) runs the sections it can.
import { checkDeviceSetting, resolveDevice } from '../src/tensor/device.js';
import type { Device } from 'bfpo';
import { pythonWithTorch, printTable, type BenchRow } from './util.js';

async function dataRows(): Promise<BenchRow[]> {
  const r = await (await import('./data.js')).benchData();
  return [
    { name: `read + adapt ${r.pairs} PKU-SafeRLHF pairs, Parquet`, unit: 'rows/s', ours: r.readParquetRowsPerSec },
    { name: `read + adapt ${r.pairs} PKU-SafeRLHF pairs, JSONL`, unit: 'rows/s', ours: r.readJsonlRowsPerSec },
    { name: `tokenize ${r.tokenizedPairs} pairs (${r.tokensPerPair.toFixed(0)} tokens/pair), 1 thread`, unit: 'rows/s', ours: r.tokenizeRowsPerSecOneThread },
    { name: `tokenize ${r.tokenizedPairs} pairs, ${r.workers} workers`, unit: 'rows/s', ours: r.tokenizeRowsPerSecWorkers },
    { name: 'padding ratio, length-bucketed batches of 8 (random order)', unit: 'ratio', ours: r.paddingRatioBucketed, note: `random: ${r.paddingRatioRandom.toFixed(3)}` },
    { name: `render ${r.encode.texts} prompt + answer texts through the Zephyr chat template`, unit: 'texts/s', ours: r.encode.templateTextsPerSec },
    { name: `encode those texts (${r.encode.tokens} tokens), bfpo's JavaScript BPE, 1 thread`, unit: 'tokens/s', ours: r.encode.jsTokensPerSec },
    { name: `encode those texts, Hugging Face's Rust binding (npm tokenizers, encodeBatch, its own threads)`, unit: 'tokens/s', ours: r.encode.rustTokensPerSec ?? NaN, note: r.encode.identical === null ? 'not installed' : r.encode.identical ? 'ids identical to the JavaScript BPE on every text' : 'ids DIFFER from the JavaScript BPE' },
  ];
}

async function modelRows(): Promise<BenchRow[]> {
  return (await (await import('./models.js')).benchModels()).flatMap((r) => [
    { name: `${r.name} prefill, batch ${r.batch} x ${r.promptTokens}`, unit: 'tokens/s', ours: r.prefillTokensPerSecond },
    { name: `${r.name} greedy decode, batch ${r.batch}, ${r.newTokens} new`, unit: 'tokens/s', ours: r.decodeTokensPerSecond },
  ]);
}

const sections: Record<string, () => Promise<BenchRow[]>> = {
  engine: async () => (await import('./engine.js')).benchEngine(),
  models: modelRows,
  llamacpp: async () => (await import('./llamacpp.js')).benchLlamaCpp(),
  data: dataRows,
  prepare: async () => (await import('./prepare.js')).benchPrepare(),
  train: async () => (await import('./train.js')).benchTrain(),
  eval: async () => (await import('./eval.js')).benchEval(),
  distributed: async () => (await import('./distributed.js')).benchDistributed(),
  profile: async () => (await import('./profile.js')).benchProfile(),
  logprobs: async () => (await import('./logprobs.js')).benchLogprobs(),
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
if (device !== 'cpu') sections.train = async () => (await import('./train-cuda.js')).benchTrainCuda(device);
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
