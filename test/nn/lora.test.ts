import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, noGrad, tensor, tidy, type Tensor } from 'bfpo';
import { LlamaForCausalLM } from 'bfpo/models';
import { Linear, LoraLinear, applyLora, mergeLora, withoutLora } from 'bfpo/nn';

const config = {
  architectures: ['LlamaForCausalLM'], vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2,
  num_attention_heads: 4, num_key_value_heads: 2,
};
const x = tensor([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]], { dtype: 'int64' });
const logitsOf = (m: LlamaForCausalLM): Tensor => noGrad(() => m.forward(x).logits);

test('a fresh adapter leaves the outputs unchanged and only the adapters train', () => {
  const model = new LlamaForCausalLM(config);
  const before = new Set(model.stateDict().keys());
  const ref = logitsOf(model);
  const adapted = applyLora(model, { r: 2, alpha: 4, targetModules: ['q_proj', 'v_proj'] });
  assert.deepEqual(adapted, [
    'model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.self_attn.v_proj',
  ]);
  const keys = [...model.stateDict().keys()];
  for (const k of before) assert.ok(keys.includes(k), `base key ${k} kept`);
  assert.ok(keys.includes('model.layers.1.self_attn.v_proj.lora_A.weight') && keys.includes('model.layers.1.self_attn.v_proj.lora_B.weight'));
  const trainable = model.namedParameters().filter(([, p]) => p.requiresGrad).map(([k]) => k);
  assert.ok(trainable.length === 8 && trainable.every((k) => /lora_[AB]/.test(k)));
  // q_proj: A [2, 16] + B [16, 2]; v_proj: A [2, 16] + B [8, 2]
  assert.equal(model.numParameters({ trainableOnly: true }), 2 * (64 + 48));
  tidy(() => assert.equal(logitsOf(model).sub(ref).abs().max().item(), 0));
  ref.dispose();
  model.dispose();
});

test('training moves the output; merging folds the update into plain Linears with the same output', () => {
  const model = new LlamaForCausalLM(config);
  applyLora(model, { r: 4, alpha: 8, targetModules: ['down_proj'] });
  const opt = new AdamW(model.trainableParameters(), { lr: 0.05 });
  const start = logitsOf(model);
  for (let i = 0; i < 3; i++) {
    tidy(() => model.forward(x).logits.square().mean().backward());
    opt.step();
    opt.zeroGrad();
  }
  const trained = logitsOf(model);
  tidy(() => assert.ok(trained.sub(start).abs().max().item() > 1e-4));
  const base = withoutLora(model, () => logitsOf(model));
  tidy(() => assert.equal(base.sub(start).abs().max().item(), 0, 'without adapters the frozen model computes'));
  assert.ok(model.namedModules().every(([, m]) => !(m instanceof LoraLinear) || m.enabled), 'adapters are back on');
  base.dispose();
  const merged = mergeLora(model);
  assert.equal(merged.length, 2);
  assert.ok(model.model.layers.items[0].mlp.downProj instanceof Linear);
  assert.ok(![...model.stateDict().keys()].some((k) => k.includes('lora_')));
  tidy(() => assert.ok(logitsOf(model).sub(trained).abs().max().item() < 1e-5));
  for (const t of [start, trained]) t.dispose();
  model.dispose();
});

test('LoRA errors name the problem', () => {
  const model = new LlamaForCausalLM(config);
  assert.throws(() => applyLora(model, { r: 2, targetModules: ['qkv'] }),
    /No Linear layer is named qkv; the Linear layers here are: lm_head, q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/);
  assert.ok(model.parameters().every((p) => p.requiresGrad), 'a failed call changes nothing');
  assert.throws(() => applyLora(model, { r: 2, targetModules: [] }), /Expected a non-empty array of module names for targetModules/);
  const lin = new Linear(4, 4);
  assert.throws(() => new LoraLinear(lin, { r: 0 }), /Expected a positive integer for LoRA r/);
  assert.throws(() => new LoraLinear(lin, { r: 1, alpha: -1 }), /Expected a positive number for LoRA alpha/);
  assert.throws(() => new LoraLinear(lin, { r: 1, dropout: 1 }), /Expected a probability in \[0, 1\) for LoRA dropout/);
  assert.throws(() => Linear.fromTensors(tensor([1, 2], { dtype: 'float32' })), /Expected a 2-D weight \[out, in\] for weight/);
  assert.throws(() => Linear.fromTensors(lin.weight, tensor([1], { dtype: 'float32' })), /Expected a bias of shape \[4\] for bias/);
  model.dispose();
});
