import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

const run = promisify(execFile);

/**
 * A tool-lending library in the style of an OAuth2 password-grant service: `POST /oauth/token` takes a
 * form-encoded `grant_type=password&username=&password=` and answers `{access_token, token_type: "bearer"}`
 * (HS256, a random secret); refusals are 401 `{"detail": ...}`.
 *
 * Vulnerable: the verifier takes the token's own word for its algorithm, in any spelling (`none`, `None`,
 * `NONE` all skip the signature), as old JWT libraries did. A stripped or wrong signature under `HS256` is
 * refused. Fixed twin: HS256 only.
 */
const SECRET = randomBytes(32);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const sign = (input: string) => createHmac('sha256', SECRET).update(input).digest();

const MEMBERS = [
  {
    username: 'odile',
    password: 'Odile-lends-48',
    fullName: 'Odile Marchetti',
    email: 'odile@toolshed.test',
  },
  { username: 'kwame', password: 'Kwame-lends-93', fullName: 'Kwame Asante', email: 'kwame@toolshed.test' },
];
const LOANS = [
  { loan: 'L-7001', member: 'odile', tool: 'orbital sander', due: '2026-12-20' },
  { loan: 'L-7002', member: 'kwame', tool: 'tile cutter', due: '2026-12-18' },
];

function mint(username: string): string {
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: username, scope: 'me loans', exp: Math.floor(Date.now() / 1000) + 900 })}`;
  return `${input}.${sign(input).toString('base64url')}`;
}

function claimsOf(token: string, fixed: boolean): { sub?: unknown; exp?: unknown } | undefined {
  const [h, p, s] = token.split('.');
  if (p === undefined || s === undefined) return undefined;
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: unknown };
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    if (typeof claims.exp !== 'number' || claims.exp < Date.now() / 1000) return undefined;
    if (!fixed && String(header.alg).toLowerCase() === 'none') return claims;
    if (header.alg !== 'HS256') return undefined;
    const want = sign(`${h}.${p}`);
    const got = Buffer.from(s, 'base64url');
    return got.length === want.length && timingSafeEqual(got, want) ? claims : undefined;
  } catch {
    return undefined;
  }
}

function startToolshed(fixed: boolean) {
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/oauth/token') {
      const form = new URLSearchParams(await readText(req));
      const m = MEMBERS.find(
        (x) => x.username === form.get('username') && x.password === form.get('password'),
      );
      if (form.get('grant_type') !== 'password' || !m)
        return sendJson(res, 401, { detail: 'Incorrect username or password' });
      return sendJson(res, 200, { access_token: mint(m.username), token_type: 'bearer' });
    }
    if (req.method === 'GET' && url.pathname === '/tools')
      return sendJson(res, 200, [{ tool: 'orbital sander' }, { tool: 'tile cutter' }]);
    const token = /^Bearer (\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    const claims = token === undefined ? undefined : claimsOf(token, fixed);
    const m = MEMBERS.find((x) => x.username === claims?.sub);
    if (!m) return sendJson(res, 401, { detail: 'Could not validate credentials' });
    if (req.method === 'GET' && url.pathname === '/members/me')
      return sendJson(res, 200, { username: m.username, full_name: m.fullName, email: m.email });
    if (req.method === 'GET' && url.pathname === '/loans')
      return sendJson(
        res,
        200,
        LOANS.filter((l) => l.member === m.username),
      );
    return sendJson(res, 404, { detail: 'Not Found' });
  });
}

const secured = (id: string) => ({
  get: { operationId: id, security: [{ oauth: [] }], responses: { '200': { description: 'ok' } } },
});
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'toolshed', version: '0.4.0' },
  components: {
    securitySchemes: {
      oauth: { type: 'oauth2', flows: { password: { tokenUrl: '/oauth/token', scopes: {} } } },
    },
  },
  paths: {
    '/oauth/token': {
      post: {
        operationId: 'token',
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                properties: {
                  grant_type: { type: 'string' },
                  username: { type: 'string' },
                  password: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/members/me': secured('readMe'),
    '/loans': secured('listLoans'),
    '/tools': { get: { operationId: 'listTools', responses: { '200': { description: 'the catalogue' } } } },
  },
};

const identity = (m: (typeof MEMBERS)[number]) => ({
  name: m.username,
  login: {
    path: '/oauth/token',
    grantType: 'password' as const,
    body: { username: m.username, password: m.password },
  },
});

const accepted = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api2-invalid-token-accepted');

/** Runs a finding's curl line as printed (no TOKEN, COOKIE or CREDENTIAL set), against `base` if given. */
async function replay(curl: string, from: string, base = from): Promise<{ status: number; body: string }> {
  const line = curl.split(from).join(base);
  const { stdout } = await run('sh', ['-c', `${line} -s -w '\\n%{http_code}'`], {
    env: { PATH: process.env.PATH ?? '' },
  });
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

describe('an unsigned token, in any spelling of alg none: one finding, and its curl line runs as printed', () => {
  const apis = {} as Record<'vulnerable' | 'fixed', Awaited<ReturnType<typeof startToolshed>>>;
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      apis[kind] = await startToolshed(kind === 'fixed');
      runs[kind] = await scanDocument(SPEC, apis[kind].url, {
        identities: MEMBERS.map(identity),
        checks: ['API2'],
        ratePerSecond: 300,
      });
    }
  });
  after(async () => {
    for (const api of Object.values(apis)) await api?.close();
  });

  test('vulnerable: one finding for the route, naming none, None and NONE', () => {
    const found = accepted(runs.vulnerable);
    assert.equal(
      found.length,
      1,
      `${operationsFound(runs.vulnerable).join('\n')}\n${found.map((f) => f.message).join('\n')}`,
    );
    assert.match(found[0].message, /unsigned token \(alg: none, None, NONE\)/);
    assert.doesNotMatch(found[0].message, /stripped|wrong signature/);
  });

  test("the curl line carries the unsigned token, not A's, and reproduces the finding's answer", async () => {
    const f = accepted(runs.vulnerable)[0];
    const curl = String(f?.evidence?.curl);
    assert.doesNotMatch(curl, /\$TOKEN|\$COOKIE|\$CREDENTIAL/, curl);
    const token = String(f?.evidence?.forgedToken);
    assert.ok(curl.includes(token) && token.endsWith('.'), curl);
    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as { alg: string };
    assert.equal(header.alg.toLowerCase(), 'none');
    // As printed, against the vulnerable API: the finding's status and odile's own record.
    const again = await replay(curl, apis.vulnerable.url);
    assert.equal(again.status, f?.evidence?.status);
    assert.match(again.body, /odile@toolshed\.test/);
    // The same line against the fixed twin is refused: the token proves the flaw, it is no credential.
    const fixed = await replay(curl, apis.vulnerable.url, apis.fixed.url);
    assert.equal(fixed.status, 401);
  });

  test('fixed twin: no altered token accepted', () => {
    assert.deepEqual(
      accepted(runs.fixed).map((f) => f.message),
      [],
    );
  });
});
