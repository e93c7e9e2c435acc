import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Reading lists ("shelves") in an API whose inputs are all query parameters and whose document has drifted:
 * it names `GET` and `PUT /shelves/{shelf}/summary`, the server serves `GET .../summary` and `PUT
 * /shelves/{shelf}` (beside the documented `DELETE /shelves/{shelf}`). The update declares a `rank_internal`
 * input, which the server's own ranking job sets; a client should not.
 *
 * Vulnerable: the update stores `rank_internal` from the query. Fixed twin: it ignores it.
 */
const shelfParam = { name: 'shelf', in: 'path', required: true, schema: { type: 'string' } };
const SHELF = {
  type: 'object',
  properties: {
    shelf: { type: 'string' },
    title: { type: 'string' },
    rank_internal: { type: 'string', nullable: true },
  },
};
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: SHELF } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'shelves', version: '1' },
  components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  security: [{ token: [] }],
  paths: {
    '/shelves': {
      post: {
        operationId: 'createShelf',
        parameters: [{ name: 'title', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '201': ok('created') },
      },
    },
    '/shelves/{shelf}': {
      delete: {
        operationId: 'dropShelf',
        parameters: [shelfParam],
        responses: { '204': { description: 'gone' } },
      },
    },
    '/shelves/{shelf}/summary': {
      get: { operationId: 'getSummary', parameters: [shelfParam], responses: { '200': ok('a shelf') } },
      put: {
        operationId: 'updateSummary',
        parameters: [
          shelfParam,
          { name: 'title', in: 'query', schema: { type: 'string' } },
          { name: 'rank_internal', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': ok('changed') },
      },
    },
  },
};

async function startShelves(fixed: boolean): Promise<{ url: string; server: Server }> {
  let next = 1;
  const shelves = new Map<
    string,
    { shelf: string; owner: string; title: string; rank_internal: string | null }
  >();
  return startServer((req, res) => {
    const send = (status: number, payload?: unknown) => {
      res.writeHead(status, payload === undefined ? {} : { 'content-type': 'application/json' });
      res.end(payload === undefined ? '' : JSON.stringify(payload));
    };
    const who = /^Bearer (tok-alice|tok-bob)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!who) return send(401, { detail: 'sign in' });
    const url = new URL(req.url ?? '/', 'http://x');
    const view = ({ owner: _o, ...s }: { owner: string } & Record<string, unknown>) => s;
    if (req.method === 'POST' && url.pathname === '/shelves') {
      const title = url.searchParams.get('title');
      if (!title) return send(422, { detail: 'title is required' });
      const s = { shelf: `sh${next++}`, owner: who, title, rank_internal: null };
      shelves.set(s.shelf, s);
      return send(201, view(s));
    }
    const m = /^\/shelves\/([^/]+)(\/summary)?$/.exec(url.pathname);
    const s = m ? shelves.get(m[1]) : undefined;
    if (!m || !s || s.owner !== who) return send(404, { detail: 'not found' });
    if (m[2] && req.method === 'GET') return send(200, view(s));
    if (!m[2] && req.method === 'PUT') {
      const title = url.searchParams.get('title');
      if (title) s.title = title;
      const rank = url.searchParams.get('rank_internal');
      if (rank !== null && !fixed) s.rank_internal = rank;
      return send(200, view(s));
    }
    if (!m[2] && req.method === 'DELETE') {
      shelves.delete(s.shelf);
      return send(204);
    }
    return send(405, { detail: 'method not allowed' });
  });
}

describe('an input named internal, through the route a drifted document stands beside', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startShelves, {
      identities: [
        { name: 'alice', bearer: 'tok-alice' },
        { name: 'bob', bearer: 'tok-bob' },
      ],
      checks: ['API3'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('the update stores rank_internal from the query, at the item route the server serves', () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api3-mass-assignment');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.operation?.operationId, 'updateSummary');
    assert.match(f.message, /served at PUT \/shelves\/\{shelf\}\)/);
    assert.match(f.message, /rank_internal \(internal, declared\)/);
  });

  test('finds nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
