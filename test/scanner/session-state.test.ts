import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startPythonApi } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Saved session state sent back as a raw text/plain body holding base64, on a real Python
 * (test/scanner/session-state-api.py: http.server, no authentication):
 * - `POST /session/restore`: `{type: string, format: byte}` described as base64 of the saved state; loads it with
 *   `pickle.loads` and answers what it holds (the canary's result comes back);
 * - `POST /session/import`: a plain string whose example is base64; inflates it (zlib) before `pickle.loads`, so
 *   the probe's pickles never load, and every error is answered 500 with the Python traceback, which quotes the
 *   `pickle.loads(...)` line: a lower-confidence sign.
 * Fixed twin: JSON instead of pickles (import's traceback then quotes `json.loads(...)`).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'sessions', version: '0.3' },
  paths: {
    '/health': { get: { operationId: 'health', responses: { '200': { description: 'ok' } } } },
    '/session/restore': {
      post: {
        operationId: 'restoreSession',
        summary: 'Restore a saved session from its base64 blob',
        requestBody: {
          required: true,
          content: {
            'text/plain': {
              schema: { type: 'string', format: 'byte', description: 'base64 of the saved session state' },
            },
          },
        },
        responses: {
          '200': {
            description: 'restored',
            content: {
              'application/json': {
                schema: { type: 'object', properties: { restored: { type: 'string' } } },
              },
            },
          },
        },
      },
    },
    '/session/import': {
      post: {
        operationId: 'importSession',
        summary: 'Import an exported session',
        requestBody: {
          required: true,
          content: {
            'text/plain': { schema: { type: 'string' }, example: 'eJyrViotTi1SslJQSszLU6oFACeWBNc=' },
          },
        },
        responses: { '200': { description: 'the session’s user' } },
      },
    },
  },
};

describe('saved session state in a raw text/plain base64 body', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const children: ChildProcess[] = [];
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startPythonApi('session-state-api.py', kind === 'fixed');
      children.push(api.child);
      try {
        results[kind] = await scanDocument(SPEC, api.url, {
          identities: [{ name: 'ann', headers: { 'x-api-key': 'k-ann-5521' } }],
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

  const deserialization = (r: ScanResult) =>
    r.findings.filter((f) => f.rule.id === 'scan/api8-insecure-deserialization');

  test('the restore loaded the probe’s pickle from its base64 body: the call’s result came back', () => {
    const f = deserialization(results.vulnerable).find((x) => x.operation?.operationId === 'restoreSession');
    assert.ok(
      f,
      deserialization(results.vulnerable)
        .map((x) => x.message)
        .join('\n'),
    );
    assert.match(
      f.message,
      /raw text\/plain body \(base64\).*operator\.add\('pcx4', '2z'\) came back as its result/,
    );
    assert.equal(f.severity, 'critical');
  });

  test('the import answered the probe’s pickle with a traceback quoting pickle.loads: a sign, at lower severity', () => {
    const f = deserialization(results.vulnerable).find((x) => x.operation?.operationId === 'importSession');
    assert.ok(
      f,
      deserialization(results.vulnerable)
        .map((x) => x.message)
        .join('\n'),
    );
    assert.match(f.message, /pickle\.loads/);
    assert.equal(f.severity, 'high');
    assert.equal(f.evidence?.confidence, 'medium');
  });

  test('the fixed twin, which reads JSON, has no deserialization finding', () => {
    assert.deepEqual(
      deserialization(results.fixed).map((f) => f.message),
      [],
    );
  });
});
