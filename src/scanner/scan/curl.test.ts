import assert from 'node:assert/strict';
import { test } from 'node:test';
import { curlFor, shellQuote } from './curl.ts';

test("the identity's token and cookies are named, never copied, into the curl line", () => {
  const line = curlFor({
    method: 'GET',
    url: 'http://127.0.0.1:8080/v2/notes/7',
    headers: {
      authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl',
      cookie: 'sid=s3cr3t-session',
      'x-tenant': 'acme',
      'user-agent': 'portcullis-scan',
    },
    credentials: ['authorization', 'cookie'],
  });
  assert.equal(
    line,
    "curl 'http://127.0.0.1:8080/v2/notes/7' -H 'Authorization: Bearer $TOKEN' -H 'Cookie: $COOKIE' -H 'X-Tenant: acme'",
  );
});

test('a custom credential header from the identity is masked, and passwords in the body too', () => {
  const line = curlFor({
    method: 'POST',
    url: 'http://h/login',
    headers: { 'x-session': 'abc123', 'content-type': 'application/json' },
    credentials: ['x-session'],
    body: '{"username":"alice","password":"alice-pass-1"}',
  });
  assert.ok(line.includes("-H 'X-Session: $CREDENTIAL'"), line);
  assert.ok(line.includes(`--data-raw '{"username":"alice","password":"***"}'`), line);
  assert.ok(!line.includes('alice-pass-1'));
  assert.ok(line.startsWith("curl -X POST 'http://h/login'"));
});

test('form-encoded secrets are masked and single quotes survive the shell', () => {
  const line = curlFor({
    method: 'POST',
    url: 'http://h/token',
    headers: {},
    body: "grant_type=password&username=o'brien&password=hunter2",
  });
  assert.ok(!line.includes('hunter2'), line);
  assert.equal(shellQuote("o'brien"), `'o'\\''brien'`);
});
