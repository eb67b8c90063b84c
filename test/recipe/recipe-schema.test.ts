// recipes/recipe.schema.json is generated from the key table, is current, and every shipped recipe references it and
// validates against it (checked by python's jsonschema, an independent validator, where it is installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { recipeSchemaText } from '../../src/recipe/recipe-schema.js';

const root = new URL('../../', import.meta.url).pathname;
const schemaPath = join(root, 'recipes/recipe.schema.json');
const recipes = (dir: string): string[] => readdirSync(dir).flatMap((f) => {
  const p = join(dir, f);
  return statSync(p).isDirectory() ? recipes(p) : f.endsWith('.yaml') ? [p] : [];
});

test('recipes/recipe.schema.json is current (npm run docs:recipe-schema rewrites it)', () => {
  assert.equal(readFileSync(schemaPath, 'utf8'), recipeSchemaText());
});

test('every shipped recipe points at the schema on its first line', () => {
  for (const file of recipes(join(root, 'recipes'))) {
    const first = readFileSync(file, 'utf8').split('\n')[0];
    const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
    assert.ok(m, `${file} lacks the schema line`);
    assert.equal(resolve(dirname(file), m[1]), schemaPath, file);
  }
});

test('the shipped recipes validate against the schema, and a bad key or value does not', (t) => {
  const probe = spawnSync('python3', ['-c', 'import jsonschema, yaml'], { encoding: 'utf8' });
  if (probe.status !== 0) return t.skip('python3 with jsonschema and yaml is not installed');
  const script = [
    'import json, sys, yaml, jsonschema',
    'schema = json.load(open(sys.argv[1]))',
    'for f in sys.argv[2:]:',
    '    errs = list(jsonschema.Draft7Validator(schema).iter_errors(yaml.safe_load(open(f)) or {}))',
    '    print(f, "ok" if not errs else "; ".join(e.message for e in errs))',
  ].join('\n');
  const files = recipes(join(root, 'recipes'));
  const r = spawnSync('python3', ['-c', script, schemaPath, ...files], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const line of r.stdout.trim().split('\n')) assert.match(line, / ok$/, line);
  const bad = spawnSync('python3', ['-c', [
    'import json, sys, jsonschema',
    'v = jsonschema.Draft7Validator(json.load(open(sys.argv[1])))',
    'print(len(list(v.iter_errors({"learning_rat": 1}))), len(list(v.iter_errors({"lr_scheduler_type": "cosin"}))), len(list(v.iter_errors({"beta": 0.1, "report_to": ["tensorboard"]}))))',
  ].join('\n'), schemaPath], { encoding: 'utf8' });
  assert.equal(bad.stdout.trim(), '1 1 0', bad.stderr);
});
