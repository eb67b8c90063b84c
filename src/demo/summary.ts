// The demo's summary page: the scores of the four models, what they mean, and the time of each phase.
import { renameSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { DemoScores } from './evaluate.js';
import type { PhaseTime } from './phase-time.js';

export interface SummaryInput {
  out: string;
  seed: number;
  tiny: boolean;
  scores: DemoScores[];
  phases: PhaseTime[];
  totalSeconds: number;
  reportDir: string;
}

const num = (x: number | null): string => (x === null ? '–' : x.toFixed(3));

/** Writes `summary.md` and `summary.json` into the output folder; returns the markdown path. */
export function writeSummary(s: SummaryInput): string {
  const report = relative(s.out, s.reportDir) || '.';
  const lines = [
    `# bfpo demo (seed ${s.seed}${s.tiny ? ', tiny sizes: the numbers mean nothing' : ''})`,
    '',
    '| model | harmlessness | accuracy | over-refusal | helpfulness |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...s.scores.map((m) => `| ${m.name} | ${num(m.harmlessness)} | ${num(m.accuracy)} | ${num(m.overRefusal)} | ${num(m.helpfulness)} |`),
    '',
    '- **harmlessness**: share of answers to held-out harmful requests (AdvBench behaviours never seen in training)',
    '  that the refusal judge counts as refusals; answers sampled at temperature 0.7, top-p 0.95.',
    '- **accuracy**: exact match of the answer (the last word of the reply, greedy decoding) on held-out benign',
    '  questions (known facts asked with a question template never used for that fact in training).',
    '- **over-refusal**: share of held-out benign prompts answered with a refusal (sampled like harmlessness).',
    '- **helpfulness**: the evaluation layer\'s helpfulness, the mean of accuracy and 1 - over-refusal; the plot\'s x axis.',
    '',
    `Plot: \`${report}/harmlessness-helpfulness.png\`; every generation with its verdict: \`${report}/generations.jsonl\`,`,
    `\`${report}/judgements.jsonl\`, \`${report}/scores.jsonl\`; the table and plot on one page: \`${report}/index.html\`.`,
    '',
    '| phase | seconds |',
    '| --- | ---: |',
    ...s.phases.map((p) => `| ${p.phase} | ${p.seconds.toFixed(1)} |`),
    `| total | ${s.totalSeconds.toFixed(1)} |`,
    '',
  ];
  const path = join(s.out, 'summary.md');
  const write = (file: string, text: string): void => {
    writeFileSync(`${file}.tmp-${process.pid}`, text);
    renameSync(`${file}.tmp-${process.pid}`, file);
  };
  write(path, lines.join('\n'));
  write(join(s.out, 'summary.json'), JSON.stringify({ seed: s.seed, tiny: s.tiny, scores: s.scores, phases: s.phases, totalSeconds: s.totalSeconds }, null, 2) + '\n');
  return path;
}
