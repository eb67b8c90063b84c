// Per-sequence log-probabilities of the label tokens, from a causal LM's logits.
import { expected } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { tidy, where } from '../tensor/index.js';
import { IGNORE_INDEX } from '../data/collate.js';

/**
 * Sum (or mean, with `average`) over completion tokens of log p(label_t | tokens < t).
 * `logits` [batch, seq, vocab] predict the NEXT token, so logits at t are scored against labels at t+1.
 * Only the label column is gathered; the full-vocabulary log-softmax is never materialised (logsumexp is).
 *
 * @example
 * const logps = sequenceLogps(model.forward(ids).logits, labels); // [batch]
 */
export function sequenceLogps(logits: Tensor, labels: Tensor, { average = false } = {}): Tensor {
  if (logits.ndim !== 3) throw expected('logits of shape [batch, seq, vocab]', 'logits', logits);
  const [b, s] = logits.shape;
  if (labels.ndim !== 2 || labels.shape[0] !== b || labels.shape[1] !== s) {
    throw expected(`labels of shape [${b}, ${s}]`, 'labels', labels);
  }
  return tidy(() => {
    const x = logits.dtype === 'float32' || logits.dtype === 'float64' ? logits : logits.float();
    const next = x.narrow(1, 0, s - 1); // [batch, seq-1, vocab]
    const target = labels.narrow(1, 1, s - 1); // [batch, seq-1]
    const mask = target.ne(IGNORE_INDEX); // [batch, seq-1]
    const safeTarget = where(mask, target, 0); // [batch, seq-1]
    const picked = next.gather(2, safeTarget.unsqueeze(2)).squeeze(2); // [batch, seq-1]
    const tokenLogps = picked.sub(next.logsumexp(2)).mul(mask); // [batch, seq-1]
    const total = tokenLogps.sum(1); // [batch]
    return average ? total.div(mask.sum(1).clamp(1, null)) : total;
  });
}
