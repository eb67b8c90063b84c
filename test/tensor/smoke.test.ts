import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor } from 'bfpo';

test('a tensor round-trips through libtorch', () => {
  const a = tensor([[1, 2], [3, 4]], { dtype: 'float32' });
  assert.deepEqual(a.matmul(a).toArray(), [[7, 10], [15, 22]]);
});
