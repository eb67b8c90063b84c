import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW, StateDictError, type Tensor, memoryStats, noGrad, tensor, tidy, zeros } from 'bfpo';
import { rmsNorm } from 'bfpo/tensor';
import { LlamaForCausalLM } from 'bfpo/models';
import { Embedding, Linear, Module, ModuleList, RMSNorm } from 'bfpo/nn';

class Block extends Module {
  proj: Linear;
  norm: RMSNorm;
  constructor() {
    super();
    this.proj = this.registerModule('down_proj', new Linear(4, 3, { bias: true }));
    this.norm = this.registerModule('norm', new RMSNorm(3));
  }
}
class Net extends Module {
  embed = this.registerModule('embed_tokens', new Embedding(10, 4));
  layers = this.registerModule('layers', new ModuleList([new Block(), new Block()]));
}

test('parameter names are dotted paths like Hugging Face keys', () => {
  const net = new Net();
  assert.deepEqual(net.namedParameters().map(([k, p]) => `${k} ${p.shape.join('x')}`), [
    'embed_tokens.weight 10x4',
    'layers.0.down_proj.weight 3x4', 'layers.0.down_proj.bias 3', 'layers.0.norm.weight 3',
    'layers.1.down_proj.weight 3x4', 'layers.1.down_proj.bias 3', 'layers.1.norm.weight 3',
  ]);
  assert.equal(net.parameters().length, 7);
  assert.equal(net.numParameters(), 40 + 2 * (12 + 3 + 3));
  assert.deepEqual(net.namedModules().map(([k]) => k), ['', 'embed_tokens', 'layers', 'layers.0', 'layers.0.down_proj', 'layers.0.norm', 'layers.1', 'layers.1.down_proj', 'layers.1.norm']);
  net.dispose();
});

test('fresh parameters: weights N(0, 0.02), biases zero, norms one; parameters require grad', () => {
  const lin = new Linear(64, 64, { bias: true });
  const std = tidy(() => lin.weight.std().item());
  assert.ok(std > 0.017 && std < 0.023, `std ${std}`);
  assert.equal(tidy(() => lin.bias!.abs().sum().item()), 0);
  const norm = new RMSNorm(5, { eps: 1e-5 });
  assert.deepEqual(norm.weight.toArray(), [1, 1, 1, 1, 1]);
  assert.ok(lin.weight.requiresGrad && norm.weight.requiresGrad);
  assert.equal(new Linear(2, 3).bias, null);
  lin.dispose();
  norm.dispose();
});

test('parameters survive the scope they were created in', () => {
  const lin = tidy(() => new Linear(3, 2));
  assert.equal(lin.weight.isDisposed, false);
  lin.dispose();
  assert.equal(lin.weight.isDisposed, true);
});

test('layers compute what their functional forms compute', () => {
  tidy(() => {
    const lin = new Linear(2, 2, { bias: true });
    noGrad(() => { lin.weight.copy_(tensor([[1, 2], [3, 4]], { dtype: 'float32' })); lin.bias!.copy_(tensor([0.5, -1], { dtype: 'float32' })); });
    assert.deepEqual(lin.forward(tensor([[1, 1]], { dtype: 'float32' })).toArray(), [[3.5, 6]]);
    const emb = new Embedding(3, 2);
    assert.deepEqual(emb.forward(tensor([2, 0], { dtype: 'int64' })).toArray(), [emb.weight.toArray()].flatMap((w) => [(w as number[][])[2], (w as number[][])[0]]));
    const norm = new RMSNorm(2, { eps: 1e-6 });
    const x = tensor([[3, 4]], { dtype: 'float32' });
    assert.deepEqual(norm.forward(x).toArray(), rmsNorm(x, norm.weight, 1e-6).toArray());
    for (const m of [lin, emb, norm]) m.dispose();
  });
});

test('stateDict and loadStateDict round-trip, copying into the same tensors', () => {
  const a = new Net();
  const b = new Net();
  const before = b.parameters();
  const r = b.loadStateDict(a.stateDict());
  assert.deepEqual(r, { missing: [], unexpected: [] });
  assert.deepEqual(b.parameters(), before, 'same Tensor objects');
  for (const [k, p] of b.stateDict()) assert.deepEqual(p.toArray(), a.stateDict().get(k)!.toArray(), k);
  a.dispose();
  b.dispose();
});

test('loadStateDict converts dtype and names wrong shapes, missing and unexpected keys', () => {
  const net = new Net();
  const state = new Map<string, Tensor>([...net.stateDict()].map(([k, t]) => [k, t.to('float64')]));
  net.loadStateDict(state);
  assert.equal(net.dtype, 'float32');

  const wrong = new Map(state);
  wrong.set('layers.1.down_proj.weight', zeros([4, 3]));
  assert.throws(() => net.loadStateDict(wrong), (e: Error) => e instanceof StateDictError &&
    e.message === 'Expected shape [3, 4] for layers.1.down_proj.weight but received [4, 3]');

  const missing = new Map(state);
  missing.delete('layers.0.norm.weight');
  assert.throws(() => net.loadStateDict(missing), /lacks 1 key\(s\) the model needs: layers\.0\.norm\.weight/);
  assert.deepEqual(net.loadStateDict(missing, { strict: false }).missing, ['layers.0.norm.weight']);

  const extra = new Map(state);
  extra.set('layers.2.down_proj.weight', zeros([3, 4]));
  assert.throws(() => net.loadStateDict(extra), /has 1 key\(s\) the model does not use: layers\.2\.down_proj\.weight/);
  assert.deepEqual(net.loadStateDict(extra, { strict: false }).unexpected, ['layers.2.down_proj.weight']);

  const notTensor = new Map<string, Tensor>(state);
  notTensor.set('embed_tokens.weight', [1, 2] as unknown as Tensor);
  assert.throws(() => net.loadStateDict(notTensor), /Expected a Tensor for state dict entry embed_tokens\.weight/);
  assert.throws(() => net.loadStateDict({} as Map<string, Tensor>), /Expected a Map<string, Tensor> for state/);
  for (const t of [...state.values(), wrong.get('layers.1.down_proj.weight')!, extra.get('layers.2.down_proj.weight')!]) t.dispose();
  net.dispose();
});

test('loadStateDict with assign shares the given storage instead of copying', () => {
  const net = new Net();
  const src = new Net();
  const state = src.stateDict();
  net.loadStateDict(state, { assign: true });
  noGrad(() => src.embed.weight.fill_(7));
  assert.equal(tidy(() => net.embed.weight.eq(7).all().item()), 1, 'same storage');
  assert.ok(net.embed.weight.requiresGrad && net.embed.weight.isLeaf);
  src.dispose();
  assert.equal(net.embed.weight.shape[0], 10, 'the parameter outlives the source handle');
  tidy(() => net.embed.weight.sum().item());
  const other = new Net();
  const converted = new Map([...other.stateDict()].map(([k, t]) => [k, t.to('float64')]));
  other.loadStateDict(converted, { assign: true });
  assert.equal(other.dtype, 'float32', 'a dtype mismatch falls back to a copy');
  for (const t of converted.values()) t.dispose();
  net.dispose();
  other.dispose();
});

test('freezeExcept keeps only matching keys trainable, as selected_layers', () => {
  const net = new Net();
  assert.deepEqual(net.freezeExcept(['down_proj']), [
    'layers.0.down_proj.weight', 'layers.0.down_proj.bias', 'layers.1.down_proj.weight', 'layers.1.down_proj.bias',
  ]);
  assert.equal(net.numParameters({ trainableOnly: true }), 2 * 15);
  assert.equal(net.trainableParameters().length, 4);
  assert.equal(net.embed.weight.requiresGrad, false);
  assert.throws(() => net.freezeExcept(['q_proj']), /No parameter key contains any of "q_proj"; nothing would train/);
  assert.throws(() => net.freezeExcept([''] as string[]), /Expected an array of non-empty strings for substrings/);
  net.requiresGrad_(true);
  assert.equal(net.numParameters({ trainableOnly: true }), net.numParameters());
  net.dispose();
});

test('train() and eval() set the mode on the whole tree', () => {
  const net = new Net();
  assert.equal(net.training, true);
  net.eval();
  assert.ok(net.namedModules().every(([, m]) => !m.training));
  net.train();
  assert.ok(net.namedModules().every(([, m]) => m.training));
  net.dispose();
});

test('to(dtype) converts parameters in place: same objects, optimizer still steps them', () => {
  const net = new Net();
  const params = net.parameters();
  const opt = new AdamW(params, { lr: 0.1 });
  net.to('float64');
  assert.deepEqual(net.parameters(), params);
  assert.ok(params.every((p) => p.dtype === 'float64' && p.requiresGrad && p.isLeaf));
  const before = net.embed.weight.toArray() as number[][];
  tidy(() => net.embed.forward(tensor([1], { dtype: 'int64' })).sum().backward());
  opt.step();
  const after = net.embed.weight.toArray() as number[][];
  assert.notDeepEqual(after[1], before[1]);
  assert.equal(net.dtype, 'float64');
  assert.throws(() => net.to('int64'), /Expected a floating-point dtype or a device for to\(target\)/);
  assert.throws(() => net.to('tpu' as 'cpu'), /Expected 'cpu', 'cuda' or 'cuda:N' for to\(target\)/);
  net.to('cpu');
  net.dispose();
});

test('to(dtype) keeps native memory accounting exact', () => {
  const base = memoryStats().hostBytes;
  const lin = new Linear(100, 100);
  assert.equal(memoryStats().hostBytes - base, 100 * 100 * 4);
  lin.to('bfloat16');
  assert.equal(memoryStats().hostBytes - base, 100 * 100 * 2);
  lin.dispose();
  assert.equal(memoryStats().hostBytes, base);
});

test('replaceModule swaps a child and its field (the seam for adapters)', () => {
  class Scaled extends Module {
    constructor(readonly inner: Linear) { super(); this.registerModule('base_layer', inner); }
    forward(x: Tensor): Tensor { return this.inner.forward(x).mul(2); }
  }
  const model = new LlamaForCausalLM({ architectures: ['LlamaForCausalLM'], vocab_size: 8, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1, num_attention_heads: 2 });
  const attn = model.model.layers.items[0].selfAttn;
  const old = attn.qProj as Linear;
  const wrapped = new Scaled(old);
  assert.equal(attn.replaceModule('q_proj', wrapped), old);
  assert.equal(attn.qProj, wrapped);
  assert.ok(model.stateDict().has('model.layers.0.self_attn.q_proj.base_layer.weight'));
  tidy(() => model.forward(tensor([[1, 2]], { dtype: 'int64' })));
  assert.throws(() => attn.replaceModule('nope', wrapped), /Expected the name of a child module \(q_proj, k_proj, v_proj, o_proj\) for name/);
  model.dispose();
});

test('registration errors name the problem', () => {
  class Bad extends Module {
    constructor(kind: number) {
      super();
      const l = new Linear(1, 1);
      if (kind === 0) this.registerModule('a.b', l);
      if (kind === 1) { this.registerModule('x', l); this.registerModule('x', l); }
      if (kind === 2) this.registerParameter('w-1', zeros([1]));
    }
  }
  assert.throws(() => new Bad(0), /Expected a module name of letters, digits and _ for name but received "a.b"/);
  assert.throws(() => new Bad(1), /The name x is already registered/);
  assert.throws(() => new Bad(2), /Expected a parameter name of letters, digits and _ for name but received "w-1"/);
  assert.throws(() => new Linear(0, 2), /Expected a positive integer for inFeatures/);
  assert.throws(() => new Linear(2, 1.5), /Expected a positive integer for outFeatures/);
  assert.throws(() => new Embedding(-1, 2), /Expected a positive integer for numEmbeddings/);
  assert.throws(() => new Embedding(2, 0), /Expected a positive integer for dim/);
  assert.throws(() => new RMSNorm(0), /Expected a positive integer for dim/);
  assert.throws(() => new RMSNorm(2, { eps: 0 }), /Expected a positive number for eps/);
});
