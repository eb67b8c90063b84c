// Choosing the implementation that encodes data: bfpo's native encoder, then the Rust library, each only while it
// gives the JavaScript tokenizer's ids (a probe corpus when built, the run's first texts after), the JavaScript
// tokenizer where they differ or it is forced (tokenizer_backend, BFPO_TOKENIZER_BACKEND), and clear errors where
// `native` or `rust` is required but cannot be had.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer, batchEncoder, BACKEND_ENV, type NativeEncodingSpec } from 'bfpo/io';
import { tokenizePairs, type PreferenceExample } from 'bfpo/data';

/** Encoder results as plain arrays (the native encoder gives Int32Array views). */
const asArrays = (ids: ArrayLike<number>[]): number[][] => ids.map((x) => Array.from(x));
import { zephyrTokenizer } from '../data/zephyr-tokenizer.js';

/** The test tokenizer whose native and Rust form has the ids of two vocabulary entries swapped (what a differing library does). */
function tampered(a: string, b: string): Tokenizer {
  const base = zephyrTokenizer() as unknown as Tokenizer;
  const tok = new Tokenizer(base.tokenizerJson, base.tokenizerConfig, base.source);
  const spec = tok.nativeEncodingSpec();
  const model = spec.json.model as { vocab: Record<string, number> };
  const vocab = { ...model.vocab, [a]: model.vocab[b]!, [b]: model.vocab[a]! };
  const json = { ...spec.json, model: { ...model, vocab } };
  const swapped: NativeEncodingSpec = { ...spec, json };
  return Object.assign(tok, { nativeEncodingSpec: () => swapped });
}

const example = (i: number, words: string): PreferenceExample => ({
  prompt: [{ role: 'user', content: `Question ${i}: ${words}?` }],
  chosen: [{ role: 'assistant', content: `An answer about ${words}.` }],
  rejected: [{ role: 'assistant', content: 'No.' }],
  isChosenSafe: 1, isRejectedSafe: 0, source: { dataset: 'd', row: i },
});
const lengths = { maxLength: 128, maxPromptLength: 64 };
const ids = (pairs: { chosen: { ids: Int32Array }; rejected: { ids: Int32Array } }[]): number[][] => pairs.flatMap((p) => [Array.from(p.chosen.ids), Array.from(p.rejected.ids)]);

async function withEnv<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env[BACKEND_ENV];
  if (value === undefined) delete process.env[BACKEND_ENV]; else process.env[BACKEND_ENV] = value;
  try { return await fn(); } finally { if (saved === undefined) delete process.env[BACKEND_ENV]; else process.env[BACKEND_ENV] = saved; }
}

test('auto uses bfpo\'s native encoder, rust the Rust library, when they give the same ids, and says so', async () => {
  await withEnv(undefined, async () => {
    const tok = zephyrTokenizer() as unknown as Tokenizer;
    const vocab = (tok.tokenizerJson.model as { vocab: Record<string, number> }).vocab;
    const auto = await batchEncoder(tok);
    assert.equal(auto.backend, 'native');
    assert.match(auto.description, /^tokenizing with bfpo's native encoder \(identical ids/);
    const rust = await batchEncoder(tok, { backend: 'rust' });
    assert.equal(rust.backend, 'rust');
    assert.match(rust.description, /^tokenizing with Hugging Face's Rust tokenizers \d+\.\d+\.\d+ \(identical ids/);
    for (const enc of [auto, rust]) {
      assert.deepEqual(asArrays(await enc.encodeBatch(['Hello world', '', 'Hello'])), [[vocab['▁Hello'], vocab['▁world']], [], [vocab['▁Hello']]]);
    }
  });
});

test('tokenizer_backend js and BFPO_TOKENIZER_BACKEND=js force the JavaScript tokenizer; bad values are refused', async () => {
  const tok = zephyrTokenizer() as unknown as Tokenizer;
  await withEnv(undefined, async () => {
    const js = await batchEncoder(tok, { backend: 'js' });
    assert.equal(js.backend, 'js');
    assert.equal(js.description, "tokenizing with bfpo's JavaScript tokenizer (tokenizer_backend: js)");
    assert.deepEqual(asArrays(await js.encodeBatch(['Hello world'])), [tok.encode('Hello world', { addSpecialTokens: false })]);
    await assert.rejects(batchEncoder(tok, { backend: 'fast' as never }), /Expected one of auto, native, rust, js for tokenizer_backend but received "fast"/);
    await assert.rejects(batchEncoder(tok, { checkTexts: -1 }), /Expected a non-negative integer for checkTexts but received -1/);
  });
  await withEnv('js', async () => {
    const forced = await batchEncoder(tok, { backend: 'rust' });
    assert.equal(forced.backend, 'js');
    assert.match(forced.description, /\(BFPO_TOKENIZER_BACKEND=js\)/);
  });
  await withEnv('native', async () => {
    assert.equal((await batchEncoder(tok, { backend: 'rust' })).backend, 'native');
  });
  await withEnv('python', async () => {
    await assert.rejects(batchEncoder(tok), /Expected one of auto, native, rust, js for the environment variable BFPO_TOKENIZER_BACKEND but received "python"/);
  });
});

test('encoders that differ on the probe corpus are not used (auto), or are an error (native, rust)', async () => {
  await withEnv(undefined, async () => {
    const tok = tampered('▁the', '▁of');
    const enc = await batchEncoder(tok);
    assert.equal(enc.backend, 'js');
    assert.match(enc.description, /^tokenizing with bfpo's JavaScript tokenizer \(bfpo's native encoder gives other ids than bfpo's on the probe text ".+"; the Rust library gives other ids than bfpo's on the probe text ".+"\)$/);
    await assert.rejects(batchEncoder(tok, { backend: 'rust' }), /tokenizer_backend: rust needs the Rust tokenizers library, but the Rust library gives other ids than bfpo's on the probe text/);
    await assert.rejects(batchEncoder(tok, { backend: 'native' }), /tokenizer_backend: native needs bfpo's native encoder, but bfpo's native encoder gives other ids than bfpo's on the probe text/);
  });
});

for (const [backend, who] of [['native', "bfpo's native encoder"], ['rust', 'the Rust library']] as const) {
  test(`${backend}: a difference in the run's first texts switches to the JavaScript tokenizer for good (auto) or is an error (required)`, async () => {
    await withEnv(undefined, async () => {
      const tok = tampered('▁dream', '▁models');
      // Pair 18's texts are the 55th to 57th: within the 64 compared by default.
      const examples = [...Array.from({ length: 18 }, (_, i) => example(i, 'the weather')), example(18, 'a dream'), example(19, 'the weather')];
      const want = await tokenizePairs(examples, tok, lengths);
      // auto (the native encoder here; the switching code is the same for both): the probe corpus has neither word,
      // so the tampered encoder passes it, and the run's texts find the difference.
      if (backend === 'native') {
        const logs: string[] = [];
        const enc = await batchEncoder(tok, { log: (l) => logs.push(l) });
        assert.equal(enc.backend, backend);
        const got = await tokenizePairs(examples, tok, { ...lengths, encoder: enc, chunkSize: 8 });
        assert.deepEqual(ids(got), ids(want));
        assert.equal(enc.backend, 'js');
        assert.equal(enc.description, `tokenizing with bfpo's JavaScript tokenizer (${who} gave other ids)`);
        assert.equal(logs.length, 1);
        assert.match(logs[0]!, new RegExp(`^${who} gave other ids than bfpo's JavaScript tokenizer on the text ".*dream.*"; tokenizing with the JavaScript tokenizer from here on$`, 's'));
      }
      // Required: the same difference is an error.
      const strict = await batchEncoder(tok, { backend });
      await assert.rejects(tokenizePairs(examples, tok, { ...lengths, encoder: strict }), new RegExp(`tokenizer_backend: ${backend}: ${who} gave other ids than bfpo's JavaScript tokenizer on the text`));
      // Past the texts it compares, the encoder trusts the other implementation (checkTexts: 0 compares none).
      const trusting = await batchEncoder(tok, { checkTexts: 0, backend });
      const unchecked = await tokenizePairs(examples, tok, { ...lengths, encoder: trusting });
      assert.notDeepEqual(ids(unchecked), ids(want));
      assert.equal(trusting.backend, backend);
    });
  });
}

/** The test tokenizer whose tables for escaped content (only) have two special tokens' aliases swapped. */
function tamperedEscapes(a: string, b: string): Tokenizer {
  const base = zephyrTokenizer() as unknown as Tokenizer;
  const tok = new Tokenizer(base.tokenizerJson, base.tokenizerConfig, base.source);
  const spec = tok.nativeEncodingSpec();
  const [aliasA, aliasB] = [spec.alias(a), spec.alias(b)];
  const swap = (s: string): string => (s === aliasA ? aliasB : s === aliasB ? aliasA : s);
  const plainJson = (): Record<string, unknown> => {
    const json = spec.plainJson();
    const model = json.model as { vocab: Record<string, number> };
    const vocab = Object.fromEntries(Object.entries(model.vocab).map(([t, id]) => [swap(t), id]));
    const added = (json.added_tokens as { content: string }[]).map((t) => ({ ...t, content: swap(t.content) }));
    return { ...json, model: { ...model, vocab }, added_tokens: added };
  };
  const changed: NativeEncodingSpec = { ...spec, alias: (s) => swap(spec.alias(s)), plainJson };
  return Object.assign(tok, { nativeEncodingSpec: () => changed });
}

test('a difference only in escaped content is found at the first batch that has such content', async () => {
  await withEnv(undefined, async () => {
    const tok = tamperedEscapes('<s>', '</s>');
    const plain = 'the weather of the day';
    const escaped = tok.applyChatTemplate([{ role: 'user', content: 'the </s> of' }], { addGenerationPrompt: true }) as string;
    assert.notEqual(tok.nativeEncodingSpec().mark(escaped), null);
    const want = (t: string): number[] => tok.encode(t, { addSpecialTokens: false });
    for (const [backend, who] of [['native', "bfpo's native encoder"], ['rust', 'the Rust library']] as const) {
      // checkTexts 0: only the escaped probe texts can find the difference.
      const strict = await batchEncoder(tok, { backend, checkTexts: 0 });
      assert.deepEqual(asArrays(await strict.encodeBatch([plain])), [want(plain)]);
      await assert.rejects(strict.encodeBatch([plain, escaped]), new RegExp(`^BfpoError: tokenizer_backend: ${backend}: ${who} gave other ids than bfpo's JavaScript tokenizer on the text ".*"; use tokenizer_backend: auto or js$`));
    }
    const logs: string[] = [];
    const auto = await batchEncoder(tok, { checkTexts: 0, log: (l) => logs.push(l) });
    assert.equal(auto.backend, 'native');
    assert.deepEqual(asArrays(await auto.encodeBatch([plain])), [want(plain)]);
    assert.deepEqual(asArrays(await auto.encodeBatch([escaped, plain])), [want(escaped), want(plain)]);
    assert.equal(auto.backend, 'js');
    assert.equal(logs.length, 1);
  });
});

test('tokenizer_check_texts reaches the encoder: the recipe value is how many texts are compared, and the log says so', async () => {
  const { resolveSettings } = await import('../../src/recipe/settings.js');
  const { loadRecipe } = await import('../../src/recipe/recipe.js');
  const { dataEncoder } = await import('../../src/recipe/run.js');
  const base = ['--model_name_or_path=m', '--output_dir=o', '--dataset_mixer={d: 1}'];
  assert.equal(resolveSettings(loadRecipe(null, base), 'preference').tokenize.checkTexts, 64);
  const s = resolveSettings(loadRecipe(null, [...base, '--tokenizer_check_texts=7', '--tokenizer_backend=native']), 'preference');
  const enc = await dataEncoder(s, zephyrTokenizer() as unknown as Tokenizer)() as Awaited<ReturnType<typeof batchEncoder>>;
  assert.equal(enc.backend, 'native');
  assert.match(enc.description, /the first 7 texts are compared too/);
});
