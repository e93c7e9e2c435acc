import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runScan } from '../../src/scanner/scan/runner.ts';

/**
 * Things anyone may read (`/public/{id}`, no security, listed for everyone at `/public`) and things only
 * their owner should (`/private/{id}`). A public thing's id is handed to everyone by the list; a private
 * one's only to its owner, so only B reading A's private thing (or its notes) is a finding; a public thing's
 * stock is public like the thing.
 */
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'things', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'x-user' } } },
  security: [{ key: [] }],
  paths: {
    '/public': {
      post: { operationId: 'createPublic', responses: { '201': { description: 'created' } } },
      get: { operationId: 'listPublic', security: [], responses: { '200': { description: 'every thing' } } },
    },
    '/public/{id}': {
      get: {
        operationId: 'getPublic',
        security: [],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a thing' } },
      },
    },
    '/public/{id}/stock': {
      get: {
        operationId: 'getPublicStock',
        security: [],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'how many are left' } },
      },
    },
    '/private': { post: { operationId: 'createPrivate', responses: { '201': { description: 'created' } } } },
    '/private/{id}': {
      get: {
        operationId: 'getPrivate',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a thing' } },
      },
    },
    '/private/{id}/notes': {
      get: {
        operationId: 'getPrivateNotes',
        security: [],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'the owner’s notes on a thing' } },
      },
    },
  },
};

describe('API1 on public and private objects', () => {
  let server: Server;
  let dir: string;
  let url = '';
  before(async () => {
    let next = 1;
    const things = new Map<string, { id: string; owner: string }>();
    server = createServer((req, res) => {
      const user = String(req.headers['x-user'] ?? '');
      const [, kind, id, sub] = (req.url ?? '').split('/');
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST') {
        const thing = { id: `${kind}-${next++}`, owner: user };
        things.set(thing.id, thing);
        res.statusCode = 201;
        return res.end(JSON.stringify(thing));
      }
      if (kind === 'public' && !id) {
        res.statusCode = 200;
        return res.end(JSON.stringify([...things.values()].filter((t) => t.id.startsWith('public-'))));
      }
      const thing = things.get(id ?? '');
      // Both kinds (and their sub-resources) are readable by anyone: fine for public things, a BOLA for
      // private ones.
      res.statusCode = thing ? 200 : 404;
      if (thing && sub === 'stock') return res.end(JSON.stringify({ id: thing.id, left: 7 }));
      if (thing && sub === 'notes')
        return res.end(JSON.stringify({ id: thing.id, notes: `${thing.owner} only` }));
      res.end(JSON.stringify(thing ?? {}));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-bola-'));
    await writeFile(path.join(dir, 'spec.json'), JSON.stringify(SPEC));
  });
  after(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('reports B reading A’s private object, not A’s public one', async () => {
    const result = await runScan({
      spec: path.join(dir, 'spec.json'),
      target: url,
      // The time-based injection probes ask for 300 ms instead of 1 s (controls unchanged), to shorten the test.
      timeDelayMs: 300,
      identities: [
        { name: 'a', headers: { 'x-user': 'a' } },
        { name: 'b', headers: { 'x-user': 'b' } },
      ],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    assert.deepEqual(
      result.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`),
      ['scan/api1-bola-read getPrivate', 'scan/api1-bola-read getPrivateNotes'],
    );
  });
});
