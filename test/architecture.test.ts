// The import graph of src/: no cycle between folders, no import from a folder to one above it in the layer order,
// and no cycle between the files of train/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
/** The layers, top first (DESIGN.md); src/index.ts and src/errors.ts stand outside. */
const LAYERS = ['cli', 'demo', 'recipe', 'eval', 'train', 'parallel', 'losses', 'data', 'models', 'io', 'nn', 'optim', 'tensor', 'native'];
/** Upward folder imports that exist and are known (none); the test fails when one disappears, so the list stays honest. */
const KNOWN_UPWARD = new Set<string>([]);
/** File cycles inside a folder that exist today and are known (a type-only import back); the same rule as above. */
const KNOWN_FILE_CYCLES: string[] = [];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative import and export-from targets of each src file, as paths relative to src/ (type-only imports included). */
function imports(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const re = /(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
  for (const file of walk(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(re)) {
      const spec = (m[1] ?? m[2]).replace(/\.js$/, '.ts');
      targets.push(relative(SRC, resolve(dirname(file), spec)));
    }
    out.set(relative(SRC, file), targets);
  }
  return out;
}

const folderOf = (f: string): string => (f.includes('/') ? f.split('/')[0] : f);

/** Every cycle's nodes (strongly connected components with more than one node, or a self-loop), via Tarjan. */
function cycles(edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || edges.get(v)?.has(v)) found.push(comp.sort());
    }
  };
  for (const v of edges.keys()) if (!idx.has(v)) visit(v);
  return found;
}

const graph = imports();

test('the import parser sees the imports of src/ files', () => {
  assert.ok(graph.get('train/trainer.ts')?.includes('train/steps.ts'));
  assert.ok(graph.get('index.ts')?.includes('tensor/index.ts'));
});

test('no import from a folder of src/ to a folder above it in the layer order', () => {
  const upward = new Map<string, string[]>();
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    if (!LAYERS.includes(from)) continue;
    for (const t of targets) {
      const to = folderOf(t);
      if (to === from || to === 'errors.ts') continue;
      assert.notEqual(to, 'index.ts', `${file} imports src/index.ts`);
      const [a, b] = [LAYERS.indexOf(from), LAYERS.indexOf(to)];
      assert.ok(b >= 0, `${file} imports ${t}, outside the layers`);
      if (b < a) upward.set(`${from} -> ${to}`, [...(upward.get(`${from} -> ${to}`) ?? []), `${file} -> ${t}`]);
    }
  }
  const unexpected = [...upward].filter(([k]) => !KNOWN_UPWARD.has(k));
  assert.deepEqual(unexpected, [], 'upward imports');
  assert.deepEqual([...KNOWN_UPWARD].filter((k) => !upward.has(k)), [], 'known upward imports that are gone: drop them from KNOWN_UPWARD');
});

test('no cycle between the folders of src/, apart from the known upward edges', () => {
  const edges = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    const from = folderOf(file);
    if (!LAYERS.includes(from)) continue;
    for (const t of targets) {
      const to = folderOf(t);
      if (to === from || !LAYERS.includes(to) || KNOWN_UPWARD.has(`${from} -> ${to}`)) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
    }
  }
  assert.deepEqual(cycles(edges), []);
});

test('no cycle between the files of a folder', () => {
  const edges = new Map<string, Set<string>>();
  for (const [file, targets] of graph) {
    for (const t of targets) {
      if (folderOf(t) !== folderOf(file) || !file.includes('/')) continue;
      if (!edges.has(file)) edges.set(file, new Set());
      edges.get(file)!.add(t);
    }
  }
  const found = cycles(edges).map((c) => c.join(' '));
  assert.deepEqual(found.filter((c) => !KNOWN_FILE_CYCLES.includes(c)), [], 'file cycles');
  assert.deepEqual(KNOWN_FILE_CYCLES.filter((c) => !found.includes(c)), [], 'known file cycles that are gone: drop them');
});

test('the cycle finder reports a cycle', () => {
  const e = new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set(['a'])], ['d', new Set(['a'])]]);
  assert.deepEqual(cycles(e), [['a', 'b', 'c']]);
});
