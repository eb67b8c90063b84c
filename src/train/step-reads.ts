// The values an optimizer step logs (each micro-batch's loss and metrics, the gradient norm), held on the device and
// read in ONE transfer when the step ends: on a GPU every read makes the host wait for the device, so reading after
// each forward would stall the queue between forward and backward.
import { dropEmptyGroups, readScalars } from '../losses/metrics.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** The loss's entry among a head's unread values (not a metric name). */
export const LOSS_KEY = '\u0000loss';

/** What a step runner returns: the loss (tensor, or a number when its backward already ran) and the metrics read or unread. */
export interface StepValuesSource {
  loss: Tensor | number;
  metrics: Record<string, number>;
  lossValue?: number;
  /** Unread 0-d tensors: the metrics and the loss (LOSS_KEY), detached. */
  pending?: [string, Tensor][];
}

/** One micro-batch's values once read. */
export interface ReadValues { metrics: Record<string, number>; loss: number }

interface Held { metrics: Record<string, number>; loss: number | null; entries: [string, Tensor][] }

function hold(o: StepValuesSource): Held {
  if (o.pending) return { metrics: {}, loss: null, entries: o.pending.map(([k, t]) => [k, keep(t)]) };
  if (typeof o.loss === 'number') return { metrics: o.metrics, loss: o.loss, entries: [] };
  if (o.lossValue !== undefined) return { metrics: o.metrics, loss: o.lossValue, entries: [] };
  return { metrics: o.metrics, loss: null, entries: [[LOSS_KEY, keep(o.loss.detach())]] };
}

/**
 * The micro-batches of one optimizer step, their values held until `read`.
 * @example const reads = new StepReads(); reads.add(out, null); ...; const { steps, extra } = reads.read([['grad_norm', norm]]);
 */
export class StepReads {
  #held: { main: Held; buffer: Held | null }[] = [];

  /** Holds one micro-batch's outputs (the main batch's and its buffer batch's); call before their tensors are freed. */
  add(main: StepValuesSource, buffer: StepValuesSource | null): void {
    this.#held.push({ main: hold(main), buffer: buffer ? hold(buffer) : null });
  }

  /** Reads every held value and the `extra` 0-d tensors in one transfer, then frees what it held. */
  read(extra: [string, Tensor][] = []): { steps: { main: ReadValues; buffer: ReadValues | null }[]; extra: Record<string, number> } {
    try {
      const entries: [string, Tensor][] = [];
      this.#held.forEach((h, i) => {
        for (const [part, x] of [['main', h.main], ['buffer', h.buffer]] as const) {
          if (x) for (const [k, t] of x.entries) entries.push([`${i}\u0000${part}\u0000${k}`, t]);
        }
      });
      for (const [k, t] of extra) entries.push([`extra\u0000${k}`, t]);
      const values = readScalars(entries);
      const of = (i: number, part: 'main' | 'buffer', x: Held): ReadValues => {
        const read: Record<string, number> = {};
        for (const [k] of x.entries) read[k] = values[`${i}\u0000${part}\u0000${k}`];
        const { [LOSS_KEY]: loss, ...metrics } = read;
        return { metrics: { ...x.metrics, ...dropEmptyGroups(metrics) }, loss: x.loss ?? loss };
      };
      const steps = this.#held.map((h, i) => ({ main: of(i, 'main', h.main), buffer: h.buffer ? of(i, 'buffer', h.buffer) : null }));
      return { steps, extra: Object.fromEntries(extra.map(([k]) => [k, values[`extra\u0000${k}`]])) };
    } finally {
      this.dispose();
    }
  }

  /** Frees the held tensors without reading them. */
  dispose(): void {
    for (const h of this.#held) for (const x of [h.main, h.buffer]) if (x) for (const [, t] of x.entries) t.dispose();
    this.#held = [];
  }
}
