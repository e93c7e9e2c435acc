import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A given identity's own profile whose update MERGES the body into the stored record (`Object.assign`): a member the
 * probe adds stays there whatever is set back afterwards. Session 14's measurement saw API3's mass-assignment probe
 * leave `portcullisProbe: pcma-…` in a given identity's own record this way. No member of the scan's own may go into
 * a given identity's record; the privileged field the record shows (`tier`) is still probed and set back.
 *
 * Style: a Koa-like reading club, `PUT /me` with `{nickname, about}` declared, `GET /me` showing `tier` too, bearer
 * keys given as headers. The vulnerable twin merges every member it is sent (so `tier: premium` is stored, a
 * finding); the fixed twin takes the declared members only.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'reading club', version: '4.2' },
  components: { securitySchemes: { key: { type: 'http', scheme: 'bearer' } } },
  security: [{ key: [] }],
  paths: {
    '/me': {
      get: { operationId: 'me', responses: { '200': { description: 'your profile' } } },
      put: {
        operationId: 'updateMe',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { nickname: { type: 'string' }, about: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'your profile' } },
      },
    },
  },
};

const KEYS = { wren: randomBytes(12).toString('hex'), finch: randomBytes(12).toString('hex') };
type Club = TwinTarget & { profiles: Map<string, Record<string, unknown>> };

function startClub(fixed: boolean): Promise<Club> {
  const profiles = new Map<string, Record<string, unknown>>([
    ['wren', { nickname: 'wren', about: 'poetry', tier: 'basic' }],
    ['finch', { nickname: 'finch', about: 'maps', tier: 'basic' }],
  ]);
  return startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const who = Object.entries(KEYS).find(([, k]) => `Bearer ${k}` === req.headers.authorization)?.[0];
    if (!who) return sendJson(res, 401, { message: 'who are you?' });
    const me = profiles.get(who)!;
    if (req.method === 'GET' && req.url === '/me') return sendJson(res, 200, me);
    if (req.method === 'PUT' && req.url === '/me') {
      if (fixed) {
        for (const k of ['nickname', 'about']) if (typeof b[k] === 'string') me[k] = b[k];
      } else Object.assign(me, b);
      return sendJson(res, 200, me);
    }
    return sendJson(res, 404, { message: 'nothing here' });
  }).then((api) => Object.assign(api, { profiles }));
}

const about = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api3-mass-assignment').map((f) => f.message);

describe("a merged update of a given identity's own profile", () => {
  let runs: TwinScans<Club>;
  before(async () => {
    runs = await scanTwins(SPEC, startClub, {
      identities: Object.entries(KEYS).map(([name, key]) => ({
        name,
        headers: { authorization: `Bearer ${key}` },
      })),
      checks: ['API3'],
      ratePerSecond: 200,
    });
  });

  test('no member of the scan is left in either given profile, on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      for (const [name, p] of runs[kind].api.profiles)
        assert.deepEqual(
          Object.keys(p).sort(),
          ['about', 'nickname', 'tier'],
          `${kind} ${name}: ${JSON.stringify(p)}`,
        );
  });

  test('the privileged tier is found on the vulnerable twin, and set back', () => {
    assert.ok(
      about(runs.vulnerable.result).some((m) => m.includes('tier')),
      JSON.stringify(about(runs.vulnerable.result)),
    );
    for (const p of runs.vulnerable.api.profiles.values()) assert.equal(p.tier, 'basic');
  });

  test('fixed: no finding', () => {
    assert.deepEqual(about(runs.fixed.result), []);
  });
});
