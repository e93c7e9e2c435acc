import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { headerIdentities, operationsFound, scanTwins, type TwinScans } from './twins.ts';

/**
 * A box-office back office in the style of hapi: `X-Session` tokens, errors as Boom payloads (`{statusCode,
 * error, message}`), `201` with the record. Promotions are made by the admin only (`POST /v2/promotions`, `PUT
 * /v2/promotions/{id}`) and the document has no DELETE for them: what the admin makes there stays, for every
 * customer to redeem. Drafts of a customer's seating plan carry the editor's saved state as base64 (`state`,
 * `format: byte`): each pickle probe of `POST /v2/drafts` as alice makes a draft in her data, which has a DELETE.
 * Vulnerable: the promotions search pastes its `q` into SQL (a quote raises a database error). Fixed: bound.
 *
 * What the scan must do: no injection probe as the admin where nothing can take its objects back; the drafts its
 * deserialisation probes made as alice deleted again; and every object it still left behind named in the
 * report's warnings by its path.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const boom = { description: 'error', content: json({ type: 'object' }) };
const PROMOTION = {
  type: 'object',
  properties: { id: { type: 'integer' }, label: { type: 'string' }, percent: { type: 'integer' } },
};
const DRAFT = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    title: { type: 'string' },
    state: { type: 'string', format: 'byte' },
  },
};
const VOUCHER = {
  type: 'object',
  properties: { id: { type: 'integer' }, holder: { type: 'string' }, amount: { type: 'integer' } },
};
const BANNER = { type: 'object', properties: { id: { type: 'integer' }, text: { type: 'string' } } };
const FEEDBACK = { type: 'object', properties: { id: { type: 'integer' }, comment: { type: 'string' } } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'box office', version: '2' },
  components: { securitySchemes: { session: { type: 'apiKey', in: 'header', name: 'X-Session' } } },
  security: [{ session: [] }],
  paths: {
    '/v2/promotions': {
      get: {
        operationId: 'listPromotions',
        parameters: [{ name: 'q', in: 'query', schema: { type: 'string' } }],
        responses: {
          '200': { description: 'promotions', content: json({ type: 'array', items: PROMOTION }) },
        },
      },
      post: {
        operationId: 'createPromotion',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['label'],
            properties: { label: { type: 'string' }, percent: { type: 'integer', minimum: 1, maximum: 50 } },
          }),
        },
        responses: { '201': { description: 'made', content: json(PROMOTION) }, '403': boom },
      },
    },
    '/v2/promotions/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'showPromotion',
        responses: { '200': { description: 'one', content: json(PROMOTION) } },
      },
      put: {
        operationId: 'updatePromotion',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            properties: { label: { type: 'string' }, percent: { type: 'integer', minimum: 1, maximum: 50 } },
          }),
        },
        responses: { '200': { description: 'changed', content: json(PROMOTION) }, '403': boom },
      },
    },
    '/v2/admin/vouchers': {
      get: {
        operationId: 'listVouchers',
        responses: { '200': { description: 'vouchers', content: json({ type: 'array', items: VOUCHER }) } },
      },
      post: {
        operationId: 'issueVoucher',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['holder'],
            properties: { holder: { type: 'string' }, amount: { type: 'integer', minimum: 5, maximum: 100 } },
          }),
        },
        responses: { '201': { description: 'issued', content: json(VOUCHER) }, '403': boom },
      },
    },
    '/v2/admin/banners': {
      post: {
        operationId: 'postBanner',
        requestBody: {
          required: true,
          content: json({ type: 'object', required: ['text'], properties: { text: { type: 'string' } } }),
        },
        responses: { '201': { description: 'up', content: json(BANNER) }, '403': boom },
      },
    },
    '/v2/admin/banners/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      delete: { operationId: 'takeDownBanner', responses: { '204': { description: 'down' }, '403': boom } },
    },
    '/v2/feedback': {
      get: {
        operationId: 'listFeedback',
        responses: {
          '200': { description: 'your notes', content: json({ type: 'array', items: FEEDBACK }) },
        },
      },
      post: {
        operationId: 'sendFeedback',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['comment'],
            properties: { comment: { type: 'string' } },
          }),
        },
        responses: { '201': { description: 'thanks', content: json(FEEDBACK) } },
      },
    },
    '/v2/drafts': {
      get: {
        operationId: 'listDrafts',
        responses: { '200': { description: 'drafts', content: json({ type: 'array', items: DRAFT }) } },
      },
      post: {
        operationId: 'saveDraft',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['title'],
            properties: {
              title: { type: 'string' },
              state: { type: 'string', format: 'byte', description: "the editor's serialised state" },
            },
          }),
        },
        responses: { '201': { description: 'saved', content: json(DRAFT) } },
      },
    },
    '/v2/drafts/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'showDraft', responses: { '200': { description: 'one', content: json(DRAFT) } } },
      delete: { operationId: 'deleteDraft', responses: { '204': { description: 'gone' } } },
    },
  },
};

const SESSIONS: Record<string, string> = { 'bo-a-5521': 'alice', 'bo-b-0913': 'bob', 'bo-r-7740': 'root' };

interface Promotion {
  id: number;
  label: string;
  percent: number;
}
interface Note {
  id: number;
  owner: string;
  comment: string;
}
interface Draft {
  id: number;
  owner: string;
  title: string;
  state: string;
}

interface Voucher {
  id: number;
  holder: string;
  amount: number;
}

type BoxOffice = TestServer & {
  banners: { id: number; text: string }[];
  promotions: Promotion[];
  drafts: Draft[];
  feedback: Note[];
  vouchers: Voucher[];
};

async function startBoxOffice(fixed: boolean): Promise<BoxOffice> {
  const promotions: Promotion[] = [{ id: 1, label: 'spring matinee', percent: 10 }];
  const drafts: Draft[] = [
    { id: 1, owner: 'alice', title: 'stalls plan', state: 'eyJyb3dzIjogMTJ9' },
    { id: 2, owner: 'bob', title: 'balcony plan', state: 'eyJyb3dzIjogNH0=' },
  ];
  const feedback: Note[] = [{ id: 1, owner: 'bob', comment: 'the balcony is cold' }];
  let nextNote = 2;
  const banners = [{ id: 1, text: 'Doors open at seven' }];
  let nextBanner = 2;
  const vouchers: Voucher[] = [{ id: 1, holder: 'season ticket holders', amount: 20 }];
  let nextVoucher = 2;
  let nextPromotion = 2;
  let nextDraft = 3;
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://box');
    const path = url.pathname.replace(/\/$/, '');
    const error = (statusCode: number, error: string, message: string) =>
      sendJson(res, statusCode, { statusCode, error, message });
    const user = SESSIONS[String(req.headers['x-session'] ?? '')];
    if (!user) return error(401, 'Unauthorized', 'Missing session');
    const input = req.method === 'POST' || req.method === 'PUT' ? await readJson(req) : {};
    if (input === undefined || input === null || typeof input !== 'object' || Array.isArray(input))
      return error(400, 'Bad Request', 'Invalid request payload JSON format');
    if (path === '/v2/promotions' && req.method === 'GET') {
      const q = url.searchParams.get('q') ?? '';
      // The vulnerable search quotes q itself: an odd quote count breaks the statement.
      if (!fixed && (q.split("'").length - 1) % 2 === 1)
        return error(500, 'Internal Server Error', `SQLITE_ERROR: unrecognized token: "'${q}%'"`);
      return sendJson(
        res,
        200,
        promotions.filter((p) => p.label.includes(fixed ? q : q.replace(/''/g, "'"))),
      );
    }
    const valid = (body: Record<string, unknown>) =>
      typeof body.label === 'string' &&
      body.label.length > 0 &&
      (body.percent === undefined ||
        (Number.isInteger(body.percent) && Number(body.percent) >= 1 && Number(body.percent) <= 50));
    if (path === '/v2/promotions' && req.method === 'POST') {
      if (user !== 'root') return error(403, 'Forbidden', 'Only the box office manager makes promotions');
      if (!valid(input)) return error(400, 'Bad Request', 'Invalid request payload input');
      const p: Promotion = {
        id: nextPromotion++,
        label: String(input.label),
        percent: Number(input.percent ?? 5),
      };
      promotions.push(p);
      return sendJson(res, 201, p);
    }
    const pm = /^\/v2\/promotions\/(\d+)$/.exec(path);
    if (pm) {
      const p = promotions.find((x) => x.id === Number(pm[1]));
      if (!p) return error(404, 'Not Found', 'No such promotion');
      if (req.method === 'GET') return sendJson(res, 200, p);
      if (req.method === 'PUT') {
        if (user !== 'root') return error(403, 'Forbidden', 'Only the box office manager changes promotions');
        if (!valid({ label: p.label, ...input }))
          return error(400, 'Bad Request', 'Invalid request payload input');
        if (typeof input.label === 'string') p.label = input.label;
        if (input.percent !== undefined) p.percent = Number(input.percent);
        return sendJson(res, 200, p);
      }
    }
    if (path === '/v2/admin/banners' && req.method === 'POST') {
      if (user !== 'root') return error(403, 'Forbidden', 'Box office manager only');
      if (typeof input.text !== 'string') return error(400, 'Bad Request', 'Invalid request payload input');
      const b = { id: nextBanner++, text: input.text };
      banners.push(b);
      return sendJson(res, 201, b);
    }
    const bm = /^\/v2\/admin\/banners\/(\d+)$/.exec(path);
    if (bm && req.method === 'DELETE') {
      if (user !== 'root') return error(403, 'Forbidden', 'Box office manager only');
      const b = banners.find((x) => x.id === Number(bm[1]));
      if (!b) return error(404, 'Not Found', 'No such banner');
      banners.splice(banners.indexOf(b), 1);
      res.writeHead(204).end();
      return;
    }
    if (path === '/v2/admin/vouchers') {
      if (user !== 'root') return error(403, 'Forbidden', 'Box office manager only');
      if (req.method === 'GET') return sendJson(res, 200, vouchers);
      if (req.method === 'POST') {
        if (typeof input.holder !== 'string')
          return error(400, 'Bad Request', 'Invalid request payload input');
        const v: Voucher = { id: nextVoucher++, holder: input.holder, amount: Number(input.amount ?? 10) };
        vouchers.push(v);
        return sendJson(res, 201, v);
      }
    }
    if (path === '/v2/feedback' && req.method === 'GET')
      return sendJson(
        res,
        200,
        feedback.filter((n) => n.owner === user).map(({ owner: _o, ...n }) => n),
      );
    if (path === '/v2/feedback' && req.method === 'POST') {
      if (typeof input.comment !== 'string')
        return error(400, 'Bad Request', 'Invalid request payload input');
      const n: Note = { id: nextNote++, owner: user, comment: input.comment };
      feedback.push(n);
      return sendJson(res, 201, { id: n.id, comment: n.comment });
    }
    if (path === '/v2/drafts' && req.method === 'GET')
      return sendJson(
        res,
        200,
        drafts.filter((d) => d.owner === user).map(({ owner: _o, ...d }) => d),
      );
    if (path === '/v2/drafts' && req.method === 'POST') {
      if (typeof input.title !== 'string') return error(400, 'Bad Request', 'Invalid request payload input');
      const d: Draft = {
        id: nextDraft++,
        owner: user,
        title: input.title,
        state: typeof input.state === 'string' ? input.state : '',
      };
      drafts.push(d);
      const { owner: _o, ...view } = d;
      return sendJson(res, 201, view);
    }
    const dm = /^\/v2\/drafts\/(\d+)$/.exec(path);
    if (dm) {
      const d = drafts.find((x) => x.id === Number(dm[1]) && x.owner === user);
      if (!d) return error(404, 'Not Found', 'No such draft');
      if (req.method === 'GET') {
        const { owner: _o, ...view } = d;
        return sendJson(res, 200, view);
      }
      if (req.method === 'DELETE') {
        drafts.splice(drafts.indexOf(d), 1);
        res.writeHead(204).end();
        return;
      }
    }
    return error(404, 'Not Found', 'Not Found');
  });
  return Object.assign(api, { promotions, drafts, feedback, vouchers, banners });
}

describe('what the injection and deserialisation probes make is taken back or named (hapi-style box office)', () => {
  let scans: TwinScans<BoxOffice>;
  before(async () => {
    scans = await scanTwins(SPEC, startBoxOffice, {
      identities: headerIdentities('X-Session', { alice: 'bo-a-5521', bob: 'bo-b-0913' }),
      admin: headerIdentities('X-Session', { root: 'bo-r-7740' })[0],
      checks: ['API8'],
      ratePerSecond: 300,
    });
  });

  test('vulnerable: SQL injection in the promotions search; fixed twin: no injection finding', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api8-sql-injection listPromotions'), found.join('\n'));
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => /injection|deserial/.test(f)),
      [],
    );
  });

  test('both twins: no probe payload was stored as a promotion (no probe as the admin where nothing deletes)', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const made = scans[kind].api.promotions.filter((p) => p.id > 1);
      assert.deepEqual(
        made.filter((p) => /['"$;|<{]|pcx|sleep|waitfor/i.test(p.label)),
        [],
        `${kind}: ${JSON.stringify(made)}`,
      );
      assert.ok(made.length <= 3, `${kind}: ${made.length} promotions made: ${JSON.stringify(made)}`);
    }
  });

  test('both twins: the admin-only voucher issue (no route to delete one) got no probe; what the admin made is named', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { result, api } = scans[kind];
      const made = api.vouchers.filter((v) => v.id > 1);
      assert.deepEqual(
        made.filter((v) => /['"$;|<{]|pcx|sleep|waitfor/i.test(v.holder)),
        [],
        `${kind}: ${JSON.stringify(made)}`,
      );
      assert.ok(made.length <= 2, `${kind}: ${JSON.stringify(made)}`);
      const said = result.warnings.find((w) =>
        /probes of POST \/v2\/admin\/vouchers .* left in its data/.test(w),
      );
      const ids =
        /ids? ([\d, ]+)/
          .exec(said ?? '')?.[1]
          .split(', ')
          .map(Number) ?? [];
      // The injection baseline's voucher (its plain value); discovery's own, if any, is the runner's to name.
      const prefix = /^(portcullis-[0-9a-f]+)/;
      const probes = made.filter((v) => prefix.test(v.holder) && ids.includes(v.id));
      assert.ok(probes.length <= 1, `${kind}: ${said}`);
      const coverage = JSON.stringify(
        result.coverage.matrix.filter((m) => m.operation === 'POST /v2/admin/vouchers'),
      );
      assert.match(coverage, /not sent as the admin/, coverage);
    }
  });

  test('both twins: the admin-only banners, which have a DELETE, are probed as the admin and every banner is taken down', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { result, api } = scans[kind];
      assert.deepEqual(api.banners, [{ id: 1, text: 'Doors open at seven' }], kind);
      const matrix = JSON.stringify(
        result.coverage.matrix.filter((m) => m.operation === 'POST /v2/admin/banners'),
      );
      assert.match(
        matrix,
        /probes of POST \/v2\/admin\/banners created \d+ objects as root, all deleted/,
        matrix,
      );
    }
  });

  test('both twins: every promotion the scan left is named in the warnings by its path', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { result, api } = scans[kind];
      for (const p of api.promotions.filter((x) => x.id > 1))
        assert.ok(
          result.warnings.some((w) => w.includes(`/v2/promotions/${p.id}`)),
          `${kind}: /v2/promotions/${p.id} (${p.label}) not named:\n${result.warnings.join('\n')}`,
        );
    }
  });

  test("both twins: each note the probes left in alice's feedback (no DELETE there) is named by its path", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { result, api } = scans[kind];
      // The probes' notes: their plain value and its variants (discovery's own plain note, made in setup, is not
      // the probes' and not counted here).
      const prefix = api.feedback.find((n) => n.comment.endsWith("''"))?.comment.slice(0, -2);
      const left = api.feedback.filter((n) => n.owner === 'alice' && prefix && n.comment.startsWith(prefix));
      assert.ok(left.length > 0, `${kind}: no probe note made; the case tests nothing`);
      const probes = result.warnings.filter((w) =>
        /probes of POST \/v2\/feedback .* left in its data/.test(w),
      );
      assert.equal(probes.length, 1, `${kind}:\n${result.warnings.join('\n')}`);
      // No item route: by the ids the answers gave, up to eight, then how many more.
      const ids = /ids ([\d, ]+)/.exec(probes[0])?.[1].split(', ').map(Number) ?? [];
      const named = left.filter((n) => ids.includes(n.id));
      assert.equal(named.length, Math.min(8, left.length), probes[0]);
      if (left.length > 8) assert.match(probes[0], new RegExp(`and ${left.length - 8} more`));
    }
  });

  test('both twins: the drafts the probes made as alice are deleted, the seeded ones untouched', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { drafts } = scans[kind].api;
      assert.deepEqual(
        drafts.map((d) => d.id),
        [1, 2],
        `${kind}: ${JSON.stringify(drafts.filter((d) => d.id > 2))}`,
      );
      assert.equal(drafts[0].state, 'eyJyb3dzIjogMTJ9');
    }
  });
});
