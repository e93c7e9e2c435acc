import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument, type TwinTarget } from './twins.ts';

/**
 * API9's older-version writes of an action (`POST /v1/invoices/{invoiceId}/finalize` tried at `/invoices/{invoiceId}/finalize`
 * and `/v0/...`): a write the safety rule holds back must be noted as acting on the invoice it names, not on
 * `finalize` (R1-H3 in session 15: the unversioned path is one segment shorter, and the runner read it against the
 * documented template). Style: a Stripe-like billing API, bearer keys, `{data}`/`{error: {code, message}}`, string
 * ids `in_…`; one seeded invoice per merchant, no creation route, so every finalize names an invoice the scan did
 * not create. Not vulnerable: both older paths answer 404 like any unknown route.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'billing', version: '1.0.0' },
  components: { securitySchemes: { key: { type: 'http', scheme: 'bearer' } } },
  security: [{ key: [] }],
  paths: {
    '/v1/invoices': {
      get: { operationId: 'listInvoices', responses: { '200': { description: 'invoices' } } },
    },
    '/v1/invoices/{invoiceId}/finalize': {
      post: {
        operationId: 'finalizeInvoice',
        parameters: [{ name: 'invoiceId', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'finalized' }, '404': { description: 'none' } },
      },
    },
  },
};
const KEYS = {
  acme: `sk_${randomBytes(10).toString('hex')}`,
  zenith: `sk_${randomBytes(10).toString('hex')}`,
};

function startBilling(): Promise<TwinTarget & { finalized: string[] }> {
  const invoices = [
    { id: 'in_A1x9', merchant: 'acme', status: 'draft' },
    { id: 'in_B7k2', merchant: 'zenith', status: 'draft' },
  ];
  const finalized: string[] = [];
  return startServer(async (req, res) => {
    await readJson(req);
    const url = new URL(req.url ?? '/', 'http://x');
    const who = Object.entries(KEYS).find(([, k]) => `Bearer ${k}` === req.headers.authorization)?.[0];
    const fail = (status: number, code: string, message: string) =>
      sendJson(res, status, { error: { code, message } });
    if (!who) return fail(401, 'unauthorized', 'a key is required');
    if (req.method === 'GET' && url.pathname === '/v1/invoices')
      return sendJson(res, 200, { data: invoices.filter((i) => i.merchant === who) });
    const at = /^\/v1\/invoices\/([^/]+)\/finalize$/.exec(url.pathname);
    if (req.method === 'POST' && at) {
      const inv = invoices.find((i) => i.id === at[1] && i.merchant === who);
      if (!inv) return fail(404, 'not_found', 'no such invoice');
      inv.status = 'open';
      finalized.push(inv.id);
      return sendJson(res, 200, { data: inv });
    }
    return fail(404, 'not_found', `no route ${req.method} ${url.pathname}`);
  }).then((api) => Object.assign(api, { finalized }));
}

describe('an older version of an action held back: the note names the object it acts on', () => {
  let result: ScanResult;
  let finalized: string[];
  before(async () => {
    const api = await startBilling();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: Object.entries(KEYS).map(([name, key]) => ({
          name,
          headers: { authorization: `Bearer ${key}` },
        })),
        checks: ['API9'],
        ratePerSecond: 200,
      });
      finalized = api.finalized;
    } finally {
      api.server.close();
    }
  });

  test('no note says the path acts on the verb', () => {
    const said = result.coverage.matrix.flatMap((c) => [c.reason ?? '', ...(c.notes ?? [])]);
    assert.ok(
      !said.some((s) => /acts on finalize/.test(s)),
      said.filter((s) => /acts on/.test(s)).join('\n'),
    );
  });

  test('no seeded invoice was finalized', () => {
    assert.deepEqual(finalized, []);
  });
});
