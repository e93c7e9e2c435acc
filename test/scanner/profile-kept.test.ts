import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A Flask-style community site (Bearer keys): `PATCH /api/v1/users/me {display_name, bio}` changes the caller's
 * own profile, `GET /api/v1/users/me` shows it with fields the update does not declare (`username`, `karma`). Not
 * vulnerable: undeclared fields are ignored. API3's probes of a given identity's own profile (the mass-assignment
 * control with the sampled body, the read-back probe) must leave every given profile as it was.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'community', version: '1.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/v1/users/me': {
      get: { operationId: 'getMe', responses: { '200': { description: 'me' } } },
      patch: {
        operationId: 'updateMe',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { display_name: { type: 'string' }, bio: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'me' } },
      },
    },
  },
};

const TOKENS: Record<string, string> = { 'tk-alice-4f1c': 'alice', 'tk-bob-93d2': 'bob' };

function startCommunity() {
  const profiles: Record<string, Record<string, unknown>> = {
    alice: { username: 'alice', display_name: 'Alice A.', bio: 'Gardener', karma: 12 },
    bob: { username: 'bob', display_name: 'Bob B.', bio: 'Cyclist', karma: 40 },
  };
  const api = startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, payload: unknown) =>
      sendJson(res, status, payload, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    const who = TOKENS[String(req.headers.authorization ?? '').replace(/^Bearer /, '')];
    if (!who) return send(401, { error: 'unauthorized' });
    if ((req.url ?? '').split('?')[0] !== '/api/v1/users/me') return send(404, { error: 'not found' });
    if (req.method === 'GET') return send(200, profiles[who]);
    if (req.method !== 'PATCH') return send(405, { error: 'method not allowed' });
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
    } catch {
      return send(400, { error: 'bad json' });
    }
    for (const k of ['display_name', 'bio'])
      if (typeof body[k] === 'string') profiles[who][k] = (body[k] as string).slice(0, 200);
    return send(200, profiles[who]);
  });
  return { api, profiles };
}

describe("API3's probes of a given identity's own profile set it back", () => {
  test('after a plain scan, alice and bob have their profiles as before', async () => {
    const { api, profiles } = startCommunity();
    const server = await api;
    const before = JSON.stringify(profiles);
    let patches = 0;
    server.server.on('request', (req: IncomingMessage) => {
      if (req.method === 'PATCH') patches++;
    });
    try {
      await scanDocument(SPEC, server.url, {
        identities: Object.entries(TOKENS).map(([t, name]) => ({
          name,
          headers: { authorization: `Bearer ${t}` },
        })),
        checks: ['API3'],
        ratePerSecond: 200,
      });
    } finally {
      server.server.close();
    }
    assert.ok(patches >= 2, `the profile was probed (${patches} PATCH requests)`);
    assert.equal(JSON.stringify(profiles), before);
  });
});
