// Writes the evaluation report: results.json, a Markdown table, the scatter plot (SVG, PNG) and an HTML page of both.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic as writeAtomic } from '../io/atomic.js';
import { renderScatter } from './plot.js';
import type { EvalResults } from './summary.js';

const fmt = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(3));

/** Column names of the table: the summary numbers, then each task's metrics. */
function columns(results: EvalResults): { task: string; metric: string }[] {
  const seen = new Map<string, { task: string; metric: string }>();
  for (const m of results.models) {
    for (const [task, r] of Object.entries(m.tasks)) {
      for (const metric of Object.keys(r.metrics)) seen.set(`${task}/${metric}`, { task, metric });
    }
  }
  return [...seen.values()];
}

/**
 * The results as a Markdown table: one row per model; harmlessness, helpfulness, then every task metric with the
 * number of samples behind it.
 *
 * @example console.log(markdownTable(results));
 */
export function markdownTable(results: EvalResults): string {
  const cols = columns(results);
  const head = ['model', 'harmlessness', 'helpfulness', ...cols.map((c) => `${c.task} ${c.metric}`)];
  const rows = results.models.map((m) => [
    m.name, fmt(m.harmlessness), fmt(m.helpfulness),
    ...cols.map((c) => {
      const r = m.tasks[c.task];
      return r ? `${fmt(r.metrics[c.metric])} (n=${r.n}${r.n < r.total ? `/${r.total}` : ''})` : '–';
    }),
  ]);
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n') + `\n\nJudge: \`${results.judge}\`.\n`;
}

const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function htmlPage(results: EvalResults, svg: string | null): string {
  const cols = columns(results);
  const head = ['model', 'harmlessness', 'helpfulness', ...cols.map((c) => `${c.task} ${c.metric}`)];
  const rows = results.models.map((m) => [m.name, fmt(m.harmlessness), fmt(m.helpfulness), ...cols.map((c) => fmt(m.tasks[c.task]?.metrics[c.metric]))]);
  const table = `<table>\n<tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>\n${rows
    .map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n')}\n</table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bfpo evaluation</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}</style>
</head><body>
<h1>Evaluation</h1>
<p>Judge: <code>${escapeHtml(results.judge)}</code>. Created ${escapeHtml(results.created)}.</p>
${table}
${svg ?? '<p>No model has both a harmlessness and a helpfulness score, so there is no plot.</p>'}
<p>Every generation, judgement and score: <a href="generations.jsonl">generations.jsonl</a>, <a href="judgements.jsonl">judgements.jsonl</a>, <a href="scores.jsonl">scores.jsonl</a>.</p>
</body></html>
`;
}

/** What `writeReport` wrote. */
export interface ReportFiles {
  results: string;
  markdown: string;
  html: string;
  svg?: string;
  png?: string;
}

/**
 * Writes results.json, results.md, harmlessness-helpfulness.svg/.png (models with both numbers) and index.html.
 *
 * @example const files = await writeReport(results, 'out');
 */
export async function writeReport(results: EvalResults, outDir: string): Promise<ReportFiles> {
  mkdirSync(outDir, { recursive: true });
  const files: ReportFiles = { results: join(outDir, 'results.json'), markdown: join(outDir, 'results.md'), html: join(outDir, 'index.html') };
  writeAtomic(files.results, JSON.stringify(results, null, 2) + '\n');
  writeAtomic(files.markdown, markdownTable(results));
  const points = results.models.flatMap((m) =>
    m.harmlessness === null || m.helpfulness === null || Number.isNaN(m.harmlessness) || Number.isNaN(m.helpfulness)
      ? [] : [{ model: m.name, harmlessness: m.harmlessness, helpfulness: m.helpfulness }]);
  let svg: string | null = null;
  if (points.length > 0) {
    const plot = await renderScatter(points);
    svg = plot.svg;
    files.svg = join(outDir, 'harmlessness-helpfulness.svg');
    files.png = join(outDir, 'harmlessness-helpfulness.png');
    writeAtomic(files.svg, plot.svg);
    writeAtomic(files.png, plot.png);
  }
  writeAtomic(files.html, htmlPage(results, svg));
  return files;
}
