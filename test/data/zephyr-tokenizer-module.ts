// Module form of the test tokenizer, for worker threads: they import it and call createTokenizer().
import { zephyrTokenizer } from './zephyr-tokenizer.js';

export function createTokenizer(args?: { template?: string }) {
  return zephyrTokenizer(args?.template);
}
