// The package's export map: every layer's index is a subpath (bfpo/tensor, bfpo/io, ...) whose source, types and
// compiled entries line up, and every root export is the same object as in a subpath, so nothing public is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
/** Layers that are not part of the library's surface (the command line). */
const PRIVATE_LAYERS = ['cli'];

type Entry = { 'bfpo-source': string; types: string; default: string };
const entries = Object.entries(pkg.exports).filter(([k]) => k !== './package.json') as [string, Entry][];

test('every public layer with an index.ts is a subpath, and every subpath is a layer index', () => {
  const layers = readdirSync(join(root, 'src'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && !PRIVATE_LAYERS.includes(d.name) && existsSync(join(root, 'src', d.name, 'index.ts')))
    .map((d) => `./${d.name}`).sort();
  assert.deepEqual(entries.map(([k]) => k).filter((k) => k !== '.').sort(), layers);
});

test('each entry: the source condition first, then types and default in dist/, mirroring the source path', () => {
  for (const [key, e] of entries) {
    assert.deepEqual(Object.keys(e), ['bfpo-source', 'types', 'default'], `${key}: condition order`);
    const src = e['bfpo-source'];
    assert.ok(existsSync(join(root, src)), `${key}: ${src} exists`);
    assert.match(src, /^\.\/src\/(.*)\.ts$/, key);
    const base = src.replace(/^\.\/src\//, './dist/').replace(/\.ts$/, '');
    assert.equal(e.types, `${base}.d.ts`, `${key}: types`);
    assert.equal(e.default, `${base}.js`, `${key}: default`);
  }
  assert.equal(entries.find(([k]) => k === '.')?.[1]['bfpo-source'], './src/index.ts');
});

test('every root export is the same object as in a subpath; the root is a short list', async () => {
  const rootMod = (await import('bfpo')) as Record<string, unknown>;
  const subs = await Promise.all(entries.filter(([k]) => k !== '.').map(async ([k]) => [k, await import(`bfpo/${k.slice(2)}`)] as const));
  const errors = (await import('../src/errors.js')) as Record<string, unknown>;
  for (const [name, value] of Object.entries(rootMod)) {
    const home = subs.find(([, m]) => (m as Record<string, unknown>)[name] === value)?.[0] ?? (errors[name] === value ? 'errors' : null);
    assert.ok(home, `root export ${name} is in no subpath`);
  }
  const all = new Set(subs.flatMap(([, m]) => Object.keys(m)));
  assert.ok(Object.keys(rootMod).length < all.size / 2, `the root exports ${Object.keys(rootMod).length} of ${all.size} names`);
  for (const internal of ['crc32c', 'editDistance', 'readGgufTensorBytes', 'permuteQkRows']) {
    assert.ok(!(internal in rootMod), `${internal} is not a root export`);
    assert.ok(all.has(internal), `${internal} is reachable from a subpath`);
  }
});
