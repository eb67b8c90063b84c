// The error raised for malformed or missing model files: it names the file and, where one applies, the tensor or field.
import { BfpoError } from '../errors.js';

/**
 * A file that cannot be read as what it claims to be (safetensors, GGUF, tokenizer, model folder).
 * `file` is the path; `key` the tensor name or field the problem is in, when there is one.
 */
export class FormatError extends BfpoError {
  readonly file: string;
  readonly key: string | undefined;
  constructor(file: string, detail: string, key?: string) {
    super(`${file}${key === undefined ? '' : `: ${JSON.stringify(key)}`}: ${detail}`);
    this.file = file;
    this.key = key;
  }
}
