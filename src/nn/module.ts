// The Module base: named parameters and child modules whose dotted paths equal Hugging Face keys
// (`model.layers.3.mlp.down_proj.weight`), state dicts, train/eval mode, freezing, and in-place dtype/device moves.
import { freezeExcept } from './freeze.js';
import { noGrad } from '../tensor/autograd.js';
import { type DType, type Device, DTYPES, checkDevice, isFloatingDtype } from '../tensor/dtype.js';
import { ArgumentError, BfpoError, expected } from '../errors.js';
import { keep } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';

/** Raised when a state dict does not fit a module: the message names every offending key. */
export class StateDictError extends BfpoError {}

/** What `loadStateDict` reports: keys the module needed but did not get, and keys it did not use. */
export interface LoadResult {
  missing: string[];
  unexpected: string[];
}

/** Options shared by the layer constructors. */
export interface ModuleOptions {
  dtype?: DType;
  device?: Device;
  /**
   * How fresh parameters are filled: 'normal' draws N(0, 0.02^2) (Hugging Face's default initializer_range;
   * norms start at one, biases at zero), 'empty' leaves them uninitialised, for weights about to be loaded.
   */
  init?: 'normal' | 'empty';
}

const shapeText = (s: number[]): string => `[${s.join(', ')}]`;

function listKeys(keys: string[]): string {
  return keys.length > 12 ? `${keys.slice(0, 12).join(', ')} and ${keys.length - 12} more` : keys.join(', ');
}

/**
 * A tree of parameters. Subclasses register parameters and children in their constructor under the names that
 * Hugging Face uses, so `namedParameters()` yields checkpoint keys directly.
 *
 * @example
 * class Mlp extends Module {
 *   up = this.registerModule('up_proj', new Linear(8, 32));
 *   forward(x: Tensor): Tensor { return this.up.forward(x); }
 * }
 */
export class Module {
  #params = new Map<string, Tensor>();
  #children = new Map<string, Module>();
  #training = true;

  /** Registers a long-lived parameter (kept out of every scope); floating-point ones require gradients. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw expected('a parameter name of letters, digits and _', 'name', name);
    if (this.#params.has(name) || this.#children.has(name)) throw new ArgumentError(`The name ${name} is already registered`);
    keep(t);
    if (isFloatingDtype(t.dtype)) t.requiresGrad_(true);
    this.#params.set(name, t);
    return t;
  }

  /** Registers a child module under `name` (a path segment of its parameters' keys). */
  protected registerModule<M extends Module>(name: string, m: M): M {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw expected('a module name of letters, digits and _', 'name', name);
    if (this.#params.has(name) || this.#children.has(name)) throw new ArgumentError(`The name ${name} is already registered`);
    this.#children.set(name, m);
    return m;
  }

  /**
   * Swaps the child registered as `name` for `m` (same key prefix), and the field of that name when there is one.
   * This is the seam for adapters such as LoRA that wrap a Linear. Returns the old child.
   */
  replaceModule(name: string, m: Module): Module {
    const old = this.#children.get(name);
    if (!old) throw expected(`the name of a child module (${[...this.#children.keys()].join(', ')})`, 'name', name);
    this.#children.set(name, m);
    const self = this as unknown as Record<string, unknown>;
    for (const key of Object.keys(self)) if (self[key] === old) self[key] = m;
    return old;
  }

  /** The direct children, by name. */
  children(): [string, Module][] {
    return [...this.#children];
  }

  /** Every module in the tree with its dotted path ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.#children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Every parameter with its key, in registration order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.#params) out.push([prefix ? `${prefix}.${n}` : n, p]);
    for (const [n, c] of this.#children) out.push(...c.namedParameters(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Every parameter tensor (the module's own, not copies). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** The parameters that require gradients (what an optimizer should get). */
  trainableParameters(): Tensor[] {
    return this.parameters().filter((p) => p.requiresGrad);
  }

  /**
   * The parameters by key. The tensors are the module's own (not copies): read or save them, do not dispose them.
   * @example for (const [key, t] of model.stateDict()) console.log(key, t.shape);
   */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Keys a checkpoint may hold that this module ignores on load (tied weights, recomputed buffers such as
   * `rotary_emb.inv_freq`). Subclasses override.
   */
  protected ignoredKeys(): RegExp[] {
    return [];
  }

  /**
   * Copies `state` into the existing parameters (converting dtype and device), so references to them stay valid.
   * With `strict` (the default) missing or unexpected keys throw; a wrong shape always throws. Every message names
   * the keys. The tensors in `state` are not disposed. With `assign`, a parameter whose dtype and device already
   * match takes the given tensor's storage instead of a copy (as PyTorch's `assign=True`), so a large checkpoint is
   * never held twice; the caller may then dispose its handles, and must not write into them.
   *
   * @example model.loadStateDict(weights); // Map<string, Tensor> keyed like model.safetensors
   */
  loadStateDict(state: Map<string, Tensor>, { strict = true, assign = false }: { strict?: boolean; assign?: boolean } = {}): LoadResult {
    if (!(state instanceof Map)) throw expected('a Map<string, Tensor>', 'state', state);
    const own = this.stateDict();
    const ignored = this.ignoredKeys();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k) && !ignored.some((r) => r.test(k)));
    for (const [k, t] of state) {
      if (!(t instanceof Tensor)) throw expected('a Tensor', `state dict entry ${k}`, t);
      const p = own.get(k);
      if (p && shapeText(p.shape) !== shapeText(t.shape)) {
        throw new StateDictError(`Expected shape ${shapeText(p.shape)} for ${k} but received ${shapeText(t.shape)}`);
      }
    }
    if (strict && missing.length > 0) {
      throw new StateDictError(`The state dict lacks ${missing.length} key(s) the model needs: ${listKeys(missing)}`);
    }
    if (strict && unexpected.length > 0) {
      throw new StateDictError(`The state dict has ${unexpected.length} key(s) the model does not use: ${listKeys(unexpected)}`);
    }
    noGrad(() => {
      for (const [k, p] of own) {
        const t = state.get(k);
        if (!t) continue;
        if (assign && t.dtype === p.dtype && t.device === p.device) p.setData_(t);
        else p.copy_(t);
      }
    });
    return { missing, unexpected };
  }

  /** True in training mode (the default), false after `eval()`. */
  get training(): boolean {
    return this.#training;
  }

  /** Sets training mode on this module and every descendant. Returns `this`. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.#training = mode;
    return this;
  }

  /** Evaluation mode (no dropout). Returns `this`. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Freezes every parameter except those whose key contains one of `substrings` (which become trainable): the
   * `selected_layers` of the original BFPO recipe. Returns the keys left trainable.
   *
   * @example model.freezeExcept(['down_proj']); // only the MLP output projections train
   */
  freezeExcept(substrings: string[]): string[] {
    return freezeExcept(this.namedParameters(), substrings).map(([k]) => k);
  }

  /** Sets `requiresGrad` on every floating-point parameter. Returns `this`. */
  requiresGrad_(on = true): this {
    for (const p of this.parameters()) if (isFloatingDtype(p.dtype)) p.requiresGrad_(on);
    return this;
  }

  /** Number of parameter elements, or only of those that require gradients. */
  numParameters({ trainableOnly = false }: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!trainableOnly || p.requiresGrad) n += p.numel();
    return n;
  }

  /**
   * Converts floating-point parameters to `dtype`, or moves every parameter to `device`, in place: each stays the
   * same Tensor object (an optimizer built on them keeps working). Returns `this`.
   *
   * @example model.to('bfloat16'); model.to('cuda');
   */
  to(target: DType | Device): this {
    const isDtype = (DTYPES as readonly string[]).includes(target);
    if (isDtype && !isFloatingDtype(target as DType)) throw expected('a floating-point dtype or a device', 'to(target)', target);
    if (!isDtype) checkDevice(target, 'to(target)');
    noGrad(() => {
      for (const p of this.parameters()) {
        if (isDtype && !isFloatingDtype(p.dtype)) continue;
        if (isDtype ? p.dtype === target : p.device === target) continue;
        const moved = p.to(target);
        p.setData_(moved);
        moved.dispose();
      }
    });
    this.afterMove();
    return this;
  }

  /** Hook for subclasses that cache derived tensors (such as rotary tables) and must drop them after `to()`. */
  protected afterMove(): void {}

  /** The dtype of the first floating-point parameter (float32 when there is none). */
  get dtype(): DType {
    return this.parameters().find((p) => isFloatingDtype(p.dtype))?.dtype ?? 'float32';
  }

  /** The device of the first parameter ('cpu' when there is none). */
  get device(): Device {
    return this.parameters()[0]?.device ?? 'cpu';
  }

  /** Frees every parameter. The module cannot be used afterwards. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
    this.afterMove();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** An ordered list of child modules named '0', '1', ... (as `nn.ModuleList`). */
export class ModuleList<M extends Module> extends Module {
  readonly items: M[] = [];

  constructor(items: M[] = []) {
    super();
    for (const m of items) this.push(m);
  }

  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }

  get length(): number {
    return this.items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  override replaceModule(name: string, m: Module): Module {
    const old = super.replaceModule(name, m);
    this.items[Number(name)] = m as M;
    return old;
  }
}
