import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Notebooks in the style of an ORM-backed Express app: integer ids, `Authorization: Token <user>`, and a read
 * of a row that does not exist (never created, or deleted) answers `200 null` rather than 404, as
 * `res.json(await Model.findOne(...))` does. Vulnerable: anyone deletes anyone's notebook. Fixed twin: only
 * its owner (403 otherwise). Reads are the owner's only in both, so the delete is the one flaw.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'notebooks', version: '2' },
  components: {
    securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } },
    schemas: {
      Notebook: {
        type: 'object',
        properties: { id: { type: 'integer' }, title: { type: 'string' }, owner: { type: 'string' } },
      },
    },
  },
  security: [{ token: [] }],
  paths: {
    '/api/notebooks': {
      post: {
        operationId: 'createNotebook',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', required: ['title'], properties: { title: { type: 'string' } } },
            },
          },
        },
        responses: {
          '200': {
            description: 'created',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Notebook' } } },
          },
        },
      },
    },
    '/api/notebooks/{notebook_id}': {
      parameters: [{ name: 'notebook_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getNotebook',
        responses: {
          '200': {
            description: 'the notebook, or null',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Notebook' } } },
          },
        },
      },
      delete: {
        operationId: 'deleteNotebook',
        responses: {
          '200': {
            description: 'deleted',
            content: { 'application/json': { schema: { type: 'object' } } },
          },
        },
      },
    },
  },
};

async function startNotebooks(fixed: boolean): Promise<{ url: string; server: Server }> {
  const rows = new Map<number, { id: number; title: string; owner: string }>();
  let next = 1;
  return startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const user = /^Token (alice|bob)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (!user) return send(401, { message: 'missing token' });
    const m = /^\/api\/notebooks(?:\/(\d+))?$/.exec((req.url ?? '').split('?')[0]);
    if (!m) return send(404, { message: 'no route' });
    if (m[1] === undefined) {
      if (req.method !== 'POST') return send(404, { message: 'no route' });
      let raw = '';
      req.on('data', (c) => {
        raw += c;
      });
      req.on('end', () => {
        let title: unknown;
        try {
          title = JSON.parse(raw).title;
        } catch {
          return send(400, { message: 'bad json' });
        }
        if (typeof title !== 'string') return send(400, { message: 'title required' });
        const row = { id: next++, title, owner: user };
        rows.set(row.id, row);
        send(200, row);
      });
      return;
    }
    const row = rows.get(Number(m[1]));
    if (req.method === 'GET') {
      if (row && row.owner !== user) return send(403, { message: 'not yours' });
      return send(200, row ?? null);
    }
    if (req.method === 'DELETE') {
      if (fixed && row && row.owner !== user) return send(403, { message: 'not yours' });
      rows.delete(Number(m[1]));
      return send(200, { result: 'deleted' });
    }
    send(404, { message: 'no route' });
  });
}

describe('API1 delete on an API whose reads answer 200 null for a missing row', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startNotebooks, {
      identities: [
        { name: 'alice', headers: { authorization: 'Token alice' } },
        { name: 'bob', headers: { authorization: 'Token bob' } },
      ],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  test("reports bob deleting alice's notebook (her read turned from the notebook to null)", () => {
    assert.deepEqual(operationsFound(results.vulnerable), ['scan/api1-bola-delete deleteNotebook']);
    const f = results.vulnerable.findings[0];
    assert.match(f.message, /^bob deleted alice's object at \/api\/notebooks\/\d+\.$/);
  });

  test('finds nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(results.fixed), []);
  });
});
