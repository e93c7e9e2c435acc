import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Coupons that only administrators may create and delete, as the operations' descriptions say (their paths,
 * tags and summaries say nothing of it). Vulnerable: anyone creates and deletes them. Fixed twin: only the
 * administrator (`x-user: root`). Vouchers live under `/admin` (so the setup creates none): the one an ordinary
 * identity creates through the privileged operation is then deleted by it, by its `voucher_id`.
 */
const codeParam = { name: 'code', in: 'path', required: true, schema: { type: 'string' } };
const COUPON = { type: 'object', properties: { code: { type: 'string' }, percent: { type: 'integer' } } };
const VOUCHER = {
  type: 'object',
  properties: { voucher_id: { type: 'string' }, code: { type: 'string' }, amount: { type: 'integer' } },
};
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'coupons', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'x-user' } } },
  security: [{ key: [] }],
  paths: {
    '/admin/vouchers': {
      post: {
        operationId: 'createVoucher',
        summary: 'Create a voucher',
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { type: 'object', properties: { amount: { type: 'integer' } } } },
          },
        },
        responses: { '201': { description: 'created', ...json(VOUCHER) } },
      },
    },
    '/admin/vouchers/{code_or_id}': {
      delete: {
        operationId: 'deleteVoucher',
        summary: 'Delete a voucher',
        parameters: [{ name: 'code_or_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'deleted', ...json({ type: 'object' }) } },
      },
    },
    '/coupons': {
      post: {
        operationId: 'createCoupon',
        summary: 'Create a coupon',
        description: 'Creates a discount coupon. Administrators only.',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['code', 'percent'],
                properties: {
                  code: { type: 'string' },
                  percent: { type: 'integer', minimum: 1, maximum: 50 },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'created', ...json(COUPON) } },
      },
    },
    '/coupons/{code}': {
      get: {
        operationId: 'getCoupon',
        summary: 'A coupon',
        parameters: [codeParam],
        responses: { '200': { description: 'a coupon', ...json(COUPON) } },
      },
      delete: {
        operationId: 'deleteCoupon',
        summary: 'Delete a coupon',
        description: 'Deletes a coupon. Administrators only.',
        parameters: [codeParam],
        responses: { '200': { description: 'deleted', ...json({ type: 'object' }) } },
      },
    },
  },
};

async function startCoupons(fixed: boolean): Promise<{ url: string; server: Server }> {
  const coupons = new Map<string, { code: string; percent: number }>();
  const vouchers = new Map<string, { voucher_id: string; code: string; amount: number }>();
  let next = 1;
  return startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const user = String(req.headers['x-user'] ?? '');
    if (!['alice', 'bob', 'root'].includes(user)) return send(401, { detail: 'Not authenticated' });
    const [, top, code, sub] = (req.url ?? '').split('?')[0].split('/');
    const admin = user === 'root';
    if (top === 'admin' && code === 'vouchers') {
      // Created with an id and a code; deleted by either (`/admin/vouchers/{code_or_id}`).
      if (fixed && !admin) return send(403, { detail: 'Administrators only' });
      if (req.method === 'POST' && !sub) {
        const v = { voucher_id: `v-${next}`, code: `VOUCH${next++}`, amount: 10 };
        vouchers.set(v.voucher_id, v);
        return send(201, v);
      }
      const v = [...vouchers.values()].find((x) => x.voucher_id === sub || x.code === sub);
      if (!v) return send(404, { detail: 'Voucher not found' });
      if (req.method !== 'DELETE') return send(405, { detail: 'Method Not Allowed' });
      vouchers.delete(v.voucher_id);
      return send(200, { deleted: v.code });
    }
    if (top !== 'coupons') return send(404, { detail: 'Not Found' });
    if (req.method === 'POST' && !code) {
      let raw = '';
      req.on('data', (c) => {
        raw += c;
      });
      req.on('end', () => {
        if (fixed && !admin) return send(403, { detail: 'Administrators only' });
        let body: { code?: unknown; percent?: unknown };
        try {
          body = JSON.parse(raw);
        } catch {
          return send(400, { detail: 'Bad JSON' });
        }
        if (typeof body.code !== 'string' || typeof body.percent !== 'number') {
          return send(422, { detail: 'code and percent are required' });
        }
        const coupon = { code: body.code, percent: body.percent };
        coupons.set(coupon.code, coupon);
        send(201, coupon);
      });
      return;
    }
    const coupon = coupons.get(decodeURIComponent(code ?? ''));
    if (!coupon) return send(404, { detail: 'Coupon not found' });
    if (req.method === 'GET') return send(200, coupon);
    if (req.method === 'DELETE') {
      if (fixed && !admin) return send(403, { detail: 'Administrators only' });
      coupons.delete(coupon.code);
      return send(200, { deleted: coupon.code });
    }
    send(405, { detail: 'Method Not Allowed' });
  });
}

describe('API5 on operations whose descriptions say administrators only', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startCoupons, {
      identities: [
        { name: 'alice', headers: { 'x-user': 'alice' } },
        { name: 'bob', headers: { 'x-user': 'bob' } },
      ],
      admin: { name: 'root', headers: { 'x-user': 'root' } },
      checks: ['API5'],
      ratePerSecond: 200,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  test('reports an ordinary identity creating coupons and vouchers and deleting ones the scan created', () => {
    assert.deepEqual(operationsFound(results.vulnerable), [
      'scan/api5-bfla createCoupon',
      'scan/api5-bfla createVoucher',
      'scan/api5-bfla deleteCoupon',
      'scan/api5-bfla deleteVoucher',
    ]);
  });

  test('finds nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(results.fixed), []);
  });
});
