// Memory scopes: every tensor created inside a scope is disposed when the scope ends, except the ones it
// returns or keeps. Native memory is invisible to the garbage collector, so this is the mechanism; the GC
// finalizer on each native handle is only a safety net. See docs/memory.md.

/** What a scope tracks: anything that can be disposed and kept. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

const stack: Set<Disposable>[] = [];
const kept = new WeakSet<Disposable>();

/** Registers a newly created tensor with the innermost open scope. */
export function track(t: Disposable): void {
  const top = stack[stack.length - 1];
  if (top) top.add(t);
}

/** Removes `t` from every open scope, so that no scope disposes it. Returns `t`. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of stack) s.delete(t);
  kept.add(t);
  return t;
}

/** Collects the tensors reachable from a returned value through arrays, plain objects, Maps and Sets. */
function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 8) return;
  if (isDisposable(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, depth + 1);
  else if (value instanceof Set) for (const v of value) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}

function isDisposable(v: object): v is Disposable {
  return typeof (v as Disposable).dispose === 'function' && 'isDisposed' in v;
}

function close(scope: Set<Disposable>, result: unknown): void {
  const idx = stack.lastIndexOf(scope);
  if (idx >= 0) stack.splice(idx, 1);
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (survivors.has(t)) {
      if (parent) parent.add(t);
    } else if (!t.isDisposed) {
      t.dispose();
    }
  }
}

/**
 * Runs `fn` in a new scope and disposes every tensor created inside it except those in its result (a tensor, or
 * arrays/objects/Maps of tensors) and those passed to `keep()`. Returned tensors move to the enclosing scope.
 * `fn` must be synchronous.
 *
 * @example
 * const loss = tidy(() => logits.logSoftmax(-1).mean().neg()); // intermediates are freed
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    close(scope, undefined);
    throw err;
  }
  if (result instanceof Promise) {
    close(scope, undefined);
    throw new TypeError('tidy(fn) needs a synchronous function; await inside it would let tensors escape the scope');
  }
  close(scope, result);
  return result;
}

/**
 * A scope for `using`: tensors created while it is open are disposed at the end of the block, except those
 * given to `scope.keep()` (or the global `keep()`).
 *
 * @example
 * { using s = scope(); const y = x.mul(2).add(1); out = s.keep(y); }
 */
export function scope(): { keep<T extends Disposable>(t: T): T; [Symbol.dispose](): void } {
  const set = new Set<Disposable>();
  stack.push(set);
  const survivors: Disposable[] = [];
  return {
    keep<T extends Disposable>(t: T): T {
      survivors.push(t);
      return t;
    },
    [Symbol.dispose]() {
      close(set, survivors);
    },
  };
}

/** Number of scopes open now (for diagnostics). */
export function scopeDepth(): number {
  return stack.length;
}

export function wasKept(t: Disposable): boolean {
  return kept.has(t);
}
