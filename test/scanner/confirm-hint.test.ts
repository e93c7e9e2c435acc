import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { confirmationHint } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Hapi-style labels API (`{statusCode, error, message}` errors, an `x-api-token` header per member): labels live
 * under `/admin`, and a delete is refused until confirmed: `200 {"success": false, "message": "Deleting a label
 * requires confirmation", "hint": "Add ?confirm=yes to the URL"}`. Vulnerable: any member creates and deletes labels.
 * Fixed twin: the administrator only (403 to members). The scan follows the answer's confirmation on the label it
 * created, so the delete is judged; the seeded labels are never deleted.
 */
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'labels', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'x-api-token' } } },
  security: [{ token: [] }],
  paths: {
    '/labels': { get: { operationId: 'listLabels', responses: { '200': ok('the labels') } } },
    '/admin/labels': {
      post: {
        operationId: 'createLabel',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name'],
                properties: { name: { type: 'string', maxLength: 40 } },
              },
            },
          },
        },
        responses: { '201': ok('a label') },
      },
    },
    '/admin/labels/{labelId}': {
      delete: {
        operationId: 'deleteLabel',
        parameters: [{ name: 'labelId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('deleted, or what to confirm') },
      },
    },
  },
};

const TOKENS: Record<string, string> = { 'tok-ada-31f': 'ada', 'tok-bea-77c': 'bea', 'tok-root-0a9': 'root' };

function startLabels(fixed: boolean) {
  const labels = new Map<number, { id: number; name: string }>([
    [1, { id: 1, name: 'urgent' }],
    [2, { id: 2, name: 'billing' }],
  ]);
  let next = 3;
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const boom = (statusCode: number, error: string, message: string) =>
      send(statusCode, { statusCode, error, message });
    const user = TOKENS[String(req.headers['x-api-token'] ?? '')];
    if (!user) return boom(401, 'Unauthorized', 'Missing authentication');
    const url = new URL(req.url ?? '/', 'http://labels');
    if (req.method === 'GET' && url.pathname === '/labels') return send(200, [...labels.values()]);
    if (url.pathname.startsWith('/admin/') && fixed && user !== 'root')
      return boom(403, 'Forbidden', 'Insufficient scope');
    if (req.method === 'POST' && url.pathname === '/admin/labels') {
      let name: unknown;
      try {
        name = JSON.parse(text).name;
      } catch {
        return boom(400, 'Bad Request', 'Invalid request payload JSON format');
      }
      if (typeof name !== 'string' || name === '' || name.length > 40)
        return boom(400, 'Bad Request', '"name" is required');
      const label = { id: next++, name };
      labels.set(label.id, label);
      return send(201, label);
    }
    const m = /^\/admin\/labels\/(\d+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && m) {
      const label = labels.get(Number(m[1]));
      if (!label) return boom(404, 'Not Found', 'Label not found');
      if (url.searchParams.get('confirm') !== 'yes')
        return send(200, {
          success: false,
          message: 'Deleting a label requires confirmation',
          hint: 'Add ?confirm=yes to the URL',
        });
      labels.delete(label.id);
      return send(200, { success: true, deleted: label.id });
    }
    return boom(404, 'Not Found', 'Not Found');
  }).then((api) => Object.assign(api, { labels }));
}

describe('a write refused until confirmed is sent again with the confirmation the answer names', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startLabels>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startLabels, {
        identities: [
          { name: 'ada', headers: { 'x-api-token': 'tok-ada-31f' } },
          { name: 'bea', headers: { 'x-api-token': 'tok-bea-77c' } },
        ],
        admin: { name: 'root', headers: { 'x-api-token': 'tok-root-0a9' } },
        checks: ['API5'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: a member deleting a label (after the confirmation) is found', () => {
    assert.ok(
      operationsFound(scans.vulnerable.result).includes('scan/api5-bfla deleteLabel'),
      operationsFound(scans.vulnerable.result).join('\n'),
    );
  });

  test('fixed twin: nothing; the seeded labels stay on both twins', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        [1, 2].map((id) => scans[kind].api.labels.get(id)?.name),
        ['urgent', 'billing'],
        kind,
      );
  });

  test('only a confirm- or force-like input with a yes-like value is read from a refusal', () => {
    const refusal = (text: string, status = 200) => ({ status, text, json: JSON.parse(text) });
    assert.deepEqual(
      confirmationHint(
        refusal('{"success":false,"message":"requires confirmation","hint":"Add ?confirm=yes to the URL"}'),
      ),
      { name: 'confirm', value: 'yes' },
    );
    assert.deepEqual(confirmationHint(refusal('{"error":"Please confirm: send force=true"}', 409)), {
      name: 'force',
      value: 'true',
    });
    assert.equal(
      confirmationHint(refusal('{"success":false,"hint":"Add ?admin=yes to confirm"}')),
      undefined,
    );
    assert.equal(confirmationHint(refusal('{"success":true,"message":"confirm=yes"}')), undefined);
    assert.equal(confirmationHint(refusal('{"success":false,"message":"not allowed"}')), undefined);
  });
});
