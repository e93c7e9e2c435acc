import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A URL stored on a creation and fetched only by the object's own action: `POST /v1/hooks {target_url}` stores it,
 * `POST /v1/hooks/{hookId}/ping` "sends a test delivery" to it (R1-C3 in session 15: the scan created webhooks
 * holding its canary and deleted them without a ping, so no SSRF was seen). The probes' webhooks are pinged by
 * their maker before the canary is waited for, then deleted.
 *
 * Style: a Stripe-like ledger, `X-Api-Key` identities, `{data}` and `{error: {code, message}}`, string ids `wh_…`.
 * The vulnerable twin's ping fetches any URL; the fixed twin's ping refuses loopback and private hosts.
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const hookId = [{ name: 'hookId', in: 'path', required: true, schema: { type: 'string' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'ledger', version: '1.0.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/v1/hooks': {
      get: { operationId: 'listHooks', responses: { '200': { description: 'hooks' } } },
      post: {
        operationId: 'createHook',
        requestBody: json({ target_url: { type: 'string', format: 'uri' }, event: { type: 'string' } }, [
          'target_url',
        ]),
        responses: { '201': { description: 'created' } },
      },
    },
    '/v1/hooks/{hookId}': {
      delete: {
        operationId: 'deleteHook',
        parameters: hookId,
        responses: { '204': { description: 'gone' } },
      },
    },
    '/v1/hooks/{hookId}/ping': {
      post: {
        operationId: 'pingHook',
        summary: "Sends a test delivery to the hook's URL",
        parameters: hookId,
        responses: { '200': { description: 'delivered' }, '422': { description: 'refused' } },
      },
    },
  },
};
const KEYS = { atlas: randomBytes(12).toString('hex'), bruno: randomBytes(12).toString('hex') };
type Ledger = TwinTarget & { hooks: Map<string, { owner: string; url: string }> };

function startLedger(fixed: boolean): Promise<Ledger> {
  const hooks = new Map<string, { owner: string; url: string }>();
  return startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    const fail = (status: number, code: string, message: string) =>
      sendJson(res, status, { error: { code, message } });
    const who = Object.entries(KEYS).find(([, k]) => k === req.headers['x-api-key'])?.[0];
    if (!who) return fail(401, 'unauthorized', 'an API key is required');
    if (req.method === 'GET' && url.pathname === '/v1/hooks')
      return sendJson(res, 200, {
        data: [...hooks].filter(([, h]) => h.owner === who).map(([id, h]) => ({ id, ...h })),
      });
    if (req.method === 'POST' && url.pathname === '/v1/hooks') {
      if (typeof b.target_url !== 'string' || !/^https?:\/\//.test(b.target_url) || hooks.size > 50)
        return fail(422, 'invalid', 'target_url must be a URL');
      const id = `wh_${randomBytes(5).toString('hex')}`;
      hooks.set(id, { owner: who, url: b.target_url });
      return sendJson(res, 201, { data: { id, target_url: b.target_url } });
    }
    const at = /^\/v1\/hooks\/([^/]+)(\/ping)?$/.exec(url.pathname);
    const hook = at ? hooks.get(at[1]) : undefined;
    if (!at || !hook || hook.owner !== who) return fail(404, 'not_found', 'no such hook');
    if (req.method === 'DELETE' && !at[2]) {
      hooks.delete(at[1]);
      res.writeHead(204);
      return res.end();
    }
    if (req.method === 'POST' && at[2]) {
      const host = new URL(hook.url).hostname;
      if (fixed && /^(127\.|10\.|192\.168\.|localhost$|\d+$)/.test(host))
        return fail(422, 'refused', 'private host');
      try {
        const r = await fetch(hook.url, {
          method: 'POST',
          body: '{"ping":true}',
          signal: AbortSignal.timeout(1500),
        });
        return sendJson(res, 200, { data: { delivered: r.status } });
      } catch {
        return sendJson(res, 200, { data: { delivered: 0 } });
      }
    }
    return fail(404, 'not_found', 'no such route');
  }).then((api) => Object.assign(api, { hooks }));
}

const ssrf = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api7-ssrf').map((f) => f.message);

describe("a URL stored on a creation and fetched by the object's own action", () => {
  let runs: TwinScans<Ledger>;
  before(async () => {
    runs = await scanTwins(SPEC, startLedger, {
      identities: Object.entries(KEYS).map(([name, key]) => ({ name, headers: { 'X-Api-Key': key } })),
      checks: ['API7'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: the creation is reported once its hook was pinged', () => {
    const found = ssrf(runs.vulnerable.result);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.match(found[0], /^POST \/v1\/hooks fetched the canary through body field target_url/);
  });

  test('fixed: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });

  test('no hook the probes made is left', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual([...runs[kind].api.hooks.keys()], [], kind);
  });
});
