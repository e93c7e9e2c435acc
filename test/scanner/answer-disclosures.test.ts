import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A PHP-flavoured notes service under `/v1` (a session key from `POST /v1/sessions {handle, passphrase}`, sent as
 * `Authorization: Bearer`), with what its answers show beside their data:
 *
 * - `GET /v1/diagnostics` (open): the vulnerable twin prints PHP's fatal error page in a 200 (`Fatal error: Uncaught
 *   PDOException ... in /srv/notes/lib/db.php:14`, `#0 /srv/notes/index.php(31): ...`); the fixed one `{"db": "down"}`.
 * - `GET /v1/ping` (open): the vulnerable twin prints a warning with its source path before its JSON, and the JSON
 *   carries the database's refusal naming its user; the fixed one only `{"pong": true}`.
 * - `GET /v1/help/errors` (open, both twins): a documentation page about errors, with a traceback example in a
 *   `<pre>` block. No finding.
 * - `GET /v1/members` (signed in): the vulnerable twin lists each member with `chk`, the unsalted MD5 of the
 *   member's passphrase, and a seeded member's `pw_hash` in crypt(3) SHA-512 form; the fixed one ids and handles.
 * - `GET /v1/forecast` (open): the vulnerable twin relays its upstream's answer with the upstream's `iam_token`;
 *   the fixed one keeps it.
 * - `GET /v1/vault` (signed in, both twins): the caller's own saved passwords, a password vault's purpose. No finding.
 * - `GET /v1` (open, both twins): a landing page with an example sign-in body holding a `password`. No finding.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'notes', version: '1' },
  components: { securitySchemes: { key: { type: 'http', scheme: 'bearer' } } },
  security: [{ key: [] }],
  paths: {
    '/v1': { get: { operationId: 'landing', security: [], responses: { '200': { description: 'about' } } } },
    '/v1/sessions': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { handle: { type: 'string' }, passphrase: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'session' } },
      },
    },
    '/v1/diagnostics': {
      get: { operationId: 'diagnostics', security: [], responses: { '200': { description: 'health' } } },
    },
    '/v1/ping': { get: { operationId: 'ping', security: [], responses: { '200': { description: 'pong' } } } },
    '/v1/help/errors': {
      get: { operationId: 'errorHelp', security: [], responses: { '200': { description: 'a help page' } } },
    },
    '/v1/members': { get: { operationId: 'members', responses: { '200': { description: 'members' } } } },
    '/v1/forecast': {
      get: { operationId: 'forecast', security: [], responses: { '200': { description: 'the weather' } } },
    },
    '/v1/vault': {
      get: { operationId: 'vault', responses: { '200': { description: 'my saved passwords' } } },
    },
  },
};

const MEMBERS = [
  { id: 11, handle: 'ada', passphrase: 'Ada-notes-4417' },
  { id: 12, handle: 'ben', passphrase: 'Ben-notes-9023' },
  { id: 13, handle: 'cyd', passphrase: 'never-given-to-the-scan' },
];
const VAULTS: Record<string, { site: string; login: string; password: string }[]> = {
  ada: [{ site: 'mail.example', login: 'ada@mail.example', password: 'Kq7-mail-ada-2291' }],
  ben: [{ site: 'bank.example', login: 'ben.k', password: 'Zr4-bank-ben-7730' }],
};
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

const FATAL_PAGE =
  '<br />\n<b>Fatal error</b>:  Uncaught PDOException: SQLSTATE[08006] could not connect to server in /srv/notes/lib/db.php:14\nStack trace:\n#0 /srv/notes/index.php(31): Db->connect()\n#1 {main}\n  thrown in <b>/srv/notes/lib/db.php</b> on line <b>14</b><br />\n';
const WARNING =
  '<br />\n<b>Warning</b>:  pg_connect(): Unable to connect in <b>/srv/notes/lib/db.php</b> on line <b>9</b><br />\n';
const HELP_PAGE = `<!doctype html><html><head><title>Errors</title></head><body><h1>Error reference</h1>
<p>When the service fails it answers 500 with an error id. In development a traceback like this one is logged:</p>
<pre>Traceback (most recent call last):
  File "/app/notes/views.py", line 42, in show
KeyError: 'id'</pre><p>Report the error id to support.</p></body></html>`;

function startNotes(fixed: boolean) {
  const sessions = new Map<string, (typeof MEMBERS)[number]>();
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    const html = (body: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=UTF-8', 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    if (req.method === 'POST' && path === '/v1/sessions') {
      const body = await readJson(req);
      const m = MEMBERS.find((x) => x.handle === body?.handle && x.passphrase === body?.passphrase);
      if (!m) return send(401, { error: 'bad handle or passphrase' });
      const key = randomBytes(16).toString('hex');
      sessions.set(key, m);
      return send(200, { session: { key, member: m.id } });
    }
    if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
    if (path === '/v1')
      return send(200, {
        service: 'notes',
        usage: {
          signIn: {
            method: 'POST',
            path: '/v1/sessions',
            body: { handle: 'ada', password: 'n0tes-Example!' },
          },
        },
      });
    if (path === '/v1/diagnostics') return fixed ? send(200, { db: 'down' }) : html(FATAL_PAGE);
    if (path === '/v1/ping') {
      if (fixed) return send(200, { pong: true });
      res.writeHead(200, { 'content-type': 'text/html; charset=UTF-8', 'x-content-type-options': 'nosniff' });
      return res.end(
        `${WARNING}${JSON.stringify({ pong: false, error: 'FATAL:  password authentication failed for user "notes_app"' })}`,
      );
    }
    if (path === '/v1/help/errors') return html(HELP_PAGE);
    if (path === '/v1/forecast')
      return send(200, {
        city: 'Tromso',
        celsius: -4,
        ...(fixed ? {} : { upstream: { provider: 'meteo-internal', iam_token: 'MTEO_IAM_7f3a9c2e41d8b6K' } }),
      });
    const auth = /^Bearer (\w+)$/.exec(String(req.headers.authorization ?? ''));
    const me = auth ? sessions.get(auth[1]) : undefined;
    if (!me) return send(401, { error: 'sign in first' });
    if (path === '/v1/members')
      return send(
        200,
        MEMBERS.map((m) =>
          fixed
            ? { id: m.id, handle: m.handle }
            : {
                id: m.id,
                handle: m.handle,
                chk: md5(m.passphrase),
                ...(m.id === 13
                  ? { pw_hash: '$6$rounds=5000$notessalt$Wq0l5Jm1pX3yT8cUe2QvZr9kLb7nHs4dF6gA1oI0tC.' }
                  : {}),
              },
        ),
      );
    if (path === '/v1/vault') return send(200, { entries: VAULTS[me.handle] ?? [] });
    return send(404, { error: 'no route' });
  });
}

const identities = MEMBERS.slice(0, 2).map((m) => ({
  name: m.handle,
  login: {
    path: '/v1/sessions',
    body: { handle: m.handle, passphrase: m.passphrase },
    tokenPointer: '/session/key',
  },
}));

const findingsOf = (r: ScanResult, rule: string) => r.findings.filter((f) => f.rule.id === `scan/${rule}`);

describe('what answers show beside their data: 2xx error texts, password digests, relayed secrets', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startNotes, {
      identities,
      checks: ['API3', 'API8'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('vulnerable: PHP error texts in 200 answers are verbose errors, the help page is not', () => {
    const verbose = findingsOf(runs.vulnerable, 'api8-verbose-errors');
    const byOp = new Map(verbose.map((f) => [f.operation?.operationId, f]));
    assert.deepEqual(
      [...byOp.keys()].sort(),
      ['diagnostics', 'ping'],
      operationsFound(runs.vulnerable).join('\n'),
    );
    assert.match(byOp.get('diagnostics')!.message, /answered 200 with a PHP error with its source path/);
    assert.match(byOp.get('ping')!.message, /answered 200 with a PHP error .*db\.php/);
  });

  test('vulnerable: the MD5 of a passphrase and a crypt hash, and the relayed upstream token, are sensitive data', () => {
    const sensitive = findingsOf(runs.vulnerable, 'api3-sensitive-data-exposure');
    const byOp = new Map(sensitive.map((f) => [f.operation?.operationId, f]));
    assert.deepEqual(
      [...byOp.keys()].sort(),
      ['forecast', 'members'],
      operationsFound(runs.vulnerable).join('\n'),
    );
    assert.match(byOp.get('members')!.message, /\/\*\/chk \(the unsalted MD5 of a password the scan used\)/);
    assert.match(byOp.get('members')!.message, /pw_hash/);
    assert.match(
      byOp.get('forecast')!.message,
      /\/upstream\/iam_token \(a token or secret the scan was not given/,
    );
    assert.equal(byOp.get('forecast')!.severity, 'high');
    // The place, never the value.
    for (const f of sensitive) {
      assert.doesNotMatch(f.message, /MTEO_IAM|[0-9a-f]{32}/);
    }
  });

  test('the fixed twin: no verbose error, no sensitive data (own vault, landing example and help page alike)', () => {
    const found = operationsFound(runs.fixed).filter((x) => /verbose-errors|sensitive-data/.test(x));
    assert.deepEqual(found, [], runs.fixed.findings.map((f) => f.message).join('\n'));
  });
});
