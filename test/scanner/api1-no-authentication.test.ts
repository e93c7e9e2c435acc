import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument, scanTwins } from './twins.ts';

/**
 * A housing co-operative's API in Spring Data REST's style (HAL: `_links.self.href` on every record, lists under
 * `_embedded.<collection>` with a `page` block, camelCase members, errors as `{timestamp, status, error, path}`).
 * Its document declares no security at all, as many small APIs' documents do.
 *
 * Vulnerable: the API has no authentication. The scan is given two tenants' keys (`Authorization: Bearer ...`), as
 * a user configures it, and the API ignores them: anyone reads any tenant's record (e-mail, phone, rent owed) at
 * `GET /api/tenants/{tenantId}`, any lease (its IBAN and deposit, `tenantId` naming its tenant) at
 * `GET /api/leases/{leaseId}`, any tenant's rent payments at `GET /api/tenants/{tenantId}/payments`, and reads, changes and deletes any repair request at
 * `/api/repairRequests/{requestId}` (a contact phone in it). Nothing lists tenants or leases: their ids are small
 * numbers. Buildings (`GET /api/buildings/{buildingId}`, the caretaker's office phone and the street address) are
 * public on both twins and are nobody's record.
 *
 * Fixed twin: every route but the buildings needs a tenant's key (401 without) and shows a tenant only its own
 * record, leases and repair requests (404 for another's).
 *
 * A pentester's finding on the vulnerable twin is object-level: records of persons read by id by anyone. The
 * seeded tenants, leases and requests stay unchanged through a plain scan.
 */
const hal = (properties: Record<string, unknown>) => ({
  type: 'object',
  properties: { ...properties, _links: { type: 'object' } },
});
const ok = (schema: object) => ({
  description: 'ok',
  content: { 'application/hal+json': { schema } },
});
const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'integer' } });
const REQUEST_BODY = {
  required: true,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['unit', 'description'],
        properties: {
          unit: { type: 'string', maxLength: 12 },
          description: { type: 'string', maxLength: 300 },
          contactPhone: { type: 'string', maxLength: 20 },
        },
      },
    },
  },
};
const REQUEST = hal({
  id: { type: 'integer' },
  tenantId: { type: 'integer' },
  unit: { type: 'string' },
  description: { type: 'string' },
  contactPhone: { type: 'string' },
  status: { type: 'string' },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'co-op housing', version: '2.1' },
  paths: {
    '/api/tenants/{tenantId}': {
      get: {
        operationId: 'getTenant',
        parameters: [idParam('tenantId')],
        responses: {
          '200': ok(
            hal({
              id: { type: 'integer' },
              fullName: { type: 'string' },
              email: { type: 'string' },
              phone: { type: 'string' },
              unit: { type: 'string' },
              rentBalance: { type: 'number' },
            }),
          ),
          '404': { description: 'no such tenant' },
        },
      },
    },
    '/api/tenants/{tenantId}/payments': {
      get: {
        operationId: 'listTenantPayments',
        parameters: [idParam('tenantId')],
        responses: {
          '200': ok({
            type: 'object',
            properties: { _embedded: { type: 'object' }, page: { type: 'object' } },
          }),
        },
      },
    },
    '/api/leases/{leaseId}': {
      get: {
        operationId: 'getLease',
        parameters: [idParam('leaseId')],
        responses: { '200': ok(hal({ id: { type: 'integer' }, tenantId: { type: 'integer' } })) },
      },
    },
    '/api/buildings/{buildingId}': {
      get: {
        operationId: 'getBuilding',
        parameters: [idParam('buildingId')],
        responses: { '200': ok(hal({ id: { type: 'integer' }, name: { type: 'string' } })) },
      },
    },
    '/api/repairRequests': {
      get: {
        operationId: 'listRepairRequests',
        responses: { '200': ok({ type: 'object', properties: { _embedded: { type: 'object' } } }) },
      },
      post: {
        operationId: 'createRepairRequest',
        requestBody: REQUEST_BODY,
        responses: {
          '201': { description: 'created', content: { 'application/hal+json': { schema: REQUEST } } },
        },
      },
    },
    '/api/repairRequests/{requestId}': {
      get: {
        operationId: 'getRepairRequest',
        parameters: [idParam('requestId')],
        responses: { '200': ok(REQUEST) },
      },
      patch: {
        operationId: 'updateRepairRequest',
        parameters: [idParam('requestId')],
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { description: { type: 'string', maxLength: 300 } } },
            },
          },
        },
        responses: { '200': ok(REQUEST) },
      },
      delete: {
        operationId: 'deleteRepairRequest',
        parameters: [idParam('requestId')],
        responses: { '204': { description: 'deleted' } },
      },
    },
  },
};

interface Tenant {
  id: number;
  fullName: string;
  email: string;
  phone: string;
  unit: string;
  rentBalance: number;
  key: string;
}
interface Lease {
  id: number;
  tenantId: number;
  startDate: string;
  monthlyRent: number;
  deposit: number;
  iban: string;
}
interface RepairRequest {
  id: number;
  tenantId: number | null;
  unit: string;
  description: string;
  contactPhone: string;
  status: string;
}

function seed() {
  const tenants: Tenant[] = [
    {
      id: 1,
      fullName: 'Alma Reyes',
      email: 'alma.reyes@example.org',
      phone: '+44 20 7946 0011',
      unit: '1A',
      rentBalance: 0,
      key: 'coop-key-alma-7f3a9c',
    },
    {
      id: 2,
      fullName: 'Bram de Wit',
      email: 'bram.dewit@example.org',
      phone: '+44 20 7946 0022',
      unit: '2C',
      rentBalance: 412.5,
      key: 'coop-key-bram-1b8e44',
    },
    {
      id: 3,
      fullName: 'Chidi Okafor',
      email: 'chidi.okafor@example.org',
      phone: '+44 20 7946 0033',
      unit: '3B',
      rentBalance: 95,
      key: 'coop-key-chidi-c0d2e1',
    },
  ];
  const leases: Lease[] = [
    {
      id: 1,
      tenantId: 2,
      startDate: '2024-03-01',
      monthlyRent: 825,
      deposit: 1650,
      iban: 'GB33BUKB20201555555555',
    },
    {
      id: 2,
      tenantId: 1,
      startDate: '2023-09-01',
      monthlyRent: 790,
      deposit: 1580,
      iban: 'GB94BARC10201530093459',
    },
    {
      id: 3,
      tenantId: 3,
      startDate: '2025-01-01',
      monthlyRent: 910,
      deposit: 1820,
      iban: 'GB82WEST12345698765432',
    },
  ];
  const requests: RepairRequest[] = [
    {
      id: 1,
      tenantId: 1,
      unit: '1A',
      description: 'Dripping tap',
      contactPhone: '+44 20 7946 0011',
      status: 'open',
    },
    {
      id: 2,
      tenantId: 2,
      unit: '2C',
      description: 'Broken window latch',
      contactPhone: '+44 20 7946 0022',
      status: 'open',
    },
  ];
  return { tenants, leases, requests };
}

const BUILDINGS = [
  { id: 1, name: 'Larkspur House', address: '14 Canal Street', phone: '+44 20 7946 0100', floors: 4 },
];

/** Rent paid, by tenant (read only). */
const PAYMENTS = [
  { tenant: 1, paidOn: '2026-11-01', amount: 790, method: 'standing order' },
  { tenant: 1, paidOn: '2026-10-01', amount: 790, method: 'standing order' },
  { tenant: 2, paidOn: '2026-11-04', amount: 412.5, method: 'card' },
  { tenant: 3, paidOn: '2026-11-02', amount: 910, method: 'transfer' },
];

type Data = ReturnType<typeof seed>;

function startCoop(fixed: boolean) {
  const data = seed();
  let nextRequest = 100;
  const started = startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const error = (status: number, text: string) =>
      sendJson(res, status, { timestamp: '2026-12-07T17:00:00.000+00:00', status, error: text, path });
    const send = (status: number, body: unknown) =>
      sendJson(res, status, body, { 'content-type': 'application/hal+json' });
    const link = (collection: string, id: number) => ({
      self: { href: `http://localhost/api/${collection}/${id}` },
    });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const caller = data.tenants.find((t) => t.key === bearer);
    const building = /^\/api\/buildings\/(\d+)$/.exec(path);
    if (req.method === 'GET' && building) {
      const b = BUILDINGS.find((x) => String(x.id) === building[1]);
      return b ? send(200, { ...b, _links: link('buildings', b.id) }) : error(404, 'Not Found');
    }
    if (fixed && caller === undefined) return error(401, 'Unauthorized');
    const mine = (tenantId: number | null) => !fixed || tenantId === caller?.id;
    const tenant = /^\/api\/tenants\/(\d+)$/.exec(path);
    if (req.method === 'GET' && tenant) {
      const t = data.tenants.find((x) => String(x.id) === tenant[1] && mine(x.id));
      if (!t) return error(404, 'Not Found');
      const { key: _key, ...shown } = t;
      return send(200, { ...shown, _links: link('tenants', t.id) });
    }
    const payments = /^\/api\/tenants\/(\d+)\/payments$/.exec(path);
    if (req.method === 'GET' && payments) {
      const t = data.tenants.find((x) => String(x.id) === payments[1] && mine(x.id));
      if (!t) return error(404, 'Not Found');
      const shown = PAYMENTS.filter((x) => x.tenant === t.id).map(({ tenant: _t, ...rest }) => rest);
      return send(200, {
        _embedded: { payments: shown },
        page: { size: 20, totalElements: shown.length, totalPages: 1, number: 0 },
      });
    }
    const lease = /^\/api\/leases\/(\d+)$/.exec(path);
    if (req.method === 'GET' && lease) {
      const l = data.leases.find((x) => String(x.id) === lease[1] && mine(x.tenantId));
      return l ? send(200, { ...l, _links: link('leases', l.id) }) : error(404, 'Not Found');
    }
    if (path === '/api/repairRequests') {
      if (req.method === 'GET') {
        const shown = data.requests.filter((r) => mine(r.tenantId));
        return send(200, {
          _embedded: { repairRequests: shown.map((r) => ({ ...r, _links: link('repairRequests', r.id) })) },
          page: { size: 20, totalElements: shown.length, totalPages: 1, number: 0 },
        });
      }
      if (req.method === 'POST') {
        const body = await readJson(req);
        if (typeof body?.unit !== 'string' || typeof body.description !== 'string')
          return error(400, 'Bad Request');
        const r: RepairRequest = {
          id: nextRequest++,
          tenantId: caller?.id ?? null,
          unit: body.unit,
          description: body.description,
          contactPhone: typeof body.contactPhone === 'string' ? body.contactPhone : '',
          status: 'open',
        };
        data.requests.push(r);
        return send(201, { ...r, _links: link('repairRequests', r.id) });
      }
    }
    const request = /^\/api\/repairRequests\/(\d+)$/.exec(path);
    if (request) {
      const r = data.requests.find((x) => String(x.id) === request[1] && mine(x.tenantId));
      if (!r) return error(404, 'Not Found');
      if (req.method === 'GET') return send(200, { ...r, _links: link('repairRequests', r.id) });
      if (req.method === 'PATCH') {
        const body = await readJson(req);
        if (typeof body?.description === 'string') r.description = body.description;
        return send(200, { ...r, _links: link('repairRequests', r.id) });
      }
      if (req.method === 'DELETE') {
        data.requests.splice(data.requests.indexOf(r), 1);
        res.writeHead(204);
        return res.end();
      }
    }
    return error(404, 'Not Found');
  });
  return started.then((s) => ({ ...s, data }));
}

const SEEDED = JSON.stringify(seed());
/** The seeded records as they are now (the scan's own repair requests left out). */
const seededNow = (data: Data) =>
  JSON.stringify({ ...data, requests: data.requests.filter((r) => r.id < 100) });

describe('an API without authentication: records of persons read by id by anyone', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; data: Data }>;
  before(async () => {
    const [alma, bram] = seed().tenants;
    const scans = await scanTwins(SPEC, startCoop, {
      identities: [
        { name: 'alma', bearer: alma.key },
        { name: 'bram', bearer: bram.key },
      ],
      checks: ['API1', 'API2'],
      ratePerSecond: 200,
    });
    for (const kind of ['vulnerable', 'fixed'] as const)
      runs[kind] = { result: scans[kind].result, data: scans[kind].api.data };
  });

  test("a tenant's record and a lease, read by id without credentials, are object-level findings", () => {
    const found = operationsFound(runs.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read getTenant'), found.join('\n'));
    assert.ok(found.includes('scan/api1-bola-read getLease'), found.join('\n'));
    // Below a tenant: the rent payments, a list of money moves.
    assert.ok(found.includes('scan/api1-bola-read listTenantPayments'), found.join('\n'));
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api1-bola-read' && x.operation?.operationId === 'getTenant',
    );
    assert.match(f?.message ?? '', /without any credentials/);
  });

  test('a repair request the scan made is read and changed without credentials', () => {
    const found = operationsFound(runs.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read getRepairRequest'), found.join('\n'));
    assert.ok(found.includes('scan/api5-anonymous-write updateRepairRequest'), found.join('\n'));
  });

  test("the buildings are public and nobody's: not reported", () => {
    assert.ok(!operationsFound(runs.vulnerable.result).some((f) => f.endsWith(' getBuilding')));
  });

  test('the anonymous reads are not reported again as API2', () => {
    const api2 = runs.vulnerable.result.findings.filter(
      (x) =>
        x.rule.id === 'scan/api2-no-credentials' && /getTenant|getLease/.test(x.operation?.operationId ?? ''),
    );
    assert.deepEqual(api2, []);
  });

  test('the fixed twin: no API1 finding', () => {
    assert.deepEqual(
      operationsFound(runs.fixed.result).filter((f) => /api1-|anonymous/.test(f)),
      [],
    );
  });

  test('the seeded tenants, leases and repair requests are unchanged on both twins', () => {
    assert.equal(seededNow(runs.vulnerable.data), SEEDED);
    assert.equal(seededNow(runs.fixed.data), SEEDED);
  });
});

describe('an API without authentication, scanned with one identity', () => {
  let result: ScanResult;
  let data: Data;
  before(async () => {
    const api = await startCoop(false);
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [{ name: 'alma', bearer: seed().tenants[0].key }],
        checks: ['API1'],
        ratePerSecond: 200,
      });
      data = api.data;
    } finally {
      api.server.close();
    }
  });

  test("a tenant's record read by id without credentials is still found", () => {
    assert.ok(
      operationsFound(result).includes('scan/api1-bola-read getTenant'),
      operationsFound(result).join('\n'),
    );
    assert.equal(seededNow(data), SEEDED);
  });
});
