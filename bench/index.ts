// `npm run bench`: every benchmark section, or those named on the command line (e.g. `npm run bench -- engine`).
import { buildInfo, detectBlas, getNumThreads } from 'bfpo';
import { benchEngine } from './engine.js';
import { pythonWithTorch, printTable, type BenchRow } from './util.js';

const sections: Record<string, () => Promise<BenchRow[]>> = {
  engine: benchEngine,
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of wanted) {
  if (!sections[name]) {
    console.error(`Unknown benchmark section '${name}'; choose from ${Object.keys(sections).join(', ')}`);
    process.exit(2);
  }
}
console.log(`bfpo benchmarks: libtorch ${buildInfo().torchVersion}, ${getNumThreads()} threads, BLAS ${detectBlas()}, ` +
  `PyTorch reference: ${pythonWithTorch() ?? 'none found (install python3-torch to compare)'}`);
for (const [name, run] of Object.entries(sections)) {
  if (wanted.length && !wanted.includes(name)) continue;
  printTable(name, await run());
}
