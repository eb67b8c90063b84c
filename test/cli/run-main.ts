// Runs a bfpo command in this process from a given folder, capturing what it writes to stderr and its exit code.
import { main } from '../../src/cli/main.js';

/** `main(args)` run from `where`, with stderr captured; process state is restored afterwards. */
export async function runMain(args: string[], where: string): Promise<{ err: string; code: number | undefined }> {
  const cwd = process.cwd();
  const [write, error] = [process.stderr.write.bind(process.stderr), console.error];
  let err = '';
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n`; };
  process.chdir(where);
  process.exitCode = undefined;
  try {
    await main(args);
    return { err, code: process.exitCode as number | undefined };
  } finally {
    process.chdir(cwd);
    process.stderr.write = write;
    console.error = error;
    process.exitCode = undefined;
  }
}
