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
 * The sha256 of a file's bytes, streamed (data files may be large); `onChunk` receives each chunk's length.
 *
 * @example
 * const h = await hashDataFile('data/PKU-SafeRLHF/data/train-00000-of-00001.parquet'); // { file, bytes, sha256 }
 */
export async function hashDataFile(file: string, onChunk?: (bytes: number) => void): Promise<DataFileHash> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    h.update(chunk as Buffer);
    onChunk?.((chunk as Buffer).length);
  }
  return { file, bytes: (await stat(file)).size, sha256: h.digest('hex') };
}

/** Hashes each distinct file once, in first-seen order; `onProgress` gets the bytes hashed and the bytes in all. */
export async function hashDataFiles(files: Iterable<string>, onProgress?: (doneBytes: number, totalBytes: number) => void): Promise<DataFileHash[]> {
  const distinct = [...new Set(files)];
  const total = onProgress ? (await Promise.all(distinct.map((f) => stat(f)))).reduce((a, s) => a + s.size, 0) : 0;
  let done = 0;
  const out: DataFileHash[] = [];
  for (const f of distinct) out.push(await hashDataFile(f, onProgress && ((n) => onProgress((done += n), total))));
  return out;
}
