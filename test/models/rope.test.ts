import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ropeInverseFrequencies } from 'bfpo/models';
import { fixture } from './helpers.js';

const cases = (fixture as unknown as { rope: { head_dim: number; rope_theta: number; rope_scaling: Record<string, unknown> | null; inv_freq: number[] }[] }).rope;

test('rotary inverse frequencies equal PyTorch for Llama 3.1 scaling, linear scaling and none', () => {
  assert.equal(cases.length, 3);
  for (const c of cases) {
    const config = parseConfig({
      architectures: ['LlamaForCausalLM'], vocab_size: 8, hidden_size: c.head_dim, intermediate_size: 8, num_hidden_layers: 1,
      num_attention_heads: 1, rope_theta: c.rope_theta, rope_scaling: c.rope_scaling,
    });
    const ours = ropeInverseFrequencies(config.headDim, config.ropeTheta, config.ropeScaling);
    assert.equal(ours.length, c.inv_freq.length);
    c.inv_freq.forEach((want, i) => assert.ok(Math.abs(ours[i] - want) <= 1e-6 * want, `${c.rope_scaling?.rope_type ?? c.rope_scaling?.type ?? 'none'} [${i}]: ${ours[i]} vs ${want}`));
  }
});
