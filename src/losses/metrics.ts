// The metric set logged for every preference train/eval step (names as the original logs them).
import type { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/index.js';
import type { PreferenceInputs, PreferenceOutput } from './preference.js';

/** Mean of `values` over rows where `mask` is 1, or undefined for an empty group. */
function maskedMean(values: Tensor, mask: Tensor): number | undefined {
  return tidy(() => {
    const m = mask.to(values.dtype);
    const n = m.sum().item();
    return n === 0 ? undefined : values.mul(m).sum().item() / n;
  });
}

/**
 * `rewards/chosen`, `rewards/rejected`, `rewards/accuracies`, `rewards/margins`, `logps/chosen`,
 * `logps/rejected`, optionally `logits/chosen` and `logits/rejected` (means over every position and vocabulary
 * entry, computed by the caller), and `rewards/safe_rewards` / `rewards/unsafe_rewards`: the mean chosen reward
 * over pairs whose chosen response is safe / unsafe, computed with masks and omitted when the group is empty.
 * Keys get `prefix` (e.g. 'eval_').
 */
export function preferenceMetrics(
  out: PreferenceOutput,
  x: PreferenceInputs,
  { prefix = '', chosenLogitsMean, rejectedLogitsMean }: { prefix?: string; chosenLogitsMean?: number; rejectedLogitsMean?: number } = {},
): Record<string, number> {
  return tidy(() => {
    const m: Record<string, number> = {};
    m['rewards/chosen'] = out.chosenRewards.mean().item();
    m['rewards/rejected'] = out.rejectedRewards.mean().item();
    m['rewards/accuracies'] = out.chosenRewards.gt(out.rejectedRewards).float().mean().item();
    m['rewards/margins'] = out.chosenRewards.sub(out.rejectedRewards).mean().item();
    m['logps/chosen'] = x.policyChosenLogps.detach().mean().item();
    m['logps/rejected'] = x.policyRejectedLogps.detach().mean().item();
    if (chosenLogitsMean !== undefined) m['logits/chosen'] = chosenLogitsMean;
    if (rejectedLogitsMean !== undefined) m['logits/rejected'] = rejectedLogitsMean;
    if (x.isChosenSafe) {
      const safe = maskedMean(out.chosenRewards, x.isChosenSafe);
      const unsafe = maskedMean(out.chosenRewards, x.isChosenSafe.eq(0));
      if (safe !== undefined) m['rewards/safe_rewards'] = safe;
      if (unsafe !== undefined) m['rewards/unsafe_rewards'] = unsafe;
    }
    return prefix ? Object.fromEntries(Object.entries(m).map(([k, v]) => [prefix + k, v])) : m;
  });
}
