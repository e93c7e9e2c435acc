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
    `curl 'http://127.0.0.1:8080/v2/notes/7' -H 'Authorization: Bearer '"$TOKEN" -H 'Cookie: '"$COOKIE" -H 'X-Tenant: acme'`,
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
  assert.ok(line.includes(`-H 'X-Session: '"$CREDENTIAL"`), line);
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

test('a multipart body becomes form arguments, its secret fields masked and its files named', () => {
  const boundary = '----portcullisabc';
  const body = [
    `--${boundary}\r\nContent-Disposition: form-data; name="username"\r\n\r\nalice\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\nalice-pass-1\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="api_key"\r\n\r\nk-0123456789\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="Authorization"\r\n\r\nBasic YWxpY2U6cHc=\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="meta"\r\n\r\n{"refresh_token":"r-secret-9","note":"@me"}\r\n`,
    `--${boundary}\r\nContent-Disposition: form-data; name="avatar"; filename="portcullis-scan.png"\r\nContent-Type: image/png\r\n\r\n<67 bytes>\r\n`,
    `--${boundary}--\r\n`,
  ].join('');
  const line = curlFor({
    method: 'POST',
    url: 'http://h/profile',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
  });
  for (const secret of ['alice-pass-1', 'k-0123456789', 'YWxpY2U6cHc', 'r-secret-9'])
    assert.ok(!line.includes(secret), `${secret} in ${line}`);
  assert.equal(
    line,
    "curl -X POST 'http://h/profile' --form-string 'username=alice' --form-string 'password=***' " +
      "--form-string 'api_key=***' --form-string 'Authorization=***' " +
      `--form-string 'meta={"refresh_token":"***","note":"@me"}' -F 'avatar=@portcullis-scan.png;type=image/png'`,
  );
});

test('form-encoded and query secrets are masked under any spelling, the other fields kept', () => {
  const line = curlFor({
    method: 'POST',
    url: 'http://h/session?apikey=q-secret-1&page=2',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'user%5Bpassword%5D=p-secret-2&client_secret=c-secret-3&authorization=Basic%20x-secret-4&pwd=w-secret-5&name=bob',
  });
  for (const secret of ['q-secret-1', 'p-secret-2', 'c-secret-3', 'x-secret-4', 'w-secret-5'])
    assert.ok(!line.includes(secret), `${secret} in ${line}`);
  assert.ok(line.includes('page=2'), line);
  assert.ok(line.includes('&name=bob'), line);
  assert.ok(line.includes('user%5Bpassword%5D=***'), line);
});

test('a JSON secret with an escaped quote inside is masked whole', () => {
  const line = curlFor({
    method: 'POST',
    url: 'http://h/login',
    headers: { 'content-type': 'application/json' },
    body: '{"user":"a","password":"pa\\"ss-tail","access_token":"t-1"}',
  });
  assert.ok(!line.includes('ss-tail') && !line.includes('t-1'), line);
  assert.ok(line.includes('"password":"***"'), line);
});

test('a bearer identity: the line carries its Authorization header masked, with the query as sent', () => {
  const line = curlFor({
    method: 'GET',
    url: 'http://h/api/users/1?fields=all',
    headers: { 'user-agent': 'portcullis-scan', authorization: 'Bearer opaque-0123456789abcdef' },
    credentials: ['authorization'],
  });
  assert.equal(line, `curl 'http://h/api/users/1?fields=all' -H 'Authorization: Bearer '"$TOKEN"`);
  assert.ok(!line.includes('opaque-0123456789abcdef'));
});

test("a cookie identity: its jar's cookies go as one masked Cookie header, whatever their names", () => {
  const line = curlFor({
    method: 'GET',
    url: 'http://h/passwords',
    headers: { cookie: 'token="usuario2?True"; PHPSESSID=abc123' },
    credentials: ['cookie'],
  });
  assert.equal(line, `curl 'http://h/passwords' -H 'Cookie: '"$COOKIE"`);
});

test('an injection payload goes out exactly as sent, in the query and in the body, shell-quoted', () => {
  const query = curlFor({
    method: 'GET',
    url: "http://h/password?app_name=x'%20OR%20'1'%3D'1",
    headers: {},
  });
  // The query as the client put it on the wire: quotes percent-encoded, as undici sends them.
  assert.equal(query, "curl 'http://h/password?app_name=x%27%20OR%20%271%27%3D%271'");
  const payload = `{"username":"admin' OR '1'='1' --","note":"a\\"b"}`;
  const body = curlFor({
    method: 'POST',
    url: 'http://h/api/auth/login',
    headers: { 'content-type': 'application/json' },
    body: payload,
  });
  assert.equal(
    body,
    `curl -X POST 'http://h/api/auth/login' -H 'Content-Type: application/json' --data-raw ${shellQuote(payload)}`,
  );
  // What the shell hands curl is the payload itself.
  assert.equal(shellQuote(payload).slice(1, -1).replace(/'\\''/g, "'"), payload);
});
