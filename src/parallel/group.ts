// A process group on libtorch's distributed library (c10d): the TCPStore rendezvous and Gloo collectives on CPU
// tensors. The collectives block until every rank took part; a peer that died or a timeout raises DistributedError.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { BfpoError, ArgumentError } from '../errors.js';
import { native, type Handle } from '../tensor/native.js';
import { wrap, type Tensor } from '../tensor/tensor.js';

/** Raised when a collective or the rendezvous fails (a rank died, the master cannot be reached, a timeout). */
export class DistributedError extends BfpoError {}

/** The backends a group can run on. */
export type Backend = 'gloo' | 'nccl';

interface DistNative {
  distInfo(): { gloo: boolean; nccl: boolean; reason: string };
  distInit(host: string, port: number, rank: number, size: number, timeoutMs: number, isServer: boolean, prefix: string, device: string, storeTimeoutMs: number): number;
  distDestroy(id: number): void;
  distAllreduce(id: number, ts: Handle[], average: boolean, bucketBytes: number): number;
  distBroadcast(id: number, ts: Handle[], root: number): void;
  distAllgather(id: number, t: Handle): Handle;
  distReduceScatter(id: number, ts: Handle[], counts: number[], average: boolean): Handle;
  distBarrier(id: number): void;
  distOverlapCreate(id: number, params: Handle[], bucketBytes: number): number;
  distOverlapStart(overlap: number): void;
  distOverlapFinish(overlap: number, average: boolean): [number, number];
  distOverlapRelease(overlap: number): void;
  distStoreSet(id: number, key: string, value: Buffer): void;
  distStoreGet(id: number, key: string): Buffer;
  distStoreAdd(id: number, key: string, delta: number): number;
  distStoreCheck(id: number, key: string): boolean;
}

const dist = native as unknown as DistNative;

/** Which backends this build of the addon has, and why one is missing. */
export function distributedSupport(): { gloo: boolean; nccl: boolean; reason: string } {
  const info = (native as unknown as Partial<DistNative>).distInfo;
  if (typeof info !== 'function') return { gloo: false, nccl: false, reason: 'the native addon predates multi-process support; rebuild it with `npm run build:native`' };
  return dist.distInfo();
}

/** Throws, with what to install, when the addon was built without c10d's Gloo backend. */
export function assertBackendAvailable(backend: Backend): void {
  if (backend === 'nccl') {
    throw new DistributedError('The nccl backend is not built into this addon (it needs a CUDA libtorch with NCCL); use backend gloo');
  }
  const s = distributedSupport();
  if (!s.gloo) {
    throw new DistributedError(`Multi-process training is not available in this build: ${s.reason}. ` +
      'On Debian/Ubuntu: sudo apt-get install libgloo-dev && npm run build:native');
  }
}

export interface GroupOptions {
  /** The master's address (the rank 0 machine; it hosts the TCPStore). */
  masterAddr: string;
  masterPort: number;
  rank: number;
  worldSize: number;
  /** How long each collective may wait, in milliseconds. */
  timeoutMs: number;
  /** How long joining (reaching the store) and each wait for a store key may take (default `timeoutMs`). */
  storeTimeoutMs?: number;
  backend?: Backend;
  /** Keys of this group in the store start with this (several groups on one store). */
  prefix?: string;
  /** Gloo's network device: a network interface name (GLOO_SOCKET_IFNAME) or this machine's address. */
  iface?: string;
  hostname?: string;
  /** Another process (torchrun's agent) hosts the store; rank 0 connects to it like the others. */
  externalStore?: boolean;
}

/** Bytes and time spent in collectives since the group was made (or since `resetStats`). */
export interface CommStats {
  allreduceCalls: number;
  allreduceBytes: number;
  allreduceMs: number;
  broadcastBytes: number;
  broadcastMs: number;
  allgatherBytes: number;
  reduceScatterCalls: number;
  /** The payload reduce-scattered (each call's input on this rank: the whole flat buffer). */
  reduceScatterBytes: number;
  /** What this rank sent to the others (the payload less its own piece). */
  reduceScatterSentBytes: number;
  reduceScatterMs: number;
}

function emptyStats(): CommStats {
  return {
    allreduceCalls: 0, allreduceBytes: 0, allreduceMs: 0, broadcastBytes: 0, broadcastMs: 0, allgatherBytes: 0,
    reduceScatterCalls: 0, reduceScatterBytes: 0, reduceScatterSentBytes: 0, reduceScatterMs: 0,
  };
}

/** Bytes of `ts` as the collectives send them (`bf16As`: 2, or 4 where bfloat16 is summed as float32). */
function bytesOf(ts: readonly Tensor[], bf16As = 2): number {
  let b = 0;
  for (const t of ts) b += t.numel() * (t.dtype === 'float64' || t.dtype === 'int64' ? 8 : t.dtype === 'bfloat16' ? bf16As : t.dtype === 'float16' ? 2 : t.dtype === 'uint8' || t.dtype === 'bool' ? 1 : 4);
  return b;
}

/**
 * A group of `worldSize` processes. Rank 0 hosts the store; the others connect to it within `timeoutMs`.
 *
 * @example
 * const g = ProcessGroup.init({ masterAddr: '127.0.0.1', masterPort: 29500, rank, worldSize: 2, timeoutMs: 60_000 });
 * g.allreduce(grads, { average: true });
 * g.destroy();
 */
export class ProcessGroup {
  readonly stats: CommStats = emptyStats();
  #id: number | null;
  /** Every rank's machine and process id, exchanged when the group is made, to name a rank that died. */
  #peers: { host: string; pid: number }[] = [];

  private constructor(id: number, readonly rank: number, readonly worldSize: number, readonly backend: Backend, readonly where: string) {
    this.#id = id;
  }

  static init(o: GroupOptions): ProcessGroup {
    const backend = o.backend ?? 'gloo';
    if (backend !== 'gloo' && backend !== 'nccl') throw new ArgumentError(`Unknown backend ${JSON.stringify(backend)}: allowed values are gloo, nccl`);
    assertBackendAvailable(backend);
    if (!Number.isInteger(o.worldSize) || o.worldSize < 1) throw new ArgumentError(`WORLD_SIZE must be a positive integer, not ${o.worldSize}`);
    if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.worldSize) throw new ArgumentError(`RANK must be in 0..${o.worldSize - 1}, not ${o.rank}`);
    if (!Number.isInteger(o.masterPort) || o.masterPort < 1 || o.masterPort > 65535) throw new ArgumentError(`MASTER_PORT must be a port number (1..65535), not ${o.masterPort}`);
    const where = `${o.masterAddr}:${o.masterPort}`;
    const device = o.iface ? `iface:${o.iface}` : o.hostname ? `host:${o.hostname}` : '';
    let id: number;
    try {
      id = dist.distInit(o.masterAddr, o.masterPort, o.rank, o.worldSize, Math.round(o.timeoutMs), o.rank === 0 && !o.externalStore, o.prefix ?? '', device,
        Math.round(o.storeTimeoutMs ?? o.timeoutMs));
    } catch (err) {
      const msg = (err as Error).message;
      const hint = o.rank === 0
        ? `rank 0 hosts the store on port ${o.masterPort}: is the port free, and did all ${o.worldSize} ranks start within ${(o.storeTimeoutMs ?? o.timeoutMs) / 1000} s?`
        : `is MASTER_ADDR/MASTER_PORT (${where}) the address of rank 0, reachable from here, and did rank 0 start within ${(o.storeTimeoutMs ?? o.timeoutMs) / 1000} s?`;
      throw new DistributedError(`Rank ${o.rank} of ${o.worldSize} could not join the process group at ${where}: ${firstLine(msg)}; ${hint}`);
    }
    const g = new ProcessGroup(id, o.rank, o.worldSize, backend, where);
    g.#exchangePeers();
    return g;
  }

  #exchangePeers(): void {
    this.storeSet(`bfpo/peer/${this.rank}`, JSON.stringify({ host: hostname(), pid: process.pid }));
    this.#peers = Array.from({ length: this.worldSize }, (_, r) => JSON.parse(this.storeGet(`bfpo/peer/${r}`).toString()) as { host: string; pid: number });
  }

  /**
   * The ranks on this machine whose process is gone (or a zombie), looked for during up to `waitMs`: a rank killed
   * by a signal closes its connections a moment before it becomes a zombie.
   */
  #deadPeers(waitMs = 2000): number[] {
    const here = hostname();
    const gone = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ESRCH';
      }
      try {
        // /proc/PID/stat: "pid (comm) STATE ..."; Z and X are a process that has exited.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return /^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
      } catch {
        return false;
      }
    };
    const local = this.#peers.map((p, r) => ({ ...p, r })).filter((p) => p.r !== this.rank && p.host === here);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const dead = local.filter((p) => gone(p.pid)).map((p) => p.r);
      if (dead.length > 0 || Date.now() >= deadline || local.length === 0) return dead;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }

  get isOpen(): boolean { return this.#id !== null; }

  #handle(op: string): number {
    if (this.#id === null) throw new DistributedError(`${op} on a destroyed process group`);
    return this.#id;
  }

  #run<T>(op: string, f: (id: number) => T): T {
    const id = this.#handle(op);
    try {
      return f(id);
    } catch (err) {
      if (err instanceof ArgumentError) throw err;
      const dead = this.#peers.length ? this.#deadPeers() : [];
      const why = dead.length
        ? `${dead.map((r) => `rank ${r} (pid ${this.#peers[r]!.pid})`).join(', ')} on this machine ${dead.length > 1 ? 'are' : 'is'} no longer running (crashed or killed); see ${dead.length > 1 ? 'their' : 'its'} output`
        : 'Another rank probably stopped (crashed, was killed, or timed out); see its output';
      throw new DistributedError(`${op} failed on rank ${this.rank} of ${this.worldSize}: ${firstLine((err as Error).message)}. ${why}`);
    }
  }

  /**
   * Sums (or averages) `tensors` over all ranks, in place. Tensors are flattened into buckets of at most
   * `bucketBytes` (default 25 MiB), one collective per bucket. Returns the number of collectives.
   */
  allreduce(tensors: readonly Tensor[], o: { average?: boolean; bucketBytes?: number } = {}): number {
    const t0 = performance.now();
    const n = this.#run('allreduce', (id) => dist.distAllreduce(id, tensors.map((t) => t.handle), o.average ?? false, o.bucketBytes ?? 25 * 2 ** 20));
    this.stats.allreduceCalls += n;
    this.stats.allreduceBytes += bytesOf(tensors, 4);
    this.stats.allreduceMs += performance.now() - t0;
    return n;
  }

  /**
   * Prepares the gradient all-reduce of `params` to overlap with backward passes: the parameters are grouped into
   * buckets of at most `bucketBytes` in reverse order, and once armed ({@link GradientOverlap.start}) each bucket is
   * all-reduced, on Gloo's threads, as soon as the backward pass has written all its gradients.
   */
  overlapGradients(params: readonly Tensor[], bucketBytes = 25 * 2 ** 20): GradientOverlap {
    const id = this.#run('gradient overlap', (g) => dist.distOverlapCreate(g, params.map((p) => p.handle), bucketBytes));
    return new GradientOverlap(this, id, params, (op, f) => this.#run(op, () => f()));
  }

  /** Copies `tensors` of rank `root` into the same tensors of every other rank (in place). */
  broadcast(tensors: readonly Tensor[], root = 0): void {
    if (tensors.length === 0) return;
    const t0 = performance.now();
    this.#run('broadcast', (id) => dist.distBroadcast(id, tensors.map((t) => t.handle), root));
    this.stats.broadcastBytes += bytesOf(tensors);
    this.stats.broadcastMs += performance.now() - t0;
  }

  /** Every rank's `tensor` (same shape everywhere), stacked into a new tensor [worldSize, ...shape]. */
  allgather(tensor: Tensor): Tensor {
    const out = wrap(this.#run('allgather', (id) => dist.distAllgather(id, tensor.handle)));
    this.stats.allgatherBytes += bytesOf([tensor]) * this.worldSize;
    return out;
  }

  /**
   * Reduce-scatter: the sum (or mean) over the ranks of the concatenation of `tensors` (flattened, one dtype), of
   * which this rank receives only its piece, a new 1-D tensor of `counts[rank]` elements; rank r's piece is the next
   * `counts[r]` elements after the pieces of ranks 0..r-1. Built from c10d's all-to-all (Gloo in libtorch 1.13 has no
   * reduce-scatter); the W received pieces are added in rank order. bfloat16 is summed as float32.
   *
   * @example
   * // 2 ranks, 5 elements: rank 0 gets the sum of elements 0..2, rank 1 of elements 3..4
   * const mine = g.reduceScatter([flat], [3, 2]);
   */
  reduceScatter(tensors: readonly Tensor[], counts: readonly number[], o: { average?: boolean } = {}): Tensor {
    if (counts.length !== this.worldSize || counts.some((c) => !Number.isInteger(c) || c < 0)) {
      throw new ArgumentError(`Expected ${this.worldSize} element counts (integers >= 0, one per rank) for counts but received ${JSON.stringify(counts)}`);
    }
    const t0 = performance.now();
    const out = wrap(this.#run('reduce-scatter', (id) => dist.distReduceScatter(id, tensors.map((t) => t.handle), [...counts], o.average ?? false)));
    const payload = bytesOf(tensors, 4);
    const total = counts.reduce((a, c) => a + c, 0);
    this.stats.reduceScatterCalls += 1;
    this.stats.reduceScatterBytes += payload;
    this.stats.reduceScatterSentBytes += total === 0 ? 0 : (payload / total) * (total - counts[this.rank]!);
    this.stats.reduceScatterMs += performance.now() - t0;
    return out;
  }

  /** Returns when every rank reached it. */
  barrier(): void {
    this.#run('barrier', (id) => dist.distBarrier(id));
  }

  /** The store shared by the group: small values for agreement outside the collectives. */
  storeSet(key: string, value: string | Buffer): void {
    this.#run('store set', (id) => dist.distStoreSet(id, key, Buffer.isBuffer(value) ? value : Buffer.from(value)));
  }

  /** The value of `key`, waiting for it up to the group's timeout. */
  storeGet(key: string): Buffer {
    return this.#run('store get', (id) => dist.distStoreGet(id, key));
  }

  storeAdd(key: string, delta: number): number {
    return this.#run('store add', (id) => dist.distStoreAdd(id, key, delta));
  }

  storeHas(key: string): boolean {
    return this.#run('store check', (id) => dist.distStoreCheck(id, key));
  }

  resetStats(): void {
    Object.assign(this.stats, emptyStats());
  }

  /** Leaves the group (rank 0 also closes the store). */
  destroy(): void {
    if (this.#id === null) return;
    dist.distDestroy(this.#id);
    this.#id = null;
  }
}

/**
 * A gradient all-reduce that runs during the backward pass (see {@link ProcessGroup.overlapGradients}). `start()`
 * before the backward pass whose gradients are to be reduced; `finish()` after it reduces what was not reduced yet
 * (parameters without a gradient count as zeros), waits for all of it and writes the sums (or means) into the
 * gradients. Several backward passes between them are handled (the early reductions are then redone).
 */
export class GradientOverlap {
  #id: number | null;
  /** Buckets whose all-reduce started during the backward pass, over all `finish` calls. */
  launchedEarly = 0;
  /** Buckets reduced, over all `finish` calls. */
  buckets = 0;

  constructor(
    private readonly group: ProcessGroup, id: number, readonly params: readonly Tensor[],
    private readonly run: <T>(op: string, f: () => T) => T,
  ) {
    this.#id = id;
  }

  #handle(): number {
    if (this.#id === null) throw new DistributedError('the gradient overlap was released');
    return this.#id;
  }

  start(): void {
    dist.distOverlapStart(this.#handle());
  }

  finish(o: { average?: boolean } = {}): { collectives: number; launchedEarly: number } {
    const t0 = performance.now();
    const [collectives, early] = this.run('allreduce', () => dist.distOverlapFinish(this.#handle(), o.average ?? false));
    const stats = this.group.stats;
    stats.allreduceCalls += collectives;
    stats.allreduceBytes += bytesOf(this.params, 4);
    // Only the wait after the backward pass: the communication the overlap did not hide.
    stats.allreduceMs += performance.now() - t0;
    this.launchedEarly += early;
    this.buckets += collectives;
    return { collectives, launchedEarly: early };
  }

  release(): void {
    if (this.#id === null) return;
    dist.distOverlapRelease(this.#id);
    this.#id = null;
  }
}

/** The first line of a native error, without the addon's `distOp(arguments): ` prefix. */
function firstLine(s: string): string {
  return s.split('\n')[0]!.replace(/^dist\w+\(.*?\): /, '').trim();
}
