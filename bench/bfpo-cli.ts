// The bfpo command line from the sources, for benchmarks that time whole runs (and the ranks a launcher starts).
import { main } from '../src/cli/main.js';

await main(process.argv.slice(2));
