// The help text of `bfpo eval`, kept apart from the command so `bfpo --help` loads no model code.
import { JUDGE_HELP } from '../eval/judges/spec.js';
import { toxicityScorerHelp } from '../eval/judges/toxicity.js';
import { TASK_HELP } from '../eval/tasks/spec.js';
import { LAUNCH_HELP } from './launch.js';

// A key too long for the column gets its own line, the description below it.
const table = (rows: readonly [string, string][]) => rows.map(([k, v]) => (k.length < 28 ? `  ${k.padEnd(28)}${v}` : `  ${k}\n${' '.repeat(30)}${v}`)).join('\n');

/** The usage line of `bfpo eval`. */
export const EVAL_USAGE = 'bfpo eval --model PATH [--model PATH ...] (--tasks LIST | --protocol bfpo-paper --data-dir DIR) --judge SPEC --out DIR [options]  |  bfpo eval RECIPE.yaml [options]  (either with --nproc_per_node=N)';

/** The help text of `bfpo eval` after its usage line: what it does, the built-in tasks and judges, the options. */
export const EVAL_HELP = `Generates answers to harmful prompts (temperature 0.7, top-p 0.95, seeded, batched), judges them, scores
helpfulness tasks, and writes results.json, results.md, harmlessness-helpfulness.svg/.png and index.html into DIR.
Every generation, judgement and score is appended to DIR/*.jsonl as it finishes; rerunning into DIR skips them.
A rerun whose prompts or sampling differ from the stored answers is refused (nothing is mixed); results.md lists
every model and task stored in DIR.

Tasks (--tasks, comma-separated):
${table(TASK_HELP)}

Judges (--judge):
${table(JUDGE_HELP)}

Toxicity scorers (--toxicity, for realtoxicityprompts and realtoxicityprompts_challenge):
${table(toxicityScorerHelp())}

Options:
  --model PATH          a model folder (repeatable); NAME=PATH names its row and point
  --tasks LIST          tasks, comma-separated (see above)
  --protocol bfpo-paper the original BFPO harmlessness table: advbench, alert, alert_adversarial, beaver (PKU-SafeRLHF
                        test), each with the original's prompt rendering and sampling, judged with its contextual
                        HarmBench input; reports harmlessness and attack_success_rate (use with --judge classifier:PATH)
  --protocol bfpo-paper-helpfulness
                        the original's helpfulness suite: its lm-eval task list (truthfulqa_gen/mc2, crows_pairs_english,
                        ethics_*, toxigen, winogrande, six bigbench tasks, realtoxicityprompts_challenge (scored by
                        --toxicity), hhh_alignment); write it into the same --out as the harmlessness run for the figure
  --data-dir DIR        data of the protocol and of the built-in lm-eval tasks, in the hub layout: e.g.
                        DIR/Babelscape/ALERT/alert.jsonl, DIR/PKU-Alignment/PKU-SafeRLHF/test.jsonl,
                        DIR/truthful_qa/multiple_choice/validation-00000-of-00001.parquet (docs/eval.md lists them all)
  --judge-input I       prompt (behaviour = the prompt, HarmBench's plain form) or bfpo-paper (fixed generic behaviour,
                        context "The generation is a continuation or answer of: [...]"); default per task
  --judge SPEC          the safety judge (default refusal)
  --toxicity SPEC       the toxicity scorer of toxicity tasks (default perspective: Google's API, key from PERSPECTIVE_API_KEY)
  --out DIR             output folder
  --recipe FILE         a YAML eval recipe (keys: models, tasks, protocol, data_dir, judge_input, judge, toxicity, out, dtype, device, limit, batch_size, max_new_tokens,
                        temperature, top_p, seed, timeout_ms, retries, concurrency, rate); flags override it
  --dtype D             dtype of local models: float32 (default on cpu), bfloat16, float16 (cuda)
  --device D            auto (default: the first CUDA device when there is one, else cpu), cpu, cuda, cuda:N
  --limit N             only the first N samples of each task
  --batch-size N        prompts generated per batch (default 8)
  --max-new-tokens N    generation length for safety and benign prompts (default 256; overrides a protocol's)
  --temperature X       sampling temperature (default 0.7; overrides a protocol's)
  --top-p X             nucleus sampling (default 0.95, 1 for the protocol's ALERT tasks; overrides a protocol's)
  --seed N              base seed; batch i uses seed + i (default 42)
  --timeout-ms N        endpoint judge and Perspective scorer: deadline of a whole request, answer included (default 60000)
  --retries N           endpoint judge and Perspective scorer: retries after a failure, with doubling backoff (default 4)
  --concurrency N       endpoint judge and Perspective scorer: requests in flight (default 4)
  --rate N              endpoint judge and Perspective scorer: requests started per second at most (default no limit)
  -h, --help            this text
`;


/** The help text's part on several processes (the launcher's flags). */
export const EVAL_RANKS_HELP = 'With --nproc_per_node=N the generation batches, judge calls and scoring calls are split over N ranks;\n' +
  'rank 0 writes the files one process writes (docs/distributed.md, "Evaluation on several ranks").\n\n' + LAUNCH_HELP;
