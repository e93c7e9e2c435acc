import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Session 16 set A (A2-1): a documented optional switch of a read, `Hide-Info` (integer, default 1), whose other value
 * gave anyone, without a token, a user's e-mail and login token. The scan sent only the default and never saw them.
 *
 * Style: a Koa-style member directory (`{"ok": false, "error": ...}` errors, `Authorization: Bearer`), the switch as a
 * query boolean `redact` (default true). Vulnerable: `redact=false` shows the e-mail and API token to anyone. Fixed
 * twin: only the member itself may turn redaction off (anyone else still gets the redacted card).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'member directory', version: '3.0.1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/api/me': {
      get: {
        operationId: 'me',
        security: [{ bearer: [] }],
        responses: { '200': { description: 'the caller' } },
      },
    },
    '/api/members': {
      get: { operationId: 'listMembers', responses: { '200': { description: 'every member card' } } },
    },
    '/api/members/{memberId}': {
      get: {
        operationId: 'getMember',
        parameters: [
          { name: 'memberId', in: 'path', required: true, schema: { type: 'integer' } },
          { name: 'redact', in: 'query', schema: { type: 'boolean', default: true } },
        ],
        responses: { '200': { description: 'a member card' } },
      },
    },
  },
};

const MEMBERS = [
  { id: 11, handle: 'sol', email: 'sol@example.com', api_token: 'mt_5sXk29Qa81LmZ0pW', token: 'bt-sol-41' },
  { id: 12, handle: 'kai', email: 'kai@example.com', api_token: 'mt_Jq72Vb09XrT3nCe8', token: 'bt-kai-77' },
];

function startDirectory(fixed: boolean): Promise<TwinTarget> {
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: unknown) => sendJson(res, status, body, GUARDED_JSON);
    const who = MEMBERS.find((m) => req.headers.authorization === `Bearer ${m.token}`);
    if (req.method !== 'GET') return send(405, { ok: false, error: 'method not allowed' });
    if (url.pathname === '/api/me') {
      if (!who) return send(401, { ok: false, error: 'sign in first' });
      return send(200, { id: who.id, handle: who.handle, email: who.email });
    }
    if (url.pathname === '/api/members')
      return send(200, { ok: true, members: MEMBERS.map((x) => ({ id: x.id, handle: x.handle })) });
    const m = /^\/api\/members\/(\d+)$/.exec(url.pathname);
    const member = m ? MEMBERS.find((x) => x.id === Number(m[1])) : undefined;
    if (!member) return send(404, { ok: false, error: 'no such member' });
    const unredact = url.searchParams.get('redact') === 'false' && (!fixed || who?.id === member.id);
    return send(
      200,
      unredact
        ? { id: member.id, handle: member.handle, email: member.email, api_token: member.api_token }
        : { id: member.id, handle: member.handle },
    );
  });
}

const switched = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api3-sensitive-data-exposure').map((f) => f.message);

describe('a documented switch of a read that uncovers secrets and contact data', () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    runs = await scanTwins(SPEC, startDirectory, {
      identities: headerIdentities('Authorization', { sol: 'bt-sol-41', kai: 'bt-kai-77' }, 'Bearer'),
      checks: ['API3'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: redact=false shows the e-mail and the API token to a caller without credentials', () => {
    const found = switched(runs.vulnerable.result);
    assert.ok(
      found.some((m) =>
        /^GET \/api\/members\/\{memberId\} with query redact: false showed .*api_token.* to a caller without credentials/.test(
          m,
        ),
      ),
      found.join('\n'),
    );
  });

  test('fixed: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });
});
