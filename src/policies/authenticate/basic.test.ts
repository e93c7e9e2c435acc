import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createManualClock } from '../../core/clock.ts';
import { ConfigPathError } from '../../core/errors.ts';
import { basicUserId, createBasicAuthenticator, parseBasicCredentials } from './basic.ts';
import type { CredentialResult } from './credential.ts';
import { hashPassword } from './password-hash.ts';

const FAST = { N: 2 ** 14, r: 8, p: 1 };
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const basic = (user: string, password: string) => `Basic ${b64(`${user}:${password}`)}`;

describe('parsing Authorization: Basic (RFC 7617)', () => {
  test('splits the user-id at the first colon and keeps colons in the password', () => {
    assert.deepEqual(parseBasicCredentials(basic('alice', 'pa:ss:word')), {
      userId: 'alice',
      password: 'pa:ss:word',
    });
    assert.deepEqual(parseBasicCredentials(`bAsIc   ${b64('bob:')}`), { userId: 'bob', password: '' });
  });

  test('decodes UTF-8 and normalises both halves to NFC', () => {
    assert.deepEqual(parseBasicCredentials(basic('jose\u0301', 'cafe\u0301')), {
      userId: 'jos\u00e9',
      password: 'caf\u00e9',
    });
  });

  test('ignores other schemes', () => {
    assert.equal(parseBasicCredentials('Bearer abc'), undefined);
    assert.equal(parseBasicCredentials('Basicx abc'), undefined);
  });

  test('refuses broken credentials as malformed', () => {
    const cases = [
      'Basic',
      'Basic ',
      `Basic ${b64('no-colon')}`,
      `Basic ${b64(':password-without-user')}`,
      'Basic YWxpY2U6c2VjcmV0!',
      'Basic YWxpY2U6c2VjcmV', // length not a multiple of 4
      'Basic YWxpY2U6c2VjcmV0=', // padding where none belongs
      'Basic YQ==YQ==',
      'Basic YR==', // stray bits: not the canonical spelling
      `Basic ${Buffer.from([0x61, 0x3a, 0xff, 0xfe]).toString('base64')}`, // not UTF-8
      `Basic ${b64('al\u0000ice:pw')}`,
      `Basic ${b64('alice:p\nw')}`,
      `Basic ${b64('alice:p\u0085w')}`, // C1 control
      `Basic ${b64(`alice:${'x'.repeat(4000)}`)}`,
      `Basic ${b64('alice:pw')} extra`,
    ];
    for (const header of cases) assert.equal(parseBasicCredentials(header), 'malformed', header);
  });

  test('basicUserId names the user-id of a well-formed credential only', () => {
    assert.equal(basicUserId(basic('mallory', 'guess')), 'mallory');
    assert.equal(basicUserId('Basic !!!!'), undefined);
    assert.equal(basicUserId('Bearer x'), undefined);
    assert.equal(basicUserId(undefined), undefined);
  });
});

describe('Basic authenticator', () => {
  let opsHash: string;
  let opsNewHash: string;
  let auditHash: string;
  before(async () => {
    [opsHash, opsNewHash, auditHash] = await Promise.all([
      hashPassword('ops-old-password', FAST),
      hashPassword('ops-new-password', FAST),
      hashPassword('audit-password', FAST),
    ]);
  });
  const make = (extra: Record<string, unknown> = {}, clock = createManualClock(0)) =>
    createBasicAuthenticator(
      {
        consumers: [
          {
            name: 'ops',
            roles: ['operator'],
            metadata: { team: 'sre' },
            passwordHashes: [opsHash, opsNewHash],
          },
          { name: 'audit', passwordHashes: [auditHash] },
        ],
        ...extra,
      },
      { clock },
    );

  test('accepts every live password of a consumer and builds its identity', async () => {
    const a = make();
    for (const pw of ['ops-old-password', 'ops-new-password']) {
      const r = await a.authenticate(basic('ops', pw), true);
      assert.equal(r.kind, 'ok');
      if (r.kind !== 'ok') return;
      assert.equal(r.identity.subject, 'ops');
      assert.equal(r.identity.consumer, 'ops');
      assert.equal(r.identity.method, 'basic');
      assert.deepEqual([...r.identity.roles], ['operator']);
      assert.deepEqual(r.identity.claims, { team: 'sre' });
    }
  });

  test('answers an unknown user and a wrong password alike, with distinct reasons for the event', async () => {
    const a = make();
    const wrong = (await a.authenticate(basic('audit', 'nope'), true)) as Extract<
      CredentialResult,
      { kind: 'invalid' }
    >;
    const unknown = (await a.authenticate(basic('nobody', 'nope'), true)) as Extract<
      CredentialResult,
      { kind: 'invalid' }
    >;
    assert.equal(wrong.kind, 'invalid');
    assert.equal(unknown.kind, 'invalid');
    assert.equal(wrong.detail, unknown.detail);
    assert.deepEqual([wrong.reason, unknown.reason], ['bad_credentials', 'unknown_user']);
    assert.deepEqual([wrong.userName, unknown.userName], ['audit', 'nobody']);
  });

  test('answers a repeated success from the cache synchronously until cacheSeconds pass', async () => {
    const clock = createManualClock(0);
    const a = make({ cacheSeconds: 30 }, clock);
    const first = a.authenticate(basic('audit', 'audit-password'), true);
    assert.ok(first instanceof Promise, 'the first check runs scrypt');
    assert.equal((await first).kind, 'ok');
    const again = a.authenticate(basic('audit', 'audit-password'), true);
    assert.ok(!(again instanceof Promise), 'a cached success costs no scrypt');
    assert.equal((again as CredentialResult).kind, 'ok');
    clock.advance(30_000);
    assert.ok(a.authenticate(basic('audit', 'audit-password'), true) instanceof Promise);
  });

  test('never caches a failure', async () => {
    const a = make();
    assert.equal((await a.authenticate(basic('audit', 'nope'), true)).kind, 'invalid');
    assert.ok(a.authenticate(basic('audit', 'nope'), true) instanceof Promise);
  });

  test('caches nothing with cacheSeconds 0', async () => {
    const a = make({ cacheSeconds: 0 });
    assert.equal((await a.authenticate(basic('audit', 'audit-password'), true)).kind, 'ok');
    assert.ok(a.authenticate(basic('audit', 'audit-password'), true) instanceof Promise);
  });

  test('shares one verification between identical credentials in flight', async () => {
    const a = make();
    const p1 = a.authenticate(basic('audit', 'nope'), true);
    const p2 = a.authenticate(basic('audit', 'nope'), true);
    assert.equal(p1, p2);
    assert.equal(a.pending, 1);
    await p1;
    assert.equal(a.pending, 0);
  });

  test('answers 503-style unavailable when every slot and the wait list are taken', async () => {
    const a = make({ maxConcurrentHashes: 1, maxQueuedHashes: 1 });
    const running = a.authenticate(basic('audit', 'one'), true);
    const queued = a.authenticate(basic('audit', 'two'), true);
    const refused = a.authenticate(basic('audit', 'three'), true);
    assert.deepEqual(refused, {
      kind: 'unavailable',
      reason: 'basic_overloaded',
      detail: 'too many password verifications in progress',
    });
    assert.equal(a.pending, 2);
    assert.equal((await running).kind, 'invalid');
    assert.equal((await queued).kind, 'invalid');
    assert.equal(a.pending, 0);
    assert.equal((await a.authenticate(basic('audit', 'audit-password'), true)).kind, 'ok');
  });

  test('refuses credentials that did not come over HTTPS unless allowPlainHttp is set', async () => {
    const strict = make();
    assert.deepEqual(strict.authenticate(basic('audit', 'audit-password'), false), {
      kind: 'invalid',
      reason: 'insecure_transport',
      detail: 'Basic credentials are accepted only over HTTPS',
      userName: 'audit',
    });
    const lax = make({ allowPlainHttp: true });
    assert.equal((await lax.authenticate(basic('audit', 'audit-password'), false)).kind, 'ok');
  });

  test('reports no credentials for another scheme and malformed ones as invalid', () => {
    const a = make();
    assert.deepEqual(a.authenticate(undefined, true), { kind: 'missing' });
    assert.deepEqual(a.authenticate('Bearer abc', true), { kind: 'missing' });
    assert.deepEqual(a.authenticate('Basic %%%', true), {
      kind: 'invalid',
      reason: 'malformed_credentials',
      detail: 'malformed Basic credentials',
    });
  });

  test('refuses configs with a bad hash or a duplicate user-id, naming the path', () => {
    assert.throws(
      () =>
        createBasicAuthenticator(
          { consumers: [{ name: 'a', passwordHashes: ['scrypt$1$2$3'] }] },
          {
            clock: createManualClock(0),
          },
        ),
      (err: Error) => err instanceof ConfigPathError && err.path === 'consumers[0].passwordHashes[0]',
    );
    assert.throws(
      () =>
        createBasicAuthenticator(
          {
            consumers: [
              { name: 'jos\u00e9', passwordHashes: [opsHash] },
              { name: 'jose\u0301', passwordHashes: [auditHash] },
            ],
          },
          { clock: createManualClock(0) },
        ),
      (err: Error) => err instanceof ConfigPathError && err.path === 'consumers[1].name',
    );
  });
});
