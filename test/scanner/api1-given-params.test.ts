import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A fitness tracker in the style of a small Express app answering `{"ok": true, ...}` / `{"ok": false, "reason"}`,
 * with opaque bearer tokens (no claims, no login answer) and no list that shows a member's id: the only way the
 * scan knows whose data `GET /workouts?member_id=` shows is the identities' own `params` (`{member_id: '41'}`),
 * as a tester configures them. Members are numbered 41 (alice) and 57 (bob); no small id (1, 2, 3, 100...) is
 * anyone's. Vulnerable: any member's workouts to anyone signed in. Fixed twin: one's own only (403 otherwise).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'tracker', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/workouts': {
      get: {
        operationId: 'workouts',
        parameters: [{ name: 'member_id', in: 'query', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'workouts' }, '403': { description: 'not yours' } },
      },
    },
  },
};

const TOKENS: Record<string, number> = { 'Bearer 7fa1c0de9b': 41, 'Bearer 0b2e55aa13': 57 };
const WORKOUTS: Record<number, object[]> = {
  41: [
    { day: '2026-12-01', kind: 'run', km: 8.2, resting_hr: 51 },
    { day: '2026-12-03', kind: 'swim', km: 1.5, resting_hr: 50 },
  ],
  57: [{ day: '2026-12-02', kind: 'ride', km: 42, resting_hr: 58 }],
};

function startTracker(fixed: boolean) {
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://tracker');
    const me = TOKENS[String(req.headers.authorization ?? '')];
    if (me === undefined) return sendJson(res, 401, { ok: false, reason: 'token required' });
    if (req.method === 'GET' && url.pathname === '/workouts') {
      const member = Number(url.searchParams.get('member_id'));
      const list = WORKOUTS[member];
      if (!list) return sendJson(res, 404, { ok: false, reason: 'unknown member' });
      if (fixed && member !== me) return sendJson(res, 403, { ok: false, reason: 'not your workouts' });
      return sendJson(res, 200, { ok: true, member_id: member, workouts: list });
    }
    return sendJson(res, 404, { ok: false, reason: 'no route' });
  });
}

describe("API1 replays a query-named read with the identities' configured params", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startTracker>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startTracker, {
        identities: [
          { name: 'alice', bearer: '7fa1c0de9b', params: { member_id: '41' } },
          { name: 'bob', bearer: '0b2e55aa13', params: { member_id: '57' } },
        ],
        ratePerSecond: 200,
        checks: ['API1', 'API5'],
      }),
    );
  });

  test("vulnerable: one member reads the other's workouts by its member_id", () => {
    const f = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api1-bola-read');
    assert.ok(f, operationsFound(scans.vulnerable.result).join());
    assert.match(
      f.message,
      /(alice|bob) read (alice|bob)'s object through GET \/workouts .*member_id=(41|57)/,
    );
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
