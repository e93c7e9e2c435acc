import assert from 'node:assert/strict';
import { test } from 'node:test';
import { control, evil, patternFamily } from './redos.ts';

test('the control is as long as the evil string and breaks its run', () => {
  const f = { prefix: 'http://a.aa/', unit: 'a', breaker: '!' };
  assert.equal(evil(f, 5), 'http://a.aa/aaaaa!');
  assert.equal(control(f, 5), 'http://a.aa/a!a!a!');
  assert.equal(control(f, 24).length, evil(f, 24).length);
  const pair = { prefix: '', unit: 'a.', breaker: '!' };
  assert.equal(control(pair, 3), 'a.!!a.!');
  assert.equal(control(pair, 30).length, evil(pair, 30).length);
});

test('a declared pattern with nested quantifiers gets the run that makes it backtrack', () => {
  const f = patternFamily('^([A-Z0-9]+-?)+$');
  assert.ok(f);
  assert.ok(/^[A-Z0-9]$/.test(f.unit), JSON.stringify(f));
  const g = patternFamily('^[a-z0-9]+@(\\w+\\.?)+$');
  assert.ok(g);
  assert.match(g.prefix, /@$/);
});

test('linear patterns and patterns JavaScript cannot read get none', () => {
  const started = performance.now();
  assert.equal(patternFamily('^[A-Z0-9]+(-[A-Z0-9]+)*-?$'), undefined);
  assert.equal(patternFamily('^[a-z]{2,12}$'), undefined);
  assert.equal(patternFamily('^\\d{4}-\\d{2}-\\d{2}$'), undefined);
  assert.equal(patternFamily('(?P<year>\\d+)'), undefined);
  assert.ok(performance.now() - started < 2000);
});
