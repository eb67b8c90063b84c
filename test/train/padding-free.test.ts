// Padding-free batches with a shared prompt: a pair's prompt runs once and both answers attend to it, rows are laid
// back to back without padding. Loss, log-probs and every parameter gradient equal the padded path's to float
// tolerance, for preference and SFT steps, the checkpointed step, the reference pass, sliding windows, LoRA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, tensor, tidy, type Tensor } from '../../src/index.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { parseConfig } from '../../src/models/config.js';
import { applyLora } from '../../src/nn/lora.js';
import { scoredPositions } from '../../src/losses/logps.js';
import { frozenReference } from '../../src/train/reference.js';
import { packBatch } from '../../src/train/pack-pairs.js';
import { preferenceStep, preferenceStepCheckpointed, sftStep } from '../../src/train/steps.js';
import { disposeBatch, type PreferenceBatch } from '../../src/train/types.js';
import { PairSource, SftSource, makePairs, takeGrads, type Pair } from './tiny.js';

// Float32 sums in another order: the packed path multiplies other matrix shapes.
const TOL = 2e-5;

function llama(seed: number, extra: Record<string, unknown> = {}): LlamaForCausalLM {
  manualSeed(seed);
  const m = new LlamaForCausalLM(parseConfig({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 11, hidden_size: 16, intermediate_size: 32,
    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5, ...extra,
  }));
  m.train(false);
  return m;
}

/** Pairs of random lengths, plus one whose chosen answer is a prefix of the rejected one and one sharing 2 answer tokens. */
function pairs(): Pair[] {
  const list = makePairs(5, 3);
  list.push({ prompt: [3, 4, 5], chosen: [6, 7], rejected: [6, 7, 8, 9], sc: 1, sr: 0 });
  list.push({ prompt: [2], chosen: [9, 9, 1, 2], rejected: [9, 9, 3], sc: 0, sr: 1 });
  return list;
}

function assertClose(a: Map<string, Float32Array>, b: Map<string, Float32Array>, what: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  let worst = 0;
  let norm = 0;
  for (const [n, x] of a) {
    const y = b.get(n)!;
    for (let i = 0; i < x.length; i++) {
      worst = Math.max(worst, Math.abs(x[i] - y[i]));
      norm = Math.max(norm, Math.abs(x[i]));
    }
  }
  assert.ok(norm > 1e-3, `${what}: the gradients are not all zero`);
  assert.ok(worst <= TOL, `${what}: largest gradient difference ${worst}`);
}

const LOSS = { lossType: 'bfpo' as const, beta: 0.5 };

/** Loss, metrics and gradients of one preference step (optionally checkpointed) with padding-free on or off. */
function prefStep(m: LlamaForCausalLM, batch: PreferenceBatch, paddingFree: boolean, checkpointed: boolean) {
  m.paddingFree = paddingFree;
  const ref = { name: 'fixed', logps: () => ({ chosen: tensor([-9, -8, -7, -6, -5, -4, -3], { dtype: 'float32' }).narrow(0, 0, batch.indices.length), rejected: tensor([-4, -5, -6, -7, -8, -9, -10], { dtype: 'float32' }).narrow(0, 0, batch.indices.length) }) };
  if (checkpointed) {
    const { loss, metrics } = preferenceStepCheckpointed(m, batch, ref, LOSS, 'train', 1);
    return { loss, metrics, grads: takeGrads(m) };
  }
  const { loss, metrics } = preferenceStep(m, batch, ref, LOSS);
  const v = loss.item();
  tidy(() => loss.backward());
  loss.dispose();
  return { loss: v, metrics, grads: takeGrads(m) };
}

for (const [name, extra] of [
  ['untied', {}], ['tied embeddings', { tie_word_embeddings: true }], ['sliding window 3 (Mistral)', { model_type: 'mistral', architectures: ['MistralForCausalLM'], sliding_window: 3 }],
] as [string, Record<string, unknown>][]) {
  for (const checkpointed of [false, true]) {
    test(`a padding-free preference step equals the padded one: ${name}${checkpointed ? ', checkpointed' : ''}`, () => {
      const m = llama(5, extra);
      const batch = new PairSource(pairs(), 7, false).next()!;
      const padded = prefStep(m, batch, false, checkpointed);
      const packed = prefStep(m, batch, true, checkpointed);
      assert.ok(Math.abs(padded.loss - packed.loss) <= TOL * Math.max(1, Math.abs(padded.loss)), `loss ${padded.loss} vs ${packed.loss}`);
      for (const k of ['rewards/chosen', 'rewards/rejected', 'logps/chosen', 'logps/rejected', 'rewards/accuracies']) {
        assert.ok(Math.abs(padded.metrics[k] - packed.metrics[k]) <= 1e-4, `${k}: ${padded.metrics[k]} vs ${packed.metrics[k]}`);
      }
      assertClose(padded.grads, packed.grads, name);
      disposeBatch(batch);
      m.dispose();
    });
  }
}

test('the reference pass (frozen copy) gives the padded log-probs padding-free', () => {
  const m = llama(9);
  const batch = new PairSource(pairs(), 7, false).next()!;
  const ref = frozenReference(m);
  m.paddingFree = false;
  const a = ref.logps(batch, 'train');
  m.paddingFree = true;
  const b = ref.logps(batch, 'train');
  const [ac, ar, bc, br] = [a.chosen, a.rejected, b.chosen, b.rejected].map((t) => t.toArray() as number[]);
  ac.forEach((x, i) => assert.ok(Math.abs(x - bc[i]) <= 1e-4, `chosen ${i}: ${x} vs ${bc[i]}`));
  ar.forEach((x, i) => assert.ok(Math.abs(x - br[i]) <= 1e-4, `rejected ${i}: ${x} vs ${br[i]}`));
  for (const t of [a.chosen, a.rejected, b.chosen, b.rejected]) t.dispose();
  disposeBatch(batch);
  m.dispose();
});

test('LoRA adapters (no dropout): padding-free gradients equal the padded ones', () => {
  const m = llama(4);
  applyLora(m, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], dropout: 0 });
  noGrad(() => tidy(() => { for (const [n, p] of m.namedParameters()) if (n.includes('lora_B')) p.add_(0.1); }));
  const batch = new PairSource(pairs(), 7, false).next()!;
  assertClose(prefStep(m, batch, false, false).grads, prefStep(m, batch, true, false).grads, 'LoRA');
  disposeBatch(batch);
  m.dispose();
});

test('a padding-free SFT step (each row its own group) equals the padded one', () => {
  const m = llama(6);
  const batch = new SftSource(makePairs(6, 8), 6, false).next()!;
  const run = (on: boolean) => {
    m.paddingFree = on;
    const { loss } = sftStep(m, batch);
    const v = loss.item();
    tidy(() => loss.backward());
    loss.dispose();
    return { v, g: takeGrads(m) };
  };
  const a = run(false);
  const b = run(true);
  assert.ok(Math.abs(a.v - b.v) <= TOL, `${a.v} vs ${b.v}`);
  assertClose(a.g, b.g, 'sft');
  m.dispose();
});

test('the packed layout: one prompt per pair, answers after it, no padding slots; the mask keeps the answers apart', () => {
  const p: Pair[] = [{ prompt: [3, 4, 5], chosen: [6, 7], rejected: [6, 8, 9], sc: 1, sr: 0 }, { prompt: [2, 2], chosen: [5], rejected: [7, 7], sc: 0, sr: 1 }];
  const batch = new PairSource(p, 2, false).next()!;
  tidy(() => {
    const pos = scoredPositions(batch.labels);
    const packed = packBatch(batch, pos, 2, null)!;
    // Pair 0 shares [3 4 5 6] (the answers' common first token too), then 7 | 8 9; pair 1 shares [2 2], then 5 | 7 7.
    assert.deepEqual(packed.inputIds.toArray(), [[3, 4, 5, 6, 7, 8, 9, 2, 2, 5, 7, 7]]);
    assert.deepEqual(packed.positionIds.toArray(), [[0, 1, 2, 3, 4, 4, 5, 0, 1, 2, 2, 3]]);
    assert.deepEqual(packed.groups.map((g) => [g.start, g.length]), [[0, 7], [7, 5]]);
    assert.equal(packed.slots, 12);
    assert.equal(packed.paddedSlots, 4 * 6);
    // Row 0 (chosen 0) scores slots 2, 3; row 1 slot 8 (the shared last prompt token); row 2 (rejected 0) 2, 3, 5; row 3 8, 10.
    assert.deepEqual(packed.rows.toArray(), [2, 3, 8, 2, 3, 5, 8, 10]);
    const blocked = (packed.groups[0].blocked.toArray() as boolean[][][][])[0][0];
    assert.deepEqual(blocked[5].map((b) => !b), [true, true, true, true, false, true, false], 'rejected token 8 sees the prompt, 6, itself; not 7');
    assert.deepEqual(blocked[4].map((b) => !b), [true, true, true, true, true, false, false], 'chosen token 7 sees the prompt, 6 and itself');
    const w = packed.rowWeights.toArray() as number[][];
    assert.ok(Math.abs(w[2].reduce((a, b) => a + b, 0) - 1) < 1e-6);
    assert.equal(w[2][4], 0, 'the rejected row does not average the chosen answer');
  });
  disposeBatch(batch);
});

test('padding_free: true by default; false in a recipe turns it off; the key does not change the run identity', async () => {
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadRecipe } = await import('../../src/recipe/recipe.js');
  const { resolveSettings } = await import('../../src/recipe/settings.js');
  const dir = mkdtempSync(join(tmpdir(), 'bfpo-pf-'));
  try {
    const file = join(dir, 'r.yaml');
    writeFileSync(file, 'model_name_or_path: m\noutput_dir: o\ndataset_mixer: {d: 1.0}\nbf16: false\n');
    assert.equal(resolveSettings(loadRecipe(file), 'preference').paddingFree, true);
    const off = resolveSettings(loadRecipe(file, ['--padding_free=false']), 'preference');
    assert.equal(off.paddingFree, false);
    assert.ok(!('padding_free' in off.trainer.runConfig), 'resuming may switch it');
    assert.equal(new LlamaForCausalLM(parseConfig({ architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 11, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2 }), { init: 'empty' }).paddingFree, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
