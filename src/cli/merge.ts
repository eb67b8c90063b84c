// `bfpo merge`: a PEFT LoRA adapter folded into its base model, written as a Hugging Face folder and, with --gguf,
// as a GGUF file for llama.cpp and ollama.
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { parseOptions } from './options.js';
import { writeModelfileBeside } from '../io/ollama-modelfile.js';
import { hfFolderToGguf } from '../models/gguf.js';
import { isAdapterFolder } from '../models/peft-adapter.js';
import { loadPretrained, savePretrained } from '../models/pretrained.js';
import { expected } from '../errors.js';

export const MERGE_USAGE = 'bfpo merge ADAPTER_DIR OUT_DIR [--base MODEL] [--gguf FILE.gguf]';
export const MERGE_HELP = [
  'ADAPTER_DIR is a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors), as `bfpo train`',
  'and `bfpo sft` write with use_peft: true. The adapters are added into the base weights (W + alpha/r * B A) and',
  'OUT_DIR receives a full model folder that any Hugging Face tool loads.',
  '  --base MODEL     the base model (folder, .gguf or cached repo id) instead of adapter_config.json\'s base_model_name_or_path',
  '  --gguf FILE      also write the merged model as GGUF (f16), with its tokenizer and chat template',
].join('\n');

/**
 * Merges an adapter folder into `out`, optionally writing a GGUF too; returns the files written.
 * @example mergeAdapter('out/lora-run', 'models/merged', { gguf: 'merged.gguf' });
 */
export function mergeAdapter(adapterDir: string, out: string, opts: { base?: string; gguf?: string } = {}): string[] {
  if (!isAdapterFolder(adapterDir)) throw expected('a PEFT adapter folder (with adapter_config.json, without config.json)', 'ADAPTER_DIR', adapterDir);
  const { model, tokenizer } = loadPretrained(adapterDir, { dtype: 'auto', base: opts.base });
  try {
    savePretrained(model, tokenizer, out);
  } finally {
    model.dispose();
  }
  const written = [resolve(out)];
  if (opts.gguf) {
    hfFolderToGguf(out, opts.gguf, { fileType: 'F16' });
    written.push(resolve(opts.gguf), resolve(writeModelfileBeside(opts.gguf, out)));
  }
  return written;
}

/** Merges an adapter into a temporary folder, runs `fn` on it, and removes the folder. */
export function withMergedAdapter<T>(adapterDir: string, base: string | undefined, fn: (dir: string) => T): T {
  const parent = join(dirname(resolve(adapterDir)));
  mkdirSync(parent, { recursive: true });
  const tmp = mkdtempSync(join(parent, '.bfpo-merged-'));
  try {
    const dir = join(tmp, 'model');
    mergeAdapter(adapterDir, dir, { base });
    return fn(dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Runs `bfpo merge`. */
export function mergeCommand(argv: string[], log: (s: string) => void = (s) => console.log(s)): void {
  const { values, positionals } = parseOptions('bfpo merge', argv, { base: { type: 'string' }, gguf: { type: 'string' } }, true);
  if (positionals.length !== 2) throw expected('ADAPTER_DIR and OUT_DIR', 'bfpo merge arguments', positionals);
  if (values.gguf !== undefined && !values.gguf.endsWith('.gguf')) throw expected('a path ending in .gguf', '--gguf', values.gguf);
  const files = mergeAdapter(positionals[0], positionals[1], { base: values.base, gguf: values.gguf });
  log(`wrote ${files.join(', ')}`);
}
