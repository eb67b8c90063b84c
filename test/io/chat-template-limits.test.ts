// Chat templates from strangers run inside bounds: endless loops, exponential strings, huge ranges and huge
// outputs are stopped with a ChatTemplateError; ordinary templates render as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatTemplate, ChatTemplateError, ZEPHYR_CHAT_TEMPLATE } from 'bfpo/io';
import { TEMPLATE_LIMITS } from '../../src/io/chat-template.js';

const msgs = [{ role: 'user', content: 'Hi' }];
const tokens = { eos_token: '</s>', bos_token: '<s>' };

const attacks: [string, string, RegExp][] = [
  ['nested loops of 10^9 steps', '{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}{{ "" }}{% endfor %}{% endfor %}{% endfor %}', /took more than 2000 ms/],
  ['exponential string', "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}", /characters, more than the/],
  ['range of 10^12', '{% for i in range(1000000000000) %}x{% endfor %}', /range\(\) of 1000000000000 numbers/],
  ['huge output from a loop', `{% for a in range(100000) %}{% for b in range(100) %}{{ '${'x'.repeat(100)}' }}{% endfor %}{% endfor %}`, /characters|took more than/],
  ['recursion through a macro', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}', /stopped|failed/],
];

for (const [name, source, message] of attacks) {
  test(`a template with ${name} is stopped with a clear error`, () => {
    const t = new ChatTemplate(source, 'hostile chat_template');
    const started = Date.now();
    assert.throws(() => t.render(msgs, tokens, true), (e: Error) => e instanceof ChatTemplateError && e.message.startsWith('hostile chat_template') && message.test(e.message), name);
    assert.ok(Date.now() - started < TEMPLATE_LIMITS.maxMilliseconds * 3, `stopped after ${Date.now() - started} ms`);
  });
}

test('ordinary templates and range() render as before inside the bounds', () => {
  const z = new ChatTemplate(ZEPHYR_CHAT_TEMPLATE, 'zephyr');
  assert.equal(z.render(msgs, tokens, true), '<|user|>\nHi</s>\n<|assistant|>\n');
  const r = new ChatTemplate('{% for i in range(3) %}{{ i }}{% endfor %}|{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}|{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}', 'r');
  assert.equal(r.render(msgs, tokens, false), '012|135|531');
  // A failed rendering leaves no bounds behind for the next one.
  assert.throws(() => new ChatTemplate(attacks[2]![1], 'x').render(msgs, tokens, true), ChatTemplateError);
  assert.equal(z.render(msgs, tokens, false), '<|user|>\nHi</s>\n');
});
