// The bfpo command line: a table of commands, each with --help; `main(argv)` runs one.
import { readFileSync } from 'node:fs';
import { ArgumentError, BfpoError } from '../errors.js';
import { DEMO_HELP } from '../demo/args.js';
import { KEY_SECTIONS, RECIPE_KEYS, describeType, keySection, showDefault, type KeySpec } from '../recipe/recipe-keys.js';
import { EVAL_HELP, EVAL_RANKS_HELP, EVAL_USAGE } from './eval-help.js';
import { GENERATE_HELP, GENERATE_USAGE } from './generate.js';
import { CONVERT_HELP, CONVERT_USAGE } from './convert.js';
import { MERGE_HELP, MERGE_USAGE } from './merge.js';
import { PREPARE_HELP, PREPARE_USAGE } from './prepare.js';
import { LAUNCH_HELP } from './launch.js';

/** One command of the table. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Extra help text after the usage line. */
  help?: () => string;
  run(args: string[]): Promise<void> | void;
}

function keyLine(s: KeySpec): string {
  return `  --${s.key}=${describeType(s).replace(/^(a|an|one of) /, '')}  (default ${showDefault(s)})\n      ${s.doc}`;
}

/** The recipe keys of a task, one block per section (model, data, training, loss, reference, LoRA, logging, checkpoints). */
function keyHelp(task: 'sft' | 'preference'): string {
  const blocks: string[] = [];
  for (const [section, title] of KEY_SECTIONS) {
    const keys = RECIPE_KEYS.filter((s) => keySection(s) === section && (task === 'preference' || s.group !== 'preference'));
    if (keys.length > 0) blocks.push(`${title}:\n${keys.map(keyLine).join('\n')}`);
  }
  return blocks.join('\n\n');
}

const recipeHelp = (task: 'sft' | 'preference') => (): string =>
  '--dry-run checks everything up to the first forward pass (recipe, paths, a resumed checkpoint\'s configuration,\n' +
  'the data loaded and tokenized), prints the resolved recipe as YAML, the data counts and a memory estimate from\n' +
  'config.json, and stops: no weights are read and nothing is written to output_dir.\n\n' +
  `${LAUNCH_HELP}\n\n` +
  'Recipe keys (set them in the YAML or as --key=value; a key given twice is an error):\n\n' +
  keyHelp(task) +
  '\n\nKeys accepted for compatibility with the original recipes, without effect: ' +
  RECIPE_KEYS.filter((s) => s.group === 'accepted').map((s) => s.key).join(', ');

/** The command table (other commands register themselves here). */
export const COMMANDS: Command[] = [
  {
    name: 'demo', summary: 'Train a small model from scratch and show BFPO against DPO and IPO in minutes on a CPU',
    usage: 'bfpo demo [--out DIR] [--seed N] [--threads N] [--tiny]',
    help: () => DEMO_HELP,
    run: async (args) => {
      const { runDemo, parseDemoArgs } = await import('../demo/index.js');
      await runDemo(parseDemoArgs(args));
    },
  },
  {
    name: 'sft', summary: 'Supervised fine-tuning on chat data from a recipe',
    usage: 'bfpo sft RECIPE.yaml [--key=value ...] [--dry-run] [--nproc_per_node=N]', help: recipeHelp('sft'),
    run: async (args) => (await import('./run-training.js')).runFromArgs('sft', args),
  },
  {
    name: 'train', summary: 'Preference training (BFPO by default, or the DPO family) from a recipe',
    usage: 'bfpo train RECIPE.yaml [--key=value ...] [--dry-run] [--nproc_per_node=N]', help: recipeHelp('preference'),
    run: async (args) => (await import('./run-training.js')).runFromArgs('preference', args),
  },
  {
    name: 'prepare', summary: 'Load, mix and tokenize a recipe\'s data as training would; counts, and the first rows as JSON lines',
    usage: PREPARE_USAGE, help: () => PREPARE_HELP,
    run: async (args) => (await import('./prepare.js')).prepareCommand(args),
  },
  {
    name: 'logps', summary: 'Compute and cache the reference log-probs of a preference recipe\'s data',
    usage: 'bfpo logps [RECIPE.yaml] [--model_name_or_path=DIR] [--dataset_mixer={DATA: 1.0}] [--key=value ...] [--nproc_per_node=N]',
    help: () => 'Runs the starting model over the training, buffer and test data once and stores the log-probs in\n' +
      'reference_cache_dir, keyed by the model checksum, the data and the tokenization settings. A later\n' +
      '`bfpo train` with reference_strategy: precomputed finds them there (also on another machine, when the\n' +
      'cache folder is copied). Shorthands: --model=DIR for --model_name_or_path, --data=PATH for a one-dataset mixer.\n' +
      'With --nproc_per_node=N the batches are split over N ranks and merged into the table one process writes.\n\n' + LAUNCH_HELP,
    run: async (args) => (await import('./run-training.js')).runLogps(args),
  },
  {
    name: 'eval', summary: 'Evaluate harmlessness and helpfulness of models; results table, scatter plot and HTML report',
    usage: EVAL_USAGE, help: () => `${EVAL_HELP.trimEnd()}\n\n${EVAL_RANKS_HELP}`,
    run: async (args) => (await import('./eval.js')).evalCommand(args),
  },
  {
    name: 'generate', summary: 'Answer a prompt with a model, streaming the text (chat template applied)',
    usage: GENERATE_USAGE, help: () => GENERATE_HELP,
    run: async (args) => { await (await import('./generate.js')).generateCommand(args); },
  },
  {
    name: 'convert', summary: 'Convert a Hugging Face folder to GGUF (llama.cpp, ollama) or a GGUF file to a folder',
    usage: CONVERT_USAGE, help: () => CONVERT_HELP,
    run: async (args) => (await import('./convert.js')).convertCommand(args),
  },
  {
    name: 'merge', summary: 'Merge a LoRA adapter folder into its base model: a Hugging Face folder, and GGUF with --gguf',
    usage: MERGE_USAGE, help: () => MERGE_HELP,
    run: async (args) => (await import('./merge.js')).mergeCommand(args),
  },
  {
    name: 'env', summary: 'Show the versions, libtorch, BLAS, CUDA, threads and matmul speed of this installation',
    usage: 'bfpo env',
    run: async (args) => {
      if (args.length > 0) throw new ArgumentError(`bfpo env takes no arguments but received ${args.join(' ')}`);
      (await import('./env.js')).envCommand();
    },
  },
];

function mainHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return ['Usage: bfpo <command> [arguments]   (bfpo <command> --help for details; bfpo --version)', '', 'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`)].join('\n');
}

/** Help text of a command. */
export function commandHelp(c: Command): string {
  return [`${c.summary}.`, '', `Usage: ${c.usage}`, ...(c.help ? ['', c.help()] : [])].join('\n');
}

/**
 * Runs the command named by `argv[0]`. Errors of bfpo print as `bfpo: <message>` and set exit code 1.
 * @example await main(['train', 'recipes/tiny-cpu.yaml', '--max_steps=5']);
 */
export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(mainHelp());
    return;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    // Read directly, so the version prints even where the native addon cannot load.
    console.log((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version);
    return;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    console.error(`Unknown command "${name}".\n\n${mainHelp()}`);
    process.exitCode = 1;
    return;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(commandHelp(cmd));
    return;
  }
  try {
    await cmd.run(rest);
  } catch (e) {
    if (!(e instanceof BfpoError)) throw e;
    console.error(`bfpo: ${e.message}`);
    process.exitCode = 1;
  }
}
