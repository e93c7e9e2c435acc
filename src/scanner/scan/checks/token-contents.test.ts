import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { RuleInfo } from '../../finding.ts';
import type { FindingInput, ScanContext } from '../context.ts';
import {
  distinctParts,
  fromPassword,
  looksSecret,
  passwordDigestIn,
  passwordForms,
  samePasswordParts,
  secretClaims,
  sharedSecrets,
  signsToken,
  tokenParts,
  tokenSecrets,
} from './token-contents.ts';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
function hs256(key: string | Buffer, payload: object): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

test('a token is taken apart into segments, base64 text, separated fields and JSON members', () => {
  const parts = tokenParts(b64('alice:0123:k3y'));
  assert.deepEqual(
    parts.map((p) => `${p.where}=${p.value}`),
    [
      'the token, base64=alice:0123:k3y',
      'the token, base64, field 1=alice',
      'the token, base64, field 2=0123',
      'the token, base64, field 3=k3y',
    ],
  );
  const jwt = tokenParts(hs256('k', { sub: 'alice', nested: { pwd: 'x' } }));
  assert.ok(jwt.some((p) => p.where === 'segment 2, claim sub' && p.value === 'alice'));
  assert.ok(jwt.some((p) => p.claim === 'pwd'));
  assert.ok(jwt.some((p) => p.claim === 'header alg'));
});

test('a secret-looking value every token shares is found; the JOSE header, the issuer and names are not', () => {
  const key = 'x7Qk-93Lm!vTz2Pa';
  const opaque = ['alice', 'bob', 'carol'].map((u) => b64(`${u}:${md5(u)}:${key}`));
  assert.deepEqual(
    sharedSecrets(opaque).map((p) => p.where),
    ['the token, base64, field 3'],
  );
  // Proper JWTs: a constant header, a constant issuer, a constant role; a random key signs them.
  const signer = randomBytes(32);
  const jwts = ['alice', 'bob'].map((u) =>
    hs256(signer, { sub: u, iss: 'https://accounts.example.test/v1', role: 'Customer-Tier-01', iat: 1 }),
  );
  assert.deepEqual(sharedSecrets(jwts), []);
  // A member every token shares that neither is named like a key nor signs them is no key.
  const plans = ['alice', 'bob'].map((u) => hs256(signer, { sub: u, plan: 'Premium-Plan-2024' }));
  assert.deepEqual(sharedSecrets(plans), []);
  // A key in a claim every token carries is.
  const leaky = ['alice', 'bob'].map((u) => hs256(key, { sub: u, k: key }));
  assert.deepEqual(
    sharedSecrets(leaky).map((p) => p.where),
    ['segment 2, claim k'],
  );
  assert.ok(signsToken(leaky[0], key));
  assert.ok(!signsToken(jwts[0], key));
  // One token (or the same token twice) says nothing.
  assert.deepEqual(sharedSecrets([opaque[0], opaque[0]]), []);
});

test('looksSecret takes keys, not names, URLs, ids or dates', () => {
  for (const v of ['x7Qk-93Lm!vTz2Pa', 'Sup3rSecretKey2024', 'a8f3k29dk3m20dk3l1m5z9q0'])
    assert.ok(looksSecret(v), v);
  for (const v of [
    'storefront-accounts',
    'https://auth.example.com',
    '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
    '2026-12-07T09:00:00Z',
    'short1!A',
    'with space Inside 12',
  ])
    assert.ok(!looksSecret(v), v);
});

test('a hex part the same for one password and different for another is a password hash; one bound to time is not', () => {
  const token = (u: string, pw: string, t: number) => b64(`${u}|${md5(pw)}|${t}`);
  assert.deepEqual(samePasswordParts(token('x', 'p1', 1), token('z', 'p2', 2), token('y', 'p1', 3)), [
    md5('p1'),
  ]);
  // A digest of the minute: the same for all three.
  const minute = (u: string) => b64(`${u}|${md5('12:01')}`);
  assert.deepEqual(samePasswordParts(minute('x'), minute('z'), minute('y')), []);
  // A digest of the account: different for the two with one password.
  const own = (u: string) => b64(`${u}|${md5(u)}`);
  assert.deepEqual(samePasswordParts(own('x'), own('z'), own('y')), []);
});

test('a digest of a known password in the token is named by its algorithm', () => {
  const sha1 = createHash('sha1').update('Alice-pass').digest('hex');
  assert.equal(passwordDigestIn(`u1.${sha1}.9`, 'Alice-pass'), 'sha1');
  assert.equal(passwordDigestIn(hs256('k', { h: md5('Alice-pass') }), 'Alice-pass'), 'md5');
  assert.equal(passwordDigestIn(hs256('k', { h: md5('other') }), 'Alice-pass'), undefined);
});

test('two accounts with one password share its hash: the hash is no key, the key beside it is, once per place', () => {
  // Segments: the user, the MD5 of the password, the signing key (each base64), alice and bob sharing a password.
  const key = 's3cr3t-signing-key-7Hq2-for-the-whole-api';
  const token = (u: string, pw: string) => [b64(u), b64(md5(pw)), b64(key)].join('.');
  const tokens = [token('alice', 'Shared-pw-1'), token('bobby', 'Shared-pw-1')];
  const shared = sharedSecrets(tokens);
  // Both the hash (segment 2) and the key (segment 3) are the same in both tokens.
  assert.ok(shared.some((p) => p.where.startsWith('segment 2')));
  const forms = passwordForms(['Shared-pw-1']);
  const keys = distinctParts(shared.filter((p) => !fromPassword(p.value, forms)));
  assert.deepEqual(
    keys.map((p) => [p.where, p.value]),
    [['segment 3, base64', key]],
  );
  // The hash in base64 of the raw digest, and the password itself, are forms of the password too.
  const raw = createHash('sha256').update('Shared-pw-1').digest('base64url');
  assert.ok(fromPassword(raw, forms));
  assert.ok(fromPassword(b64('user:Shared-pw-1'), forms));
  assert.equal(fromPassword(b64(key), forms), false);
  assert.equal(fromPassword(md5('Other-pw-2'), forms), false);
});

test('claims named like a password, its hash or a secret are found; at_hash and flags are not', () => {
  const token = hs256('k', {
    sub: 'alice',
    password_hash: '$2b$10$abcdefghijklmnopqrstuv',
    at_hash: 'abcdefgh',
    password: true,
  });
  assert.deepEqual(
    secretClaims(token).map((p) => p.claim),
    ['password_hash'],
  );
});

test('a report names where a password or a key sits and its length, never a character of it', async () => {
  const key = 'x7Qk-93Lm!vTz2Pa';
  const password = 'Zebra-pw-9';
  // Both identities' tokens carry the key (signed with it) and alice's carries her password as a member.
  const tokens = {
    alice: hs256(key, { sub: 'alice', k: key, password }),
    bob: hs256(key, { sub: 'bob', k: key }),
  };
  const reported: FindingInput[] = [];
  const ctx = {
    identities: Object.entries(tokens).map(([name, token]) => ({
      name,
      token,
      login: { flow: { body: { user: name, password } } },
    })),
    report: (_rule: RuleInfo, input: FindingInput) => reported.push(input),
    note: () => {},
  } as unknown as ScanContext;
  await tokenSecrets(ctx, undefined);
  const keyMessage = reported.find((f) => f.key === 'signing-secret')?.message ?? '';
  const claimMessage = reported.find((f) => f.key === 'claim:password')?.message ?? '';
  assert.match(keyMessage, /at segment 2, claim k \(16 characters\), and it is the key that signs them/);
  assert.match(claimMessage, /member named password \(segment 2, claim password, 10 characters\)/);
  for (const f of reported) {
    assert.doesNotMatch(f.message, /starts with|"x"|"Z"/);
    assert.ok(!f.message.includes(key) && !f.message.includes(password), f.message);
    assert.ok(!JSON.stringify(f.evidence).includes(key) && !JSON.stringify(f.evidence).includes(password));
  }
});
