// One end-to-end preparation in a process of its own, for bench/prepare.ts: a warm-up run (module loading, JIT) into
// a throw-away cache folder, then the measured run into CACHE_DIR; prints {wall, cpu, tokens, pairs, log} as JSON.
// Run: node --conditions=bfpo-source --import tsx bench/prepare-child.ts RECIPE BACKEND CACHE_DIR
import { rmSync } from 'node:fs';
import { prepareRun } from './prepare.js';

const [recipe, backend, cacheDir] = process.argv.slice(2);
if (!recipe || !backend || !cacheDir) throw new Error('usage: prepare-child.ts RECIPE BACKEND CACHE_DIR');
const warm = `${cacheDir}.warm`;
await prepareRun(recipe, backend, warm);
rmSync(warm, { recursive: true, force: true });
const r = await prepareRun(recipe, backend, cacheDir);
process.stdout.write(`${JSON.stringify(r)}\n`);
