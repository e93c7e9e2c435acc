import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A parcel-locker service: `POST /v1/login` takes a form (`email`, `password`) and answers `200 {"ok": true}` with
 * the session in an `X-Auth-Token` header; the client sends it back as `Authorization: Session <token>`. The token
 * is base64 of a JSON object (`{"email": ..., "since": ...}`), and nothing the API answers repeats it.
 *
 * Vulnerable: the token is read the way `node-serialize` does, reviving `_$$ND_FUNC$$_` members. This fixture
 * runs nothing: it recognises only a function that busy-waits `Date.now()+N` and waits N ms instead (asynchronously),
 * so a delay is all a probe can get. Fixed twin: `JSON.parse`, functions stay text.
 */
const USERS = [
  { email: 'ines@lockers.test', password: 'Ines-parcel-2291', lockers: ['B-14'] },
  { email: 'yusuf@lockers.test', password: 'Yusuf-parcel-8812', lockers: ['C-02', 'C-07'] },
];

const WAIT =
  /^_\$\$ND_FUNC\$\$_function\s*\(\)\s*\{\s*var t\s*=\s*Date\.now\(\)\s*\+\s*(\d{1,5});\s*while\s*\(Date\.now\(\)\s*<\s*t\)\s*\{\s*\}\s*\}\s*\(\)$/;

/** node-serialize's revival, limited to a wait: how long the members' functions would take. */
function revivedWait(object: Record<string, unknown>): number {
  let ms = 0;
  for (const v of Object.values(object)) {
    const m = typeof v === 'string' ? WAIT.exec(v) : null;
    if (m) ms += Math.min(Number(m[1]), 10_000);
  }
  return ms;
}

function startLockers(fixed: boolean) {
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/v1/login') {
      const form = new URLSearchParams(await readText(req));
      const u = USERS.find((x) => x.email === form.get('email') && x.password === form.get('password'));
      if (!u) return sendJson(res, 403, { ok: false, problem: 'bad credentials' });
      const token = Buffer.from(JSON.stringify({ email: u.email, since: Date.now() })).toString('base64');
      res.writeHead(200, { 'content-type': 'application/json', 'x-auth-token': token });
      return res.end('{"ok":true}');
    }
    const m = /^Session (\S+)$/.exec(String(req.headers.authorization ?? ''));
    let session: Record<string, unknown> | undefined;
    try {
      session = m ? JSON.parse(Buffer.from(m[1], 'base64').toString('utf8')) : undefined;
    } catch {
      session = undefined;
    }
    const u = USERS.find((x) => x.email === session?.email);
    if (!u || !session) return sendJson(res, 403, { ok: false, problem: 'no session' });
    if (!fixed) await sleep(revivedWait(session));
    if (req.method === 'GET' && url.pathname === '/v1/lockers/mine')
      return sendJson(res, 200, { ok: true, lockers: u.lockers });
    return sendJson(res, 404, { ok: false, problem: 'unknown route' });
  });
}

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'parcel lockers', version: '1' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  paths: {
    '/v1/login': {
      post: {
        operationId: 'login',
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'signed in' } },
      },
    },
    '/v1/lockers/mine': {
      get: {
        operationId: 'myLockers',
        security: [{ session: [] }],
        responses: { '200': { description: 'ok' } },
      },
    },
  },
};

const identity = (u: (typeof USERS)[number]) => ({
  name: u.email.split('@')[0],
  login: {
    path: '/v1/login',
    encoding: 'form' as const,
    body: { email: u.email, password: u.password },
    tokenHeader: 'x-auth-token',
    scheme: 'Session',
  },
});

const deserialising = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api8-insecure-deserialization');

describe('a serialised bearer token (base64 JSON) revived like node-serialize, with nothing echoed: a timed canary', () => {
  const scan = async (fixed: boolean) => {
    const api = await startLockers(fixed);
    try {
      return await scanDocument(SPEC, api.url, {
        identities: USERS.map(identity),
        checks: ['API8'],
        ratePerSecond: 300,
      });
    } finally {
      await api.close();
    }
  };

  test('vulnerable: a member waiting 1 s delays GET /v1/lockers/mine twice', async () => {
    const r = await scan(false);
    const found = deserialising(r);
    assert.equal(found.length, 1, operationsFound(r).join('\n'));
    assert.equal(found[0].operation?.operationId, 'myLockers');
    assert.match(found[0].message, /token of the authorization header/);
    assert.match(found[0].message, /delayed the answer twice/);
  });

  test('fixed twin: no finding', async () => {
    const r = await scan(true);
    assert.deepEqual(
      deserialising(r).map((f) => f.message),
      [],
    );
  });
});
