import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startPythonApi } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * Creations with a unique input, and a numeric path id of an action, on a real Python API
 * (test/scanner/visitor-registry-api.py: http.server and sqlite3, bearer tokens, errors hidden behind
 * `500 {"detail": "internal error"}`, a creation answering `201 {"id": n}` only):
 *
 * - `POST /api/visitors {email, full_name}` (e-mail unique) builds its INSERT from both inputs: a quote breaks it,
 *   two quotes are stored as one (the list read shows `x'`). Before, the probes of `full_name` reused the sampled
 *   e-mail (the second creation collided: 500) and the repeated doubled quote of `email` collided with the first.
 * - `POST /api/visitors/{visitor_id}/check-in` and `PATCH /api/visitors/{visitor_id}` paste the id into their
 *   UPDATE unquoted: a quote and two quotes both break it, `id+0` does not. Probed on a visitor the scan registered
 *   (the runner let no probe of that path value through before: `3'` is no id the scan created).
 *
 * Fixed twin: bound parameters.
 */
const ok = (description: string) => ({ description });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'visitor registry', version: '1.4.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/token': {
      post: {
        operationId: 'token',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { username: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': ok('a token'), '401': ok('bad credentials') },
      },
    },
    '/api/visitors': {
      get: { operationId: 'listVisitors', responses: { '200': ok('the caller’s visitors') } },
      post: {
        operationId: 'registerVisitor',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'full_name'],
                properties: {
                  email: { type: 'string', format: 'email' },
                  full_name: { type: 'string' },
                },
              },
            },
          },
        },
        responses: { '201': ok('registered') },
      },
    },
    '/api/visitors/{visitor_id}': {
      parameters: [{ name: 'visitor_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'visitor', responses: { '200': ok('a visitor'), '404': ok('no such visitor') } },
      patch: {
        operationId: 'renameVisitor',
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { full_name: { type: 'string' } } },
            },
          },
        },
        responses: { '200': ok('renamed'), '404': ok('no such visitor') },
      },
    },
    '/api/visitors/{visitor_id}/check-in': {
      post: {
        operationId: 'checkIn',
        parameters: [{ name: 'visitor_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': ok('checked in'), '404': ok('no such visitor') },
      },
    },
  },
};

describe('creations with unique inputs and an action’s numeric id, errors hidden', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  const children: ChildProcess[] = [];
  /** The seeded visitors (alice's and bob's) after the scan: [id, checked_in]. */
  const seeded = {} as Record<'vulnerable' | 'fixed', unknown>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startPythonApi('visitor-registry-api.py', kind === 'fixed');
      children.push(api.child);
      try {
        const login = (username: string, password: string) => ({
          name: username,
          login: { path: '/api/token', body: { username, password } },
        });
        results[kind] = await scanDocument(SPEC, api.url, {
          identities: [login('alice', 'pw-alice-3391'), login('bob', 'pw-bob-2276')],
          ratePerSecond: 200,
          timeDelayMs: 300,
        });
        seeded[kind] = await (await fetch(`${api.url}/_test/seeded`)).json();
      } finally {
        api.child.kill();
      }
    }
  });
  after(() => {
    for (const c of children) c.kill();
  });

  test('both inputs of the creation and the check-in id are SQL injection', () => {
    const sql = results.vulnerable.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection');
    assert.deepEqual(
      sql.map((f) => `${f.operation?.operationId} ${f.evidence?.parameter}`).sort(),
      [
        'checkIn visitor_id',
        'registerVisitor email',
        'registerVisitor full_name',
        'renameVisitor visitor_id',
      ],
      operationsFound(results.vulnerable).join('\n'),
    );
    for (const f of sql.filter((x) => x.operation?.operationId === 'registerVisitor'))
      assert.match(f.message, /two quotes were stored as one/);
    for (const id of ['checkIn', 'renameVisitor'])
      assert.match(sql.find((f) => f.operation?.operationId === id)!.message, /\+0/, id);
  });

  test('no probe checked in or renamed a visitor the scan did not register', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        seeded[kind],
        [
          [1, 0, 'Ann Guest'],
          [2, 0, 'Ben Guest'],
        ],
        kind,
      );
  });

  test('the fixed twin has no injection finding', () => {
    assert.deepEqual(
      operationsFound(results.fixed).filter((f) => /injection/.test(f)),
      [],
    );
  });
});
