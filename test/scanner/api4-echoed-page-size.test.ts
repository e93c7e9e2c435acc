import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { findingOn, headerIdentities, scanTwins, type TwinScans } from './twins.ts';

/**
 * A small fleet registry in the style of a NestJS service (`X-Api-Key`, errors as `{statusCode, message, error}`):
 * `GET /devices?limit=` (documented maximum 50) answers `{items, limit, total}`; `POST /devices {label}` answers
 * 201 with the device; `DELETE /devices/{id}` by its owner. Only five devices exist, too few to show a page size
 * honoured by its items. Vulnerable: the list takes any limit and says so (`"limit": 100000`), and a device label
 * of any length is stored. Fixed: the limit is clamped to 50 (and said), a label over 200 characters is refused.
 *
 * Review R1-S6: the 100000-character device the oversized-input probe made as alice was never deleted, though the
 * document has the DELETE, and nothing named it.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const DEVICE = { type: 'object', properties: { id: { type: 'integer' }, label: { type: 'string' } } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'fleet registry', version: '3' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/devices': {
      get: {
        operationId: 'listDevices',
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 50, default: 20 } },
        ],
        responses: {
          '200': {
            description: 'a page',
            content: json({
              type: 'object',
              properties: {
                items: { type: 'array', items: DEVICE },
                limit: { type: 'integer' },
                total: { type: 'integer' },
              },
            }),
          },
        },
      },
      post: {
        operationId: 'createDevice',
        requestBody: {
          required: true,
          content: json({ type: 'object', required: ['label'], properties: { label: { type: 'string' } } }),
        },
        responses: { '201': { description: 'made', content: json(DEVICE) } },
      },
    },
    '/devices/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getDevice', responses: { '200': { description: 'one', content: json(DEVICE) } } },
      delete: { operationId: 'deleteDevice', responses: { '204': { description: 'gone' } } },
    },
  },
};

interface Device {
  id: number;
  owner: string;
  label: string;
}

type Fleet = TestServer & { devices: Device[] };

function startFleet(fixed: boolean): Promise<Fleet> {
  const devices: Device[] = [1, 2, 3, 4, 5].map((id) => ({
    id,
    owner: id % 2 ? 'alice' : 'bob',
    label: `sensor ${id}`,
  }));
  let next = 6;
  const keys: Record<string, string> = { 'fk-alice-2291': 'alice', 'fk-bob-8830': 'bob' };
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fleet');
    const path = url.pathname.replace(/\/$/, '');
    const error = (statusCode: number, message: string, err: string) =>
      sendJson(res, statusCode, { statusCode, message, error: err });
    const user = keys[String(req.headers['x-api-key'] ?? '')];
    if (!user) return error(401, 'Unauthorized', 'Unauthorized');
    const view = ({ owner: _o, ...d }: Device) => d;
    if (path === '/devices' && req.method === 'GET') {
      const asked = Number(url.searchParams.get('limit') ?? 20);
      if (!Number.isInteger(asked) || asked < 1)
        return error(400, 'limit must be a positive integer', 'Bad Request');
      const limit = fixed ? Math.min(asked, 50) : asked;
      const mine = devices.filter((d) => d.owner === user);
      return sendJson(res, 200, { items: mine.slice(0, limit).map(view), limit, total: mine.length });
    }
    if (path === '/devices' && req.method === 'POST') {
      const body = await readJson(req);
      if (typeof body?.label !== 'string') return error(400, 'label must be a string', 'Bad Request');
      if (fixed && body.label.length > 200) return error(422, 'label is too long', 'Unprocessable Entity');
      const d: Device = { id: next++, owner: user, label: body.label };
      devices.push(d);
      return sendJson(res, 201, view(d));
    }
    const m = /^\/devices\/(\d+)$/.exec(path);
    const d = m ? devices.find((x) => x.id === Number(m[1]) && x.owner === user) : undefined;
    if (!d) return error(404, 'Not Found', 'Not Found');
    if (req.method === 'GET') return sendJson(res, 200, view(d));
    if (req.method === 'DELETE') {
      devices.splice(devices.indexOf(d), 1);
      res.writeHead(204).end();
      return;
    }
    return error(404, 'Not Found', 'Not Found');
  }).then((api) => Object.assign(api, { devices }));
}

describe('API4: a page size the answer says it took; the oversized creation deleted again (NestJS-style fleet)', () => {
  let scans: TwinScans<Fleet>;
  before(async () => {
    scans = await scanTwins(SPEC, startFleet, {
      identities: headerIdentities('X-Api-Key', { alice: 'fk-alice-2291', bob: 'fk-bob-8830' }),
      checks: ['API4'],
      ratePerSecond: 300,
    });
  });

  test('vulnerable: limit=100000 taken (said in the answer) and a 100000-character label stored', () => {
    const page = findingOn(scans.vulnerable.result, 'scan/api4-unbounded-page-size', 'listDevices');
    assert.ok(
      page,
      scans.vulnerable.result.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`).join('\n'),
    );
    assert.match(page.message, /limit: 100000/);
    assert.ok(findingOn(scans.vulnerable.result, 'scan/api4-oversized-input', 'createDevice'));
  });

  test('fixed twin (clamped to 50, long labels refused): neither finding', () => {
    assert.equal(findingOn(scans.fixed.result, 'scan/api4-unbounded-page-size', 'listDevices'), undefined);
    assert.equal(findingOn(scans.fixed.result, 'scan/api4-oversized-input', 'createDevice'), undefined);
  });

  test('both twins: no device the scan made is left, the oversized one included, and the notes say so', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { api, result } = scans[kind];
      assert.deepEqual(
        api.devices.map((d) => d.id),
        [1, 2, 3, 4, 5],
        `${kind}: ${JSON.stringify(api.devices.map((d) => ({ ...d, label: d.label.slice(0, 20) })))}`,
      );
      assert.ok(!result.warnings.some((w) => /left in its data/.test(w)), result.warnings.join('\n'));
    }
    assert.match(
      JSON.stringify(scans.vulnerable.result.coverage.matrix),
      /oversized-input probes of POST \/devices created 1 object as alice, all deleted/,
    );
  });
});
