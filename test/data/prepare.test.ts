import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preparePreferenceData } from 'bfpo/data';
import { zephyrTokenizer } from './zephyr-tokenizer.js';

const fx = 'test/fixtures/data';
const PKU = 'PKU-Alignment/PKU-SafeRLHF';
const UF = 'HuggingFaceH4/ultrafeedback_binarized';

test('preparePreferenceData mixes main and buffer data, tokenizes them and logs the counts', async () => {
  const lines: string[] = [];
  const data = await preparePreferenceData({
    main: { mixer: { [PKU]: 0.25 }, task: 'preference', paths: { [PKU]: `${fx}/pku-saferlhf` } },
    buffer: { mixer: { [UF]: 1 }, splits: ['train'], task: 'preference', paths: { [UF]: `${fx}/ultrafeedback` } },
    tokenizer: zephyrTokenizer(),
    tokenize: { maxLength: 128, maxPromptLength: 64 },
    log: (l) => lines.push(l),
  });
  assert.equal(data.train.length, 6);
  assert.equal(data.test.length, 6);
  assert.equal(data.bufferTrain.length, 10);
  assert.ok(data.bufferTrain.every((p) => p.isChosenSafe === 1 && p.isRejectedSafe === 1));
  assert.ok(data.train.every((p) => p.chosen.ids[p.chosen.ids.length - 1] === 2 && p.chosen.ids.length <= 128));
  assert.deepEqual(lines, [
    `data ${PKU} [train]: 6 examples (6 of 24 rows)`,
    `data ${PKU} [test]: 6 examples (6 of 6 rows)`,
    `data ${UF} [train_prefs]: 10 examples (10 of 10 rows)`,
  ]);
});
