import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A request body learnt from PHP's notices. A PHP-flavoured pinboard: form sign-in at `/signin.php` sets a random
 * `PINSESS` cookie; `GET /pins.php` lists the caller's pins; `POST /pins.php` adds one, and the document gives no
 * body for it. Without the field PHP answers 200, text/html: `<b>Notice</b>: Undefined index: caption in
 * /var/www/html/pins.php on line 6` (PHP 8: `Warning: Undefined array key "caption"`) then `{"ok":false}`. The
 * vulnerable twin pastes `caption` into its SQL text (a lone quote: a `SQLite3::exec()` warning, same status); the
 * fixed twin binds it. The body is inferred from the notice, so the injection is found on the vulnerable twin only.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'pinboard', version: '1' },
  components: { securitySchemes: { c: { type: 'apiKey', in: 'cookie', name: 'PINSESS' } } },
  security: [{ c: [] }],
  paths: {
    '/signin.php': {
      post: {
        operationId: 'signin',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: { type: 'object', properties: { user: { type: 'string' }, pass: { type: 'string' } } },
            },
          },
        },
        responses: { '200': { description: 'signed in' } },
      },
    },
    '/pins.php': {
      get: { operationId: 'listPins', responses: { '200': { description: 'my pins' } } },
      post: { operationId: 'addPin', responses: { '200': { description: 'added' } } },
    },
  },
};
const PEOPLE = [
  { user: 'nadia', pass: 'Nadia-pins-31' },
  { user: 'tomas', pass: 'Tomas-pins-47' },
];

function startPinboard(fixed: boolean, php8: boolean): Promise<TestServer> {
  const sessions = new Map<string, string>();
  const pins: { id: number; owner: string; caption: string }[] = [
    { id: 1, owner: 'nadia', caption: 'harbour at dusk' },
    { id: 2, owner: 'tomas', caption: 'old mill' },
  ];
  const html = (res: import('node:http').ServerResponse, text: string) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=UTF-8' });
    res.end(text);
  };
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const form = new URLSearchParams(req.method === 'POST' ? await readText(req) : '');
    if (path === '/signin.php' && req.method === 'POST') {
      const p = PEOPLE.find((x) => x.user === form.get('user') && x.pass === form.get('pass'));
      if (!p) return html(res, '{"ok":false,"error":"wrong user or password"}');
      const sid = randomBytes(16).toString('hex');
      if (sessions.size < 500) sessions.set(sid, p.user);
      res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': `PINSESS=${sid}; path=/; HttpOnly` });
      return res.end('{"ok":true}');
    }
    const me = sessions.get(/(?:^|;\s*)PINSESS=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1] ?? '');
    if (!me) return html(res, '{"ok":false,"error":"not signed in"}');
    if (path === '/pins.php' && req.method === 'GET')
      return html(res, JSON.stringify({ pins: pins.filter((p) => p.owner === me) }));
    if (path === '/pins.php' && req.method === 'POST') {
      const caption = form.get('caption');
      if (caption === null)
        return html(
          res,
          php8
            ? '<br />\n<b>Warning</b>:  Undefined array key "caption" in <b>/var/www/html/pins.php</b> on line <b>6</b><br />\n{"ok":false}'
            : '<br />\n<b>Notice</b>:  Undefined index: caption in <b>/var/www/html/pins.php</b> on line <b>6</b><br />\n{"ok":false}',
        );
      if (caption.length > 300) return html(res, '{"ok":false,"error":"too long"}');
      // The flaw: `INSERT INTO pins(owner, caption) VALUES('<me>', '<caption>')`.
      if (!fixed && caption.replaceAll("''", '').includes("'"))
        return html(
          res,
          `<br />\n<b>Warning</b>:  SQLite3::exec(): near "${caption.slice(0, 20)}": syntax error in <b>/var/www/html/pins.php</b> on line <b>9</b><br />\n{"ok":false}`,
        );
      if (pins.length > 400) return html(res, '{"ok":false,"error":"full"}');
      const pin = {
        id: pins.length + 1,
        owner: me,
        caption: fixed ? caption : caption.replaceAll("''", "'"),
      };
      pins.push(pin);
      return html(res, JSON.stringify({ ok: true, id: pin.id }));
    }
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('Not Found');
  });
}

for (const php8 of [false, true]) {
  describe(`a POST body learnt from PHP ${php8 ? '8 warnings' : '7 notices'} of a missing member`, () => {
    const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
    before(async () => {
      for (const kind of ['vulnerable', 'fixed'] as const) {
        const api = await startPinboard(kind === 'fixed', php8);
        try {
          runs[kind] = await scanDocument(SPEC, api.url, {
            identities: PEOPLE.map((p) => ({
              name: p.user,
              login: { path: '/signin.php', encoding: 'form' as const, body: { user: p.user, pass: p.pass } },
            })),
            checks: ['API8'],
            ratePerSecond: 400,
            timeDelayMs: 300,
          });
        } finally {
          await api.close();
        }
      }
    });

    test('the SQL injection in caption is found on the vulnerable twin only', () => {
      const sql = (r: ScanResult) =>
        r.findings
          .filter((f) => f.rule.id === 'scan/api8-sql-injection')
          .map((f) => `${f.operation?.operationId} ${/caption/.test(f.message) ? 'caption' : f.message}`);
      assert.deepEqual(sql(runs.vulnerable), ['addPin caption']);
      assert.deepEqual(sql(runs.fixed), []);
    });
  });
}
