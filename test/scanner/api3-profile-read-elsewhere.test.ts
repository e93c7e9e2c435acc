import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A members' portal (bearer keys) whose profile is updated at `PATCH /api/members/me` and read at `GET /api/me`
 * (another path). The vulnerable twin binds the whole body (a `role` sent is stored); the careful twin takes only
 * `display_name` and `email` and refuses any other member with a 400, the rest of the body with it. Session 15's
 * measurement: on a third-party API of this shape the mass-assignment probe found no read at the update's own path,
 * took the control's answer for the record as it was, and left a given member's display name as the control's
 * sample (`portcullis-…`) on both twins, with a false "IDENTITY ELEVATED" warning on the careful one.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'members portal', version: '1' },
  components: { securitySchemes: { key: { type: 'http', scheme: 'bearer' } } },
  security: [{ key: [] }],
  paths: {
    '/api/me': { get: { operationId: 'me', responses: { '200': { description: 'the caller' } } } },
    '/api/members/me': {
      patch: {
        operationId: 'updateMe',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { display_name: { type: 'string' }, email: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'the updated member' }, '400': { description: 'refused' } },
      },
    },
  },
};
const KEYS: Record<string, string> = { 'Bearer mp-ines-33af': 'ines', 'Bearer mp-tomas-90be': 'tomas' };

async function startPortal(fixed: boolean) {
  const members: Record<string, Record<string, unknown>> = {
    ines: { username: 'ines', display_name: 'Ines', email: 'ines@portal.test', role: 'member', credits: 40 },
    tomas: {
      username: 'tomas',
      display_name: 'Tomas',
      email: 'tomas@portal.test',
      role: 'member',
      credits: 15,
    },
  };
  const api = await startServer(async (req, res) => {
    const me = KEYS[String(req.headers.authorization ?? '')];
    const body = req.method === 'PATCH' ? await readJson(req) : undefined;
    if (req.method !== 'PATCH') req.resume();
    if (me === undefined) return sendJson(res, 401, { error: 'unauthorized' });
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/api/me') return sendJson(res, 200, members[me]);
    if (req.method === 'PATCH' && path === '/api/members/me') {
      if (body === undefined) return sendJson(res, 400, { error: 'a JSON object is required' });
      const extra = Object.keys(body).filter((k) => k !== 'display_name' && k !== 'email');
      if (fixed && extra.length > 0) return sendJson(res, 400, { error: 'unknown fields', fields: extra });
      for (const [k, v] of Object.entries(body)) if (k !== 'username') members[me][k] = v;
      return sendJson(res, 200, members[me]);
    }
    return sendJson(res, 404, { error: 'not found' });
  });
  return { ...api, members };
}

describe('API3 on a profile updated at one path and read at another: what the probe sent is set back', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startPortal>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startPortal, {
        identities: [
          { name: 'ines', headers: { Authorization: 'Bearer mp-ines-33af' } },
          { name: 'tomas', headers: { Authorization: 'Bearer mp-tomas-90be' } },
        ],
        ratePerSecond: 200,
        checks: ['API3'],
      }),
    );
  });

  test('both members keep their display names and e-mails on both twins', () => {
    for (const twin of ['vulnerable', 'fixed'] as const) {
      const { members } = scans[twin].api;
      assert.equal(members.ines.display_name, 'Ines', twin);
      assert.equal(members.tomas.display_name, 'Tomas', twin);
      assert.equal(members.ines.email, 'ines@portal.test', twin);
      assert.equal(members.tomas.email, 'tomas@portal.test', twin);
    }
  });

  test('the careful twin: no finding and no warning that an identity was elevated', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
    const elevated = scans.fixed.result.warnings.filter((w) => /ELEVATED/.test(w));
    assert.deepEqual(elevated, []);
  });
});
