// Learning-rate schedules against values computed in Python (scripts/fixtures/schedules.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { lrMultiplier, warmupStepsOf, type ScheduleType } from '../../src/train/schedule.js';

interface Case { type: ScheduleType; totalSteps: number; warmupRatio: number; warmupSteps: number; warmup: number; values: number[] }
const cases: Case[] = JSON.parse(readFileSync(new URL('../fixtures/train/schedules.json', import.meta.url), 'utf8'));

test('every schedule matches the transformers formulas step by step', () => {
  assert.ok(cases.length >= 20);
  for (const c of cases) {
    const opts = { totalSteps: c.totalSteps, warmupRatio: c.warmupRatio, warmupSteps: c.warmupSteps };
    assert.equal(warmupStepsOf(opts), c.warmup, `${c.type} warmup`);
    c.values.forEach((v, step) => {
      const got = lrMultiplier(c.type, step, opts);
      assert.ok(Math.abs(got - v) < 1e-12, `${c.type} total ${c.totalSteps} step ${step}: ${got} vs ${v}`);
    });
  }
});

test('cosine starts at 0, peaks after warmup and ends at 0', () => {
  const o = { totalSteps: 100, warmupRatio: 0.1 };
  assert.equal(lrMultiplier('cosine', 0, o), 0);
  assert.equal(lrMultiplier('cosine', 10, o), 1);
  assert.ok(Math.abs(lrMultiplier('cosine', 100, o)) < 1e-12);
});

test('bad schedule settings name the key and the allowed values', () => {
  assert.throws(() => lrMultiplier('cosin' as ScheduleType, 0, { totalSteps: 3 }),
    /Expected one of cosine, linear, constant, constant_with_warmup for lr_scheduler_type but received "cosin"/);
  assert.throws(() => warmupStepsOf({ totalSteps: 3, warmupRatio: 2 }), /warmup_ratio/);
  assert.throws(() => warmupStepsOf({ totalSteps: 3, warmupSteps: -1 }), /warmup_steps/);
  assert.throws(() => lrMultiplier('linear', 0, { totalSteps: -1 }), /totalSteps/);
});
