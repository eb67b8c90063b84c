import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInfo, cat, cuda, enableGrad, memoryStats, noGrad, randint, tensor, tidy } from 'bfpo';
import { KVCache, LlamaForCausalLM, parseConfig } from 'bfpo/models';
import { Linear } from 'bfpo/nn';
import { f32, fixture, ids, loadCase, maxDiffOnReal } from './helpers.js';

for (const c of fixture.cases) {
  test(`${c.name}: forward equals the PyTorch reference within 1e-4`, () => {
    const model = loadCase(c);
    for (const inp of c.inputs) {
      tidy(() => {
        const attentionMask = inp.attention_mask ? tensor(inp.attention_mask, { dtype: 'int64' }) : undefined;
        const { logits } = noGrad(() => model.forward(ids(inp.input_ids), { attentionMask }));
        assert.deepEqual(logits.shape, inp.logits_shape);
        const diff = maxDiffOnReal(logits, f32(inp.logits, inp.logits_shape), inp.attention_mask);
        assert.ok(diff < 1e-4, `${c.name} with ${inp.padding ?? 'no'} padding: max |diff| ${diff}`);
      });
    }
    model.dispose();
  });
}

for (const c of fixture.cases) {
  test(`${c.name}: decoding with the KV cache gives the logits of a full forward`, () => {
    const model = loadCase(c);
    const inp = c.inputs.find((i) => i.padding === 'left') ?? c.inputs[0];
    tidy(() => noGrad(() => {
      const mask = inp.attention_mask ? tensor(inp.attention_mask, { dtype: 'int64' }) : undefined;
      const input = ids(inp.input_ids);
      const full = model.forward(input, { attentionMask: mask }).logits; // [b, s, v]
      const cache = new KVCache();
      const s = input.shape[1];
      const prefill = 4;
      const parts = [model.forward(input.narrow(1, 0, prefill), { attentionMask: mask?.narrow(1, 0, prefill), cache }).logits];
      for (let t = prefill; t < s; t++) {
        parts.push(model.forward(input.narrow(1, t, 1), { attentionMask: mask?.narrow(1, 0, t + 1), cache }).logits);
      }
      assert.equal(cache.length, s);
      const stepwise = cat(parts, 1);
      const diff = maxDiffOnReal(stepwise, full, inp.attention_mask);
      cache.dispose();
      assert.ok(diff < 1e-5, `max |diff| ${diff}`);
    }));
    model.dispose();
  });
}

test('a tied model has no lm_head parameter and ignores a stored lm_head.weight', () => {
  const c = fixture.cases.find((x) => x.config.tie_word_embeddings)!;
  const model = loadCase(c);
  assert.ok(!model.stateDict().has('lm_head.weight'));
  const state = model.stateDict();
  state.set('lm_head.weight', model.model.embedTokens.weight);
  state.set('model.layers.0.self_attn.rotary_emb.inv_freq', tensor([1, 2]));
  assert.deepEqual(model.loadStateDict(state).unexpected, []);
  model.dispose();
});

test('logitsToKeep computes only the last positions', () => {
  const model = new LlamaForCausalLM(parseConfig(fixture.cases[0].config));
  tidy(() => noGrad(() => {
    const x = ids([[1, 2, 3, 4], [5, 6, 7, 8]]);
    const all = model.forward(x).logits;
    const last = model.forward(x, { logitsToKeep: 1 }).logits;
    assert.deepEqual(last.shape, [2, 1, 48]);
    assert.ok(maxDiffOnReal(last, all.narrow(1, 3, 1), null) < 1e-6);
  }));
  model.dispose();
});

test('rows computes logits only at those flat positions, and each row\'s mean logit', () => {
  const model = new LlamaForCausalLM(parseConfig(fixture.cases[0].config));
  tidy(() => noGrad(() => {
    const x = ids([[1, 2, 3, 4], [5, 6, 7, 8]]);
    const all = model.forward(x).logits; // [2, 4, 48]
    const rows = tensor([1, 2, 7], { dtype: 'int64' });
    const out = model.forward(x, { rows });
    assert.deepEqual(out.logits.shape, [3, 48]);
    assert.ok(maxDiffOnReal(out.logits, all.reshape(8, 48).indexSelect(0, rows), null) < 1e-6);
    const mean = out.logitsMean!.toArray() as number[];
    const want = all.mean(-1).mean(-1).toArray() as number[];
    mean.forEach((m, i) => assert.ok(Math.abs(m - want[i]) < 1e-6, `${m} vs ${want[i]}`));
    assert.throws(() => model.forward(x, { rows, logitsToKeep: 1 }), /Give rows or logitsToKeep to forward, not both/);
    assert.throws(() => model.forward(x, { rows: tensor([1, 2], { dtype: 'float32' }) }), /Expected an int64 tensor \[n\] of flat positions for rows/);
  }));
  model.dispose();
});

test('bad forward arguments name what they expected', () => {
  const model = new LlamaForCausalLM(parseConfig(fixture.cases[0].config));
  tidy(() => {
    assert.throws(() => model.forward(tensor([[0.5, 1]])), /Expected an int64 tensor \[batch, seq\] for inputIds/);
    assert.throws(() => model.forward(ids([[1, 2]]), { attentionMask: tensor([[1, 1, 1]]) }),
      /Expected an attention mask of shape \[1, 2\] .* for attentionMask/);
    assert.throws(() => model.forward(ids([[1, 2]]), { positionIds: ids([[0]]) }), /Expected position ids of shape \[1, 2\] for positionIds/);
    assert.throws(() => model.forward(ids([[1, 2]]), { logitsToKeep: 0 }), /Expected a positive integer for logitsToKeep/);
  });
  if (Number(buildInfo().torchVersion.split('.')[0]) < 2) {
    model.to('float16');
    assert.throws(() => model.forward(ids([[1, 2]])), /no float16 matrix products on CPU; convert the model with model.to\('bfloat16'\)/);
  }
  model.dispose();
});

test('gradients reach every parameter through the forward pass', () => {
  const model = new LlamaForCausalLM(parseConfig(fixture.cases[1].config));
  tidy(() => {
    const { logits } = model.forward(ids([[1, 2, 3], [4, 5, 6]]), { attentionMask: ids([[0, 1, 1], [1, 1, 1]]) });
    logits.square().mean().backward();
  });
  for (const [k, p] of model.namedParameters()) {
    const g = p.grad;
    assert.ok(g, `no gradient for ${k}`);
    g.dispose();
  }
  model.dispose();
});

test('the fixture tells the scaled rotary table and the sliding window apart from plain ones', () => {
  for (const [name, drop] of [['llama_head_dim_llama3_tied_bias', 'rope_scaling'], ['llama_linear_mlp_bias', 'rope_scaling'], ['mistral_sliding_window', 'sliding_window']] as const) {
    const c = fixture.cases.find((x) => x.name === name)!;
    const plain = loadCase({ ...c, config: { ...c.config, [drop]: null } });
    const inp = c.inputs[0];
    tidy(() => noGrad(() => {
      const attentionMask = inp.attention_mask ? tensor(inp.attention_mask, { dtype: 'int64' }) : undefined;
      const { logits } = plain.forward(ids(inp.input_ids), { attentionMask });
      assert.ok(maxDiffOnReal(logits, f32(inp.logits, inp.logits_shape), inp.attention_mask) > 1e-3, `${name} without ${drop}`);
    }));
    plain.dispose();
  }
});

test('forward leaves only the logits behind (and the cache its keys and values)', () => {
  const model = new LlamaForCausalLM(parseConfig(fixture.cases[3].config)); // 2 layers, sliding window
  const x = ids([[1, 2, 3], [4, 5, 6]]);
  const mask = ids([[0, 1, 1], [1, 1, 1]]);
  noGrad(() => model.forward(x).logits.dispose()); // builds the rotary frequencies, which live with the model
  const before = memoryStats().liveTensors;
  noGrad(() => model.forward(x, { attentionMask: mask }).logits.dispose());
  assert.equal(memoryStats().liveTensors, before);
  const cache = new KVCache();
  const { logits } = noGrad(() => model.forward(x, { attentionMask: mask, cache }));
  assert.equal(memoryStats().liveTensors, before + 1 + 2 * 2);
  logits.dispose();
  cache.dispose();
  assert.equal(memoryStats().liveTensors, before);
  for (const t of [x, mask]) t.dispose();
  model.dispose();
});

test('to(dtype) in place: a bfloat16 copy of the model stays close to float32', () => {
  const c = fixture.cases[4];
  const model = loadCase(c);
  const inp = c.inputs[0];
  tidy(() => noGrad(() => {
    const attentionMask = tensor(inp.attention_mask!, { dtype: 'int64' });
    const ref = model.forward(ids(inp.input_ids), { attentionMask }).logits;
    model.to('bfloat16');
    const half = model.forward(ids(inp.input_ids), { attentionMask }).logits;
    assert.equal(half.dtype, 'bfloat16');
    const diff = maxDiffOnReal(half.to('float32'), ref, inp.attention_mask);
    assert.ok(diff < 0.25 && diff > 0, `bf16 |diff| ${diff}`);
  }));
  model.dispose();
});

test('explicit position ids give the same logits as the ones derived from the mask', () => {
  const c = fixture.cases[0];
  const model = loadCase(c);
  const inp = c.inputs.find((i) => i.padding === 'left')!;
  tidy(() => noGrad(() => {
    const attentionMask = tensor(inp.attention_mask!, { dtype: 'int64' });
    const positionIds = ids(inp.attention_mask!.map((row) => {
      let n = 0;
      return row.map((m) => (m ? n++ : 1));
    }));
    const derived = model.forward(ids(inp.input_ids), { attentionMask }).logits;
    const given = model.forward(ids(inp.input_ids), { attentionMask, positionIds }).logits;
    assert.equal(maxDiffOnReal(derived, given, null), 0);
    // Rotary attention depends on relative positions only: a shift changes nothing, a stretch does.
    const shifted = model.forward(ids(inp.input_ids), { attentionMask, positionIds: positionIds.add(3) }).logits;
    assert.ok(maxDiffOnReal(derived, shifted, inp.attention_mask) < 1e-4, 'shift invariance');
    const stretched = model.forward(ids(inp.input_ids), { attentionMask, positionIds: positionIds.mul(2) }).logits;
    assert.ok(maxDiffOnReal(derived, stretched, inp.attention_mask) > 1e-3, 'positions matter');
  }));
  model.dispose();
});

test('on CUDA the model gives the CPU logits', { skip: !cuda.isAvailable() && 'CUDA is not available' }, () => {
  const c = fixture.cases[3]; // sliding window, grouped heads
  const model = loadCase(c);
  const inp = c.inputs[1];
  tidy(() => noGrad(() => {
    const attentionMask = tensor(inp.attention_mask!, { dtype: 'int64' });
    const ref = model.forward(ids(inp.input_ids), { attentionMask }).logits;
    model.to('cuda');
    const params = model.parameters();
    assert.ok(params.every((p) => p.device.startsWith('cuda')));
    const out = model.forward(ids(inp.input_ids).to('cuda'), { attentionMask: attentionMask.to('cuda') }).logits.to('cpu');
    assert.ok(maxDiffOnReal(out, ref, inp.attention_mask) < 1e-3);
  }));
  model.dispose();
});

test('training steps keep the number of live tensors flat', async () => {
  const { AdamW } = await import('bfpo');
  const { crossEntropy } = await import('bfpo/tensor');
  const model = new LlamaForCausalLM(parseConfig(fixture.cases[5].config));
  const opt = new AdamW(model.parameters(), { lr: 1e-3 });
  const x = ids([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]]);
  const mask = ids([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]]);
  const step = () => {
    tidy(() => {
      const { logits } = model.forward(x, { attentionMask: mask });
      crossEntropy(logits.narrow(1, 0, 5).reshape(-1, 48), x.narrow(1, 1, 5).reshape(-1)).backward();
    });
    opt.step();
    opt.zeroGrad();
  };
  step();
  const before = memoryStats().liveTensors;
  for (let i = 0; i < 30; i++) step();
  assert.equal(memoryStats().liveTensors, before);
  model.dispose();
});

test('the cache grows past its first buffer, and under autograd it concatenates and passes gradients', () => {
  const model = new LlamaForCausalLM(parseConfig(fixture.cases[3].config)); // sliding window 3
  tidy(() => {
    const x = randint(0, 48, [2, 80]);
    const full = noGrad(() => model.forward(x).logits); // [2, 80, 48]
    for (const grad of [false, true]) {
      const cache = new KVCache();
      const run = () => {
        const parts = [model.forward(x.narrow(1, 0, 4), { cache }).logits];
        for (let t = 4; t < 80; t++) parts.push(model.forward(x.narrow(1, t, 1), { cache }).logits);
        return cat(parts, 1);
      };
      const stepwise = grad ? enableGrad(run) : noGrad(run);
      assert.equal(cache.length, 80);
      assert.ok(maxDiffOnReal(stepwise, full, null) < 1e-5, `grad ${grad}`);
      if (grad) {
        stepwise.square().mean().backward();
        const g = (model.model.layers.items[0].selfAttn.kProj as Linear).weight.grad;
        assert.ok(g && g.abs().sum().item() > 0, 'keys written to the cache receive gradients');
      }
      cache.dispose();
    }
  });
  assert.throws(() => new KVCache({ reserve: -1 }), /Expected a non-negative integer for reserve/);
  model.dispose();
});
