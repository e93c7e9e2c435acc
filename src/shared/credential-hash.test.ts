import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { authorizationCredential, credentialHash, presentedCredential } from './credential-hash.ts';

const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);

test('credentialHash is the first 128 bits of SHA-256, the same on every call, however many were seen', () => {
  const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
  assert.equal(credentialHash(token), sha(token));
  assert.equal(credentialHash(token), sha(token));
  // Past the memo's bound, old and new credentials still hash right (evicted entries are recomputed).
  for (let i = 0; i < 10_000; i++) assert.equal(credentialHash(`key-${i}`), sha(`key-${i}`));
  assert.equal(credentialHash(token), sha(token));
  const long = 'x'.repeat(10_000);
  assert.equal(credentialHash(long), sha(long));
  assert.notEqual(credentialHash('a'), credentialHash('b'));
});

test('presentedCredential takes the Authorization value without its scheme (never Basic), else an API-key header', () => {
  assert.equal(presentedCredential({ authorization: 'Bearer abc.def' }), 'abc.def');
  assert.equal(presentedCredential({ authorization: 'DPoP  tok ' }), 'tok');
  assert.equal(presentedCredential({ 'x-api-key': 'k1' }, ['x-api-key']), 'k1');
  assert.equal(presentedCredential({ 'x-api-key': 'k1' }), undefined);
  assert.equal(presentedCredential({}), undefined);
  assert.equal(presentedCredential({ authorization: 'Basic YWxpY2U6c2VjcmV0' }), undefined);
  assert.equal(
    presentedCredential({ authorization: 'basic YWxpY2U6c2VjcmV0', 'x-api-key': 'k1' }, ['x-api-key']),
    'k1',
  );
});

test('authorizationCredential gives back the same string for the same value, and the right one for another', () => {
  const a = `Bearer ${'a'.repeat(800)}`;
  const b = `DPoP ${'b'.repeat(800)} `;
  const first = authorizationCredential(a);
  assert.equal(first, 'a'.repeat(800));
  assert.equal(authorizationCredential(b), 'b'.repeat(800));
  assert.equal(authorizationCredential(`Bearer ${'a'.repeat(800)}`), first);
  assert.equal(authorizationCredential('Bearer'), '');
  assert.equal(presentedCredential({ authorization: a }), first);
});
