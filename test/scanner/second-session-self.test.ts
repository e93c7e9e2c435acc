import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A fresh login of a given identity is the same person. A ferry crew rota with form sign-in: `POST /crew/signin`
 * (form `callsign`, `secret`) sets an opaque random cookie `rota` (HttpOnly, kept by the server), `GET /crew/me`
 * answers the caller's own card (callsign, e-mail, since; the document gives no answer schema), `GET /crew/shifts`
 * the caller's shifts, `POST /crew/signout` ends that one session. No sign-up: API2's session probe signs bob in a
 * second time and reads `/crew/me` with that session. Bob reading his own e-mail there is no exposure: with API2
 * and API3 together, no api3 finding on this correct API.
 */
const ok = { '200': { description: 'ok' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'rota', version: '1' },
  components: { securitySchemes: { c: { type: 'apiKey', in: 'cookie', name: 'rota' } } },
  security: [{ c: [] }],
  paths: {
    '/crew/signin': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                properties: { callsign: { type: 'string' }, secret: { type: 'string' } },
              },
            },
          },
        },
        responses: { ...ok, '401': { description: 'wrong' } },
      },
    },
    '/crew/signout': { post: { operationId: 'signOut', responses: ok } },
    '/crew/me': { get: { operationId: 'myCard', responses: ok } },
    '/crew/shifts': { get: { operationId: 'myShifts', responses: ok } },
  },
};

const CREW = [
  { callsign: 'marta', secret: 'Marta-rota-4411', email: 'marta@rota.test', since: '2019-04-02' },
  { callsign: 'joost', secret: 'Joost-rota-9082', email: 'joost@rota.test', since: '2021-11-15' },
];

/** Successful sign-ins per callsign. */
const signIns = new Map<string, number>();

async function startRota(): Promise<TestServer> {
  const sessions = new Map<string, (typeof CREW)[number]>();
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const secure = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
    if (req.method === 'POST' && path === '/crew/signin') {
      const form = new URLSearchParams(await readText(req));
      const m = CREW.find((c) => c.callsign === form.get('callsign') && c.secret === form.get('secret'));
      if (!m) return sendJson(res, 401, { error: 'unknown callsign or secret' }, secure);
      signIns.set(m.callsign, (signIns.get(m.callsign) ?? 0) + 1);
      const sid = randomBytes(24).toString('base64url');
      if (sessions.size < 500) sessions.set(sid, m);
      return sendJson(
        res,
        200,
        { signed_in: m.callsign },
        {
          ...secure,
          'set-cookie': `rota=${sid}; Path=/; HttpOnly; SameSite=Lax`,
        },
      );
    }
    const sid = /(?:^|;\s*)rota=([^;]+)/.exec(req.headers.cookie ?? '')?.[1] ?? '';
    const me = sessions.get(sid);
    if (!me) return sendJson(res, 401, { error: 'sign in first' }, secure);
    if (req.method === 'POST' && path === '/crew/signout') {
      sessions.delete(sid);
      return sendJson(res, 200, { signed_out: true }, secure);
    }
    if (req.method === 'GET' && path === '/crew/me')
      return sendJson(res, 200, { callsign: me.callsign, email: me.email, since: me.since }, secure);
    if (req.method === 'GET' && path === '/crew/shifts')
      return sendJson(res, 200, [{ day: 'mon', vessel: 'Tern', callsign: me.callsign }], secure);
    return sendJson(res, 404, { error: 'no such page' }, secure);
  });
}

describe('a second session of a given identity reads its own card: no API3 exposure', () => {
  let result: ScanResult;
  before(async () => {
    const api = await startRota();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: CREW.map((c) => ({
          name: c.callsign,
          login: {
            path: '/crew/signin',
            encoding: 'form' as const,
            body: { callsign: c.callsign, secret: c.secret },
          },
        })),
        checks: ['API2', 'API3'],
        ratePerSecond: 400,
      });
    } finally {
      await api.close();
    }
  });

  test('API2 ran its session probe with a second login of the given identity', () => {
    assert.ok((signIns.get('joost') ?? 0) >= 2, `joost signed in ${signIns.get('joost')} times`);
  });

  test('no api3 finding', () => {
    const api3 = result.findings.filter((f) => f.rule.id.startsWith('scan/api3-'));
    assert.deepEqual(
      api3.map((f) => `${f.rule.id} ${f.message}`),
      [],
    );
  });
});
