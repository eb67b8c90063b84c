// The TensorBoard event writer: CRC32C against published vectors, and a reader written here that parses the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, maskedCrc32c, EventWriter } from '../../src/train/tensorboard.js';

test('CRC32C matches the published check values', () => {
  // RFC 3720 (iSCSI) appendix B.4 and the common "123456789" check value.
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
});

test('masked CRC rotates and offsets like TFRecord', () => {
  const c = crc32c(Buffer.from('abc'));
  assert.equal(maskedCrc32c(Buffer.from('abc')), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0);
});

// --- a minimal independent reader: TFRecord frames, then protobuf fields.
function readVarint(b: Buffer, pos: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    const byte = b[pos++];
    v |= BigInt(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return [v, pos];
    shift += 7n;
  }
}
type Field = { field: number; wire: number; value: bigint | number | Buffer };
function fields(b: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < b.length) {
    const [k, p1] = readVarint(b, pos);
    const field = Number(k >> 3n);
    const wire = Number(k & 7n);
    if (wire === 0) { const [v, p] = readVarint(b, p1); out.push({ field, wire, value: v }); pos = p; }
    else if (wire === 1) { out.push({ field, wire, value: b.readDoubleLE(p1) }); pos = p1 + 8; }
    else if (wire === 5) { out.push({ field, wire, value: b.readFloatLE(p1) }); pos = p1 + 4; }
    else if (wire === 2) { const [n, p] = readVarint(b, p1); out.push({ field, wire, value: b.subarray(p, p + Number(n)) }); pos = p + Number(n); }
    else throw new Error(`wire type ${wire}`);
  }
  return out;
}

test('the event file parses: framing, CRCs, file_version, steps, tags and values', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-tb-'));
  try {
    const w = new EventWriter(dir);
    w.scalars(5, { 'train/loss': 0.75, 'train/learning_rate': 1e-5 });
    w.scalars(10, { 'eval/loss': 0.5, skipped: Number.NaN });
    w.close();
    const buf = readFileSync(w.path);
    const events: Field[][] = [];
    let pos = 0;
    while (pos < buf.length) {
      const len = Number(buf.readBigUInt64LE(pos));
      assert.equal(buf.readUInt32LE(pos + 8), maskedCrc32c(buf.subarray(pos, pos + 8)));
      const data = buf.subarray(pos + 12, pos + 12 + len);
      assert.equal(buf.readUInt32LE(pos + 12 + len), maskedCrc32c(data));
      events.push(fields(data));
      pos += 16 + len;
    }
    assert.equal(events.length, 3);
    assert.equal((events[0].find((f) => f.field === 3)!.value as Buffer).toString(), 'brain.Event:2');
    const scalars = events.slice(1).map((e) => {
      const step = Number(e.find((f) => f.field === 2)!.value);
      const summary = fields(e.find((f) => f.field === 5)!.value as Buffer);
      const values = summary.map((v) => {
        const inner = fields(v.value as Buffer);
        return [(inner.find((f) => f.field === 1)!.value as Buffer).toString(), inner.find((f) => f.field === 2)!.value];
      });
      assert.ok(typeof e.find((f) => f.field === 1)!.value === 'number');
      return { step, values };
    });
    assert.deepEqual(scalars[0].step, 5);
    assert.equal(scalars[0].values[0][0], 'train/loss');
    assert.equal(scalars[0].values[0][1], 0.75);
    assert.ok(Math.abs((scalars[0].values[1][1] as number) - 1e-5) < 1e-12);
    assert.deepEqual(scalars[1], { step: 10, values: [['eval/loss', 0.5]] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
