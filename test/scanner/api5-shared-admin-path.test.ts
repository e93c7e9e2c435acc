import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A team wiki in a Gin-like style (`{"code", "msg"}` answers, `X-Wiki-Key`): alice and bob both belong to space 5
 * (each given `params: {spaceId: '5'}`), root runs the platform. `GET /spaces/{spaceId}/admin/audit` is the
 * platform's audit trail of a space: vulnerable, any member of the space reads it; fixed twin, root only (403).
 * The path is planned alike for alice and bob (the space they share): it is no one's own record, and alice getting
 * what root gets there is API5.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'team wiki', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Wiki-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/spaces/{spaceId}/admin/audit': {
      get: {
        operationId: 'spaceAudit',
        parameters: [{ name: 'spaceId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'audit trail' }, '403': { description: 'forbidden' } },
      },
    },
  },
};

const KEYS: Record<string, string> = { 'wk-root-1': 'root', 'wk-alice-2': 'alice', 'wk-bob-3': 'bob' };

function startWiki(fixed: boolean) {
  return startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://wiki').pathname;
    const who = KEYS[String(req.headers['x-wiki-key'] ?? '')];
    if (!who) return sendJson(res, 401, { code: 401, msg: 'unauthorized' });
    if (req.method !== 'GET' || path !== '/spaces/5/admin/audit')
      return sendJson(res, 404, { code: 404, msg: 'not found' });
    if (fixed && who !== 'root') return sendJson(res, 403, { code: 403, msg: 'forbidden' });
    return sendJson(res, 200, {
      code: 0,
      data: [
        { at: '2026-12-01T09:12:00Z', action: 'page.delete', ip: '203.0.113.7' },
        { at: '2026-12-02T17:40:00Z', action: 'export.full', ip: '198.51.100.23' },
      ],
    });
  });
}

const key = (name: string, k: string) => ({ name, headers: { 'X-Wiki-Key': k }, params: { spaceId: '5' } });

describe("API5 judges a role's route in a shared space as a function, not as the caller's own record", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startWiki>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startWiki, {
        identities: [key('alice', 'wk-alice-2'), key('bob', 'wk-bob-3')],
        admin: key('root', 'wk-root-1'),
        ratePerSecond: 200,
        checks: ['API5'],
      }),
    );
  });

  test('vulnerable: the audit trail is API5', () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), ['scan/api5-bfla spaceAudit']);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
