import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { shellish } from '../fixtures/scan-targets/shared.ts';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * The injection probes of a write that names an object by its path go to an object of the scan's own that is
 * still there, as its owner; when none is left, to a fresh one made through the documented creation. A document
 * store with bearer tokens: authors (alice) create documents, readers (bob) only read; any signed-in user may
 * delete any document (the API1 flaw: bob's delete replay removes the only document the scan created); the export
 * `POST /documents/{id}/export {format}` pastes its format into a shell command (fixed twin: the format is checked
 * against the list). Before, the probes named alice's seeded document (the only id left to fill the path with),
 * which the write guard refuses, and the command injection went unfound.
 */
const json = (properties: Record<string, unknown>, required: string[] = []) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'integer' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'documents', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/documents': {
      get: { operationId: 'listDocuments', responses: { '200': { description: 'documents' } } },
      post: {
        operationId: 'createDocument',
        requestBody: json({ title: { type: 'string' }, text: { type: 'string' } }, ['title']),
        responses: { '201': { description: 'created' } },
      },
    },
    '/documents/{id}': {
      get: {
        operationId: 'getDocument',
        parameters: [idParam],
        responses: { '200': { description: 'one' } },
      },
      delete: {
        operationId: 'deleteDocument',
        parameters: [idParam],
        responses: { '204': { description: 'deleted' } },
      },
    },
    '/documents/{id}/export': {
      post: {
        operationId: 'exportDocument',
        parameters: [idParam],
        requestBody: json({ format: { type: 'string', enum: ['pdf', 'html'] } }, ['format']),
        responses: { '200': { description: 'exported' } },
      },
    },
  },
};

interface Doc {
  id: number;
  owner: string;
  title: string;
  text: string;
}
const SEEDED: readonly Doc[] = [
  { id: 1, owner: 'alice', title: 'Q3 plan', text: 'draft' },
  { id: 2, owner: 'alice', title: 'Hiring', text: 'two engineers' },
];
const TOKENS: Record<string, string> = { 'tok-alice-7f3a': 'alice', 'tok-bob-91c2': 'bob' };

async function startDocuments(fixed: boolean) {
  const docs: Doc[] = SEEDED.map((d) => ({ ...d }));
  let next = 100;
  const log: string[] = [];
  const server = await startServer(async (req, res) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const send = (status: number, body?: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    const who = TOKENS[/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''];
    const path = (req.url ?? '/').split('?')[0];
    log.push(`${req.method} ${path} ${who ?? 'anonymous'}`);
    if (who === undefined) return send(401, { error: 'sign in' });
    let body: Record<string, unknown> = {};
    try {
      body = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
    } catch {
      return send(400, { error: 'bad JSON' });
    }
    if (path === '/documents' && req.method === 'GET') return send(200, docs);
    if (path === '/documents' && req.method === 'POST') {
      if (who !== 'alice') return send(403, { error: 'authors only' });
      if (typeof body.title !== 'string') return send(422, { error: 'title is required' });
      const d: Doc = { id: next++, owner: who, title: body.title, text: String(body.text ?? '') };
      if (docs.length < 500) docs.push(d);
      return send(201, d);
    }
    const m = /^\/documents\/(\d+)(\/export)?$/.exec(path);
    const doc = m ? docs.find((d) => d.id === Number(m[1])) : undefined;
    if (!m || !doc) return send(404, { error: 'no such document' });
    if (!m[2] && req.method === 'GET') return send(200, doc);
    // Vulnerable on both twins (not what this test is about): no owner check.
    if (!m[2] && req.method === 'DELETE') {
      docs.splice(docs.indexOf(doc), 1);
      return send(204);
    }
    if (m[2] && req.method === 'POST') {
      const format = typeof body.format === 'string' ? body.format : '';
      if (fixed && !['pdf', 'html'].includes(format)) return send(422, { error: 'unknown format' });
      const out = await shellish('render', `doc-${doc.id} --to ${format}`, (argv) =>
        argv[0] === 'render' ? `rendered ${argv.at(-1)}\n` : '',
      );
      return send(200, { file: `/exports/${doc.id}.${format}`, log: out });
    }
    return send(405, { error: 'method not allowed' });
  });
  return { ...server, docs, log };
}

describe('injection probes of a write go to a live object of the scan’s own', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; log: string[]; docs: Doc[] }>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startDocuments(kind === 'fixed');
      try {
        const result = await scanDocument(SPEC, api.url, {
          identities: [
            { name: 'alice', bearer: 'tok-alice-7f3a' },
            { name: 'bob', bearer: 'tok-bob-91c2' },
          ],
          checks: ['API1', 'API8'],
          ratePerSecond: 200,
          timeDelayMs: 300,
        });
        runs[kind] = { result, log: api.log, docs: api.docs };
      } finally {
        await api.close();
      }
    }
  });

  test('API1 deletes the only document the scan created; alice makes a fresh one, and its export is found injectable', () => {
    const { result, log } = runs.vulnerable;
    const deleted = log.findIndex((l) => /^DELETE \/documents\/(\d{3}) bob$/.test(l));
    assert.ok(deleted >= 0, log.join('\n'));
    const recreated = log.findIndex((l, i) => i > deleted && l === 'POST /documents alice');
    assert.ok(recreated > deleted, log.join('\n'));
    const found = result.findings.filter((f) => f.rule.id === 'scan/api8-command-injection');
    assert.deepEqual(
      found.map((f) => f.operation?.operationId),
      ['exportDocument'],
      result.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`).join('\n'),
    );
  });

  test('no export names a seeded document, and the seeded documents are as they were, on both twins', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { log, docs } = runs[kind];
      assert.deepEqual(
        log.filter((l) => /^POST \/documents\/[12]\/export/.test(l)),
        [],
        kind,
      );
      assert.deepEqual(
        docs.filter((d) => d.id < 100),
        SEEDED,
        kind,
      );
    }
  });

  test('the fixed twin has no command injection', () => {
    assert.deepEqual(
      runs.fixed.result.findings.filter((f) => f.rule.id === 'scan/api8-command-injection'),
      [],
    );
  });
});
