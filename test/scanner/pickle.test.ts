import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startPythonApi } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Python pickles loaded from the client, on a real Python (test/scanner/pickle-api.py: http.server, token auth,
 * `pickle.loads`): a JSON member that carries the layout the API gave out as a base64 pickle, a cookie holding a
 * pickled list, and a raw `application/octet-stream` job that is answered 202 whatever it held (only a delay can
 * show it ran). Fixed twin: an Unpickler that refuses every global.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'desk layouts', version: '0.9' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/layouts/current': {
      get: {
        operationId: 'currentLayout',
        responses: {
          '200': {
            description: 'the layout',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { name: { type: 'string' }, blob: { type: 'string', format: 'byte' } },
                },
              },
            },
          },
        },
      },
    },
    '/layouts/restore': {
      post: {
        operationId: 'restoreLayout',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['blob'],
                properties: { blob: { type: 'string', format: 'byte' } },
              },
            },
          },
        },
        responses: { '200': { description: 'restored' } },
      },
    },
    '/recent': {
      get: { operationId: 'recentDocuments', responses: { '200': { description: 'recent documents' } } },
    },
    '/jobs': {
      post: {
        operationId: 'queueJob',
        requestBody: {
          required: true,
          content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
        },
        responses: { '202': { description: 'queued' } },
      },
    },
  },
};

describe('Python pickles loaded from a JSON member, a cookie and a raw body', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const children: ChildProcess[] = [];
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startPythonApi('pickle-api.py', kind === 'fixed');
      children.push(api.child);
      try {
        results[kind] = await scanDocument(SPEC, api.url, {
          identities: [
            { name: 'una', headers: { authorization: 'Token t-una' } },
            { name: 'oli', headers: { authorization: 'Token t-oli' } },
          ],
          checks: ['API8'],
          ratePerSecond: 200,
          timeDelayMs: 300,
        });
      } finally {
        api.child.kill();
        await once(api.child, 'exit');
      }
    }
  });
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill();
  });

  const found = (r: ScanResult) =>
    r.findings
      .filter((f) => f.rule.id === 'scan/api8-insecure-deserialization')
      .map((f) => `${f.operation?.operationId} ${f.evidence?.location}:${f.evidence?.input}`)
      .sort();

  test('the layout restored from the JSON member ran the pickled call: its result came back', () => {
    const f = results.vulnerable.findings.find(
      (x) =>
        x.rule.id === 'scan/api8-insecure-deserialization' && x.operation?.operationId === 'restoreLayout',
    );
    assert.ok(f, found(results.vulnerable).join(', '));
    assert.match(
      f.message,
      /JSON field blob as una: a pickle calling operator\.add\('pcx4', '2z'\) came back as its result, pcx42z/,
    );
  });

  test('the cookie the API set holding a pickled list ran the call at the read that sets it', () => {
    assert.ok(
      found(results.vulnerable).includes('recentDocuments cookie:recent'),
      found(results.vulnerable).join(', '),
    );
  });

  test('the raw job, answered 202 whatever it held, is found by a pickled sleep against sleep(0)', () => {
    const f = results.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api8-insecure-deserialization' && x.operation?.operationId === 'queueJob',
    );
    assert.ok(f, found(results.vulnerable).join(', '));
    assert.match(f.message, /time\.sleep\(0\.3\) delayed the answer twice/);
  });

  test('the vulnerable twin has those three findings and nothing else', () => {
    assert.deepEqual(
      results.vulnerable.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`).sort(),
      [
        'scan/api8-insecure-deserialization queueJob',
        'scan/api8-insecure-deserialization recentDocuments',
        'scan/api8-insecure-deserialization restoreLayout',
      ],
    );
  });

  test('the fixed twin, whose loader refuses every global, has no finding', () => {
    assert.deepEqual(
      results.fixed.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`),
      [],
    );
  });
});
