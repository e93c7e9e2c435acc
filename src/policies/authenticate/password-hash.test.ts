import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  formatPasswordHash,
  hashPassword,
  PasswordHashError,
  parsePasswordHash,
  passwordBytes,
  verifyPassword,
} from './password-hash.ts';

const FAST = { N: 2 ** 14, r: 8, p: 1 };

describe('scrypt password hashes', () => {
  test('hashes to scrypt$N$r$p$salt$key with a fresh salt and verifies only the same password', async () => {
    const a = await hashPassword('correct horse', FAST);
    const b = await hashPassword('correct horse', FAST);
    assert.match(a, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b, 'each hash has its own salt');
    const parsed = parsePasswordHash(a);
    assert.equal(formatPasswordHash(parsed), a);
    assert.equal(await verifyPassword(passwordBytes('correct horse'), parsed), true);
    assert.equal(await verifyPassword(passwordBytes('correct horse '), parsed), false);
    assert.equal(a.includes('correct'), false);
  });

  test('uses the default cost N=2^15, r=8, p=3 when none is given', async () => {
    assert.match(await hashPassword('x'), /^scrypt\$32768\$8\$3\$/);
  });

  test('compares the NFC form, so composed and decomposed accents are one password', async () => {
    const h = parsePasswordHash(await hashPassword('caf\u00e9', FAST));
    assert.equal(await verifyPassword(passwordBytes('cafe\u0301'), h), true);
  });

  test('refuses stored hashes that are malformed or outside the cost bounds, naming the problem', () => {
    const good = `scrypt$16384$8$1$${Buffer.alloc(16, 1).toString('base64url')}$${Buffer.alloc(32, 2).toString('base64url')}`;
    assert.equal(parsePasswordHash(good).N, 16384);
    const cases: Array<[string, RegExp]> = [
      ['sha256:abc', /expected scrypt/],
      [good.replace('$16384$', '$1024$'), /N must be a power of two from 16384/],
      [good.replace('$16384$', '$20000$'), /N must be a power of two/],
      [good.replace('$8$1$', '$1$1$'), /r must be from 8/],
      [good.replace('$8$1$', '$8$99$'), /p must be from 1 to 16/],
      [good.replace('scrypt$16384$8$', 'scrypt$1048576$32$'), /MiB per verification/],
      [
        good.replace('$AQEBAQEBAQEBAQEBAQEBAQ$', '$AQEBAQEBAQEBAQEBAQEBAR$'),
        /salt and key must be base64url/,
      ],
      [`${good.slice(0, -43)}${Buffer.alloc(65).toString('base64url')}`, /key must have 16 to 64 bytes/],
    ];
    for (const [text, message] of cases) {
      assert.throws(
        () => parsePasswordHash(text),
        (err: Error) => err instanceof PasswordHashError && message.test(err.message),
        text,
      );
    }
  });

  test('refuses hashing with parameters outside the bounds', async () => {
    await assert.rejects(hashPassword('x', { N: 1024, r: 8, p: 1 }), PasswordHashError);
  });
});
