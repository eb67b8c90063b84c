// How one micro-step's metrics enter the logging average when a buffer batch rides along: bfpo's own keys
// (`buffer/*`, `main/loss`) or the original's (buffer metrics averaged into the same `rewards/*`... keys).

/**
 * The metric records of one micro-step, each added to the averager on its own. bfpo's layout: one record, the
 * buffer's metrics under `buffer/*` plus `main/loss` and `buffer/loss`. The original's layout (`original`): the main
 * and the buffer batch each add their metrics under the SAME keys, so a logged `rewards/chosen` is the mean over
 * main and buffer batches alike, as the original's trainer stored one entry per loss computation; `loss` is the sum
 * of both losses in either layout.
 *
 * @example stepMetricRecords({ 'rewards/chosen': 0.1 }, { metrics: { 'rewards/chosen': 0.3 }, loss: 0.2 }, 0.5, true)
 * // [{ 'rewards/chosen': 0.1 }, { 'rewards/chosen': 0.3 }, { loss: 0.7 }]
 */
export function stepMetricRecords(
  main: Record<string, number>, buffer: { metrics: Record<string, number>; loss: number } | null, mainLoss: number, original: boolean,
): Record<string, number>[] {
  if (!buffer) return [{ ...main, loss: mainLoss }];
  const loss = mainLoss + buffer.loss;
  if (original) return [main, buffer.metrics, { loss }];
  const merged: Record<string, number> = { ...main };
  for (const [k, v] of Object.entries(buffer.metrics)) merged[`buffer/${k}`] = v;
  merged['buffer/loss'] = buffer.loss;
  merged['main/loss'] = mainLoss;
  merged.loss = loss;
  return [merged];
}
