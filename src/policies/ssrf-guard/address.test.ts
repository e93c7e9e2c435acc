import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createManualClock } from '../../core/clock.ts';
import {
  compileHostAllowlist,
  createInternalRanges,
  isInternalAddress,
  isInternalName,
  parseDestination,
  referenceTargets,
} from './address.ts';
import { createCachedResolver, systemLookup } from './resolver.ts';

const ranges = createInternalRanges();
const schemes = new Set(['http', 'https']);

describe('internal address ranges', () => {
  const internal = [
    '127.0.0.1',
    '10.1.2.3',
    '172.31.255.255',
    '192.168.0.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    'fd00:ec2::254',
    'fe80::1',
    '64:ff9b::7f00:1',
    '2002:7f00:1::',
  ];
  for (const a of internal) {
    test(`treats ${a} as internal`, () => assert.equal(isInternalAddress(a, ranges), true));
  }
  for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    test(`treats ${a} as public`, () => assert.equal(isInternalAddress(a, ranges), false));
  }
});

describe('URL parsing', () => {
  const loopbackForms = [
    'http://2130706433/',
    'http://0177.0.0.1/',
    'http://0x7f.0.0.1/',
    'http://0x7f000001/',
    'http://127.1/',
    'http://[::ffff:127.0.0.1]/',
  ];
  for (const u of loopbackForms) {
    test(`normalises ${u} to a loopback address`, () => {
      const d = parseDestination(u, schemes, 2048);
      assert.ok('host' in d && d.ip);
      assert.equal(isInternalAddress(d.host, ranges), true);
    });
  }

  test('refuses credentials, backslashes, other schemes and overlong URLs', () => {
    assert.deepEqual(parseDestination('http://user:pw@example.com/', schemes, 2048), { problem: 'userinfo' });
    assert.deepEqual(parseDestination('http://example.com\\@127.0.0.1/', schemes, 2048), {
      problem: 'malformed_url',
    });
    assert.deepEqual(parseDestination('file:///etc/passwd', schemes, 2048), {
      problem: 'scheme_not_allowed',
    });
    assert.deepEqual(parseDestination('gopher://example.com/', schemes, 2048), {
      problem: 'scheme_not_allowed',
    });
    assert.deepEqual(parseDestination(`https://example.com/${'a'.repeat(60)}`, schemes, 50), {
      problem: 'malformed_url',
    });
  });

  test('names the host and default port of a public URL', () => {
    assert.deepEqual(parseDestination('https://Example.COM./x', schemes, 2048), {
      host: 'example.com',
      ip: false,
      port: 443,
    });
  });

  test('treats localhost, metadata names and single labels as internal names', () => {
    for (const h of ['localhost', 'api.localhost', 'metadata.google.internal', 'printer.local', 'redis']) {
      assert.equal(isInternalName(h), true, h);
    }
    assert.equal(isInternalName('api.example.com'), false);
  });

  test('matches allowlisted hosts exactly or by subdomain wildcard', () => {
    const allowed = compileHostAllowlist(['hooks.example.com', '*.cdn.example.net'])!;
    assert.equal(allowed('hooks.example.com'), true);
    assert.equal(allowed('a.cdn.example.net'), true);
    assert.equal(allowed('cdn.example.net'), false);
    assert.equal(allowed('evilhooks.example.com'), false);
  });
});

describe('URI references', () => {
  test('resolves a network-path reference to the host it names under an http and an https base', () => {
    assert.deepEqual(referenceTargets('//169.254.169.254/latest'), [
      'http://169.254.169.254/latest',
      'https://169.254.169.254/latest',
    ]);
  });

  test('reads a same-scheme reference as relative under its own scheme only', () => {
    assert.deepEqual(referenceTargets('http:10.0.0.1'), ['http://10.0.0.1/']);
  });

  test('finds no target in a reference that stays on its base', () => {
    for (const v of ['/a/b', 'a/b', '../x', '?q=1', '#f', '']) assert.deepEqual(referenceTargets(v), [], v);
  });

  test('reads a reference trimmed of Unicode white space as well', () => {
    assert.deepEqual(referenceTargets('\u2003//10.0.0.1/'), ['http://10.0.0.1/', 'https://10.0.0.1/']);
  });

  test('returns undefined for a reference no parser accepts', () => {
    assert.equal(referenceTargets('//[::1/'), undefined);
  });
});

describe('cached resolver', () => {
  test('resolves localhost through the system resolver', async () => {
    assert.ok((await systemLookup('localhost')).includes('127.0.0.1'));
  });

  test('caches answers for their time to live and bounds the entries', async () => {
    const clock = createManualClock();
    const asked: string[] = [];
    const resolve = createCachedResolver({
      lookup: async (h) => {
        asked.push(h);
        return ['93.184.216.34'];
      },
      clock,
      ttlMs: 1000,
      maxEntries: 2,
      timeoutMs: 1000,
    });
    await resolve('a.example');
    await resolve('a.example');
    assert.deepEqual(asked, ['a.example']);
    clock.advance(1001);
    await resolve('a.example');
    await resolve('b.example');
    await resolve('c.example');
    await resolve('a.example'); // evicted as the oldest once c arrived
    assert.deepEqual(asked, ['a.example', 'a.example', 'b.example', 'c.example', 'a.example']);
  });

  test('answers undefined when the lookup fails or takes too long', async () => {
    const clock = createManualClock();
    const failing = createCachedResolver({
      lookup: async () => {
        throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
      },
      clock,
      ttlMs: 1000,
      maxEntries: 10,
      timeoutMs: 1000,
    });
    assert.equal(await failing('x.example'), undefined);
    const slow = createCachedResolver({
      lookup: () => new Promise(() => {}),
      clock,
      ttlMs: 1000,
      maxEntries: 10,
      timeoutMs: 20,
    });
    assert.equal(await slow('y.example'), undefined);
  });
});
