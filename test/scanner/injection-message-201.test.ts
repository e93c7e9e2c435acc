import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { headerIdentities, scanTwins } from './twins.ts';

/**
 * A FastAPI-like utility route (review R2-R2, the full-stack FastAPI template's `POST /utils/test-email/`): it
 * answers `201 {"message": "Test email sent"}` and stores nothing. The injection probes' sweep counted each 201 as
 * an object made and warned "1 left in its data ... remove them on the target by hand": there is nothing to remove.
 * Vulnerable: a note posted to `POST /api/notes/send {to, text}` answers 201 with the same message. Fixed twin: 202.
 * On both, no warning of objects left.
 */
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'utils', version: '0.1.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Ops-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/api/utils/test-email': {
      post: {
        operationId: 'testEmail',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['subject'],
                properties: { subject: { type: 'string' }, note: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'sent' } },
      },
    },
    '/api/health': { get: { operationId: 'health', responses: { '200': { description: 'ok' } } } },
  },
};

async function startUtils(fixed: boolean): Promise<{ url: string; server: Server }> {
  return startServer(async (req, res) => {
    if (!['ops-1', 'ops-2'].includes(String(req.headers['x-ops-key'])))
      return sendJson(res, 401, { detail: 'Not authenticated' }, GUARDED_JSON);
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/api/health') return sendJson(res, 200, true, GUARDED_JSON);
    if (req.method === 'POST' && url.pathname === '/api/utils/test-email') {
      const b = await readJson(req);
      if (typeof b?.subject !== 'string') return sendJson(res, 422, { detail: 'subject' }, GUARDED_JSON);
      return sendJson(res, fixed ? 202 : 201, { message: 'Test email sent' }, GUARDED_JSON);
    }
    sendJson(res, 404, { detail: 'Not Found' }, GUARDED_JSON);
  });
}

describe('a 201 that names nothing made no object to clean up', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult }>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startUtils, {
        identities: headerIdentities('X-Ops-Key', { alice: 'ops-1', bob: 'ops-2' }),
        checks: ['API8'],
        ratePerSecond: 200,
      }),
    );
  });

  test('no warning says the probes of the test e-mail left objects, on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        scans[kind].result.warnings.filter((w) => /test-email/.test(w)),
        [],
        kind,
      );
  });
});
