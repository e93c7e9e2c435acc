import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crackHmac } from './api2-authentication.ts';
import { secretsFromWords, weakHmacSecrets } from './weak-secrets.ts';

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
