// The bfpo command line run from source (the benchmarks time `bfpo train` without a build): bfpo-cli.ts ARGS...
import { main } from '../src/cli/main.js';

await main(process.argv.slice(2));
