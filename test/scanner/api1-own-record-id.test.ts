import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A rowing club's API in ASP.NET Core's style (PascalCase members, errors as ProblemDetails `{type, title, status,
 * traceId}`, a session key header `X-Session-Token` given to each identity). The member's own record is read at
 * `GET /v2/member` (`{MemberId, UserName, Email, Phone, BoatShare}`); a member by number at
 * `GET /v2/members/{memberId}`. Nothing lists members, and no token carries an id: the only place a member learns its
 * number is its own record, under `MemberId`. Anyone signs up at `POST /v2/members`: the members the scan makes there
 * are its own, nobody's (the sign-up is open to anyone), and before this change API1 judged only those.
 *
 * Vulnerable: any member reads any member by number. Fixed twin: another member's number answers 403.
 */
const SPEC = {
  openapi: '3.0.1',
  info: { title: 'Rowing.Api', version: 'v2' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Session-Token' } } },
  security: [{ session: [] }],
  paths: {
    '/v2/member': {
      get: { operationId: 'GetOwnMember', responses: { '200': { description: 'the caller' } } },
    },
    '/v2/members': {
      post: {
        operationId: 'SignUp',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['UserName', 'Password', 'Email'],
                properties: {
                  UserName: { type: 'string', maxLength: 40 },
                  Password: { type: 'string', maxLength: 64 },
                  Email: { type: 'string', format: 'email' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'Created' } },
      },
    },
    '/v2/members/{memberId}': {
      get: {
        operationId: 'GetMember',
        parameters: [
          { name: 'memberId', in: 'path', required: true, schema: { type: 'integer', format: 'int32' } },
        ],
        responses: { '200': { description: 'a member' }, '403': { description: 'Forbidden' } },
      },
    },
  },
};

const MEMBERS = [
  {
    MemberId: 31,
    UserName: 'ines',
    Email: 'ines@rowing.example',
    Phone: '+351 912 000 031',
    BoatShare: 'C2',
  },
  {
    MemberId: 32,
    UserName: 'omar',
    Email: 'omar@rowing.example',
    Phone: '+351 912 000 032',
    BoatShare: 'A1',
  },
  {
    MemberId: 33,
    UserName: 'tove',
    Email: 'tove@rowing.example',
    Phone: '+351 912 000 033',
    BoatShare: 'C2',
  },
];
const TOKENS: Record<string, number> = { 'sess-ines-5b1d9e': 31, 'sess-omar-c7a204': 32 };

function startClub(fixed: boolean) {
  const members = structuredClone(MEMBERS);
  const tokens = { ...TOKENS };
  return startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const problem = (status: number, title: string) =>
      sendJson(
        res,
        status,
        { type: 'https://tools.ietf.org/html/rfc9110', title, status, traceId: '00-4bf92f3577b34da6-01' },
        { 'content-type': 'application/problem+json; charset=utf-8' },
      );
    if (req.method === 'POST' && path === '/v2/members') {
      const body = await readJson(req);
      if (typeof body?.UserName !== 'string' || typeof body.Email !== 'string')
        return problem(400, 'Bad Request');
      const m = {
        MemberId: 100 + members.length,
        UserName: body.UserName,
        Email: body.Email,
        Phone: '',
        BoatShare: '',
      };
      members.push(m);
      tokens[`sess-${m.MemberId}`] = m.MemberId;
      return sendJson(res, 201, { MemberId: m.MemberId, UserName: m.UserName });
    }
    const token = req.headers['x-session-token'];
    const caller = typeof token === 'string' ? tokens[token] : undefined;
    if (caller === undefined) return problem(401, 'Unauthorized');
    if (req.method === 'GET' && path === '/v2/member')
      return sendJson(
        res,
        200,
        MEMBERS.find((m) => m.MemberId === caller),
      );
    const one = /^\/v2\/members\/(\d+)$/.exec(path);
    if (req.method === 'GET' && one) {
      const m = members.find((x) => String(x.MemberId) === one[1]);
      if (!m) return problem(404, 'Not Found');
      if (fixed && m.MemberId !== caller) return problem(403, 'Forbidden');
      return sendJson(res, 200, m);
    }
    return problem(404, 'Not Found');
  });
}

describe("a member's number learnt only from its own record (MemberId), tried by the other member", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startClub, {
      identities: [
        { name: 'ines', headers: { 'X-Session-Token': 'sess-ines-5b1d9e' } },
        { name: 'omar', headers: { 'X-Session-Token': 'sess-omar-c7a204' } },
      ],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("the other member reads one's record by the number one's own record shows", () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api1-bola-read');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.operation?.operationId, 'GetMember');
    assert.match(f.message, /\/v2\/members\/3[12], named by the id (ines|omar) was told is its own/);
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
