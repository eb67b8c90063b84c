// The one way to freeze layers: parameters whose key contains one of the given substrings train, the rest are frozen.
import { ArgumentError, expected } from '../errors.js';
import { isFloatingDtype } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Makes trainable exactly the floating-point parameters of `named` whose key contains one of `substrings` (the
 * `selected_layers` of the original BFPO recipe) and freezes every other one. Returns the trainable pairs. When
 * nothing matches it throws; `option` names the setting the substrings came from in that message.
 *
 * @example freezeExcept(model.namedParameters(), ['down_proj']); // only the MLP output projections train
 */
export function freezeExcept(named: [string, Tensor][], substrings: string[], option?: string): [string, Tensor][] {
  if (!Array.isArray(substrings) || substrings.some((s) => typeof s !== 'string' || s === '')) {
    throw expected('an array of non-empty strings', option ?? 'substrings', substrings);
  }
  const chosen = named.filter(([k, p]) => substrings.some((s) => k.includes(s)) && isFloatingDtype(p.dtype));
  if (chosen.length === 0) {
    if (option) {
      const sample = named.slice(0, 6).map(([n]) => n).join(', ');
      throw expected(`names that match some parameters (for example ${sample})`, option, substrings);
    }
    throw new ArgumentError(`No parameter key contains any of ${substrings.map((s) => JSON.stringify(s)).join(', ')}; nothing would train`);
  }
  const on = new Set(chosen.map(([k]) => k));
  for (const [k, p] of named) p.requiresGrad_(on.has(k));
  return chosen;
}
