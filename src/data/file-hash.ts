// Content hashes of the data files a run reads, so a run's record says exactly which bytes it trained on.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';

/** One data file and the sha256 of its bytes. */
export interface DataFileHash {
  file: string;
  bytes: number;
  sha256: string;
}

/**
 * The sha256 of a file's bytes, streamed (data files may be large).
 *
 * @example
 * const h = await hashDataFile('data/PKU-SafeRLHF/data/train-00000-of-00001.parquet'); // { file, bytes, sha256 }
 */
export async function hashDataFile(file: string): Promise<DataFileHash> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return { file, bytes: (await stat(file)).size, sha256: h.digest('hex') };
}

/** Hashes each distinct file once, in first-seen order. */
export async function hashDataFiles(files: Iterable<string>): Promise<DataFileHash[]> {
  const out: DataFileHash[] = [];
  for (const f of new Set(files)) out.push(await hashDataFile(f));
  return out;
}
