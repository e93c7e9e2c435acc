import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A print shop in an ASP.NET Core style: PascalCase routes and members (`/api/Products`, `{"Id", "Name"}`), uuid
 * ids, ProblemDetails errors (`{"type", "title", "status", "errors": {...}}`), bearer keys. A print job is made with
 * `POST /api/PrintJobs {ProductId, Copies, Note}`, where `ProductId` must be the uuid of a product of the catalogue
 * (`GET /api/Products`); a made-up uuid is refused 400. Vulnerable: `GET /api/PrintJobs/{id}` answers anyone signed
 * in. Fixed twin: the job's owner only (404 otherwise).
 *
 * The job's creation needs the catalogue's uuid in a PascalCase member: without it the scan makes no job, and the
 * object-level read goes untested.
 */
const problem = { description: 'problem' };
const SPEC = {
  openapi: '3.0.1',
  info: { title: 'PrintShop.Api', version: 'v1' },
  components: { securitySchemes: { Bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ Bearer: [] }],
  paths: {
    '/api/Products': {
      get: {
        tags: ['Products'],
        operationId: 'Products_List',
        responses: { '200': { description: 'Success' } },
      },
    },
    '/api/PrintJobs': {
      post: {
        tags: ['PrintJobs'],
        operationId: 'PrintJobs_Create',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['ProductId', 'Copies'],
                properties: {
                  ProductId: { type: 'string', format: 'uuid' },
                  Copies: { type: 'integer', minimum: 1, maximum: 50 },
                  Note: { type: 'string', maxLength: 200, nullable: true },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'Created' }, '400': problem },
      },
    },
    '/api/PrintJobs/{id}': {
      get: {
        tags: ['PrintJobs'],
        operationId: 'PrintJobs_Get',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
        responses: { '200': { description: 'Success' }, '404': problem },
      },
    },
  },
};

const PRODUCTS = [
  { Id: '6b0f3c52-93a4-4f7e-a2d1-0c9e5b7a1f10', Name: 'A3 poster', UnitPrice: 4.5 },
  { Id: 'c1d2e3f4-5a6b-4c7d-8e9f-a0b1c2d3e4f5', Name: 'Business cards (100)', UnitPrice: 12 },
];
const KEYS: Record<string, string> = { 'Bearer ps-alice-3e1': 'alice', 'Bearer ps-bob-8c4': 'bob' };

interface Job {
  Id: string;
  Owner: string;
  ProductId: string;
  Copies: number;
  Note: string | null;
  ShippingAddress: string;
}

function startShop(fixed: boolean) {
  const jobs: Job[] = [];
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://shop').pathname;
    const details = (status: number, title: string, errors?: Record<string, string[]>) =>
      sendJson(res, status, {
        type: 'https://tools.ietf.org/html/rfc9110',
        title,
        status,
        ...(errors ? { errors } : {}),
      });
    const who = KEYS[String(req.headers.authorization ?? '')];
    if (!who) return details(401, 'Unauthorized');
    if (req.method === 'GET' && path === '/api/Products') return sendJson(res, 200, PRODUCTS);
    if (req.method === 'POST' && path === '/api/PrintJobs') {
      const product = PRODUCTS.find((p) => p.Id === body?.ProductId);
      if (!product)
        return details(400, 'One or more validation errors occurred.', { ProductId: ['Unknown product.'] });
      const copies = body?.Copies;
      if (typeof copies !== 'number' || copies < 1 || copies > 50)
        return details(400, 'One or more validation errors occurred.', { Copies: ['Between 1 and 50.'] });
      const job: Job = {
        Id: randomUUID(),
        Owner: who,
        ProductId: product.Id,
        Copies: copies,
        Note: typeof body?.Note === 'string' ? body.Note.slice(0, 200) : null,
        ShippingAddress: who === 'alice' ? '12 Quay Street, Leith' : '4 Mill Lane, Ely',
      };
      jobs.push(job);
      res.setHeader('location', `/api/PrintJobs/${job.Id}`);
      return sendJson(res, 201, job);
    }
    const m = /^\/api\/PrintJobs\/([0-9a-f-]{36})$/.exec(path);
    if (req.method === 'GET' && m) {
      const job = jobs.find((j) => j.Id === m[1]);
      if (!job || (fixed && job.Owner !== who)) return details(404, 'Not Found');
      return sendJson(res, 200, job);
    }
    return details(404, 'Not Found');
  });
}

describe('API1 gets objects to test where a creation needs a uuid the API gave out, in a PascalCase member', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startShop>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startShop, {
        identities: [
          { name: 'alice', bearer: 'ps-alice-3e1' },
          { name: 'bob', bearer: 'ps-bob-8c4' },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test("vulnerable: bob reads alice's print job", () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read PrintJobs_Get'), found.join());
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
