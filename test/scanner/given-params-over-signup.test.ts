import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A member desk in the style of a small Koa app: the session key comes back nested (`{"session": {"key"}}`) and
 * goes in `X-Session-Key`; errors are `{"fault": ...}`. Its sign-up `POST /v2/members {handle, passcode,
 * display_name}` is open and answers the new member's number. The members' statements are read at `GET
 * /v2/members/{member_no}/statements`, and the tester gives each identity its member number (`params:
 * {member_no: '7101'}`). A sign-up the scan sends while acting as alice makes a member it files as alice's object
 * of `/v2/members`; that member is not alice, and alice's given number must still name her own statements (her
 * own read, the baseline API1 compares with). Vulnerable: any member's statements to anyone signed in. Fixed twin:
 * one's own only (403).
 */
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'member desk', version: '2' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Session-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/v2/auth/sessions': {
      post: {
        operationId: 'openSession',
        security: [],
        requestBody: body({ handle: { type: 'string' }, passcode: { type: 'string' } }, [
          'handle',
          'passcode',
        ]),
        responses: { '201': { description: 'session' }, '401': { description: 'refused' } },
      },
    },
    '/v2/members': {
      post: {
        operationId: 'join',
        security: [],
        requestBody: body(
          { handle: { type: 'string' }, passcode: { type: 'string' }, display_name: { type: 'string' } },
          ['handle', 'passcode', 'display_name'],
        ),
        responses: { '201': { description: 'member' }, '409': { description: 'taken' } },
      },
    },
    '/v2/members/{member_no}/statements': {
      get: {
        operationId: 'statements',
        parameters: [{ name: 'member_no', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'statements' }, '403': { description: 'not yours' } },
      },
    },
  },
};

const SEEDED = [
  { no: 7101, handle: 'alice', passcode: 'Alice-code-71' },
  { no: 7205, handle: 'bob', passcode: 'Bob-code-72' },
];

function startDesk(fixed: boolean) {
  const members = SEEDED.map((m) => ({ ...m }));
  const sessions = new Map<string, number>();
  const reads: string[] = [];
  let next = 9300;
  const started = startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/v2/auth/sessions') {
      const m = members.find((x) => x.handle === b.handle && x.passcode === b.passcode);
      if (!m) return sendJson(res, 401, { fault: 'bad handle or passcode' });
      const key = randomBytes(12).toString('hex');
      sessions.set(key, m.no);
      return sendJson(res, 201, { session: { key } });
    }
    if (req.method === 'POST' && path === '/v2/members') {
      if (
        typeof b.handle !== 'string' ||
        typeof b.passcode !== 'string' ||
        typeof b.display_name !== 'string'
      )
        return sendJson(res, 400, { fault: 'handle, passcode and display_name' });
      if (members.some((m) => m.handle === b.handle)) return sendJson(res, 409, { fault: 'taken' });
      const m = { no: next++, handle: b.handle, passcode: b.passcode };
      members.push(m);
      return sendJson(res, 201, { member_no: m.no, handle: m.handle });
    }
    const me = sessions.get(String(req.headers['x-session-key'] ?? ''));
    if (me === undefined) return sendJson(res, 401, { fault: 'no session' });
    const s = /^\/v2\/members\/(\d+)\/statements$/.exec(path);
    if (req.method === 'GET' && s) {
      const no = Number(s[1]);
      reads.push(`${me} ${no}`);
      if (!members.some((m) => m.no === no)) return sendJson(res, 404, { fault: 'no such member' });
      if (fixed && no !== me) return sendJson(res, 403, { fault: 'not your statements' });
      const seeded = SEEDED.some((m) => m.no === no);
      return sendJson(res, 200, {
        member_no: no,
        statements: seeded
          ? [{ month: '2026-11', closing: no === 7101 ? 812.4 : 95.15, iban: `DE89${no}0000` }]
          : [],
      });
    }
    return sendJson(res, 404, { fault: 'no route' });
  });
  return started.then((s) => ({ ...s, reads, members }));
}

const identity = (i: number) => ({
  name: SEEDED[i].handle,
  params: { member_no: String(SEEDED[i].no) },
  login: {
    path: '/v2/auth/sessions',
    body: { handle: SEEDED[i].handle, passcode: SEEDED[i].passcode },
    tokenPointer: '/session/key',
    header: 'X-Session-Key',
  },
});

describe("given params win over a scan-made object for the identity's own reads", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startDesk>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startDesk, {
        identities: [identity(0), identity(1)],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('alice read her own statements by her given member number (both twins)', () => {
    for (const twin of [scans.vulnerable, scans.fixed]) {
      assert.ok(twin.api.reads.includes('7101 7101'), twin.api.reads.join());
      assert.ok(twin.api.reads.includes('7205 7205'), twin.api.reads.join());
    }
  });

  test("vulnerable: one member reads the other's statements", () => {
    const f = scans.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api1-bola-read');
    assert.ok(f, operationsFound(scans.vulnerable.result).join());
    assert.match(f.message, /\/v2\/members\/(7101|7205)\/statements/);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
