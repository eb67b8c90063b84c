// report_to values of transformers that bfpo does not log to: each gets a warning saying what is written instead
// and how to bring those logs into that tracker.
/** Trackers transformers knows that bfpo accepts in report_to without logging to them. */
export const UNSUPPORTED_TRACKERS = ['wandb', 'mlflow', 'comet_ml', 'clearml', 'neptune', 'dvclive', 'aim', 'azure_ml', 'codecarbon', 'flyte', 'dagshub'] as const;

/** Every value report_to accepts: tensorboard, none, all, and the trackers above (warned about). */
export const REPORT_TO_VALUES = ['tensorboard', 'none', 'all', ...UNSUPPORTED_TRACKERS] as const;
export type ReportTo = typeof REPORT_TO_VALUES[number];

const IMPORT_HINT: Record<string, string> = {
  wandb: '`wandb sync --sync-tensorboard OUTPUT_DIR/runs` uploads the TensorBoard event files as a W&B run',
  mlflow: 'log.jsonl holds one JSON record per logging step (step, epoch and every metric) for mlflow.log_metrics',
  comet_ml: 'Comet reads TensorBoard event files logged with its SDK; log.jsonl holds every metric per step for experiment.log_metrics',
  clearml: "ClearML's Task.init picks up TensorBoard event files; log.jsonl holds every metric per step",
};

/**
 * One warning per tracker in `reportTo` that bfpo does not log to, naming what is logged instead.
 * @example reportToWarnings(['wandb'], 'out/run') // ['report_to wandb: bfpo does not log to wandb; ...']
 */
export function reportToWarnings(reportTo: readonly string[], outputDir: string): string[] {
  const tensorboard = reportTo.includes('tensorboard') || reportTo.includes('all');
  const written = `metrics are written to ${outputDir}/log.jsonl${tensorboard ? ` and as TensorBoard event files in ${outputDir}/runs` : ' (add tensorboard to report_to for TensorBoard event files)'}`;
  return reportTo.filter((t) => (UNSUPPORTED_TRACKERS as readonly string[]).includes(t)).map((t) => {
    const hint = (IMPORT_HINT[t] ?? 'log.jsonl holds one JSON record per logging step with every metric, and TensorBoard event files import into most trackers')
      .replace('OUTPUT_DIR', outputDir);
    return `report_to ${t}: bfpo does not log to ${t}; ${written}. To bring them into ${t}: ${hint}.`;
  });
}
