import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Spring Boot-style promotions API (`{timestamp, status, error, message, path}` errors, bearer tokens): only
 * administrators create coupons (`POST /api/admin/coupons`, no DELETE documented: a coupon cannot be undone) and
 * banners (`POST /api/admin/banners`, deleted by `DELETE /api/admin/banners/{bannerId}`). API5 has the admin confirm
 * each creation works and then tries it as a member. Vulnerable: any member creates both; fixed twin: the admin
 * only. What those creations made must not stay live unsaid: banners are deleted at the end, coupons named in the
 * warnings as left in place.
 */
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const body = (properties: Record<string, object>) => ({
  required: true,
  content: {
    'application/json': { schema: { type: 'object', required: Object.keys(properties), properties } },
  },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'promotions', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/promotions': {
      get: { operationId: 'listPromotions', responses: { '200': ok('live coupons and banners') } },
    },
    '/api/admin/coupons': {
      post: {
        operationId: 'createCoupon',
        requestBody: body({
          code: { type: 'string', maxLength: 20 },
          percent: { type: 'integer', minimum: 1, maximum: 30 },
        }),
        responses: { '201': ok('a coupon') },
      },
    },
    '/api/admin/banners': {
      post: {
        operationId: 'createBanner',
        requestBody: body({ headline: { type: 'string', maxLength: 80 } }),
        responses: { '201': ok('a banner') },
      },
    },
    '/api/admin/banners/{bannerId}': {
      delete: {
        operationId: 'deleteBanner',
        parameters: [{ name: 'bannerId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '204': { description: 'deleted' } },
      },
    },
  },
};

const TOKENS: Record<string, string> = { 'jwt-kim': 'kim', 'jwt-lou': 'lou', 'jwt-ops': 'ops' };

function startPromotions(fixed: boolean) {
  const coupons = [{ id: 1, code: 'SPRING5', percent: 5, createdBy: 'ops' }];
  const banners = [{ id: 1, headline: 'Spring sale', createdBy: 'ops' }];
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const path = new URL(req.url ?? '/', 'http://promotions').pathname;
    const send = (status: number, payload?: unknown) => {
      res.writeHead(status, payload === undefined ? {} : { 'content-type': 'application/json' });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
    const fail = (status: number, error: string, message: string) =>
      send(status, { timestamp: new Date(0).toISOString(), status, error, message, path });
    const user = TOKENS[String(req.headers.authorization ?? '').replace(/^Bearer /, '')];
    if (!user) return fail(401, 'Unauthorized', 'Full authentication is required');
    if (req.method === 'GET' && path === '/api/promotions') return send(200, { coupons, banners });
    if (path.startsWith('/api/admin/') && fixed && user !== 'ops')
      return fail(403, 'Forbidden', 'Access Denied');
    let input: Record<string, unknown> = {};
    if (req.method === 'POST') {
      try {
        input = JSON.parse(text);
      } catch {
        return fail(400, 'Bad Request', 'JSON parse error');
      }
    }
    if (req.method === 'POST' && path === '/api/admin/coupons') {
      if (typeof input.code !== 'string' || typeof input.percent !== 'number')
        return fail(400, 'Bad Request', 'Validation failed');
      const c = { id: coupons.length + 1, code: input.code, percent: input.percent, createdBy: user };
      coupons.push(c);
      return send(201, c);
    }
    if (req.method === 'POST' && path === '/api/admin/banners') {
      if (typeof input.headline !== 'string') return fail(400, 'Bad Request', 'Validation failed');
      const b = {
        id: Math.max(0, ...banners.map((x) => x.id)) + 1,
        headline: input.headline,
        createdBy: user,
      };
      banners.push(b);
      return send(201, b);
    }
    const m = /^\/api\/admin\/banners\/(\d+)$/.exec(path);
    if (req.method === 'DELETE' && m) {
      const i = banners.findIndex((b) => b.id === Number(m[1]));
      if (i < 0) return fail(404, 'Not Found', 'No banner');
      banners.splice(i, 1);
      return send(204);
    }
    return fail(404, 'Not Found', 'No static resource');
  }).then((api) => Object.assign(api, { coupons, banners }));
}

describe('what API5’s privileged creations made is deleted at the end, or named as left in place', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startPromotions>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startPromotions, {
        identities: [
          { name: 'kim', headers: { Authorization: 'Bearer jwt-kim' } },
          { name: 'lou', headers: { Authorization: 'Bearer jwt-lou' } },
        ],
        admin: { name: 'ops', headers: { Authorization: 'Bearer jwt-ops' } },
        checks: ['API5'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: members creating coupons and banners are found; nothing on the fixed twin', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(
      found.includes('scan/api5-bfla createCoupon') && found.includes('scan/api5-bfla createBanner'),
      found.join('\n'),
    );
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });

  test('both twins: the banners the scan made are deleted, only the seeded one is left', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        scans[kind].api.banners.map((b) => b.headline),
        ['Spring sale'],
        kind,
      );
  });

  test('each coupon the scan made, which nothing deletes, is named in the warnings', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const made = scans[kind].api.coupons.filter((c) => c.id > 1);
      // The vulnerable twin takes a member's coupon at least; on the fixed twin only the admin's may be made.
      if (kind === 'vulnerable') assert.ok(made.length > 0, kind);
      for (const c of made)
        assert.ok(
          scans[kind].result.warnings.some(
            (w) =>
              w.includes(`/api/admin/coupons/${c.id}`) &&
              /left in place \(the document has no DELETE of it\)/.test(w),
          ),
          `${kind} coupon ${c.id}: ${scans[kind].result.warnings.join('\n')}`,
        );
    }
  });
});
