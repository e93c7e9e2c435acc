import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A plant-swap API written like a Koa app with a rate-limit middleware: `POST /session {handle, password}`
 * answers `201 {"session": {"key": ...}}`, keys go back as `X-Session-Key`, errors are `{"errors": [{"title"}]}`.
 *
 * Fixed twin: the session route allows 30 failed logins per client in 15 minutes and says so on every answer
 * (`X-RateLimit-Limit: 30`, `X-RateLimit-Remaining`), then 429: more than the scan's run of twelve, fewer than a
 * guessing attack needs. Vulnerable: no limit and no such header.
 */
const SEED = [
  { handle: 'fern', password: 'Fern-grows-moss-27' },
  { handle: 'ivy', password: 'Ivy-climbs-walls-64' },
];
const LIMIT = 30;

function startSwap(fixed: boolean) {
  const failed = new Map<string, number>();
  const keys = new Map<string, string>();
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/session') {
      const client = req.socket.remoteAddress ?? '';
      const used = failed.get(client) ?? 0;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (fixed) {
        headers['x-ratelimit-limit'] = String(LIMIT);
        headers['x-ratelimit-remaining'] = String(Math.max(0, LIMIT - used));
        if (used >= LIMIT)
          return sendJson(
            res,
            429,
            { errors: [{ title: 'Too Many Requests' }] },
            { ...headers, 'retry-after': '900' },
          );
      }
      const b = await readJson(req);
      const user = SEED.find((u) => u.handle === b?.handle && u.password === b?.password);
      if (!user) {
        if (failed.size < 1000 || failed.has(client)) failed.set(client, used + 1);
        return sendJson(res, 401, { errors: [{ title: 'Invalid handle or password' }] }, headers);
      }
      const key = randomBytes(16).toString('hex');
      keys.set(key, user.handle);
      return sendJson(res, 201, { session: { key } }, headers);
    }
    const who = keys.get(String(req.headers['x-session-key'] ?? ''));
    if (!who) return sendJson(res, 401, { errors: [{ title: 'Unauthorized' }] });
    if (req.method === 'GET' && url.pathname === '/swaps')
      return sendJson(res, 200, { swaps: [{ who, plant: 'fern' }] });
    return sendJson(res, 404, { errors: [{ title: 'Not Found' }] });
  });
}

const SPEC = {
  openapi: '3.1.0',
  info: { title: 'plant swap', version: '2.0.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Session-Key' } } },
  paths: {
    '/session': {
      post: {
        operationId: 'createSession',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { handle: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'a session key' }, '401': { description: 'refused' } },
      },
    },
    '/swaps': {
      get: { operationId: 'swaps', security: [{ key: [] }], responses: { '200': { description: 'swaps' } } },
    },
  },
};

const bruteForce = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api2-no-brute-force-protection')
    .map((f) => f.operation?.operationId);

describe('a login limit the answers announce (X-RateLimit-Limit: 30) is brute-force protection', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startSwap(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.map((u) => ({
            name: u.handle,
            login: { path: '/session', body: u, tokenPointer: '/session/key', header: 'x-session-key' },
          })),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: no limit at all is reported', () => {
    assert.deepEqual(
      bruteForce(runs.vulnerable),
      ['createSession'],
      operationsFound(runs.vulnerable).join('\n'),
    );
  });

  test('fixed twin: the announced limit of 30, not reached by the run, is no finding', () => {
    assert.deepEqual(bruteForce(runs.fixed), [], operationsFound(runs.fixed).join('\n'));
  });
});
