// `bfpo convert`: Hugging Face folder to GGUF (for llama.cpp and ollama), and GGUF back to a folder.
import { existsSync, statSync } from 'node:fs';
import { parseOptions } from './options.js';
import { findInHubCache, hubCacheDir, isHubRepoId } from '../io/hf-cache.js';
import { ggufToHfFolder, hfFolderToGguf } from '../models/gguf.js';
import { writeModelfileBeside } from '../io/ollama-modelfile.js';
import { isAdapterFolder } from '../models/peft-adapter.js';
import { withMergedAdapter } from './merge.js';
import type { GgufFileType } from '../io/gguf-llama.js';
import { expected } from '../errors.js';

export const CONVERT_USAGE = 'bfpo convert INPUT OUTPUT [--type f32|f16|q8_0] [--max-shard-size 5GB] [--name NAME] [--base MODEL]';
export const CONVERT_HELP = [
  'INPUT is a Hugging Face model folder (config.json, safetensors, tokenizer.json) or a PEFT LoRA adapter folder\n(merged into its base on the way) and OUTPUT a .gguf file,',
  'or INPUT is a .gguf file and OUTPUT a folder. The direction follows from INPUT.',
  '  --type f32|f16|q8_0      the GGUF tensor type (default f16); norms and biases stay f32',
  '  --max-shard-size SIZE    GGUF to folder: shard the safetensors above SIZE (default 5GB)',
  '  --name NAME              the model name stored in the GGUF metadata',
  '  --base MODEL             INPUT is a PEFT adapter folder: its base model, instead of adapter_config.json\'s',
  'Folder to GGUF also writes NAME.Modelfile beside it (FROM, the chat template, the stop token): `ollama create NAME -f NAME.Modelfile`.',
].join('\n');

const TYPES: Record<string, GgufFileType> = { f32: 'F32', f16: 'F16', q8_0: 'Q8_0' };

/** Runs `bfpo convert`. @example convertCommand(['models/tiny-bfpo', 'tiny.gguf', '--type', 'q8_0']); */
export function convertCommand(argv: string[], log: (s: string) => void = (s) => console.log(s)): void {
  const { values, positionals } = parseOptions('bfpo convert', argv, { type: { type: 'string' }, 'max-shard-size': { type: 'string' }, name: { type: 'string' }, base: { type: 'string' } }, true);
  if (positionals.length !== 2) throw expected('INPUT and OUTPUT', 'bfpo convert arguments', positionals);
  const [given, output] = positionals;
  const input = existsSync(given) || !isHubRepoId(given) ? given : (findInHubCache(given, 'model').path ?? given);
  if (!existsSync(input)) throw expected(`an existing folder or .gguf file (or a model in the Hugging Face cache ${hubCacheDir()})`, 'INPUT', input);
  if (statSync(input).isDirectory()) {
    if (!output.endsWith('.gguf')) throw expected('a path ending in .gguf', 'OUTPUT', output);
    const type = (values.type ?? 'f16').toLowerCase();
    if (!TYPES[type]) throw expected(`one of ${Object.keys(TYPES).join(', ')}`, '--type', values.type);
    const exportFrom = (dir: string): string => {
      hfFolderToGguf(dir, output, { fileType: TYPES[type], name: values.name });
      return writeModelfileBeside(output, dir);
    };
    const modelfile = isAdapterFolder(input) ? withMergedAdapter(input, values.base, exportFrom) : exportFrom(input);
    log(`wrote ${output} (${TYPES[type]}) and ${modelfile} (ollama create NAME -f ${modelfile})`);
  } else {
    if (!input.endsWith('.gguf')) throw expected('a Hugging Face folder or a .gguf file', 'INPUT', input);
    if (values.type) throw expected('no --type (it applies to folder-to-GGUF conversion)', '--type', values.type);
    const files = ggufToHfFolder(input, output, { maxShardSize: values['max-shard-size'] });
    log(`wrote ${output}: ${files.join(', ')}`);
  }
}
