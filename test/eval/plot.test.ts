// The scatter plot: one point per model, labels, shared labels for models at the same place, SVG and PNG output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderScatter, scatterSpec } from 'bfpo/eval';

test('one point per model; models at the same place share a label', async () => {
  const points = [
    { model: 'base', helpfulness: 0.4, harmlessness: 0.5 },
    { model: 'dpo', helpfulness: 0.4, harmlessness: 0.5 },
    { model: 'bfpo', helpfulness: 0.45, harmlessness: 0.9 },
  ];
  const spec = scatterSpec(points) as unknown as { layer: { data: { values: { model: string }[] } }[] };
  assert.deepEqual(spec.layer[0].data.values.map((p) => p.model), ['base', 'dpo', 'bfpo']);
  assert.deepEqual(spec.layer[1].data.values.map((p) => p.model), ['base, dpo', 'bfpo']);
  const { svg, png } = await renderScatter(points);
  assert.ok(svg.includes('>base, dpo<') && svg.includes('>bfpo<'));
  assert.equal((svg.match(/role-mark-point|mark-symbol/g) ?? []).length > 0, true);
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
});
