import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A plant-sitting club: `POST /api/sessions {handle, passphrase}` answers 201 `{"session": {"bearer": ...}}`, and
 * the token goes back in an `X-Club-Session` header, no scheme. The token is standard base64 (padded) of a JSON
 * object, `{"member_id": 41, "handle": "mira", "tier": "member"}`: readable, and unsigned. Refusals are 401/403
 * `{"reason": ...}`.
 *
 * Vulnerable: the API decodes the token and believes it: the member and the tier are whatever it says.
 * Fixed twin: the same tokens, but only those it issued count (a server-side set), so an altered one is refused.
 */
const MEMBERS = [
  {
    member_id: 41,
    handle: 'mira',
    passphrase: 'Mira-waters-ferns-7',
    tier: 'member',
    display: 'Mira Okonkwo',
  },
  {
    member_id: 42,
    handle: 'tomas',
    passphrase: 'Tomas-trims-bonsai-3',
    tier: 'member',
    display: 'Tomas Lind',
  },
  {
    member_id: 7,
    handle: 'warden',
    passphrase: 'Warden-keeps-keys-9',
    tier: 'admin',
    display: 'Club Warden',
  },
];
const PLANTS: Record<number, string[]> = {
  41: ['maidenhair fern', 'calathea'],
  42: ['juniper bonsai'],
  7: [],
};

function startClub(fixed: boolean) {
  const issued = new Set<string>();
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/sessions') {
      const body = await readJson(req);
      const m = MEMBERS.find((x) => x.handle === body?.handle && x.passphrase === body?.passphrase);
      if (!m) return sendJson(res, 401, { reason: 'unknown handle or passphrase' });
      const token = Buffer.from(
        JSON.stringify({
          member_id: m.member_id,
          handle: m.handle,
          tier: m.tier,
          n: randomBytes(3).toString('hex'),
        }),
      ).toString('base64');
      issued.add(token);
      return sendJson(res, 201, { session: { bearer: token, expires_in: 3600 } });
    }
    const token = String(req.headers['x-club-session'] ?? '');
    let claims: { member_id?: unknown; tier?: unknown } | undefined;
    if (!fixed || issued.has(token)) {
      try {
        claims = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
      } catch {
        claims = undefined;
      }
    }
    const m = MEMBERS.find((x) => x.member_id === claims?.member_id);
    if (!m || claims === undefined) return sendJson(res, 401, { reason: 'sign in first' });
    if (req.method === 'GET' && url.pathname === '/api/members/current')
      return sendJson(res, 200, {
        member_id: m.member_id,
        handle: m.handle,
        display: m.display,
        plants: PLANTS[m.member_id],
      });
    if (req.method === 'GET' && url.pathname === '/api/roster') {
      // The tier the token states (vulnerable) or the member's own (fixed: the token is the issued one).
      const tier = fixed ? m.tier : claims.tier;
      if (tier !== 'admin') return sendJson(res, 403, { reason: 'wardens only' });
      return sendJson(
        res,
        200,
        MEMBERS.map((x) => ({ member_id: x.member_id, handle: x.handle, tier: x.tier })),
      );
    }
    return sendJson(res, 404, { reason: 'no such page' });
  });
}

const secured = (id: string) => ({
  get: { operationId: id, security: [{ club: [] }], responses: { '200': { description: 'ok' } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'plant-sitting club', version: '2.1.0' },
  components: { securitySchemes: { club: { type: 'apiKey', in: 'header', name: 'X-Club-Session' } } },
  paths: {
    '/api/sessions': {
      post: {
        operationId: 'openSession',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { handle: { type: 'string' }, passphrase: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'a session' } },
      },
    },
    '/api/members/current': secured('currentMember'),
    '/api/roster': secured('roster'),
  },
};

const identity = (m: (typeof MEMBERS)[number]) => ({
  name: m.handle,
  login: {
    path: '/api/sessions',
    body: { handle: m.handle, passphrase: m.passphrase },
    header: 'x-club-session',
  },
});

const accepted = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api2-invalid-token-accepted');

describe("a readable bearer token (base64 JSON): B's id and an admin tier put in A's token", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startClub(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: [identity(MEMBERS[0]), identity(MEMBERS[1])],
          admin: identity(MEMBERS[2]),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test("vulnerable: the token with tomas's id reads tomas's record, and a raised tier reads the roster", () => {
    const found = accepted(runs.vulnerable);
    const all = `${operationsFound(runs.vulnerable).join('\n')}\n${found.map((f) => f.message).join('\n')}`;
    const identityFinding = found.find((f) => /tomas's own data/.test(f.message));
    assert.ok(identityFinding, all);
    assert.match(identityFinding.message, /token \(its x-club-session header\)/);
    assert.equal(identityFinding.operation?.operationId, 'currentMember');
    const role = found.find((f) => /role raised/.test(f.message));
    assert.ok(role, all);
    assert.equal(role.operation?.operationId, 'roster');
    // The altered token holds no signature of A's: it is given, to send again.
    assert.match(String(identityFinding.evidence?.forgedToken), /^[A-Za-z0-9+/]+=*$/);
  });

  test('fixed twin: no altered token accepted', () => {
    assert.deepEqual(
      accepted(runs.fixed).map((f) => f.message),
      [],
    );
  });
});

describe('the same token given as a header (no login flow): still read, altered and judged', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startClub(kind === 'fixed');
      try {
        const given = async (m: (typeof MEMBERS)[number]) => {
          const res = await fetch(`${api.url}/api/sessions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ handle: m.handle, passphrase: m.passphrase }),
          });
          const token = ((await res.json()) as { session: { bearer: string } }).session.bearer;
          return { name: m.handle, headers: { 'X-Club-Session': token } };
        };
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: [await given(MEMBERS[0]), await given(MEMBERS[1])],
          admin: await given(MEMBERS[2]),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test("vulnerable: tomas's id in mira's given token reads tomas's record", () => {
    const found = accepted(runs.vulnerable);
    const all = `${operationsFound(runs.vulnerable).join('\n')}\n${found.map((f) => f.message).join('\n')}`;
    assert.ok(
      found.some((f) => /tomas's own data/.test(f.message) && f.operation?.operationId === 'currentMember'),
      all,
    );
  });

  test('fixed twin: no altered token accepted', () => {
    assert.deepEqual(
      accepted(runs.fixed).map((f) => f.message),
      [],
    );
  });
});
