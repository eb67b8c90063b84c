// Gradient checkpointing: the segmented backward (layers recomputed from their saved inputs) gives the same
// parameter gradients as the plain backward, for SFT and BFPO losses, tied embeddings, LoRA (with dropout) and
// selective freezing; the trainer reaches the same weights either way; no tensors leak.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, memoryStats, noGrad, tidy, type Tensor } from '../../src/index.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { parseConfig } from '../../src/models/config.js';
import { applyLora } from '../../src/nn/lora.js';
import { frozenReference } from '../../src/train/reference.js';
import { preferenceStep, preferenceStepCheckpointed, sftStep, sftStepCheckpointed } from '../../src/train/steps.js';
import { selectTrainable, train } from '../../src/train/trainer.js';
import { disposeBatch, type CausalLM } from '../../src/train/types.js';
import { PairSource, SftSource, TinyLM, makePairs, takeGrads } from './tiny.js';
import { testConfig } from './config.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'bfpo-ckpt-')); dirs.push(d); return d; };
const noStore = { save: () => undefined, load: () => undefined };

interface Variant { name: string; tied?: boolean; lora?: boolean; loraDropout?: number; selected?: string[] }
const variants: Variant[] = [
  { name: 'untied, 3 layers' },
  { name: 'tied embeddings', tied: true },
  { name: 'LoRA with dropout', lora: true, loraDropout: 0.2 },
  { name: 'selective freezing (layer 1 down_proj only)', selected: ['layers.1.mlp.down_proj'] },
];

function llama(seed: number, v: Variant): LlamaForCausalLM {
  manualSeed(seed);
  const m = new LlamaForCausalLM(parseConfig({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 11, hidden_size: 16, intermediate_size: 32,
    num_hidden_layers: 3, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, rms_norm_eps: 1e-5,
    tie_word_embeddings: v.tied ?? false,
  }));
  if (v.lora) applyLora(m, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], dropout: v.loraDropout ?? 0 });
  if (v.lora) noGrad(() => tidy(() => { for (const [n, p] of m.namedParameters()) if (n.includes('lora_B')) p.add_(0.1); }));
  m.train(true);
  if (v.selected) selectTrainable(m, v.selected);
  return m;
}


function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  let worst = 0;
  for (const [n, x] of a) {
    const y = b.get(n)!;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]));
  }
  return worst;
}

const nonZero = (g: Map<string, Float32Array>): number => [...g.values()].filter((x) => x.some((v) => v !== 0)).length;

for (const v of variants) {
  test(`SFT gradients with checkpointing equal the plain ones: ${v.name}`, () => {
    const m = llama(7, v);
    const batch = new SftSource(makePairs(4, 5), 4, false).next()!;
    manualSeed(11);
    const plain = sftStep(m, batch);
    const plainLoss = plain.loss.item();
    tidy(() => plain.loss.mul(0.5).backward());
    plain.loss.dispose();
    const g1 = takeGrads(m);
    manualSeed(11);
    const ck = sftStepCheckpointed(m, batch, 0.5);
    const g2 = takeGrads(m);
    assert.ok(Math.abs(ck.loss - plainLoss) < 1e-6, `loss ${ck.loss} vs ${plainLoss}`);
    assert.ok(nonZero(g1) > 0, 'some gradient is non-zero');
    const d = maxDiff(g1, g2);
    assert.ok(d < 1e-6, `max |grad difference| ${d}`);
    disposeBatch(batch);
  });

  test(`BFPO gradients with checkpointing equal the plain ones: ${v.name}`, () => {
    const m = llama(8, v);
    m.paddingFree = false; // padded batches: the metric logits/* averages padding too, as the full head does
    const reference = frozenReference(llama(9, { ...v, selected: undefined }));
    const batch = new PairSource(makePairs(4, 6), 4, false).next()!;
    const o = { lossType: 'bfpo' as const, beta: 0.5 };
    manualSeed(12);
    const plain = preferenceStep(m, batch, reference, o);
    tidy(() => plain.loss.backward());
    const plainLoss = plain.loss.item();
    plain.loss.dispose();
    const g1 = takeGrads(m);
    manualSeed(12);
    const ck = preferenceStepCheckpointed(m, batch, reference, o, 'train', 1);
    const g2 = takeGrads(m);
    assert.ok(Math.abs(ck.loss - plainLoss) < 1e-6, `loss ${ck.loss} vs ${plainLoss}`);
    assert.deepEqual(Object.keys(ck.metrics).sort(), Object.keys(plain.metrics).sort());
    for (const k of Object.keys(plain.metrics)) assert.ok(Math.abs(ck.metrics[k] - plain.metrics[k]) < 1e-5, k);
    assert.ok(nonZero(g1) > 0, 'some gradient is non-zero');
    const d = maxDiff(g1, g2);
    assert.ok(d < 1e-6, `max |grad difference| ${d}`);
    disposeBatch(batch);
  });
}

test('a checkpointed step leaves no live tensors behind', () => {
  const m = llama(3, { name: 'tied', tied: true });
  const reference = frozenReference(llama(4, { name: 'tied', tied: true }));
  const run = (): void => {
    const batch = new PairSource(makePairs(4, 6), 4, false).next()!;
    preferenceStepCheckpointed(m, batch, reference, { lossType: 'bfpo', beta: 0.5 }, 'train', 1);
    disposeBatch(batch);
  };
  run(); // the first step creates the .grad tensors
  const before = memoryStats().liveTensors;
  for (let i = 0; i < 3; i++) run();
  assert.equal(memoryStats().liveTensors, before);
});

test('the trainer with gradient_checkpointing reaches the same weights (BFPO, accumulation 2, clipping)', () => {
  const snapshot = (m: LlamaForCausalLM): Map<string, Float32Array> =>
    new Map(m.namedParameters().map(([n, p]) => [n, tidy(() => (p.float().toTypedArray() as Float32Array).slice())]));
  const run = (gradientCheckpointing: boolean): Map<string, Float32Array> => {
    const m = llama(21, { name: 'tied', tied: true });
    train(m, { kind: 'preference', train: new PairSource(makePairs(8, 3), 2, false), reference: frozenReference(llama(21, { name: 'tied', tied: true })),
      buffer: new PairSource(makePairs(4, 9), 2, false), loss: { lossType: 'bfpo', beta: 0.5 } },
    testConfig(tmp(), { learningRate: 0.01, gradientAccumulationSteps: 2, maxGradNorm: 1, gradientCheckpointing }), noStore);
    return snapshot(m);
  };
  const plain = run(false);
  const ck = run(true);
  const d = maxDiff(plain, ck);
  assert.ok(d < 1e-5, `max |weight difference| ${d}`);
  const init = snapshot(llama(21, { name: 'tied', tied: true }));
  assert.ok(maxDiff(init, ck) > 1e-3, 'the weights moved');
});

test('the trainer with gradient_checkpointing reaches the same weights (SFT, LoRA)', () => {
  const run = (gradientCheckpointing: boolean): Map<string, Float32Array> => {
    const m = llama(22, { name: 'lora', lora: true });
    train(m, { kind: 'sft', train: new SftSource(makePairs(8, 3), 2, false) },
      testConfig(tmp(), { learningRate: 0.01, gradientCheckpointing }), noStore);
    return new Map(m.namedParameters().map(([n, p]) => [n, tidy(() => (p.float().toTypedArray() as Float32Array).slice())]));
  };
  const d = maxDiff(run(false), run(true));
  assert.ok(d < 1e-5, `max |weight difference| ${d}`);
});

test('gradient_checkpointing on a model without forwardBackwardCheckpointed is an error', () => {
  const m = new TinyLM();
  assert.throws(() => train(m, { kind: 'sft', train: new SftSource(makePairs(4, 3), 2, false) },
    testConfig(tmp(), { gradientCheckpointing: true }), noStore), /gradient_checkpointing needs a model with forwardBackwardCheckpointed/);
  assert.throws(() => sftStepCheckpointed(m, new SftSource(makePairs(4, 3), 2, false).next()!, 1), /forwardBackwardCheckpointed/);
  m.dispose();
});

test('forwardBackwardCheckpointed rejects a head that returns no scalar, and a non-finite lossScale', () => {
  const m = llama(5, { name: 'plain' });
  const ids = new SftSource(makePairs(2, 3), 2, false).next()!;
  assert.throws(() => m.forwardBackwardCheckpointed(ids.inputIds, (logits: Tensor) => logits), /Expected a scalar loss tensor for head\(logits\)/);
  assert.throws(() => m.forwardBackwardCheckpointed(ids.inputIds, (logits: Tensor) => logits.mean(), { lossScale: NaN }), /Expected a finite number for lossScale/);
  disposeBatch(ids);
});

/** The same model seen through a forward that ignores `rows`: the full logits, scored by the caller. */
const fullLogits = (m: LlamaForCausalLM): CausalLM => ({
  forward: (ids, o) => m.forward(ids, { attentionMask: o?.attentionMask }),
  namedParameters: () => m.namedParameters(),
});

for (const v of [variants[0], variants[1], variants[3]]) {
  test(`logits only at scored positions give the full head's loss, metrics and gradients: ${v.name}`, () => {
    const m = llama(8, v);
    m.paddingFree = false; // padded batches: the metric logits/* averages padding too, as the full head does
    const reference = frozenReference(llama(9, { ...v, selected: undefined }));
    const batch = new PairSource(makePairs(4, 6), 4, false).next()!;
    const run = (model: CausalLM) => {
      const out = preferenceStep(model, batch, reference, { lossType: 'bfpo', beta: 0.5 });
      tidy(() => out.loss.backward());
      const loss = out.loss.item();
      out.loss.dispose();
      return { loss, metrics: out.metrics, grads: takeGrads(m) };
    };
    const packed = run(m);
    const full = run(fullLogits(m));
    assert.ok(Math.abs(packed.loss - full.loss) < 1e-5, `loss ${packed.loss} vs ${full.loss}`);
    assert.deepEqual(Object.keys(packed.metrics).sort(), Object.keys(full.metrics).sort());
    for (const k of Object.keys(full.metrics)) assert.ok(Math.abs(packed.metrics[k] - full.metrics[k]) < 1e-5, `${k}: ${packed.metrics[k]} vs ${full.metrics[k]}`);
    assert.ok(nonZero(full.grads) > 0);
    assert.ok(maxDiff(packed.grads, full.grads) < 1e-5, `max |grad difference| ${maxDiff(packed.grads, full.grads)}`);
    const sft = new SftSource(makePairs(4, 5), 4, false).next()!;
    const sftRun = (model: CausalLM) => {
      const out = sftStep(model, sft);
      tidy(() => out.loss.backward());
      const loss = out.loss.item();
      out.loss.dispose();
      return { loss, grads: takeGrads(m) };
    };
    const [a, b] = [sftRun(m), sftRun(fullLogits(m))];
    assert.ok(Math.abs(a.loss - b.loss) < 1e-6, `SFT loss ${a.loss} vs ${b.loss}`);
    assert.ok(maxDiff(a.grads, b.grads) < 1e-5);
    disposeBatch(batch);
    disposeBatch(sft);
  });
}
