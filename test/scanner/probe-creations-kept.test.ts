import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Phoenix-style store API (Elixir conventions: `{"data": ...}` envelopes, changeset errors `{"errors": {"url":
 * ["must be a public https address"]}}` with 422, `{"errors": {"detail": "Not Found"}}`, snake_case, bearer
 * tokens). Each customer has an account (`GET/PATCH /api/account`, only `name` declared writable; reads show `role`
 * and `credit_cents`) and webhooks (`POST /api/webhooks {url}`, each sent a ping on creation; `DELETE
 * /api/webhooks/{id}` by its owner). Vulnerable: the ping fetches any address (SSRF), and the account update casts
 * every field it is sent (role and credit). Fixed twin: public https addresses only, and an update naming any field
 * but `name` is refused 422 as a whole (a strict changeset), the set-back of the scan's probe included.
 *
 * What the scan's probes create as a given identity must not stay in its data (a webhook to the canary's address
 * would receive alice's real events later); a refused probe is no elevation; the finding names every field stored.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const ok = (description: string, schema: object = { type: 'object' }) => ({
  description,
  content: json(schema),
});
const ACCOUNT = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    email: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string' },
    credit_cents: { type: 'integer' },
  },
};
const WEBHOOK = {
  type: 'object',
  properties: { id: { type: 'integer' }, url: { type: 'string', format: 'uri' }, event: { type: 'string' } },
};
/** The document; `envelope` false declares the bare records. */
const spec = (envelope: boolean) => {
  const data = (schema: object) => (envelope ? { type: 'object', properties: { data: schema } } : schema);
  return {
    openapi: '3.0.3',
    info: { title: 'storefront', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/api/account': {
        get: {
          operationId: 'showAccount',
          responses: { '200': ok('your account', data(ACCOUNT)) },
        },
        patch: {
          operationId: 'updateAccount',
          requestBody: {
            required: true,
            content: json({ type: 'object', properties: { name: { type: 'string', maxLength: 60 } } }),
          },
          responses: {
            '200': ok('your account', data(ACCOUNT)),
            '422': ok('invalid'),
          },
        },
      },
      '/api/webhooks': {
        get: {
          operationId: 'listWebhooks',
          responses: {
            '200': ok('your webhooks', data({ type: 'array', items: WEBHOOK })),
          },
        },
        post: {
          operationId: 'createWebhook',
          requestBody: {
            required: true,
            content: json({
              type: 'object',
              required: ['url'],
              properties: {
                url: { type: 'string', format: 'uri', example: 'https://hooks.example.net/orders' },
                event: { type: 'string', enum: ['order.paid', 'order.shipped'] },
              },
            }),
          },
          responses: {
            '201': ok('created; a ping is sent to it', data(WEBHOOK)),
            '422': ok('invalid'),
          },
        },
      },
      '/api/webhooks/{id}': {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
        get: {
          operationId: 'showWebhook',
          responses: { '200': ok('a webhook', data(WEBHOOK)) },
        },
        delete: { operationId: 'deleteWebhook', responses: { '204': { description: 'deleted' } } },
      },
    },
  };
};

const TOKENS: Record<string, string> = { 'sfm.alice': 'alice', 'sfm.bob': 'bob', 'sfm.root': 'root' };

interface Hook {
  id: number;
  owner: string;
  url: string;
  event: string;
}

/** The store; `envelope` false answers the bare record (`{"id": 2, "role": ...}`, a Rails-style API without a root). */
function startStore(fixed: boolean, envelope = true) {
  const wrap = (v: unknown) => (envelope ? { data: v } : v);
  const accounts: Record<string, Record<string, unknown>> = {
    alice: { id: 1, email: 'alice@store.test', name: 'Alice', role: 'customer', credit_cents: 5000 },
    bob: { id: 2, email: 'bob@store.test', name: 'Bob', role: 'customer', credit_cents: 2500 },
    root: { id: 3, email: 'root@store.test', name: 'Root', role: 'admin', credit_cents: 0 },
  };
  const hooks: Hook[] = [
    { id: 1, owner: 'alice', url: 'https://hooks.alice.test/in', event: 'order.paid' },
    { id: 2, owner: 'bob', url: 'https://hooks.bob.test/in', event: 'order.paid' },
  ];
  let nextId = 3;
  const seed = JSON.parse(JSON.stringify({ accounts, hooks }));
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const path = new URL(req.url ?? '/', 'http://store').pathname.replace(/\/$/, '');
    const send = (status: number, payload?: unknown) => {
      res.writeHead(
        status,
        payload === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' },
      );
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
    const detail = (status: number, d: string) => send(status, { errors: { detail: d } });
    const user = TOKENS[String(req.headers.authorization ?? '').replace(/^Bearer /, '')];
    if (!user) return detail(401, 'Unauthorized');
    let input: Record<string, unknown> = {};
    if (req.method === 'POST' || req.method === 'PATCH') {
      try {
        input = JSON.parse(text || '{}');
      } catch {
        return detail(400, 'Bad Request');
      }
      if (input === null || typeof input !== 'object' || Array.isArray(input))
        return detail(400, 'Bad Request');
    }
    const account = accounts[user];
    if (path === '/api/account' && req.method === 'GET') return send(200, wrap(account));
    if (path === '/api/account' && req.method === 'PATCH') {
      const errors: Record<string, string[]> = {};
      for (const k of Object.keys(input)) if (fixed && k !== 'name') errors[k] = ['is not allowed'];
      if (input.name !== undefined && typeof input.name !== 'string') errors.name = ['is invalid'];
      if (Object.keys(errors).length > 0) return send(422, { errors });
      // The vulnerable cast takes every column it is sent but the id and e-mail; others are dropped.
      for (const [k, v] of Object.entries(input))
        if (['name', 'role', 'credit_cents'].includes(k)) account[k] = v;
      return send(200, wrap(account));
    }
    const view = (h: Hook) => ({ id: h.id, url: h.url, event: h.event });
    if (path === '/api/webhooks' && req.method === 'GET')
      return send(200, wrap(hooks.filter((h) => h.owner === user).map(view)));
    if (path === '/api/webhooks' && req.method === 'POST') {
      if (typeof input.url !== 'string') return send(422, { errors: { url: ["can't be blank"] } });
      let target: URL;
      try {
        target = new URL(input.url);
      } catch {
        return send(422, { errors: { url: ['is invalid'] } });
      }
      if (
        fixed &&
        (target.protocol !== 'https:' ||
          /^(localhost|\[.*\]|[\d.]+)$/i.test(target.hostname) ||
          !target.hostname.includes('.'))
      )
        return send(422, { errors: { url: ['must be a public https address'] } });
      const hook: Hook = {
        id: nextId++,
        owner: user,
        url: input.url,
        event: typeof input.event === 'string' ? input.event : 'order.paid',
      };
      hooks.push(hook);
      // The ping (the vulnerable twin fetches whatever it was given; a public address of the fixed one is not
      // fetched in the test).
      if (!fixed) void fetch(input.url, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      return send(201, wrap(view(hook)));
    }
    const m = /^\/api\/webhooks\/(\d+)$/.exec(path);
    const hook = m ? hooks.find((h) => h.id === Number(m[1]) && h.owner === user) : undefined;
    if (m && !hook) return detail(404, 'Not Found');
    if (hook && req.method === 'GET') return send(200, wrap(view(hook)));
    if (hook && req.method === 'DELETE') {
      hooks.splice(hooks.indexOf(hook), 1);
      return send(204);
    }
    return detail(404, 'Not Found');
  }).then((api) => Object.assign(api, { accounts, hooks, seed }));
}

for (const envelope of [true, false])
  describe(`what the SSRF and mass-assignment probes create as a given identity is deleted; a refused probe elevates nobody (${envelope ? 'Phoenix {data} envelopes' : 'bare records'})`, () => {
    const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startStore>>>>>;
    before(async () => {
      Object.assign(
        scans,
        await scanTwins(spec(envelope), (fixed) => startStore(fixed, envelope), {
          identities: [
            { name: 'alice', headers: { Authorization: 'Bearer sfm.alice' } },
            { name: 'bob', headers: { Authorization: 'Bearer sfm.bob' } },
          ],
          admin: { name: 'root', headers: { Authorization: 'Bearer sfm.root' } },
          checks: ['API3', 'API7', 'API10'],
          ratePerSecond: 200,
        }),
      );
    });

    test('vulnerable: SSRF on createWebhook and mass assignment on updateAccount; fixed twin: none', () => {
      const found = operationsFound(scans.vulnerable.result);
      assert.ok(found.includes('scan/api7-ssrf createWebhook'), found.join('\n'));
      assert.ok(found.includes('scan/api3-mass-assignment updateAccount'), found.join('\n'));
      assert.deepEqual(operationsFound(scans.fixed.result), []);
    });

    test('the mass-assignment finding names the privilege stored; a given identity’s credit is never written', () => {
      const f = scans.vulnerable.result.findings.find(
        (x) => x.rule.id === 'scan/api3-mass-assignment' && x.operation?.operationId === 'updateAccount',
      );
      assert.ok(f, 'no finding');
      const fields = (f.evidence as { fields?: string[] } | undefined)?.fields ?? [];
      assert.equal(fields[0], 'role', f.message);
      // Review R1-5: money on a given identity's own record is left out (a note says so), not probed and set back.
      assert.ok(!fields.includes('credit_cents'), f.message);
      assert.match(
        JSON.stringify(scans.vulnerable.result.coverage),
        /credit_cents[^"]*its money or account state/,
      );
    });

    test('no identity is marked elevated by a refused probe (fixed twin) nor by one set back (vulnerable)', () => {
      for (const kind of ['vulnerable', 'fixed'] as const)
        assert.ok(
          !scans[kind].result.warnings.some((w) => /ELEVATED/.test(w)),
          `${kind}: ${scans[kind].result.warnings.join('\n')}`,
        );
    });

    test('both twins: the given identities’ accounts are as seeded, and no probe’s webhook is left', () => {
      for (const kind of ['vulnerable', 'fixed'] as const) {
        const { api } = scans[kind];
        assert.deepEqual(api.accounts, api.seed.accounts, kind);
        // The seeded webhooks unchanged.
        for (const s of api.seed.hooks as Hook[])
          assert.deepEqual(
            api.hooks.find((h) => h.id === s.id),
            s,
            kind,
          );
        const made = api.hooks.filter((h) => h.id > 2);
        // Nothing pointing at the scan's canary (a loopback address) stays in anyone's data.
        assert.deepEqual(
          made.filter((h) => /127\.0\.0\.1|localhost|2130706433/.test(h.url)),
          [],
          `${kind}: ${JSON.stringify(made)}`,
        );
        // Nothing the probes made is said to stay.
        assert.deepEqual(
          scans[kind].result.warnings.filter((w) => /probes of .* left in its data/.test(w)),
          [],
          kind,
        );
        // Not even discovery's plain webhook (a sample of the document's example): its maker deletes it at the end.
        assert.deepEqual(made, [], `${kind}: ${JSON.stringify(made)}`);
        // Nothing is said to stay either.
        assert.deepEqual(
          scans[kind].result.warnings.filter((w) => /made in setup .* left in place/.test(w)),
          [],
          kind,
        );
      }
    });
  });
