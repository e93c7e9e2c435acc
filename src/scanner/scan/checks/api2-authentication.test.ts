import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { buildApiDocument } from '../../../openapi/load.ts';
import type { ScanContext } from '../context.ts';
import {
  announcedLimit,
  crackHmac,
  crackHmacWithin,
  documentedLogins,
  flawsOf,
  handedBack,
  isSignup,
  unknownUser,
} from './api2-authentication.ts';
import { commonSecrets, secretPhrases, secretsFromWords, weakHmacSecrets } from './weak-secrets.ts';

function hs256(secret: string | Buffer, payload: object): string {
  const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`;
}

test('finds an HS256 secret from the built-in list offline', () => {
  assert.equal(crackHmac(hs256('your-256-bit-secret', { sub: '1' })), 'your-256-bit-secret');
  assert.equal(crackHmac(hs256('keyboard cat', { sub: '2' })), 'keyboard cat');
});

test('does not find a random secret, and ignores non-HMAC or malformed tokens', () => {
  assert.equal(crackHmac(hs256(randomBytes(32), { sub: '1' })), undefined);
  const rs = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.e30.c2ln`;
  assert.equal(crackHmac(rs), undefined);
  assert.equal(crackHmac('not-a-jwt'), undefined);
});

test('the built-in list holds thousands of distinct candidates with decorated forms', () => {
  const list = weakHmacSecrets();
  assert.ok(list.length > 5000, `${list.length} candidates`);
  assert.equal(new Set(list).size, list.length);
  assert.equal(crackHmac(hs256('mongo-secret', { sub: '1' })), 'mongo-secret');
  assert.equal(crackHmac(hs256('my_jwt_secret', { sub: '1' })), 'my_jwt_secret');
});

test('finds decorated secrets with a number or year tail (super_secret_key_123, my-jwt-key2024)', () => {
  assert.equal(crackHmac(hs256('super_secret_key_123', { id: 1 })), 'super_secret_key_123');
  assert.equal(crackHmac(hs256('my-jwt-key2024', { id: 1 })), 'my-jwt-key2024');
  assert.equal(crackHmac(hs256('super_secret_key_124', { id: 1 })), undefined);
});

test('finds secret phrases generated from three slots, with the API title words as openings', () => {
  const phrases = secretPhrases(['gift lists', 'gift']);
  for (const secret of [
    'super_secret_key_dont_share',
    'my-jwt-secret-change-me',
    'yourSecretKeyGoesHere',
    'this.is.my.signing.key',
    'dev_secret_key_for_development',
    'gift-lists-jwt-secret-2025',
    'GiftSecretKeyDontShare',
  ])
    assert.equal(crackHmac(hs256(secret, { id: 1 }), phrases), secret);
  // Not a phrase of the slots: a word out of place, an unknown closing.
  assert.equal(crackHmac(hs256('super_secret_key_dont_share_it_ever', { id: 1 }), phrases), undefined);
  assert.ok(phrases.length < 60_000, `${phrases.length} phrases`);
});

test('finds decorated secrets written in Pascal or camel case (SuperSecret, jwtSecretKey)', () => {
  assert.equal(crackHmac(hs256('SuperSecret', { id: 1 })), 'SuperSecret');
  assert.equal(crackHmac(hs256('superSecret', { id: 1 })), 'superSecret');
  assert.equal(crackHmac(hs256('MyJwtSecret', { id: 1 })), 'MyJwtSecret');
  assert.equal(crackHmac(hs256('JwtSecretKey', { id: 1 })), 'JwtSecretKey');
  assert.equal(crackHmac(hs256('SuperSecretX', { id: 1 })), undefined);
});

test("finds a secret made of the API's own words only when given those words", () => {
  const token = hs256('bookstore-secret-key', { sub: '1' });
  assert.equal(crackHmac(token), undefined);
  assert.equal(crackHmac(token, secretsFromWords(['Bookstore'])), 'bookstore-secret-key');
});

/** A document of POST operations with JSON bodies of `fields` (all strings, `email` an e-mail) and `codes`. */
function postsDoc(ops: Record<string, { fields: Record<string, object>; codes: Record<string, object> }>) {
  const paths: Record<string, object> = {};
  for (const [path, { fields, codes }] of Object.entries(ops))
    paths[path] = {
      post: {
        requestBody: {
          content: { 'application/json': { schema: { type: 'object', properties: fields } } },
        },
        responses: codes,
      },
    };
  const spec = buildApiDocument('/auth.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 'auth', version: '1' },
    paths,
  });
  return { spec } as unknown as ScanContext;
}

const s = { type: 'string' };
const token = {
  description: 'signed in',
  content: { 'application/json': { schema: { type: 'object', properties: { token: s } } } },
};
const created = {
  description: 'created',
  content: { 'application/json': { schema: { type: 'object', properties: { id: s, username: s } } } },
};

test('a sign-up on an /auth/ path is no login; a NestJS login documented as 201 still is', () => {
  const ctx = postsDoc({
    '/auth/register': { fields: { username: s, email: s, password: s }, codes: { '201': created } },
    '/auth': { fields: { username: s, email: s, password: s }, codes: { '200': created } },
    '/auth/users': { fields: { username: s, password: s }, codes: { '200': created } },
    '/api/signin': { fields: { username: s, password: s, confirm_password: s }, codes: { '200': token } },
    '/auth/login': { fields: { email: s, password: s }, codes: { '201': token } },
    '/api/authenticate': { fields: { username: s, password: s }, codes: { '201': token } },
  });
  const signups = ctx.spec.operations.filter((op) => isSignup(ctx, op)).map((op) => op.path);
  assert.deepEqual(signups, ['/auth/register', '/auth', '/auth/users', '/api/signin']);
  assert.deepEqual(
    documentedLogins(ctx).map((t) => t.flow.path),
    ['/auth/login', '/api/authenticate'],
  );
});

test('an unknown user is well-formed for the login input: e-mail, pattern, length', () => {
  const ctx = postsDoc({
    '/login': {
      fields: { email: { type: 'string', format: 'email' }, password: s },
      codes: { '200': token },
    },
    '/session': {
      fields: { login: { type: 'string', pattern: '^[a-z]{3,10}$' }, password: s },
      codes: { '200': token },
    },
    '/token': {
      fields: { user: { type: 'string', maxLength: 12 }, password: s },
      codes: { '200': token },
    },
  });
  const [mail, patterned, short] = documentedLogins(ctx);
  for (let i = 0; i < 20; i++) {
    assert.match(unknownUser(ctx, mail, 'alice@shop.test'), /^pc-nobody-[0-9a-f]{8}@example\.com$/);
    const name = unknownUser(ctx, patterned, 'alice');
    assert.match(name, /^[a-z]{5}$/);
    assert.notEqual(name, 'alice');
    const cut = unknownUser(ctx, short, 'bob.smith');
    assert.ok(cut.length <= 12 && cut !== 'bob.smith', cut);
  }
  // An e-mail known value makes an e-mail unknown user, whatever the input's name.
  assert.match(unknownUser(ctx, short, 'a@b.io'), /@/);
});

test('altered tokens: one finding per flaw; a wrong or any token taken explains the others', () => {
  const none = ['none', 'None', 'NONE'].map((alg) => ({
    kind: `an unsigned token (alg: ${alg})`,
    flaw: 'unsigned' as const,
  }));
  const kid = [
    { kind: 'a token whose kid points at an empty file', flaw: 'kid' as const },
    { kind: 'a token whose kid is a SQL expression', flaw: 'kid' as const },
  ];
  assert.deepEqual(
    flawsOf([...none, ...kid]).map((g) => [g.key, g.text]),
    [
      ['unsigned', 'an unsigned token (alg: none, None, NONE)'],
      ['kid', 'a token whose kid points at an empty file, a token whose kid is a SQL expression'],
    ],
  );
  const wrong = { kind: 'a token with a wrong signature', flaw: 'signature' as const };
  const all = flawsOf([...none, wrong, ...kid]);
  assert.equal(all.length, 1);
  assert.equal(all[0].key, 'signature');
  assert.equal(all[0].shown, wrong);
  assert.match(
    all[0].text,
    /^a token with a wrong signature: it does not check signatures \(it took an unsigned/,
  );
  const any = flawsOf([wrong, { kind: 'a malformed token', flaw: 'malformed' as const }]);
  assert.deepEqual(
    any.map((g) => g.key),
    ['malformed'],
  );
});

test('reads the request limit an answer announces, in each header spelling', () => {
  const res = (headers: Record<string, string>) =>
    ({
      status: 401,
      headers,
      text: '',
      durationMs: 1,
      sent: { method: 'POST', url: 'http://x/login' },
    }) as never;
  assert.equal(announcedLimit(res({ 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '7' })), 20);
  assert.equal(announcedLimit(res({ 'x-ratelimit-limit-minute': '15' })), 15);
  assert.equal(announcedLimit(res({ ratelimit: 'limit=10, remaining=3, reset=60' })), 10);
  assert.equal(announcedLimit(res({ 'ratelimit-policy': '"login";q=25;w=300' })), 25);
  assert.equal(announcedLimit(res({ 'ratelimit-policy': '100;w=60' })), 100);
  assert.equal(announcedLimit(res({ 'content-type': 'application/json' })), undefined);
});

test('a Basic-secured login path without a body is a login; an OAuth token endpoint with its form is not', () => {
  const spec = buildApiDocument('/basic.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 'basic', version: '1' },
    components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
    security: [{ basic: [] }],
    paths: {
      '/v1/login': { get: { responses: { '200': { description: 'who' } } } },
      '/oauth/token': {
        post: {
          requestBody: {
            content: {
              'application/x-www-form-urlencoded': {
                schema: { type: 'object', properties: { grant_type: { type: 'string' } } },
              },
            },
          },
          responses: { '200': { description: 'a token' } },
        },
      },
      '/v1/jobs': { get: { responses: { '200': { description: 'jobs' } } } },
    },
  });
  const alice = {
    name: 'alice',
    session: {
      name: 'alice',
      headers: { authorization: `Basic ${Buffer.from('alice:pw:1').toString('base64')}` },
      cookies: new Map(),
    },
  };
  const ctx = { spec, identities: [alice] } as unknown as ScanContext;
  const logins = documentedLogins(ctx);
  assert.deepEqual(
    logins.map((t) => `${t.flow.method} ${t.flow.path}`),
    ['GET /v1/login'],
  );
  assert.deepEqual(logins[0].known, { user: 'alice', password: 'pw:1' });
});

test('the offline guessing stops at its time budget and says so; common secrets come first', () => {
  const lists = [commonSecrets(), secretPhrases(['notes']), weakHmacSecrets()];
  const miss = crackHmacWithin(hs256(randomBytes(32), { id: 1 }), lists, 0);
  assert.equal(miss.complete, false);
  assert.equal(miss.secret, undefined);
  const hit = crackHmacWithin(hs256('secret', { id: 1 }), lists, 60_000);
  assert.equal(hit.secret, 'secret');
  assert.ok(hit.tried <= commonSecrets().length, `${hit.tried} tried`);
  const full = crackHmacWithin(hs256(randomBytes(32), { id: 1 }), [['a', 'b', 'a']], 60_000);
  assert.deepEqual(full, { tried: 2, complete: true });
});

test('a camelCase login path is a login whatever its operation id (/api/customerLogin, customerAccess)', () => {
  const spec = buildApiDocument('/camel.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 'camel', version: '1' },
    paths: Object.fromEntries(
      ['/api/customerLogin', '/api/customerInfo'].map((path) => [
        path,
        {
          post: {
            // Declared ids that say nothing of a login: the path alone tells.
            operationId: path === '/api/customerLogin' ? 'customerAccess' : 'customerDetails',
            requestBody: {
              content: {
                'application/json': {
                  schema: { type: 'object', properties: { username: s, password: s } },
                },
              },
            },
            responses: { '200': token },
          },
        },
      ]),
    ),
  });
  const ctx = { spec, identities: [] } as unknown as ScanContext;
  assert.deepEqual(
    documentedLogins(ctx).map((t) => t.flow.path),
    ['/api/customerLogin'],
  );
});

test('a reset answer hands back a password, a code or a link with a token; never a status, a word or what was sent', () => {
  const answer = (json: unknown, text = JSON.stringify(json)) =>
    ({ status: 200, headers: {}, text, json, sent: { method: 'POST', url: '/x', headers: {} } }) as never;
  const sent = ['pcf1@example.com', 'pcf1'];
  const kinds = (json: unknown, current?: string) =>
    handedBack(answer(json), sent, current).map((h) => `${h.kind} ${h.member}`);
  assert.deepEqual(kinds({ ok: true, data: { newPassword: 'Xy7-q0p2' } }), ['password /data/newPassword']);
  assert.deepEqual(kinds({ resetToken: 'a9f03c1e77' }), ['token /resetToken']);
  assert.deepEqual(kinds({ otp: 482913 }), ['token /otp']);
  assert.deepEqual(kinds({ reset_link: 'https://app.example/reset?token=9f8e7d6c5b' }), [
    'token /reset_link',
  ]);
  assert.deepEqual(kinds({ user: { email: 'pcf1@example.com', password: 'Pc-own-9a' } }, 'Pc-own-9a'), [
    'current /user/password',
  ]);
  // A status code, a word, a placeholder, the e-mail sent back: nothing handed.
  assert.deepEqual(kinds({ code: 200, message: 'sent' }), []);
  assert.deepEqual(kinds({ code: 'RESET_SENT', token: 'sent', password: '********' }), []);
  assert.deepEqual(kinds({ email: 'pcf1@example.com', queued: true, expires_in: 900 }), []);
  assert.deepEqual(
    kinds({ message: 'Password reset email sent', reset_link: 'https://app.example/help' }),
    [],
  );
  // A text answer that says the new password.
  assert.deepEqual(
    handedBack(answer(undefined, 'Done. Your new password is: q81-Zz9k'), sent).map((h) => h.value),
    ['q81-Zz9k'],
  );
});
