import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { ApiDocument } from '../../core/api-document.ts';
import { afterPhpNotices, createScanClient, headerSpellings, jsonBody, titleCase } from './client.ts';
import { curlFor } from './curl.ts';

const HTML_NOTICE =
  '<br />\n<b>Deprecated</b>:  Creation of dynamic property Db::$conn is deprecated in <b>/var/www/html/db.php</b> on line <b>9</b><br />\n';
const PLAIN_NOTICE = '\nWarning: Undefined array key "page" in /srv/app/list.php on line 31\n';
const XDEBUG =
  "<br />\n<font size='1'><table class='xdebug-error xe-notice' dir='ltr'>\n<tr><th>( ! ) Notice: Undefined index: q in /app/x.php on line <i>4</i></th></tr>\n</table></font>\n";

test('JSON after leading PHP notices (HTML, plain, Xdebug, several) is parsed; the text is not changed', () => {
  assert.deepEqual(jsonBody(`${HTML_NOTICE}{"error":"Bad token"}`, 'text/html; charset=UTF-8'), {
    error: 'Bad token',
  });
  assert.deepEqual(jsonBody(`${HTML_NOTICE}{"id":1}`, 'application/json'), { id: 1 });
  assert.deepEqual(jsonBody(`${PLAIN_NOTICE}[1,2]`, 'text/html'), [1, 2]);
  assert.deepEqual(jsonBody(`${HTML_NOTICE}${PLAIN_NOTICE}${HTML_NOTICE}{"a":"b"}`, 'text/html'), { a: 'b' });
  assert.deepEqual(jsonBody(`${XDEBUG}{"a":1}`, 'text/html'), { a: 1 });
  assert.equal(afterPhpNotices(`${HTML_NOTICE}{"a":1}`), '{"a":1}');
});

test('an object or array is JSON whatever the content type, after byte-order marks or an XSSI guard', () => {
  assert.deepEqual(jsonBody('{"a":1}', 'text/html; charset=UTF-8'), { a: 1 }); // PHP without header()
  assert.deepEqual(jsonBody('\uFEFF\uFEFF[1]', ''), [1]);
  assert.deepEqual(jsonBody(')]}\',\n{"a":1}', 'application/json'), { a: 1 });
  assert.deepEqual(jsonBody('while(1);[2]', 'text/javascript'), [2]);
  assert.deepEqual(jsonBody(`${HTML_NOTICE}\uFEFF{"a":2}`, 'text/html'), { a: 2 });
});

test('JSON before a PHP notice, warning or fatal error printed after it', () => {
  assert.deepEqual(jsonBody(`{"id":1}${HTML_NOTICE}`, 'application/json'), { id: 1 });
  assert.deepEqual(jsonBody(`[1]${PLAIN_NOTICE}`, 'text/html'), [1]);
  assert.deepEqual(jsonBody(`${HTML_NOTICE}{"id":2}${XDEBUG}`, 'text/html'), { id: 2 });
  const fatal =
    '<br />\n<b>Fatal error</b>:  Allowed memory size exhausted in <b>/a.php</b> on line <b>3</b><br />';
  assert.deepEqual(jsonBody(`{"id":3}\n${fatal}`, 'application/json'), { id: 3 });
  // A cut JSON before it is none; a notice's words inside a JSON string do not cut it.
  assert.equal(jsonBody(`{"id":${HTML_NOTICE}`, 'application/json'), undefined);
  assert.deepEqual(jsonBody('{"html":"<br /><b>Warning</b>: x"}', 'application/json'), {
    html: '<br /><b>Warning</b>: x',
  });
});

test('no JSON where none is: a page, a cut body, text after the notices that is no JSON', () => {
  assert.deepEqual(jsonBody('{"a":1}', 'application/json'), { a: 1 });
  assert.equal(jsonBody('<html>{"a":1}</html>', 'text/html'), undefined);
  assert.equal(jsonBody('{"a":1} and more', 'text/plain'), undefined);
  // A bare string or number is JSON only when the content type says so.
  assert.equal(jsonBody('42', 'text/plain'), undefined);
  assert.equal(jsonBody('42', 'application/json'), 42);
  assert.equal(jsonBody(`${HTML_NOTICE}<html><body>Hello</body></html>`, 'text/html'), undefined);
  assert.equal(jsonBody(`${HTML_NOTICE}"text"`, 'text/html'), undefined);
  assert.equal(jsonBody(`${HTML_NOTICE}{"a":`, 'text/html'), undefined);
  // A fatal error stops the script: it is no notice before an answer.
  const fatal =
    '<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function f() in <b>/app/a.php</b> on line <b>3</b><br />\n{"a":1}';
  assert.equal(jsonBody(fatal, 'text/html'), undefined);
  // A notice whose line does not end with its line number is not taken for one.
  assert.equal(jsonBody('Warning: the stock is low\n{"a":1}', 'text/plain'), undefined);
  assert.equal(afterPhpNotices('{"a":1}'), undefined);
  assert.equal(jsonBody('', 'application/json'), undefined);
});

test('notices are looked for within bounds: a long run of them is not followed to its end', () => {
  const many = HTML_NOTICE.repeat(25);
  assert.equal(jsonBody(`${many}{"a":1}`, 'text/html'), undefined);
  const spaces = ' '.repeat(70_000);
  assert.equal(afterPhpNotices(`${spaces}${HTML_NOTICE}{"a":1}`), undefined);
});

test('header names: Title-Case by default, the configured or documented spelling where it has a capital', () => {
  assert.equal(titleCase('authorization'), 'Authorization');
  assert.equal(titleCase('x-api-key'), 'X-Api-Key');
  assert.equal(titleCase('CONTENT-TYPE'), 'Content-Type');
  const spec = {
    operations: [
      {
        parameters: [
          { name: 'X-Tenant-ID', in: 'header' },
          { name: 'page', in: 'query' },
        ],
      },
      { parameters: [{ name: 'x-trace', in: 'header' }] },
    ],
    securitySchemes: {
      key: { type: 'apiKey', raw: { type: 'apiKey', in: 'header', name: 'X-API-KEY' } },
      q: { type: 'apiKey', raw: { type: 'apiKey', in: 'query', name: 'ApiKey' } },
    },
  } as unknown as ApiDocument;
  assert.deepEqual(
    headerSpellings(spec, {
      headers: { 'X-Env': 'test' },
      identities: [
        { name: 'a', headers: { 'X-Api-Key': 'k1', accept: 'x' } },
        { name: 'b', login: { path: '/l', body: {}, header: 'X-Auth' } },
      ],
    }),
    // The identity's X-Api-Key comes before the document's X-API-KEY; lower-case spellings say nothing.
    ['X-Env', 'X-Api-Key', 'X-Auth', 'X-Tenant-ID'],
  );
});

test('headers go out spelled as given or Title-Case, and the curl line shows them so', async () => {
  let raw: string[] = [];
  const server = createServer((req, res) => {
    raw = req.rawHeaders;
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`${HTML_NOTICE}{"ok":true}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = createScanClient({
    target: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    concurrency: 1,
    ratePerSecond: 100,
    timeoutMs: 5000,
    sharedHeaders: { 'x-env': 'test' },
    headerNames: ['X-API-KEY'],
  });
  try {
    const session = {
      name: 'a',
      headers: { authorization: 'Bearer t0k3n', 'x-api-key': 'k1' },
      cookies: new Map([['sid', 'abc']]),
    };
    const res = await client.send(
      { method: 'POST', path: '/x', headers: { 'X-Request-ID': 'r1' }, body: { a: 1 } },
      { session },
    );
    const names = raw.filter((_, i) => i % 2 === 0);
    for (const n of [
      'Authorization',
      'X-API-KEY',
      'X-Env',
      'X-Request-ID',
      'Cookie',
      'Content-Type',
      'User-Agent',
    ])
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    assert.ok(!names.includes('authorization'));
    assert.deepEqual(res.json, { ok: true });
    assert.ok(res.text.startsWith('<br />'), 'the text kept as it came');
    const curl = curlFor(res.sent);
    assert.match(curl, /-H 'Authorization: Bearer '"\$TOKEN"/);
    assert.match(curl, /-H 'X-API-KEY: '"\$CREDENTIAL"/);
    assert.match(curl, /-H 'X-Request-ID: r1'/);
    assert.match(curl, /-H 'Cookie: '"\$COOKIE"/);
  } finally {
    await client.close();
    server.close();
  }
});
