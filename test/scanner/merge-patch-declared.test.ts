import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Go-style account service that follows the RFCs to the letter: `PATCH /v2/me` takes a JSON Merge Patch
 * (RFC 7396) and declares only `application/merge-patch+json`; any other content type is refused 415 with an
 * RFC 9457 problem (`application/problem+json`). Opaque `X-Api-Key` keys. Vulnerable: the merge patch is applied
 * to the whole stored account, so a member can set its own `role` (undeclared, shown by `GET /v2/me`). Fixed
 * twin: only `nickname` and `locale` are merged. The scan must send the declared type, or no PATCH probe reaches
 * the handler on either twin.
 */
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'accounts', version: '2' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/v2/me': {
      get: { operationId: 'readMe', responses: { '200': { description: 'the account' } } },
      patch: {
        operationId: 'patchMe',
        requestBody: {
          required: true,
          content: {
            'application/merge-patch+json': {
              schema: {
                type: 'object',
                properties: { nickname: { type: 'string' }, locale: { type: 'string' } },
              },
            },
          },
        },
        responses: {
          '200': { description: 'the account' },
          '415': { description: 'not a merge patch' },
        },
      },
    },
  },
};

const KEYS: Record<string, string> = { 'k-7d21e9': 'alice', 'k-c40f5a': 'bob' };

const ACCOUNTS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  alice: { handle: 'alice', nickname: 'Al', locale: 'en-GB', role: 'member' },
  bob: { handle: 'bob', nickname: 'Bobby', locale: 'de-DE', role: 'member' },
};

function startAccounts(fixed: boolean) {
  const accounts: Record<string, Record<string, unknown>> = structuredClone(ACCOUNTS) as Record<
    string,
    Record<string, unknown>
  >;
  const seen = { reached: 0, refused: 0 };
  const problem = (res: ServerResponse, status: number, title: string) =>
    sendJson(
      res,
      status,
      { type: 'about:blank', title, status },
      { 'content-type': 'application/problem+json' },
    );
  const started = startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const who = KEYS[String(req.headers['x-api-key'] ?? '')];
    if (!who) return problem(res, 401, 'Unauthorized');
    if ((req.url ?? '').split('?')[0] !== '/v2/me') return problem(res, 404, 'Not Found');
    if (req.method === 'GET') return sendJson(res, 200, accounts[who]);
    if (req.method !== 'PATCH') return problem(res, 405, 'Method Not Allowed');
    const type = String(req.headers['content-type'] ?? '')
      .split(';')[0]
      .trim()
      .toLowerCase();
    if (type !== 'application/merge-patch+json') {
      seen.refused++;
      return problem(res, 415, 'Unsupported Media Type');
    }
    seen.reached++;
    let patch: unknown;
    try {
      patch = JSON.parse(Buffer.concat(chunks).toString());
    } catch {
      return problem(res, 400, 'Bad Request');
    }
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch))
      return problem(res, 422, 'Unprocessable Content');
    for (const [k, v] of Object.entries(patch)) {
      if (k === 'handle') continue;
      if (fixed && k !== 'nickname' && k !== 'locale') continue;
      if (typeof v === 'string') accounts[who][k] = v.slice(0, 100);
    }
    return sendJson(res, 200, accounts[who]);
  });
  return started.then((s) => ({ ...s, accounts, seen }));
}

describe('a body declared only as application/merge-patch+json is sent as declared', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startAccounts>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startAccounts, {
        identities: Object.entries(KEYS).map(([k, name]) => ({ name, headers: { 'X-Api-Key': k } })),
        ratePerSecond: 200,
        checks: ['API1', 'API3'],
      }),
    );
  });

  test("the scan's PATCH probes reach the handler: none refused 415", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { seen } = scans[kind].api;
      assert.ok(seen.reached >= 2, `${kind}: ${JSON.stringify(seen)}`);
      assert.equal(seen.refused, 0, `${kind}: ${JSON.stringify(seen)}`);
    }
  });

  test('vulnerable: mass assignment of role on PATCH /v2/me', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(
      found.some((f) => /api3/.test(f) && / patchMe$/.test(f)),
      found.join(),
    );
  });

  test('fixed twin: no finding; both twins: alice and bob have their accounts as before', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
    assert.deepEqual(scans.fixed.api.accounts, ACCOUNTS);
    // On the vulnerable twin the probe's own marker field may stay (nothing of the scan removes a stored field);
    // every field the account had is as it was.
    for (const [name, account] of Object.entries(ACCOUNTS))
      for (const [k, v] of Object.entries(account))
        assert.equal(scans.vulnerable.api.accounts[name][k], v, `${name}.${k}`);
  });
});
