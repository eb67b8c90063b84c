// Models and datasets named by hub repo id resolve offline from a Hugging Face cache laid out as huggingface_hub does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { loadPretrained } from 'bfpo';
import { findInHubCache, hubCacheDir, resolveHubPath } from 'bfpo/io';
import { convertCommand } from '../../src/cli/convert.js';
import { generateCommand } from '../../src/cli/generate.js';
import { checkDatasetPaths, checkModelPath } from '../../src/recipe/paths.js';
import { datasetPath } from '../../src/data/mixer.js';
import { tmpDir } from './tmp-dir.js';

const gguf = new URL('../fixtures/io/llama-2-tiny-random.gguf', import.meta.url).pathname;
const pku = new URL('../fixtures/data/pku-saferlhf', import.meta.url).pathname;
const MAIN = 'a'.repeat(40);
const OLD = 'b'.repeat(40);

/** A cache with models--acme--tiny at two commits (main and tag v0) and datasets--acme--pku at main. */
function makeCache(): string {
  const cache = tmpDir('bfpo-hub-');
  const repo = join(cache, 'models--acme--tiny');
  convertCommand([gguf, join(repo, 'snapshots', MAIN)], () => {});
  cpSync(join(repo, 'snapshots', MAIN), join(repo, 'snapshots', OLD), { recursive: true });
  mkdirSync(join(repo, 'refs'));
  writeFileSync(join(repo, 'refs', 'main'), MAIN);
  writeFileSync(join(repo, 'refs', 'v0'), `${OLD}\n`);
  const data = join(cache, 'datasets--acme--pku');
  cpSync(pku, join(data, 'snapshots', MAIN), { recursive: true });
  mkdirSync(join(data, 'refs'));
  writeFileSync(join(data, 'refs', 'main'), MAIN);
  return cache;
}

test('the cache folder follows HF_HUB_CACHE, HF_HOME and the default', () => {
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '/x/hub', HF_HOME: '/y' }), '/x/hub');
  assert.equal(hubCacheDir({ HF_HOME: '/y' }), '/y/hub');
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/c' }), '/c/huggingface/hub');
  assert.equal(hubCacheDir({}), join(homedir(), '.cache', 'huggingface', 'hub'));
});

test('a repo id resolves to its snapshot by refs/main, a tag or a commit hash', () => {
  const cache = makeCache();
  const env = { HF_HUB_CACHE: cache };
  const repo = join(cache, 'models--acme--tiny', 'snapshots');
  assert.equal(resolveHubPath('acme/tiny', 'model', { env }), join(repo, MAIN));
  assert.equal(resolveHubPath('acme/tiny', 'model', { env, revision: 'v0' }), join(repo, OLD));
  assert.equal(resolveHubPath('acme/tiny', 'model', { env, revision: OLD }), join(repo, OLD));
  assert.equal(findInHubCache('acme/pku', 'dataset', 'main', env).path, join(cache, 'datasets--acme--pku', 'snapshots', MAIN));
  // A local folder of the same name wins over the cache.
  assert.equal(resolveHubPath(pku, 'model', { env }), pku);
});

test('a missing repo or revision lists every place looked at, and the snapshots present', () => {
  const cache = makeCache();
  const env = { HF_HUB_CACHE: cache };
  assert.throws(() => resolveHubPath('acme/none', 'model', { env, key: 'model_name_or_path' }), (e: Error) =>
    e.message.includes('model_name_or_path (acme/none)') && e.message.includes(join(cache, 'models--acme--none', 'refs', 'main')) &&
    e.message.includes('huggingface-cli download acme/none') && e.message.includes('never downloads'));
  assert.throws(() => resolveHubPath('acme/tiny', 'model', { env, revision: 'v9' }), (e: Error) =>
    e.message.includes(join(cache, 'models--acme--tiny', 'refs', 'v9')) && e.message.includes(`snapshots ${MAIN}, ${OLD}`));
  assert.throws(() => resolveHubPath('./no/such/dir', 'model', { env }), /was not found: looked for/);
});

test('generate, convert, loadPretrained and the recipe checks take a repo id from HF_HUB_CACHE', async () => {
  const cache = makeCache();
  const before = process.env.HF_HUB_CACHE;
  process.env.HF_HUB_CACHE = cache;
  try {
    const snap = join(cache, 'models--acme--tiny', 'snapshots', MAIN);
    const { model } = loadPretrained('acme/tiny');
    assert.equal(model.config.vocabSize, loadPretrained(gguf).config.vocabSize);
    const a = await generateCommand(['--model', 'acme/tiny', '--prompt', 'Hi', '--max-new-tokens', '4'], () => {});
    const b = await generateCommand(['--model', gguf, '--prompt', 'Hi', '--max-new-tokens', '4'], () => {});
    assert.equal(a, b);
    const out = join(tmpDir(), 'tiny.gguf');
    convertCommand(['acme/tiny', out, '--type', 'f32'], () => {});
    assert.equal(checkModelPath('acme/tiny'), snap);
    assert.throws(() => checkModelPath('acme/tiny', 'model_name_or_path', 'nope'), /refs\/nope/);
    checkDatasetPaths({ 'acme/pku': 1 });
    assert.throws(() => checkDatasetPaths({ 'acme/other': 1 }), /datasets--acme--other.*huggingface-cli download --repo-type dataset acme\/other/s);
    assert.equal(datasetPath('acme/pku', {}), join(cache, 'datasets--acme--pku', 'snapshots', MAIN));
  } finally {
    if (before === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = before;
  }
});
