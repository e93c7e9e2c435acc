import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument, scanTwins } from './twins.ts';

/**
 * An invoicing service in a plain-PHP style: every answer is 200, a refusal included
 * (`{"status": "error", "message": "Invalid token"}`), `POST /api/auth` answers `{"status": "success", "jwt"}`,
 * and each route checks the bearer JWT by hand (HS256, a random secret).
 *
 * Vulnerable: `GET /api/invoices` only decodes the token (its payload is trusted, its signature never checked),
 * while `GET /api/account` and `GET /api/notices`, listed first, verify it. Fixed twin: every route verifies.
 * A forged token on a verifying route gets the 200 refusal: no finding there.
 * Both: without a token, `GET /api/reports` falls through to the web app's HTML page and `GET /api/drafts` shows
 * an empty list (`{"drafts": [], "total": 0}`): neither answers anything without credentials.
 */
const SECRET = randomBytes(32);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const sign = (input: string) => createHmac('sha256', SECRET).update(input).digest();

function mint(sub: number): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${input}.${sign(input).toString('base64url')}`;
}

/** The payload of a well-signed HS256 token, else undefined. */
function verified(token: string): { sub?: unknown } | undefined {
  const [h, p, s] = token.split('.');
  if (s === undefined) return undefined;
  try {
    if (JSON.parse(Buffer.from(h, 'base64url').toString()).alg !== 'HS256') return undefined;
    const want = sign(`${h}.${p}`);
    const got = Buffer.from(s, 'base64url');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    return JSON.parse(Buffer.from(p, 'base64url').toString());
  } catch {
    return undefined;
  }
}

/** The payload read without any check of the signature (the flaw). */
function decoded(token: string): { sub?: unknown } | undefined {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
  } catch {
    return undefined;
  }
}

const USERS = [
  { id: 1, email: 'ines@ledger.test', password: 'Ines-ledger-71', name: 'Ines' },
  { id: 2, email: 'tomas@ledger.test', password: 'Tomas-ledger-38', name: 'Tomas' },
];
const INVOICES = [
  { number: 'INV-1001', user: 1, total: 120.5 },
  { number: 'INV-1002', user: 1, total: 80 },
  { number: 'INV-2001', user: 2, total: 42 },
];

const read = (description: string) => ({
  security: [{ bearer: [] }],
  responses: { '200': { description } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'ledger', version: '2' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/api/auth': {
      post: {
        operationId: 'auth',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/api/account': { get: { operationId: 'getAccount', ...read('own account') } },
    '/api/notices': { get: { operationId: 'getNotices', ...read('own notices') } },
    '/api/invoices': { get: { operationId: 'getInvoices', ...read('own invoices') } },
    '/api/reports': { get: { operationId: 'getReports', ...read('own reports') } },
    '/api/drafts': { get: { operationId: 'getDrafts', ...read('own drafts') } },
  },
};

function startLedger(fixed: boolean, laxEverywhere = false) {
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const refuse = () => sendJson(res, 200, { status: 'error', message: 'Invalid token' });
    if (req.method === 'POST' && path === '/api/auth') {
      const body = await readJson(req);
      const u = USERS.find((x) => x.email === body?.email && x.password === body?.password);
      if (!u) return sendJson(res, 200, { status: 'error', message: 'Wrong e-mail or password' });
      return sendJson(res, 200, { status: 'success', jwt: mint(u.id) });
    }
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    // Without a token, the reports route falls through to the web app's page, and the drafts route shows none.
    if (req.method === 'GET' && token === undefined && path === '/api/reports') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end(
        '<!doctype html><html><head><title>Ledger</title></head><body><div id="app"></div></body></html>',
      );
    }
    if (req.method === 'GET' && token === undefined && path === '/api/drafts')
      return sendJson(res, 200, { drafts: [], total: 0 });
    if (req.method !== 'GET' || token === undefined) return refuse();
    const lax = laxEverywhere || (path === '/api/invoices' && !fixed);
    const claims = lax ? decoded(token) : verified(token);
    const user = USERS.find((u) => u.id === claims?.sub);
    if (!user) return refuse();
    if (path === '/api/account')
      return sendJson(res, 200, {
        status: 'success',
        account: { id: user.id, email: user.email, name: user.name },
      });
    if (path === '/api/notices')
      return sendJson(res, 200, { status: 'success', notices: [`Welcome back, ${user.name}`] });
    if (path === '/api/reports')
      return sendJson(res, 200, { status: 'success', reports: [{ year: 2025, total: 200.5 }] });
    if (path === '/api/drafts')
      return sendJson(res, 200, { drafts: [{ number: `D-${user.id}01`, total: 9 }], total: 1 });
    if (path === '/api/invoices')
      return sendJson(res, 200, { status: 'success', invoices: INVOICES.filter((i) => i.user === user.id) });
    return sendJson(res, 404, { status: 'error', message: 'Not found' });
  });
}

const identity = (u: (typeof USERS)[number]) => ({
  name: u.name.toLowerCase(),
  login: { path: '/api/auth', body: { email: u.email, password: u.password }, tokenPointer: '/jwt' },
});

const accepted = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api2-invalid-token-accepted');

describe('altered tokens on each secured read, not only the first', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startLedger, {
      identities: [identity(USERS[0]), identity(USERS[1])],
      checks: ['API2'],
      ratePerSecond: 300,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('the invoices, which only decode the token, accept an unsigned and a re-signed one', () => {
    const found = accepted(runs.vulnerable);
    assert.ok(
      found.some((f) => f.operation?.operationId === 'getInvoices' && /alg: none/.test(f.message)),
      operationsFound(runs.vulnerable).join('\n'),
    );
    assert.ok(found.some((f) => /wrong signature/.test(f.message)));
    const invoices = found.filter((f) => f.operation?.operationId === 'getInvoices');
    assert.equal(invoices.length, 1, 'one finding for the route, naming the variants');
    assert.match(
      invoices[0].message,
      /which GET \/api\/(account|notices) refused: this route does not verify tokens/,
    );
  });

  test('the reads that verify answer the forged tokens with a refusal in a 200: no finding there', () => {
    const elsewhere = accepted(runs.vulnerable).filter((f) => f.operation?.operationId !== 'getInvoices');
    assert.deepEqual(
      elsewhere.map((f) => f.message),
      [],
    );
  });

  test("a web app's page or an empty list to a caller without a token is no answer without credentials", () => {
    for (const r of [runs.vulnerable, runs.fixed])
      assert.deepEqual(
        r.findings.filter((f) => f.rule.id === 'scan/api2-no-credentials').map((f) => f.message),
        [],
      );
  });

  test('the fixed twin: no altered token accepted', () => {
    assert.deepEqual(
      accepted(runs.fixed).map((f) => f.message),
      [],
    );
  });
});

describe('an API that verifies tokens nowhere: one set of findings, on the first read', () => {
  let result: ScanResult;
  before(async () => {
    const api = await startLedger(false, true);
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [identity(USERS[0]), identity(USERS[1])],
        checks: ['API2'],
        ratePerSecond: 300,
      });
    } finally {
      await api.close();
    }
  });

  test('one finding, on the first read: the signature is not checked, the other forgeries named in it', () => {
    const found = accepted(result);
    assert.equal(
      found.length,
      1,
      `${operationsFound(result).join('\n')}\n${found.map((f) => f.message).join('\n')}`,
    );
    assert.match(
      found[0].message,
      /a token with a wrong signature: it does not check signatures \(it took .*alg: none/,
    );
    assert.ok(Array.isArray(found[0].evidence?.variants) && found[0].evidence.variants.length >= 3);
  });
});
