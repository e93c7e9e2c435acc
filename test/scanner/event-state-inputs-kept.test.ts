import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A subscription service in the style of ASP.NET Core (PascalCase routes under `/api/v2`, camelCase JSON, integer ids,
 * `201` + `Location`, `204 No Content` for commands, `application/problem+json` errors `{type, title, status,
 * traceId}`, an `X-Api-Key` per member). Two requests act on a subscription without being creations:
 *
 * - `POST /api/v2/Subscriptions/Transitions {subscriptionId, toState}`, `toState` one of `Cancelled`, `Suspended`
 *   (every value a change: a sampled body cancels what it names). The vulnerable twin moves anyone's subscription,
 *   the fixed twin the caller's own only (which is still a given identity's real data during a plain scan).
 * - `POST /api/v2/Billing/Callbacks` (public, its billing provider's) `{eventType, payload: {subscriptionId}}`,
 *   `eventType` one of `invoice.paid`, `invoice.payment_failed`: it records the billing outcome on the subscription.
 *   The vulnerable twin takes unsigned events; the fixed twin checks `X-Billing-Signature` (an HMAC of the raw body).
 *
 * A plain scan sent both with ids its reads gave out of alice's and bob's seeded subscriptions (the transition with
 * `Cancelled`, the callback with `invoice.payment_failed`, the quiet value). An event or state input whose value
 * names a change, and a webhook path, make a request act: its id inputs are held to objects the scan created. API10's
 * unsigned-webhook check still posts `invoice.paid` for a subscription the scan created.
 */
const problem = {
  description: 'a problem',
  content: { 'application/problem+json': { schema: { type: 'object' } } },
};
const SUBSCRIPTION = {
  type: 'object',
  properties: {
    id: { type: 'integer', format: 'int32' },
    plan: { type: 'string' },
    state: { type: 'string', enum: ['Active', 'Cancelled', 'Suspended'] },
    billing: { type: 'string', enum: ['due', 'paid', 'failed'] },
  },
};
const body = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const SPEC = {
  openapi: '3.0.1',
  info: { title: 'Subscriptions.Api', version: 'v2' },
  components: { securitySchemes: { ApiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ ApiKey: [] }],
  paths: {
    '/api/v2/Subscriptions': {
      get: {
        operationId: 'Subscriptions_List',
        responses: {
          '200': {
            description: 'the caller’s subscriptions',
            content: { 'application/json': { schema: { type: 'array', items: SUBSCRIPTION } } },
          },
        },
      },
      post: {
        operationId: 'Subscriptions_Create',
        requestBody: body({ plan: { type: 'string', example: 'starter' } }, ['plan']),
        responses: {
          '201': { description: 'created', content: { 'application/json': { schema: SUBSCRIPTION } } },
          '400': problem,
        },
      },
    },
    '/api/v2/Subscriptions/{subscriptionId}': {
      get: {
        operationId: 'Subscriptions_Get',
        parameters: [
          {
            name: 'subscriptionId',
            in: 'path',
            required: true,
            schema: { type: 'integer', format: 'int32' },
          },
        ],
        responses: {
          '200': { description: 'a subscription', content: { 'application/json': { schema: SUBSCRIPTION } } },
          '404': problem,
        },
      },
    },
    '/api/v2/Subscriptions/Transitions': {
      post: {
        operationId: 'Subscriptions_Transition',
        requestBody: body(
          {
            subscriptionId: { type: 'integer', format: 'int32' },
            toState: { type: 'string', enum: ['Cancelled', 'Suspended'] },
          },
          ['subscriptionId', 'toState'],
        ),
        responses: { '204': { description: 'moved' }, '404': problem, '400': problem },
      },
    },
    '/api/v2/Billing/Callbacks': {
      post: {
        operationId: 'Billing_Callback',
        security: [],
        parameters: [
          { name: 'X-Billing-Signature', in: 'header', required: false, schema: { type: 'string' } },
        ],
        requestBody: body(
          {
            eventType: { type: 'string', enum: ['invoice.paid', 'invoice.payment_failed'] },
            payload: { type: 'object', properties: { subscriptionId: { type: 'integer', format: 'int32' } } },
          },
          ['eventType', 'payload'],
        ),
        responses: { '204': { description: 'received' }, '400': problem },
      },
    },
  },
};

interface Subscription {
  id: number;
  owner: string;
  plan: string;
  state: 'Active' | 'Cancelled' | 'Suspended';
  billing: 'due' | 'paid' | 'failed';
}

const KEYS: Record<string, string> = { 'ak-alice-3f9d2c': 'alice', 'ak-bob-7e10b4': 'bob' };

type Api = TwinTarget & { subscriptions: Subscription[] };

function startSubscriptions(fixed: boolean): Promise<Api> {
  const secret = randomBytes(16);
  const subscriptions: Subscription[] = [
    { id: 1, owner: 'alice', plan: 'pro', state: 'Active', billing: 'due' },
    { id: 2, owner: 'bob', plan: 'team', state: 'Active', billing: 'due' },
  ];
  return startServer(async (req, res) => {
    const raw = await readText(req);
    const traceId = `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-00`;
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      if (payload === undefined) {
        res.writeHead(status, headers);
        return res.end();
      }
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(payload));
    };
    const fail = (status: number, title: string) => {
      res.writeHead(status, { 'content-type': 'application/problem+json; charset=utf-8' });
      res.end(
        JSON.stringify({ type: `https://tools.ietf.org/html/rfc9110#section-15.5`, title, status, traceId }),
      );
    };
    let json: Record<string, unknown> = {};
    try {
      json = raw ? JSON.parse(raw) : {};
    } catch {
      return fail(400, 'One or more validation errors occurred.');
    }
    const path = new URL(req.url ?? '/', 'http://subs').pathname;
    if (req.method === 'POST' && path === '/api/v2/Billing/Callbacks') {
      if (fixed) {
        const given = Buffer.from(String(req.headers['x-billing-signature'] ?? ''), 'hex');
        const want = createHmac('sha256', secret).update(raw).digest();
        if (given.length !== want.length || !timingSafeEqual(given, want))
          return fail(400, 'Invalid signature.');
      }
      const payload = (json.payload ?? {}) as Record<string, unknown>;
      const s = subscriptions.find((x) => x.id === Number(payload.subscriptionId));
      if (s && json.eventType === 'invoice.paid') s.billing = 'paid';
      if (s && json.eventType === 'invoice.payment_failed') s.billing = 'failed';
      return send(204);
    }
    const who = KEYS[String(req.headers['x-api-key'] ?? '')];
    if (!who) return fail(401, 'Unauthorized');
    const view = ({ owner: _, ...s }: Subscription) => s;
    if (req.method === 'GET' && path === '/api/v2/Subscriptions')
      return send(200, subscriptions.filter((s) => s.owner === who).map(view));
    if (req.method === 'POST' && path === '/api/v2/Subscriptions') {
      if (typeof json.plan !== 'string' || subscriptions.length > 100)
        return fail(400, 'One or more validation errors occurred.');
      const s: Subscription = {
        id: subscriptions.length + 1,
        owner: who,
        plan: json.plan,
        state: 'Active',
        billing: 'due',
      };
      subscriptions.push(s);
      return send(201, view(s), { location: `/api/v2/Subscriptions/${s.id}` });
    }
    if (req.method === 'POST' && path === '/api/v2/Subscriptions/Transitions') {
      const s = subscriptions.find(
        (x) => x.id === Number(json.subscriptionId) && (!fixed || x.owner === who),
      );
      if (!s) return fail(404, 'Not Found');
      if (json.toState !== 'Cancelled' && json.toState !== 'Suspended')
        return fail(400, 'One or more validation errors occurred.');
      s.state = json.toState;
      return send(204);
    }
    const m = /^\/api\/v2\/Subscriptions\/(\d+)$/.exec(path);
    const s = m ? subscriptions.find((x) => x.id === Number(m[1]) && x.owner === who) : undefined;
    if (req.method === 'GET' && m) return s ? send(200, view(s)) : fail(404, 'Not Found');
    return fail(404, 'Not Found');
  }).then((api) => Object.assign(api, { subscriptions }));
}

const identities = Object.entries(KEYS).map(([key, name]) => ({ name, headers: { 'X-Api-Key': key } }));
const found = (r: ScanResult) => r.findings.map((f) => `${f.rule.id}: ${f.message}`);
const seeded = (api: Api) => api.subscriptions.slice(0, 2).map((s) => `${s.owner} ${s.state} ${s.billing}`);

describe('an event or state input and a webhook path make a request act on the objects it names', () => {
  let runs: TwinScans<Api>;
  before(async () => {
    runs = await scanTwins(SPEC, startSubscriptions, { identities, ratePerSecond: 200 });
  });

  test("a plain scan cancels, suspends or bills none of alice's and bob's seeded subscriptions", () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(seeded(runs[kind].api), ['alice Active due', 'bob Active due'], kind);
  });

  test('the coverage says why the transition and the callback did not go with their ids', () => {
    const reasons = runs.vulnerable.result.coverage.matrix
      .filter((c) => /Transitions|Callbacks/.test(c.operation) && c.reason !== undefined)
      .map((c) => `${c.operation}: ${c.reason}`);
    for (const where of ['Transitions', 'Callbacks'])
      assert.ok(
        reasons.some((r) => r.includes(where) && /subscriptionId=\d+, which the scan did not create/.test(r)),
        reasons.join('\n'),
      );
  });

  test("vulnerable: an unsigned invoice.paid bills the scan's own subscription (API10)", () => {
    const all = found(runs.vulnerable.result);
    assert.ok(
      all.some(
        (m) =>
          m.startsWith('scan/api10-unsigned-webhook: POST /api/v2/Billing/Callbacks') &&
          /billing "due" → "paid"/.test(m),
      ),
      JSON.stringify(all),
    );
  });

  test('fixed: no unsigned-webhook finding', () => {
    assert.deepEqual(
      found(runs.fixed.result).filter((m) => m.startsWith('scan/api10')),
      [],
    );
  });
});
