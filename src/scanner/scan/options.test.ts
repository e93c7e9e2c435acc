import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { secretHeader, sharedHeaders } from './options.ts';

describe('sharedHeaders', () => {
  test('a header every identity gives alike, named as no credential, is shared and leaves them', () => {
    const s = sharedHeaders({
      identities: [
        { name: 'bob', headers: { 'X-User-ID': '2', 'X-Secure-Mode': 'false' } },
        { name: 'alice', headers: { 'X-User-ID': '1', 'x-secure-mode': 'false' } },
      ],
      admin: { name: 'root', headers: { 'X-User-ID': '1', 'X-Secure-Mode': 'false' } },
    });
    assert.deepEqual(s.shared, { 'x-secure-mode': 'false' });
    assert.deepEqual(s.inferred, ['x-secure-mode']);
    assert.deepEqual(
      s.identities.map((i) => i.headers),
      [{ 'X-User-ID': '2' }, { 'X-User-ID': '1' }],
    );
    assert.deepEqual(s.admin?.headers, { 'X-User-ID': '1' });
  });

  test('a key, a token, a caller id or a generated value is never shared, however alike', () => {
    const same = {
      'X-Api-Key': 'k1',
      Authorization: 'Basic YTpi',
      'X-Tenant-Id': '7',
      'X-Client': 'a8f3k2m9q7w1e5r4t6',
      'X-Session': 'x',
      Cookie: 'sid=1',
      'X-Env': 'staging',
    };
    const s = sharedHeaders({
      identities: [
        { name: 'a', headers: { ...same, 'X-Who': 'a' } },
        { name: 'b', headers: { ...same, 'X-Who': 'b' } },
      ],
    });
    assert.deepEqual(s.shared, { 'x-env': 'staging' });
  });

  test('a shared access code, PIN, signature or role is no setting; a switch, a mode or a small version is', () => {
    const same = {
      'X-Access-Code': '4711',
      'X-Pin': '1234',
      'X-Hmac': 'abc',
      'X-Pwd': 'hunter',
      'X-Role': 'admin',
      'X-Door': '4711',
      'X-Flag': 'a1b2',
      'X-Mode': 'legacy',
      'X-Api-Version': '2',
      'X-Debug': 'true',
    };
    const s = sharedHeaders({
      identities: [
        { name: 'a', headers: { ...same, 'X-Who': 'a' } },
        { name: 'b', headers: { ...same, 'X-Who': 'b' } },
      ],
    });
    assert.deepEqual(s.shared, { 'x-mode': 'legacy', 'x-api-version': '2', 'x-debug': 'true' });
    const { 'X-Mode': _m, 'X-Api-Version': _v, 'X-Debug': _d, ...kept } = same;
    assert.deepEqual(s.identities[0].headers, { ...kept, 'X-Who': 'a' });
  });

  test('different values, one identity alone, or an identity that logs in: nothing inferred', () => {
    const h = (v: string) => ({ 'X-Env': v, 'X-Who': v });
    assert.deepEqual(
      sharedHeaders({
        identities: [
          { name: 'a', headers: h('1') },
          { name: 'b', headers: h('2') },
        ],
      }).shared,
      {},
    );
    assert.deepEqual(sharedHeaders({ identities: [{ name: 'a', headers: h('1') }] }).shared, {});
    const mixed = sharedHeaders({
      identities: [
        { name: 'a', headers: h('1') },
        { name: 'b', login: { path: '/login', body: { username: 'b', password: 'p' } } },
      ],
    });
    assert.deepEqual(mixed.shared, {});
  });

  test('configured headers are shared as given (lower-case names), and an identity left empty keeps its own', () => {
    const s = sharedHeaders({
      headers: { 'X-Api-Version': '2' },
      identities: [
        { name: 'a', headers: { 'X-Mode': 'm' } },
        { name: 'b', headers: { 'X-Mode': 'm' } },
      ],
    });
    assert.deepEqual(s.shared, { 'x-api-version': '2', 'x-mode': 'm' });
    assert.deepEqual(
      s.identities.map((i) => i.headers),
      [{ 'X-Mode': 'm' }, { 'X-Mode': 'm' }],
    );
  });
});

describe('secretHeader', () => {
  test('a shared header is secret by a name that says so or a generated-looking value', () => {
    for (const [name, value] of [
      ['X-Gateway-Key', 'k1'],
      ['Authorization', 'Basic YTpi'],
      ['X-Auth', 'on'],
      ['X-Session', 'x'],
      ['X-Tenant', 'c0ffee00a1b2c3d4e5f6'],
    ])
      assert.equal(secretHeader(name, value), true, name);
    for (const [name, value] of [
      ['X-Api-Version', '2'],
      ['X-Secure-Mode', 'false'],
      ['X-Tenant-Id', 'acme'],
      ['Accept-Language', 'en-GB, en;q=0.8'],
    ])
      assert.equal(secretHeader(name, value), false, name);
  });
});
