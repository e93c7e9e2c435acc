import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScanResponse } from '../client.ts';
import { control, evil, patternFamily, probe, type WorkClock } from './redos.ts';

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

test('a loaded machine (wall time without CPU time) does not hide a declared pattern that blows up', () => {
  // Another process takes the core for 2 ms at every turn: each test of the pattern, the controls' too, takes
  // 2 ms more of wall time, none of this process's CPU time.
  let paused = 0;
  const clock: WorkClock = {
    cpuMs: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    },
    wallMs: () => {
      paused += 2;
      return performance.now() + paused;
    },
  };
  const f = patternFamily('^([A-Z0-9]+-?)+$', clock);
  assert.ok(f && /^[A-Z0-9]$/.test(f.unit), JSON.stringify(f));
  assert.equal(patternFamily('^[A-Z0-9]+(-[A-Z0-9]+)*-?$', clock), undefined);
  assert.equal(patternFamily('^\\d{4}-\\d{2}-\\d{2}$', clock), undefined);
});

/** A scripted target: the time an answer takes for a value (the clock is the only thing made up here). */
function target(ms: (value: string, call: number) => number) {
  const sent: string[] = [];
  const send = async (value: string): Promise<ScanResponse> => {
    sent.push(value);
    const durationMs = ms(value, sent.length);
    return {
      status: 422,
      headers: {},
      text: '{"detail":"invalid"}',
      json: { detail: 'invalid' },
      durationMs,
      sent: { method: 'POST', url: 'http://127.0.0.1/x' },
    };
  };
  return { send, sent };
}

const RUN = { prefix: '', unit: 'a', breaker: '!' };
/** The length of the run of `a` before the `!`: 0 for a control. */
const runOf = (v: string) => (/^a+!$/.test(v) ? v.length - 1 : 0);

test('a validator that doubles its time per character is found after a few hundred milliseconds', async () => {
  const t = target((v) => 1 + (runOf(v) > 0 ? 2 ** (runOf(v) - 20) : 0));
  const found = await probe(RUN, t.send);
  assert.ok(found && found !== 'refused');
  assert.equal(found.n, 28);
  const evilMs = t.sent.map((v) => 1 + (runOf(v) > 0 ? 2 ** (runOf(v) - 20) : 0)).reduce((a, b) => a + b);
  assert.ok(evilMs < 1000, `${evilMs} ms of the target's time`);
  assert.ok(t.sent.length <= 11, t.sent.join(' '));
});

test('a linear validator with a one-off slow answer gives nothing, and the run still grows to the end', async () => {
  const t = target((v, call) => (runOf(v) === 24 && call < 6 ? 400 : 2));
  assert.equal(await probe(RUN, t.send), undefined);
  assert.ok(
    t.sent.some((v) => runOf(v) === 42),
    t.sent.join(' '),
  );
});

test('a one-off slow answer before the real blow-up does not hide it', async () => {
  const t = target((v, call) =>
    runOf(v) === 18 && call === 3 ? 300 : 1 + (runOf(v) > 0 ? 2 ** (runOf(v) - 20) : 0),
  );
  const found = await probe(RUN, t.send);
  assert.ok(found, t.sent.map(runOf).join(' '));
});

test('slow for every value alike (a slow control) is no finding', async () => {
  const t = target(() => 400);
  assert.equal(await probe(RUN, t.send), undefined);
  const u = target((v) => (runOf(v) >= 24 ? 400 : 1) + (runOf(v) === 0 && v.length > 20 ? 400 : 0));
  assert.equal(await probe(RUN, u.send), undefined);
});

test('two slow answers of a loaded server with a fast control between them are no finding', async () => {
  // A linear validator: the 5th and 7th answers are slow (a pause of the server), whatever they carry.
  const t = target((_v, call) => (call === 5 || call === 7 ? 400 : 2));
  assert.equal(await probe(RUN, t.send), undefined, t.sent.map(runOf).join(' '));
  // And in bursts of two: the control right after a slow answer is slow too.
  const u = target((_v, call) => (call >= 5 && call <= 8 ? 400 : 2));
  assert.equal(await probe(RUN, u.send), undefined, u.sent.map(runOf).join(' '));
});

test('a slow run whose shorter run is as slow is no finding (no curve)', async () => {
  // 26 units and more always slow, 24 fast: a step, not a doubling.
  const t = target((v) => (runOf(v) >= 26 ? 400 : 2));
  assert.equal(await probe(RUN, t.send), undefined, t.sent.map(runOf).join(' '));
});

/** A seeded generator of numbers in [0, 1) (mulberry32): the same "load" on every run of the test. */
function seeded(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A target on a loaded machine, like one measured at load 10 on 2 cores: its work `factor` times slower, and
 * one answer in five late by 5 to 300 ms (mostly little), the next one late too three times in ten.
 */
function loaded(seed: number, work: (value: string) => number, factor = 3) {
  const random = seeded(seed);
  let late = false;
  return target((value) => {
    late = late ? random() < 0.3 : random() < 0.2;
    return 0.5 + factor * work(value) + (late ? 5 + 295 * random() ** 3 : 0);
  });
}

const doubling = (v: string) => 0.5 + (runOf(v) > 0 ? 2 ** (runOf(v) - 20) : 0);
const linear = (v: string) => 0.5 + 0.05 * v.length;

test('on a loaded machine a doubling validator is still found, within the request bound', async () => {
  let found = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const t = loaded(seed, doubling);
    const r = await probe(RUN, t.send);
    if (r && r !== 'refused') found++;
    assert.ok(t.sent.length <= 24, `seed ${seed}: ${t.sent.length} requests`);
  }
  // Before the judgement was made for load: 150 of 200.
  assert.ok(found >= 196, `${found} of 200`);
});

test('on a loaded machine a linear validator is never found', async () => {
  for (let seed = 1; seed <= 400; seed++) {
    const t = loaded(10_000 + seed, linear);
    assert.equal(await probe(RUN, t.send), undefined, `seed ${seed}: ${t.sent.map(runOf).join(' ')}`);
  }
});

test('a server that delays 3 answers in 10 by 200 to 1000 ms, whatever they carry: a linear validator is never found', async () => {
  for (let seed = 1; seed <= 1000; seed++) {
    const random = seeded(20_000 + seed);
    const t = target(() => 1 + (random() < 0.3 ? 200 + 800 * random() : 0));
    assert.equal(await probe(RUN, t.send), undefined, `seed ${seed}: ${t.sent.map(runOf).join(' ')}`);
  }
});

test('a late first control does not raise the baseline: the blow-up is found where it is found unloaded', async () => {
  const t = target((v, call) => (call === 1 ? 300 : 1 + (runOf(v) > 0 ? 2 ** (runOf(v) - 20) : 0)));
  const found = await probe(RUN, t.send);
  assert.ok(found && found !== 'refused', t.sent.map(runOf).join(' '));
  assert.equal(found.n, 28);
  assert.ok(found.baseMs < 2);
});
