// The metric set logged for every preference train/eval step (names as the original logs them).
import type { Tensor } from '../tensor/tensor.js';
import { cat, tidy } from '../tensor/index.js';
import type { PreferenceInputs, PreferenceOutput } from './preference.js';

/**
 * Reads 0-d tensors as numbers in ONE host transfer (on a GPU each separate read would wait for the device).
 * @example readScalars([['a', x.mean()], ['b', y.sum()]]) // { a: 0.1, b: 3 }
 */
export function readScalars(entries: [string, Tensor][]): Record<string, number> {
  if (entries.length === 0) return {};
  const values = tidy(() => {
    const flat = entries.map(([, t]) => t.detach().reshape([1]).to('float64'));
    return cat(flat).toArray() as number[];
  });
  return Object.fromEntries(entries.map(([k], i) => [k, values[i]]));
}

/** Mean of `values` over rows where `mask` is 1 (NaN for an empty group, dropped by the caller). */
function maskedMean(values: Tensor, mask: Tensor): Tensor {
  const m = mask.to(values.dtype);
  return values.mul(m).sum().to('float64').div(m.sum().to('float64'));
}

/** Keys of {@link preferenceMetrics} that are omitted when their group is empty. */
const GROUP_KEYS = new Set(['rewards/safe_rewards', 'rewards/unsafe_rewards']);

/**
 * The metrics of {@link preferenceMetrics} as unread 0-d tensors (without prefix), so a caller can read them together
 * with other values in one transfer (see readScalars); an empty safe/unsafe group gives NaN.
 */
export function preferenceMetricTensors(
  out: PreferenceOutput, x: PreferenceInputs, { chosenLogitsMean, rejectedLogitsMean }: { chosenLogitsMean?: Tensor; rejectedLogitsMean?: Tensor } = {},
): [string, Tensor][] {
  const e: [string, Tensor][] = [
    ['rewards/chosen', out.chosenRewards.mean()],
    ['rewards/rejected', out.rejectedRewards.mean()],
    ['rewards/accuracies', out.chosenRewards.gt(out.rejectedRewards).float().mean()],
    ['rewards/margins', out.chosenRewards.sub(out.rejectedRewards).mean()],
    ['logps/chosen', x.policyChosenLogps.detach().mean()],
    ['logps/rejected', x.policyRejectedLogps.detach().mean()],
  ];
  if (chosenLogitsMean !== undefined) e.push(['logits/chosen', chosenLogitsMean]);
  if (rejectedLogitsMean !== undefined) e.push(['logits/rejected', rejectedLogitsMean]);
  if (x.isChosenSafe) {
    e.push(['rewards/safe_rewards', maskedMean(out.chosenRewards, x.isChosenSafe)]);
    e.push(['rewards/unsafe_rewards', maskedMean(out.chosenRewards, x.isChosenSafe.eq(0))]);
  }
  return e;
}

/** Drops the safe/unsafe means of empty groups (NaN) from metrics read with readScalars. */
export function dropEmptyGroups(m: Record<string, number>): Record<string, number> {
  for (const k of GROUP_KEYS) if (k in m && Number.isNaN(m[k])) delete m[k];
  return m;
}

/**
 * `rewards/chosen`, `rewards/rejected`, `rewards/accuracies`, `rewards/margins`, `logps/chosen`,
 * `logps/rejected`, optionally `logits/chosen` and `logits/rejected` (means over every position and vocabulary
 * entry, computed by the caller), and `rewards/safe_rewards` / `rewards/unsafe_rewards`: the mean chosen reward
 * over pairs whose chosen response is safe / unsafe, computed with masks and omitted when the group is empty.
 * Keys get `prefix` (e.g. 'eval_'). All values are read from the device in one transfer.
 */
export function preferenceMetrics(
  out: PreferenceOutput,
  x: PreferenceInputs,
  { prefix = '', chosenLogitsMean, rejectedLogitsMean }: { prefix?: string; chosenLogitsMean?: number; rejectedLogitsMean?: number } = {},
): Record<string, number> {
  const read = dropEmptyGroups(tidy(() => readScalars(preferenceMetricTensors(out, x))));
  const m: Record<string, number> = {};
  for (const [k, v] of Object.entries(read)) {
    if (GROUP_KEYS.has(k)) continue;
    m[k] = v;
  }
  if (chosenLogitsMean !== undefined) m['logits/chosen'] = chosenLogitsMean;
  if (rejectedLogitsMean !== undefined) m['logits/rejected'] = rejectedLogitsMean;
  for (const k of GROUP_KEYS) if (k in read) m[k] = read[k];
  return prefix ? Object.fromEntries(Object.entries(m).map(([k, v]) => [prefix + k, v])) : m;
}
