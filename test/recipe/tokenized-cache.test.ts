// The tokenized-data cache shared by `bfpo prepare` and training: a second run reads the cache and dumps the same
// rows; a changed setting or data file misses it; a damaged entry is recomputed with a warning; training from the
// cache logs the same losses and log-probs.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';

const root = new URL('../../', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'bfpo-tokcache-'));
after(() => rmSync(work, { recursive: true, force: true }));
const cache = join(work, 'cache');
cpSync(join(root, 'test/fixtures/data/pku-saferlhf-jsonl'), join(work, 'PKU-SafeRLHF'), { recursive: true });
const recipe = join(work, 'recipe.yaml');
writeFileSync(recipe, [
  `model_name_or_path: ${join(root, 'recipes/tiny/model')}`,
  `output_dir: ${join(work, 'out')}`,
  `dataset_mixer: {${join(work, 'PKU-SafeRLHF')}: 1.0}`,
  'dataset_splits: [train, test]',
  'max_length: 96', 'max_prompt_length: 48', 'max_seq_length: 96',
  'per_device_train_batch_size: 2', 'per_device_eval_batch_size: 2',
  `tokenized_cache_dir: ${cache}`, '',
].join('\n'));

async function run(args: string[]): Promise<string> {
  const [write, error] = [process.stderr.write.bind(process.stderr), console.error];
  let err = '';
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n`; };
  process.exitCode = undefined;
  try {
    await main(args);
    assert.equal(process.exitCode, undefined, err);
    return err;
  } finally {
    process.stderr.write = write;
    console.error = error;
    process.exitCode = undefined;
  }
}

let dumps = 0;
/** Runs prepare with a dump of `split`; returns the dump and the log. */
async function prepare(extra: string[], split = 'train'): Promise<{ dump: string; err: string }> {
  const out = join(work, `dump-${dumps++}.jsonl`);
  const err = await run(['prepare', recipe, ...extra, '--dump', '1000', '--split', split, '--out', out]);
  return { dump: readFileSync(out, 'utf8'), err };
}

const STORED = /tokenized data computed and stored in the cache (\S+\.bin)/;
const READ = /tokenized data read from the cache (\S+\.bin)/;

for (const [what, extra] of [['preference pairs', []], ['SFT conversations', ['--task=sft']], ['packed SFT blocks', ['--task=sft', '--packing=true', '--max_seq_length=32']],
  ['SFT with the loss on every token', ['--task=sft', '--assistant_only_loss=false']]] as [string, string[]][]) {
  test(`prepare: ${what} are tokenized and stored once, then read from the cache with the same dump`, async () => {
    const first = await prepare(extra);
    const stored = STORED.exec(first.err);
    assert.ok(stored, first.err);
    assert.ok(stored[1]!.startsWith(cache));
    assert.ok(first.dump.split('\n').length > 3);
    // The first run tokenizes with bfpo's native encoder (the tiny model's byte-level BPE) ...
    assert.match(first.err, /tokenizing with bfpo's native encoder/);
    const second = await prepare(extra);
    assert.equal(READ.exec(second.err)?.[1], stored[1], second.err);
    assert.equal(second.dump, first.dump);
    // ... the second neither builds an encoder nor tokenizes anything: no tokenizer implementation is chosen.
    assert.doesNotMatch(second.err, /tokenizing/);
    // The implementation does not enter the key (both give the same ids): the JavaScript path reads the same entry.
    const js = await prepare([...extra, '--tokenizer_backend=js']);
    assert.equal(READ.exec(js.err)?.[1], stored[1], js.err);
    const rust = await prepare([...extra, '--tokenizer_backend=rust']);
    assert.equal(READ.exec(rust.err)?.[1], stored[1], rust.err);
    const testSplit = [await prepare(extra, 'test'), await prepare([...extra, '--tokenized_cache=false'], 'test')];
    assert.match(testSplit[0]!.err, READ);
    assert.doesNotMatch(testSplit[1]!.err, /tokenized data/);
    assert.equal(testSplit[0]!.dump, testSplit[1]!.dump);
    // Without the cache, the same rows.
    assert.equal((await prepare([...extra, '--tokenized_cache=false'])).dump, first.dump);
    const uncachedJs = await prepare([...extra, '--tokenized_cache=false', '--tokenizer_backend=js']);
    assert.match(uncachedJs.err, /tokenizing with bfpo's JavaScript tokenizer \(tokenizer_backend: js\)/);
    assert.equal(uncachedJs.dump, first.dump);
  });
}

test('prepare: a changed max_length, tokenization, mixer seed, data file or tokenizer misses the cache', async () => {
  const base = await prepare([]);
  assert.match(base.err, READ.test(base.err) ? READ : STORED);
  const key = (READ.exec(base.err) ?? STORED.exec(base.err))![1]!;
  const shorter = await prepare(['--max_length=64']);
  assert.notEqual(STORED.exec(shorter.err)?.[1], undefined, shorter.err);
  assert.notEqual(STORED.exec(shorter.err)![1], key);
  assert.notEqual(shorter.dump, base.dump);
  assert.match((await prepare(['--tokenization=trl-0.7'])).err, STORED);
  assert.match((await prepare(['--mixer_seed=7'])).err, STORED);
  // The same file name with one row fewer: new content, new key.
  const file = join(work, 'PKU-SafeRLHF/train.jsonl');
  const original = readFileSync(file, 'utf8');
  try {
    writeFileSync(file, original.trim().split('\n').slice(1).join('\n') + '\n');
    const changed = await prepare([]);
    assert.match(changed.err, STORED);
    assert.notEqual(changed.dump, base.dump);
  } finally {
    writeFileSync(file, original);
  }
  assert.equal(READ.exec((await prepare([])).err)?.[1], key);
  // The tokenizer enters by content: an identical copy elsewhere hits, a changed tokenizer_config.json misses.
  const tok = join(work, 'tokenizer');
  cpSync(join(root, 'recipes/tiny/model'), tok, { recursive: true });
  assert.equal(READ.exec((await prepare([`--tokenizer_name_or_path=${tok}`])).err)?.[1], key);
  const config = JSON.parse(readFileSync(join(tok, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(tok, 'tokenizer_config.json'), JSON.stringify({ ...config, model_max_length: 4096 }));
  assert.match((await prepare([`--tokenizer_name_or_path=${tok}`])).err, STORED);
});

test('prepare: a truncated or altered cache file is recomputed with a warning, never trusted', async () => {
  const base = await prepare(['--max_length=80']);
  const bin = (READ.exec(base.err) ?? STORED.exec(base.err))![1]!;
  truncateSync(bin, statSync(bin).size - 4);
  const again = await prepare(['--max_length=80']);
  assert.match(again.err, /warning: the tokenized-data cache entry is damaged and is recomputed: .*has \d+ bytes, its index says \d+/);
  assert.equal(STORED.exec(again.err)?.[1], bin);
  assert.equal(again.dump, base.dump);
  // Same length, one byte changed: the checksum catches it.
  const bytes = readFileSync(bin);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(bin, bytes);
  const flipped = await prepare(['--max_length=80']);
  assert.match(flipped.err, /does not match its sha256/);
  assert.equal(flipped.dump, base.dump);
  // An index that is not JSON.
  writeFileSync(bin.replace(/\.bin$/, '.json'), '{');
  const badIndex = await prepare(['--max_length=80']);
  assert.match(badIndex.err, /is not valid JSON/);
  assert.equal(badIndex.dump, base.dump);
  assert.match((await prepare(['--max_length=80'])).err, READ);
});

test('train: the steps from the cache log the same loss and log-probs as without it', async () => {
  // Step 1's BFPO loss does not depend on the data (policy = reference); its log-probs and step 2's loss do.
  const args = ['train', recipe, '--max_steps=2', '--logging_steps=1', '--save_strategy=no', '--report_to=[]', '--max_length=72'];
  const logs: Record<string, number>[][] = [];
  for (const [i, extra] of [['--tokenized_cache=false'], [], []].entries()) {
    const out = join(work, `train-${i}`);
    const err = await run([...args, `--output_dir=${out}`, ...extra]);
    assert.match(err, [/^(?![\s\S]*tokenized data)/, STORED, READ][i]!);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>)
      .filter((l) => 'loss' in l).map(({ tokens_per_second: _, ...l }) => l);
    assert.equal(log.length, 2, JSON.stringify(log));
    assert.ok(log.every((l) => Number.isFinite(l.loss) && Number.isFinite(l['logps/chosen'])));
    logs.push(log);
  }
  assert.notEqual(logs[0]![1]!.loss, logs[0]![0]!.loss);
  assert.deepEqual(logs[1], logs[0]);
  assert.deepEqual(logs[2], logs[0]);
  assert.ok(readdirSync(cache).some((f) => f.endsWith('.bin')));
});

test('the cache folder: tokenized_cache_dir, else $XDG_CACHE_HOME/bfpo/tokenized, else ~/.cache/bfpo/tokenized', async () => {
  const { resolveSettings } = await import('../../src/recipe/settings.js');
  const { loadRecipe } = await import('../../src/recipe/recipe.js');
  const tokenizedCacheDir = (r: ReturnType<typeof loadRecipe>): string => resolveSettings(r, 'preference').tokenizedCache.dir;
  const { homedir } = await import('node:os');
  assert.equal(tokenizedCacheDir(loadRecipe(recipe, [])), cache);
  assert.equal(resolveSettings(loadRecipe(recipe, ['--tokenized_cache=false']), 'sft').tokenizedCache.enabled, false);
  const saved = process.env.XDG_CACHE_HOME;
  try {
    process.env.XDG_CACHE_HOME = '/xdg';
    assert.equal(tokenizedCacheDir(loadRecipe(recipe, ['--tokenized_cache_dir=null'])), '/xdg/bfpo/tokenized');
    delete process.env.XDG_CACHE_HOME;
    assert.equal(tokenizedCacheDir(loadRecipe(recipe, ['--tokenized_cache_dir=null'])), join(homedir(), '.cache/bfpo/tokenized'));
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME; else process.env.XDG_CACHE_HOME = saved;
  }
});

test('the cache file round-trips records that cross its 4 MiB write blocks, two splits and two datasets', async () => {
  const { readTokenizedCache, writeTokenizedCache } = await import('../../src/data/tokenized-cache.js');
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-cache-blocks-'));
  try {
    // 700k + 600k ids in the first pair: its rejected row crosses the first 1M-word block; then small pairs.
    const seq = (n: number, seed: number, promptLength: number) => ({ ids: Int32Array.from({ length: n }, (_, i) => (i * 7919 + seed) % 32000), promptLength });
    const pair = (n: number, m: number, i: number, dataset: string) => ({
      chosen: seq(n, i, 3), rejected: seq(m, i + 1, 3), isChosenSafe: (i % 2) as 0 | 1, isRejectedSafe: 1 as const, source: { dataset, row: i },
    });
    const splits = {
      train: [pair(700_000, 600_000, 0, 'a'), pair(5, 9, 1, 'b'), pair(1_048_576, 4, 2, 'a')],
      test: [pair(12, 3, 3, 'b')],
    };
    const file = writeTokenizedCache(dir, 'k', 'pairs', splits);
    assert.equal(statSync(file).size, 4 * (4 * 8 + 700_000 + 600_000 + 5 + 9 + 1_048_576 + 4 + 12 + 3));
    const back = readTokenizedCache(dir, 'k', 'pairs');
    assert.ok(back.splits, 'the entry was not read back');
    for (const name of ['train', 'test'] as const) {
      assert.equal(back.splits[name].length, splits[name].length);
      back.splits[name].forEach((p, i) => {
        const want = splits[name][i]!;
        assert.deepEqual(p.chosen.ids, want.chosen.ids);
        assert.deepEqual(p.rejected.ids, want.rejected.ids);
        assert.deepEqual([p.chosen.promptLength, p.isChosenSafe, p.isRejectedSafe, p.source], [3, want.isChosenSafe, 1, want.source]);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
