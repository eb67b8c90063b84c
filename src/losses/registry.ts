// The registry of preference losses: the built-in ones, and `registerLoss` for more. The loss_type recipe key,
// its docs and `--help` read their names and parameters from here.
import { ArgumentError } from '../errors.js';
import { bfpo } from './bfpo.js';
import { hinge, ipo, ktoPair, sigmoid } from './dpo-family.js';
import type { LossSpec } from './loss-spec.js';

/** The built-in losses by name. */
export const LOSSES = { bfpo, sigmoid, ipo, hinge, kto_pair: ktoPair } as const satisfies Record<string, LossSpec>;

/** The name of a built-in loss. */
export type BuiltinLossType = keyof typeof LOSSES;

/** The loss of a recipe without loss_type. */
export const DEFAULT_LOSS: BuiltinLossType = 'bfpo';

const registry = new Map<string, LossSpec>(Object.entries(LOSSES));

/**
 * Adds a loss under `spec.name`; from then on `preferenceLoss`, the recipe's `loss_type` and the checks accept it.
 * Throws on a name already registered.
 * @example registerLoss({ name: 'my_loss', needsSafetyLabels: false, params: { beta: LOSS_PARAMS.beta }, ... });
 */
export function registerLoss(spec: LossSpec): void {
  if (typeof spec?.name !== 'string' || !/^[a-z][a-z0-9_]*$/.test(spec.name)) {
    throw new ArgumentError(`A loss name must be lower-case letters, digits and underscores, not ${JSON.stringify(spec?.name)}`);
  }
  if (registry.has(spec.name)) throw new ArgumentError(`A loss named '${spec.name}' is already registered`);
  registry.set(spec.name, spec);
}

/** The registered loss names, built-in ones first, in registration order. */
export function lossNames(): string[] {
  return [...registry.keys()];
}

/** The loss registered as `name`, or undefined. */
export function findLoss(name: string): LossSpec | undefined {
  return registry.get(name);
}
