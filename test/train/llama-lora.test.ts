// The loop on a real (tiny) Llama from the models layer: LoRA adapters with the adapter-disabled reference, and
// selective training of down_proj.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, noGrad, tidy, type Tensor } from '../../src/index.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import { parseConfig } from '../../src/models/config.js';
import { applyLora } from '../../src/nn/lora.js';
import { adapterReference, frozenReference } from '../../src/train/reference.js';
import { train } from '../../src/train/trainer.js';
import { disposeBatch } from '../../src/train/types.js';
import { PairSource, makePairs } from './tiny.js';
import { testConfig } from './config.js';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmp = () => { const d = mkdtempSync(join(tmpdir(), 'bfpo-lora-')); dirs.push(d); return d; };

function llama(seed: number): LlamaForCausalLM {
  manualSeed(seed);
  return new LlamaForCausalLM(parseConfig({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 11, hidden_size: 16, intermediate_size: 32,
    num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, rms_norm_eps: 1e-5,
  }));
}
const snapshot = (m: LlamaForCausalLM): Map<string, number[]> =>
  new Map(m.namedParameters().map(([n, p]) => [n, tidy(() => Array.from(p.float().toTypedArray() as Float32Array))]));
const noStore = { save: () => undefined, load: () => undefined };

test('LoRA: only the adapters train, and the adapter-disabled model is the reference', () => {
  const m = llama(1);
  const base = snapshot(m);
  const adapted = applyLora(m, { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] });
  assert.equal(adapted.length, 4);
  const reference = adapterReference(m);
  const source = new PairSource(makePairs(8, 3), 4, false);
  const batch = source.next()!;
  const before = reference.logps(batch, 'train');
  const expectedRef = frozenReference(llama(1)).logps(batch, 'train');
  assert.deepEqual(before.chosen.toArray(), expectedRef.chosen.toArray(), 'adapters start at zero: the reference equals the base model');
  train(m, { kind: 'preference', train: new PairSource(makePairs(8, 3), 4, false), reference, loss: { lossType: 'bfpo', beta: 0.5 } },
    testConfig(tmp(), { learningRate: 0.05, numTrainEpochs: 3 }), noStore);
  const after = snapshot(m);
  for (const [name, values] of base) assert.deepEqual(after.get(name), values, `${name} stays frozen`);
  const loraKeys = [...after.keys()].filter((k) => k.includes('lora_'));
  assert.equal(loraKeys.length, 8);
  assert.ok(loraKeys.some((k) => k.includes('lora_B') && after.get(k)!.some((v) => v !== 0)), 'lora_B moved away from zero');
  const refAfter = reference.logps(batch, 'train');
  assert.deepEqual(refAfter.chosen.toArray(), before.chosen.toArray(), 'the reference does not move with the adapters');
  const policy = noGrad(() => m.forward(batch.inputIds, { attentionMask: batch.attentionMask }).logits);
  assert.ok(policy.shape.length === 3);
  disposeBatch(batch);
  for (const t of [before.chosen, before.rejected, refAfter.chosen, refAfter.rejected, expectedRef.chosen, expectedRef.rejected, policy] as Tensor[]) t.dispose();
});

test('selective training on the Llama trains exactly the down_proj weights', () => {
  const m = llama(2);
  const base = snapshot(m);
  train(m, { kind: 'preference', train: new PairSource(makePairs(8, 4), 4, false), reference: frozenReference(llama(2)), loss: { lossType: 'bfpo', beta: 0.5 } },
    testConfig(tmp(), { selectedLayers: ['down_proj'], learningRate: 0.05 }), noStore);
  const after = snapshot(m);
  for (const [name, values] of base) {
    if (name.includes('down_proj')) assert.notDeepEqual(after.get(name), values, name);
    else assert.deepEqual(after.get(name), values, name);
  }
});

test('LoRA on a bfloat16 base with bf16: the base stays bit-identical, the adapters train through fp32 masters, with checkpointing too', () => {
  const run = (checkpointing: boolean): { before: Map<string, number[]>; after: Map<string, number[]> } => {
    const m = llama(4).to('bfloat16');
    applyLora(m, { r: 4, alpha: 8, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] });
    noGrad(() => tidy(() => { for (const [n, p] of m.namedParameters()) if (n.includes('lora_B')) p.add_(0.05); }));
    const before = snapshot(m);
    try {
      train(m, { kind: 'preference', train: new PairSource(makePairs(16, 3), 4, false), reference: adapterReference(m), loss: { lossType: 'bfpo', beta: 0.5 } },
        testConfig(tmp(), { bf16: true, learningRate: 0.05, numTrainEpochs: 3, maxGradNorm: 1, gradientCheckpointing: checkpointing }), noStore);
      for (const [n, p] of m.namedParameters()) assert.equal(p.dtype, 'bfloat16', `${n} stays bfloat16`);
      return { before, after: snapshot(m) };
    } finally {
      m.dispose();
    }
  };
  const plain = run(false);
  const changed = (n: string): boolean => plain.after.get(n)!.some((x, i) => x !== plain.before.get(n)![i]);
  for (const n of plain.before.keys()) assert.equal(changed(n), n.includes('lora_'), `${n} ${n.includes('lora_') ? 'trains' : 'is frozen'}`);
  const ckpt = run(true);
  for (const [n, v] of plain.after) {
    const d = v.reduce((mx, x, i) => Math.max(mx, Math.abs(x - ckpt.after.get(n)![i])), 0);
    assert.ok(d <= 1e-2, `${n}: checkpointing changes the bfloat16 result by ${d}`);
  }
});
