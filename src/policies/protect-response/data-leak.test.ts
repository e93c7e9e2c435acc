import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLeakScanner, DETECTORS, passesLuhn, REDACTED } from './data-leak.ts';

const scanner = createLeakScanner(DETECTORS);

describe('data-leak detectors', () => {
  const positives: Array<[string, string]> = [
    [
      'privateKey',
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----',
    ],
    ['privateKey', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA'],
    ['jwt', 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXBhcnQ'],
    ['apiKey', 'aws AKIAIOSFODNN7EXAMPLE here'],
    ['apiKey', 'sk_live_51H8xYzABCDEFGHIJKLMNOP'],
    ['apiKey', 'ghp_0123456789abcdefghijABCDEFGHIJ012345'],
    ['apiKey', 'xoxb-1234567890-abcdefghij'],
    ['cardNumber', 'paid with 4111-1111-1111-1111 yesterday'],
    ['cardNumber', '5500 0000 0000 0004'],
    ['email', 'contact: jane.doe+news@mail.example.co.uk'],
  ];
  for (const [kind, text] of positives) {
    test(`finds ${kind} in ${JSON.stringify(text.slice(0, 32))}`, () => {
      const r = scanner.scan(text);
      assert.ok(r, 'nothing found');
      assert.ok(r.found.includes(kind as never), r.found.join());
      assert.ok(r.masked.includes(REDACTED));
    });
  }

  const negatives = [
    'order 1234 5678 9012 3456 shipped', // fails Luhn
    'phone +1 415 555 0100',
    'eyJ is how base64 of {" starts',
    'the AKIA prefix alone is not a key',
    'user@localhost has no domain',
    'sk_test_51H8xYzABCDEFGHIJKLMNOP',
    'SELECT * FROM users WHERE email = ?',
  ];
  for (const text of negatives) {
    test(`finds nothing in ${JSON.stringify(text)}`, () => assert.equal(scanner.scan(text), undefined));
  }

  test('skips exempt detectors', () => {
    assert.equal(scanner.scan('ann@example.com', new Set(['email'])), undefined);
  });

  test('checks card numbers with Luhn', () => {
    assert.equal(passesLuhn('4111111111111111'), true);
    assert.equal(passesLuhn('4111111111111112'), false);
    assert.equal(passesLuhn('123456789012'), false);
  });

  test('scans a long hostile string in linear time without catastrophic backtracking', () => {
    const hostile = `${'a'.repeat(50_000)}@${'b.'.repeat(20_000)}${'1 '.repeat(20_000)}eyJ${'x'.repeat(20_000)}`;
    const r = scanner.scan(hostile);
    assert.equal(r?.found.includes('jwt') ?? false, false);
  });
});
