import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * A purchase-order service in the style of ASP.NET Core: routes `/api/Orders`, camelCase JSON, errors as
 * ProblemDetails (`{type, title, status, traceId}`), `Authorization: Bearer`, a creation answering `201` with the
 * order and a `Location`, `DELETE /api/Orders/{id}` answering 204. Its input formatters take JSON and, as
 * ASP.NET's XML formatter does when it is switched on, XML: the vulnerable twin's reader expands the internal
 * entities of a DTD (written here: internal entities only, never a file). The XXE probes of `POST /api/Orders`
 * (a JSON creation also tried as XML) made an order with every document they sent, as alice, and left them there;
 * now each is deleted by alice at the end. Fixed twin: XML is refused (415).
 */
const SPEC = {
  openapi: '3.0.1',
  info: { title: 'PurchaseOrders', version: 'v1' },
  components: { securitySchemes: { Bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ Bearer: [] }],
  paths: {
    '/api/Orders': {
      get: {
        operationId: 'Orders_List',
        responses: {
          '200': { description: 'Success', content: { 'application/json': { schema: { type: 'array' } } } },
        },
      },
      post: {
        operationId: 'Orders_Create',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { reference: { type: 'string' }, note: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'Created' } },
      },
    },
    '/api/Orders/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', format: 'int32' } }],
      get: { operationId: 'Orders_Get', responses: { '200': { description: 'Success' } } },
      delete: { operationId: 'Orders_Delete', responses: { '204': { description: 'No Content' } } },
    },
  },
};

const TOKENS: Record<string, string> = { 'po-alice-41c7': 'alice', 'po-bob-9d02': 'bob' };

interface Order {
  id: number;
  owner: string;
  reference: string;
  note: string;
}

/** The text of each element by its name, internal DTD entities expanded (the vulnerable twin's reader). */
function readXml(text: string): Record<string, string> {
  const entities = new Map<string, string>();
  for (const m of text.matchAll(/<!ENTITY\s+([\w.-]+)\s+"([^"]*)"\s*>/g)) entities.set(m[1], m[2]);
  const body = text
    .replace(/<!DOCTYPE[\s\S]*?\]>/, '')
    .replace(/&([\w.-]+);/g, (all, n) => entities.get(n) ?? all);
  const out: Record<string, string> = {};
  for (const m of body.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) out[m[1]] = m[2];
  return out;
}

async function startOrders(fixed: boolean): Promise<TestServer & { orders: Order[] }> {
  const orders: Order[] = [
    { id: 1, owner: 'alice', reference: 'PO-2024-0001', note: 'pallets for the depot' },
    { id: 2, owner: 'bob', reference: 'PO-2024-0002', note: 'spare rollers' },
  ];
  let next = 3;
  const problem = (res: ServerResponse, status: number, title: string) => {
    res.writeHead(status, { 'content-type': 'application/problem+json; charset=utf-8' });
    res.end(
      JSON.stringify({
        type: `https://tools.ietf.org/html/rfc9110#section-15.5`,
        title,
        status,
        traceId: '00-4bf92f35-01',
      }),
    );
  };
  const ok = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const view = ({ owner: _owner, ...o }: Order) => o;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const me = TOKENS[String(req.headers.authorization ?? '').replace(/^Bearer /, '')];
    const text = await readText(req);
    if (!me) return problem(res, 401, 'Unauthorized');
    if (url.pathname === '/api/Orders') {
      if (req.method === 'GET') return ok(res, 200, orders.filter((o) => o.owner === me).map(view));
      if (req.method === 'POST') {
        const type = String(req.headers['content-type'] ?? '');
        let input: Record<string, unknown>;
        if (/xml/i.test(type)) {
          if (fixed) return problem(res, 415, 'Unsupported Media Type');
          input = readXml(text);
        } else {
          try {
            input = JSON.parse(text || '{}');
          } catch {
            return problem(res, 400, 'One or more validation errors occurred.');
          }
        }
        const o: Order = {
          id: next++,
          owner: me,
          reference: String(input.reference ?? ''),
          note: String(input.note ?? ''),
        };
        orders.push(o);
        return ok(res, 201, view(o), { location: `/api/Orders/${o.id}` });
      }
    }
    const m = /^\/api\/Orders\/(\d+)$/.exec(url.pathname);
    if (m) {
      const o = orders.find((x) => x.id === Number(m[1]) && x.owner === me);
      if (!o) return problem(res, 404, 'Not Found');
      if (req.method === 'GET') return ok(res, 200, view(o));
      if (req.method === 'DELETE') {
        orders.splice(orders.indexOf(o), 1);
        res.writeHead(204);
        return res.end();
      }
    }
    return problem(res, 404, 'Not Found');
  };
  const api = await startServer((req, res) => {
    handle(req, res).catch(() => problem(res, 500, 'An error occurred while processing your request.'));
  });
  return { ...api, orders };
}

async function scanOrders(fixed: boolean): Promise<{ result: ScanResult; orders: Order[] }> {
  const api = await startOrders(fixed);
  try {
    const result = await scanDocument(SPEC, api.url, {
      identities: [
        { name: 'alice', headers: { authorization: 'Bearer po-alice-41c7' } },
        { name: 'bob', headers: { authorization: 'Bearer po-bob-9d02' } },
      ],
      checks: ['API8'],
      ratePerSecond: 300,
      timeDelayMs: 300,
    });
    return { result, orders: api.orders };
  } finally {
    await api.close();
  }
}

describe('the XXE probes of a JSON creation tried as XML leave no order in alice’s data', () => {
  test('found on the vulnerable twin; every order the probes made deleted; the fixed twin has no finding', async () => {
    const v = await scanOrders(false);
    assert.deepEqual(
      v.result.findings.filter((f) => f.rule.id === 'scan/api8-xxe').map((f) => f.operation?.operationId),
      ['Orders_Create'],
    );
    // Alice's seeded order only: discovery's one plain order (`portcullis-…`, the object other checks work on) is
    // deleted by the end-of-scan clean-up of what setup made in a given identity's data (0921604).
    const alices = v.orders.filter((o) => o.owner === 'alice');
    assert.deepEqual(alices, [
      {
        id: 1,
        owner: 'alice',
        reference: 'PO-2024-0001',
        note: 'pallets for the depot',
      },
    ]);
    assert.match(
      JSON.stringify(v.result.coverage),
      /the XXE probes of POST \/api\/Orders created \d+ objects? as alice, all deleted/,
    );
    const f = await scanOrders(true);
    assert.deepEqual(
      f.result.findings.filter((x) => x.rule.id === 'scan/api8-xxe'),
      [],
    );
  });
});
