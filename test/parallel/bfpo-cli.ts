// The bfpo command line from the sources (the tests start it as a child process; a launcher re-runs this file for each rank).
import { main } from '../../src/cli/main.js';

await main(process.argv.slice(2));
