// A small TensorBoard event-file writer: TFRecord framing (length, masked CRC32C, data, masked CRC32C) around
// Event protobufs encoded by hand (wall_time, step, file_version, summary { value { tag, simple_value } }).
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli), as TFRecord uses. `crc32c(Buffer.from('123456789')) === 0xe3069283`. */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant. */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 length, masked CRC of the length, the data, masked CRC of the data (little endian). */
export function tfRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

// --------------------------------------------------------------------------------------- protobuf encoding
function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const key = (field: number, wire: number): number[] => varint((field << 3) | wire);
function lengthDelimited(field: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([...key(field, 2), ...varint(bytes.length)]), bytes]);
}

/** Encodes an Event { wall_time = 1 (double), step = 2 (int64), file_version = 3 | summary = 5 }. */
export function encodeEvent(e: { wallTime: number; step: number; fileVersion?: string; scalars?: Record<string, number> }): Buffer {
  const wall = Buffer.alloc(8);
  wall.writeDoubleLE(e.wallTime);
  const parts: Buffer[] = [Buffer.from(key(1, 1)), wall, Buffer.from([...key(2, 0), ...varint(e.step)])];
  if (e.fileVersion !== undefined) parts.push(lengthDelimited(3, Buffer.from(e.fileVersion, 'utf8')));
  if (e.scalars) {
    // Summary { repeated Value value = 1 }, Value { string tag = 1; float simple_value = 2 }
    const values = Object.entries(e.scalars).map(([tag, v]) => {
      const f = Buffer.alloc(4);
      f.writeFloatLE(v);
      return lengthDelimited(1, Buffer.concat([lengthDelimited(1, Buffer.from(tag, 'utf8')), Buffer.from(key(2, 5)), f]));
    });
    parts.push(lengthDelimited(5, Buffer.concat(values)));
  }
  return Buffer.concat(parts);
}

/**
 * Appends scalar summaries to `dir/events.out.tfevents.<seconds>.<host>`, readable by TensorBoard.
 * @example const tb = new EventWriter('out/runs'); tb.scalars(10, { 'train/loss': 0.7 }); tb.close();
 */
export class EventWriter {
  readonly path: string;
  #fd: number;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    const now = Date.now() / 1000;
    this.path = join(dir, `events.out.tfevents.${Math.floor(now)}.${hostname()}.${process.pid}`);
    this.#fd = openSync(this.path, 'a');
    this.#write(encodeEvent({ wallTime: now, step: 0, fileVersion: 'brain.Event:2' }));
  }

  #write(event: Buffer): void {
    if (this.#fd < 0) return;
    writeSync(this.#fd, tfRecord(event));
  }

  /** Writes one event holding every finite scalar of `values` at `step`. */
  scalars(step: number, values: Record<string, number>): void {
    const finite = Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
    if (Object.keys(finite).length > 0) this.#write(encodeEvent({ wallTime: Date.now() / 1000, step, scalars: finite }));
  }

  flush(): void {
    if (this.#fd >= 0) fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}
