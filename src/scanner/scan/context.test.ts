import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScanResponse } from './client.ts';
import { isErrorPage, isErrorReport, isRefused, isSuccess, redact } from './context.ts';

test('masks JWTs, secret JSON members and secret assignments in evidence text', () => {
  assert.equal(redact('{"token":"abc","name":"x"}'), '{"token":"[redacted]","name":"x"}');
  assert.equal(redact('{"passwordHash":"5e88"}'), '{"passwordHash":"[redacted]"}');
  assert.equal(redact('JWT_SECRET=secret\nDATABASE_URL=x'), 'JWT_SECRET=[redacted]\nDATABASE_URL=x');
  assert.equal(redact('Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig'), 'Bearer [redacted JWT]');
  assert.equal(redact('{"title":"plain text"}'), '{"title":"plain text"}');
});

const answer = (status: number, text: string, json?: unknown): ScanResponse => ({
  status,
  headers: {},
  text,
  json,
  durationMs: 1,
  sent: { method: 'GET', url: 'http://t/x' },
});

test('a 2xx error page is no success: PHP fatal and parse errors, tracebacks, stack traces, 500 pages', () => {
  const pages = [
    '<br />\n<b>Parse error</b>:  syntax error, unexpected token "}" in <b>/var/www/html/a.php</b> on line <b>4</b><br />',
    '<br />\n<b>Fatal error</b>:  Uncaught PDOException: could not find driver in /app/db.php:3',
    'PHP Fatal error:  Uncaught Error: Call to a member function fetch() on bool in /app/x.php:9',
    'Traceback (most recent call last):\n  File "app.py", line 12, in list\nKeyError: \'id\'',
    "TypeError: Cannot read properties of undefined (reading 'id')\n    at getUser (/srv/app/routes/users.js:41:17)\n    at Layer.handle",
    '<!DOCTYPE html>\n<html><head><title>Error</title></head><body><pre>TypeError: x is not a function<br> &nbsp; &nbsp;at /app/index.js:5:9</pre></body></html>',
    'java.lang.NullPointerException\n\tat com.shop.web.OrderController.get(OrderController.java:57)\n',
    '<html><body><h1>Whitelabel Error Page</h1></body></html>',
    '<html><head><title>500 Internal Server Error</title></head><body></body></html>',
    'Internal Server Error',
  ];
  for (const text of pages) {
    const res = answer(200, text);
    assert.equal(isErrorPage(res), true, text);
    assert.equal(isSuccess(res), false, text);
    // Still a 2xx for the checks that read the status and text themselves.
    assert.equal(isRefused(res), false);
  }
});

test('data is a success: JSON (even about errors), pages that only mention an error, notices before JSON', () => {
  const ok = [
    answer(200, '{"log":"Traceback (most recent call last):"}', {
      log: 'Traceback (most recent call last):',
    }),
    answer(200, '<html><body><h1>Blog</h1><p>How to read a Fatal error in PHP</p></body></html>'),
    answer(200, '<br />\n<b>Deprecated</b>:  x in <b>/a.php</b> on line <b>1</b><br />\n{"id":1}', { id: 1 }),
    answer(201, '{"id":7,"status":"created"}', { id: 7, status: 'created' }),
    answer(200, '{"error":null,"status":"ok"}', { error: null, status: 'ok' }),
    answer(200, '{"success":true,"error":"none"}', { success: true, error: 'none' }),
    answer(200, '{"errors":[],"message":"saved"}', { errors: [], message: 'saved' }),
    answer(200, '{"data":{"id":1},"errors":[{"message":"partial"}]}', {
      data: { id: 1 },
      errors: [{ message: 'partial' }],
    }),
  ];
  for (const res of ok) assert.equal(isSuccess(res), true, res.text);
  assert.equal(isSuccess(answer(404, '{}', {})), false);
  assert.equal(isSuccess(undefined), false);
});

test('a 2xx that only reports an error is no success', () => {
  for (const json of [
    { error: 'Bad token' },
    { error: 'Bad token', code: 401 },
    { status: 'error', error: { reason: 'expired' } },
    { errors: ['not allowed'] },
    { success: false, error: true },
    { success: false, message: 'Invalid token' },
    { ok: false },
    { status: 'fail', message: 'not yours' },
    { code: 401, msg: 'token expired' },
    { status: 403, detail: 'Forbidden' },
  ]) {
    assert.equal(isErrorReport(json), true, JSON.stringify(json));
    assert.equal(isSuccess(answer(200, JSON.stringify(json), json)), false);
  }
  assert.equal(isErrorReport({ error: 'x', user: 'alice' }), false);
  for (const json of [
    { status: 'ok', message: 'saved' },
    { status: 200, message: 'done' },
    { code: 'E42', message: 'queued' },
    { success: true, message: 'Logged out' },
    { message: 'Unauthorized' }, // a message alone says nothing sure; the checks read its words
  ])
    assert.equal(isErrorReport(json), false, JSON.stringify(json));
  assert.equal(isErrorReport([{ error: 'x' }]), false);
});
