import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A pharmacy API in the manner of a small PHP application (routes named `*.php`, a JWT read with
 * `getallheaders()['Authorization']`, errors printed into the page), served here by Node:
 *
 * - the token is looked up by the header's exact spelling (`Authorization`, as PHP's header array keeps it):
 *   a lower-case `authorization` is no token at all;
 * - `GET /api/account.php` runs code PHP 8 calls deprecated, so each answer starts with the notice
 *   (`<br />\n<b>Deprecated</b>: ...`) before its JSON, in `text/html` (the headers went out with the notice);
 *   a missing or bad token gets `{"error": "Bad token"}` there, in a 200;
 * - `GET /api/admin/report.php` no longer parses: every caller, anonymous included, gets the same 200 page
 *   `<b>Parse error</b>: syntax error ...`.
 *
 * Vulnerable: the token's signature is never checked (its payload is decoded and trusted), and any patient
 * reads any prescription by id. Fixed twin: HS256 checked against the server's key (constant time), and a
 * prescription is shown to its patient only.
 */
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'pharmacy', version: '1.4' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ jwt: [] }],
  paths: {
    '/api/login.php': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: json({
          type: 'object',
          required: ['username', 'password'],
          properties: { username: { type: 'string' }, password: { type: 'string' } },
        }),
        responses: { '200': { description: 'token' }, '401': { description: 'wrong' } },
      },
    },
    '/api/account.php': {
      get: { operationId: 'account', responses: { '200': { description: 'the caller' } } },
    },
    '/api/prescriptions.php': {
      post: {
        operationId: 'prescribe',
        requestBody: json({
          type: 'object',
          required: ['drug', 'dose'],
          properties: { drug: { type: 'string', maxLength: 60 }, dose: { type: 'string', maxLength: 30 } },
        }),
        responses: { '201': { description: 'stored' } },
      },
    },
    '/api/prescriptions/{rx}': {
      get: {
        operationId: 'prescription',
        parameters: [{ name: 'rx', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'one prescription' }, '404': { description: 'none' } },
      },
    },
    '/api/admin/report.php': {
      get: {
        operationId: 'adminReport',
        tags: ['admin'],
        summary: 'Sales report (administrators only)',
        responses: { '200': { description: 'the report' } },
      },
    },
  },
};

const USERS = [
  { id: 1, username: 'alice', password: 'Alice-pharm-71', email: 'alice@pharmacy.test', role: 'patient' },
  { id: 2, username: 'bob', password: 'Bob-pharm-38', email: 'bob@pharmacy.test', role: 'patient' },
  { id: 3, username: 'root', password: 'Root-pharm-55', email: 'root@pharmacy.test', role: 'admin' },
];

const DEPRECATED =
  '<br />\n<b>Deprecated</b>:  Creation of dynamic property Database::$link is deprecated in <b>/var/www/html/lib/Database.php</b> on line <b>17</b><br />\n';
const PARSE_ERROR =
  '<br />\n<b>Parse error</b>:  syntax error, unexpected token &quot;}&quot;, expecting &quot;;&quot; in <b>/var/www/html/api/admin/report.php</b> on line <b>42</b><br />\n';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** The header as PHP's `getallheaders()` array gives it: looked up by its exact name. */
function exactHeader(req: IncomingMessage, name: string): string | undefined {
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    if (req.rawHeaders[i] === name) return req.rawHeaders[i + 1];
  return undefined;
}

/**
 * `plain`: JSON always as text/html (no `header()` call) after a byte-order mark. `refusal`: how a missing or bad
 * token is refused on the account read (a 200 either way).
 */
function startPharmacy(
  fixed: boolean,
  plain = false,
  refusal: unknown = { error: 'Bad token' },
  /** The notice printed after the JSON (a shutdown function's), as `application/json`. */
  trailing = false,
) {
  const key = randomBytes(32);
  const sign = (data: string) => createHmac('sha256', key).update(data).digest('base64url');
  const issue = (u: (typeof USERS)[number]) => {
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: u.id, role: u.role, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
    return `${head}.${sign(head)}`;
  };
  const caller = (req: IncomingMessage) => {
    const m = /^Bearer (\S+)$/.exec(exactHeader(req, 'Authorization') ?? '');
    const parts = m?.[1].split('.');
    if (parts?.length !== 3) return undefined;
    let payload: { sub?: unknown; exp?: unknown };
    try {
      payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
    } catch {
      return undefined;
    }
    if (fixed) {
      const want = Buffer.from(sign(`${parts[0]}.${parts[1]}`));
      const got = Buffer.from(parts[2]);
      if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
      if (typeof payload.exp !== 'number' || payload.exp * 1000 < Date.now()) return undefined;
    }
    return USERS.find((u) => u.id === payload.sub);
  };
  const rx = new Map<number, { id: number; drug: string; dose: string; patient: number }>([
    [1, { id: 1, drug: 'Amoxicillin', dose: '500 mg', patient: 2 }],
  ]);
  let next = 2;
  return startServer(async (req, res) => {
    const text = await readText(req);
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown, notice = '') => {
      if (trailing && notice) {
        res.writeHead(status, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(body) + notice.replace('Deprecated', 'Warning'));
      }
      // `plain`: no header() call, so PHP's default type; the body after a byte-order mark a file saved with one prints.
      res.writeHead(status, {
        'content-type': notice || plain ? 'text/html; charset=UTF-8' : 'application/json',
      });
      res.end(notice + (plain ? '\uFEFF' : '') + JSON.stringify(body));
    };
    let body: Record<string, unknown> = {};
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      return send(400, { error: 'Invalid JSON' });
    }
    if (req.method === 'POST' && path === '/api/login.php') {
      const u = USERS.find((x) => x.username === body.username && x.password === body.password);
      return u ? send(200, { token: issue(u) }) : send(401, { error: 'Invalid credentials' });
    }
    if (req.method === 'GET' && path === '/api/admin/report.php') {
      res.writeHead(200, { 'content-type': 'text/html; charset=UTF-8' });
      return res.end(PARSE_ERROR);
    }
    const me = caller(req);
    if (req.method === 'GET' && path === '/api/stock.php') {
      if (me?.role !== 'admin') return send(200, { success: false, message: 'Pharmacists only' });
      return send(200, [{ drug: 'Amoxicillin', boxes: 40 }]);
    }
    if (req.method === 'GET' && path === '/api/account.php') {
      if (!me) return send(200, refusal, DEPRECATED);
      return send(200, { id: me.id, username: me.username, email: me.email, role: me.role }, DEPRECATED);
    }
    if (req.method === 'POST' && path === '/api/prescriptions.php') {
      if (!me) return send(401, { error: 'Bad token' });
      if (typeof body.drug !== 'string' || typeof body.dose !== 'string')
        return send(400, { error: 'drug and dose are required' });
      const item = { id: next++, drug: body.drug.slice(0, 60), dose: body.dose.slice(0, 30), patient: me.id };
      rx.set(item.id, item);
      return send(201, item);
    }
    const one = /^\/api\/prescriptions\/(\d+)$/.exec(path);
    if (req.method === 'GET' && one) {
      if (!me) return send(401, { error: 'Bad token' });
      const item = rx.get(Number(one[1]));
      if (!item || (fixed && item.patient !== me.id)) return send(404, { error: 'Not found' });
      return send(200, item);
    }
    send(404, { error: 'No route' });
  });
}

const identities = USERS.slice(0, 2).map((u) => ({
  name: u.username,
  login: {
    path: '/api/login.php',
    body: { username: u.username, password: u.password },
    tokenPointer: '/token',
  },
}));
const admin = {
  name: 'root',
  login: {
    path: '/api/login.php',
    body: { username: 'root', password: 'Root-pharm-55' },
    tokenPointer: '/token',
  },
};

/** The access findings of a scan, `rule operationId`, sorted. */
function access(r: ScanResult): string[] {
  const rules = /^scan\/(api1-bola-read|api2-no-credentials|api2-invalid-token-accepted|api5-bfla)$/;
  return [
    ...new Set(
      r.findings.filter((f) => rules.test(f.rule.id)).map((f) => `${f.rule.id} ${f.operation?.operationId}`),
    ),
  ].sort();
}

describe('a PHP-style API: header spelled as sent, JSON after notices, error pages in a 200', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startPharmacy>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startPharmacy, {
        identities,
        admin,
        checks: ['API1', 'API2', 'API5'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: the identities are heard, the unchecked signature and the open prescription found', () => {
    const found = access(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read prescription'), found.join('\n'));
    assert.ok(
      found.some((f) => f.startsWith('scan/api2-invalid-token-accepted ')),
      found.join('\n'),
    );
    // The refusal after the notice and the parse-error page are no data served without authorization.
    assert.ok(
      !found.some((f) => / (account|adminReport)$/.test(f) && !/invalid-token/.test(f)),
      found.join('\n'),
    );
  });

  test('the curl line spells the header as it went out', () => {
    const bola = scans.vulnerable.result.findings.find((f) => f.rule.id === 'scan/api1-bola-read');
    assert.match(String(bola?.evidence?.curl), /-H 'Authorization: Bearer '"\$TOKEN"/);
  });

  test('fixed twin: no access finding at all', () => {
    assert.deepEqual(access(scans.fixed.result), []);
  });
});

describe('a PHP-style API that never sets its content type: JSON served as text/html after a byte-order mark', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startPharmacy>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, (fixed) => startPharmacy(fixed, true), {
        identities,
        admin,
        checks: ['API1', 'API2', 'API5'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: the same findings as with a JSON content type', () => {
    const found = access(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read prescription'), found.join('\n'));
    assert.ok(
      found.some((f) => f.startsWith('scan/api2-invalid-token-accepted ')),
      found.join('\n'),
    );
  });

  test('fixed twin: no access finding at all', () => {
    assert.deepEqual(access(scans.fixed.result), []);
  });
});

/** The document with a stock read for pharmacists, which answers anyone else `{"success": false, ...}` in a 200. */
const WITH_STOCK = {
  ...SPEC,
  paths: {
    '/api/stock.php': { get: { operationId: 'stock', responses: { '200': { description: 'the stock' } } } },
    ...SPEC.paths,
  },
};

describe('refused in a 200 as {success: false, message}: no token taken as accepted, no refusal as served', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startPharmacy>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(
        WITH_STOCK,
        (fixed) => startPharmacy(fixed, false, { success: false, message: 'Session expired, sign in again' }),
        { identities, admin, checks: ['API2', 'API4'], ratePerSecond: 200 },
      ),
    );
  });

  test('vulnerable: the unchecked signature is found', () => {
    const found = access(scans.vulnerable.result);
    assert.ok(found.includes('scan/api2-invalid-token-accepted account'), found.join('\n'));
  });

  test('fixed twin: no access finding at all', () => {
    assert.deepEqual(access(scans.fixed.result), []);
  });

  test('the stock read only refused the patients: no finding there (the burst goes to a read that served A)', () => {
    for (const { result } of [scans.vulnerable, scans.fixed]) {
      const there = result.findings.filter((f) => f.operation?.operationId === 'stock').map((f) => f.rule.id);
      assert.deepEqual(there, []);
    }
  });
});

describe('a PHP warning printed after the JSON', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startPharmacy>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, (fixed) => startPharmacy(fixed, false, undefined, true), {
        identities,
        admin,
        checks: ['API2'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: the unchecked signature is found; fixed twin: no access finding at all', () => {
    const found = access(scans.vulnerable.result);
    assert.ok(found.includes('scan/api2-invalid-token-accepted account'), found.join('\n'));
    assert.deepEqual(access(scans.fixed.result), []);
  });
});
