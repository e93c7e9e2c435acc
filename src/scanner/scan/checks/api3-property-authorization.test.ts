import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  changedValue,
  fieldNames,
  passwordDigest,
  sensitiveExtra,
  setBackFailed,
  storedAs,
  withoutEcho,
} from './api3-property-authorization.ts';
import { passwordForms } from './token-contents.ts';

describe('what the mass-assignment probe reads in an answer', () => {
  test('drops the objects that echo the request, keeps the stored record', () => {
    const sent = { name: 'shop', is_admin: true, portcullisProbe: 'pcma-1' };
    const answer = {
      merchant: { id: 7, name: 'shop', is_admin: false },
      debug: { raw_request: { name: 'shop', is_admin: true, portcullisProbe: 'pcma-1' } },
    };
    assert.deepEqual(withoutEcho(answer, sent), {
      merchant: { id: 7, name: 'shop', is_admin: false },
      debug: { raw_request: null },
    });
    // Without the probe field (one field at a time), an exact copy of the body is an echo too.
    const single = { book_title: 'x', approved: true };
    assert.deepEqual(withoutEcho({ loan: { id: 1, ...single }, request: single }, single), {
      loan: { id: 1, book_title: 'x', approved: true },
      request: null,
    });
  });

  test('lists the property names an answer shows, at any depth', () => {
    assert.deepEqual(
      [
        ...fieldNames({ status: 'ok', debug_data: { is_admin: false, balance: 1 }, items: [{ id: 1 }] }),
      ].sort(),
      ['balance', 'debug_data', 'id', 'is_admin', 'items', 'status'],
    );
  });
});

describe('what the report says of a record the probe could not set back', () => {
  test('names the identity, each field and its former value (cut at 80), and asks for a reset by hand', () => {
    const long = 'x'.repeat(200);
    const { note, warning } = setBackFailed(
      'alice',
      { method: 'PATCH', path: '/api/me' },
      ['display_name', 'bio'],
      { display_name: 'Alice', bio: long, id: 1 },
    );
    assert.equal(
      warning,
      `alice's display_name could not be set back to 'Alice'; alice's bio could not be set back to '${'x'.repeat(80)}' after the API3 probe of PATCH /api/me: reset it on the target by hand`,
    );
    assert.equal(
      note,
      `alice's record could not be set back after the probe: display_name was 'Alice', bio was '${'x'.repeat(80)}'`,
    );
  });

  test('never shows a password-like or secret field’s value', () => {
    const { note, warning } = setBackFailed(
      'bob',
      { method: 'POST', path: '/profile' },
      ['password', 'api_key'],
      {
        password: 'hunter2-secret',
        api_key: 'k-123456',
      },
    );
    for (const text of [note, warning]) {
      assert.ok(!/hunter2|k-123456/.test(text), text);
      assert.match(text, /its former value/);
    }
    assert.match(warning, /^bob's password could not be set back to its former value; bob's api_key /);
  });
});

describe('password digests in answers', () => {
  const known = {
    login: new Set(['Ada-notes-4417']),
    forms: passwordForms(['Ada-notes-4417']),
    shared: new Set<string>(),
  };
  test('the unsalted MD5, SHA-1, SHA-256 of a known password, never the password itself or another digest', () => {
    for (const [alg, name] of [
      ['md5', 'MD5'],
      ['sha1', 'SHA-1'],
      ['sha256', 'SHA-256'],
    ] as const) {
      const hex = createHash(alg).update('Ada-notes-4417').digest('hex');
      assert.equal(passwordDigest(hex, known), name);
      assert.equal(passwordDigest(hex.toUpperCase(), known), name);
    }
    assert.equal(passwordDigest('Ada-notes-4417', known), undefined);
    assert.equal(passwordDigest(createHash('md5').update('other').digest('hex'), known), undefined);
  });
});

describe('values read back after a probe', () => {
  test('a number as the database formats it, a flag as 1', () => {
    assert.equal(storedAs('999999.00', 999999), true);
    assert.equal(storedAs('999999', 999999), true);
    assert.equal(storedAs(999999, 999999), true);
    assert.equal(storedAs('75.00', 999999), false);
    assert.equal(storedAs('1', true), true);
    assert.equal(storedAs('admin', 'admin'), true);
    assert.equal(storedAs('member', 'admin'), false);
  });
  test('a number given as text is written as a number', () => {
    assert.equal(changedValue('75.00', 'pcma-x'), 424242);
    assert.equal(changedValue('Bob B', 'pcma-x'), 'pcma-x');
  });
});

describe('undeclared fields judged by their value', () => {
  const extra = (pointer: string, value: unknown) => ({ pointer, value });
  test('a flag named like a secret says whether one exists, not what it is', () => {
    for (const [k, v] of [
      ['secretsConfigured', true],
      ['hasPassword', false],
      ['apiKeySet', true],
      ['smtp_password', 'configured'],
      ['api_key', 'not set'],
    ] as const)
      assert.equal(sensitiveExtra(extra(`/${k}`, v), false), false, k);
  });
  test('a member named like a token that says what kind or how long holds no credential', () => {
    for (const [k, v] of [
      ['token_type', 'bearer'],
      ['token_expires_in', 300],
      ['session_started', '2026-12-07T20:00:00Z'],
      ['sessionTimeout', 900],
      ['session', 'active'],
    ] as const)
      assert.equal(sensitiveExtra(extra(`/${k}`, v), false), false, k);
    assert.equal(sensitiveExtra(extra('/refresh_token', 'rt-9f8e7d6c5b4a'), false), true);
    assert.equal(sensitiveExtra(extra('/sessionId', 'q7Vx2mKp9rT4wYz1'), false), true);
  });
  test("the caller's own role and privilege flags in its own record are its own; another's are telling", () => {
    assert.equal(sensitiveExtra(extra('/role', 'member'), true), false);
    assert.equal(sensitiveExtra(extra('/is_admin', false), true), false);
    assert.equal(sensitiveExtra(extra('/is_admin', false), false), true);
    assert.equal(sensitiveExtra(extra('/internal_notes', 'vip'), true), true);
  });
  test('a secret value and privilege flags stay telling', () => {
    assert.equal(sensitiveExtra(extra('/signingSecret', 'f3a9c2d1e8b7'), false), true);
    assert.equal(sensitiveExtra(extra('/is_admin', true), false), true);
    assert.equal(sensitiveExtra(extra('/permissions', true), false), true);
  });
  test("the caller's own anti-forgery token, or a token the same answer sets as its cookie, is handed to it", () => {
    const csrf = extra('/csrfToken', 'q7Vx2mKp9rT4wYz1');
    assert.equal(sensitiveExtra(csrf, false), false);
    assert.equal(
      sensitiveExtra(extra('/token', 'q7Vx2mKp9rT4wYz1'), false, undefined, { route: '/api/xsrf' }),
      false,
    );
    const set = {
      setCookie: 'sid=abcdefgh12345678; Path=/; HttpOnly, theme=dark; Path=/',
      route: '/api/start',
    };
    assert.equal(sensitiveExtra(extra('/session_token', 'abcdefgh12345678'), false, undefined, set), false);
    // Another value than the cookie's, at a route that names no anti-forgery token: still reported.
    assert.equal(sensitiveExtra(extra('/session_token', 'zzzzzzzz99999999'), false, undefined, set), true);
  });
});
