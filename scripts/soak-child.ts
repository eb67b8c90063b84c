// The soak test's child: the bfpo command line run from the TypeScript sources (no build needed).
import { main } from '../src/cli/main.js';

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
