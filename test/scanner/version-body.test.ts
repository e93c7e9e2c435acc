import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A Spring Boot-style ledger with actuator routes open to anyone (`/actuator/info`, `/actuator/health`), a
 * Bearer token given out of band, and a public catalogue of the libraries it is built on (its own resource:
 * names and versions as data). Both twins send `Server: K8sGateway` (digits in a product name, no version).
 *
 * Vulnerable: `/actuator/info` names the JVM, the database and the OS with their versions, `/actuator/health`
 * shows the build's version beside its profile (`dev`: the API's own version beside `prod` is no finding). Fixed twin: the application's name and `UP` only.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'ledger', version: '3.2' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/actuator/info': {
      get: { operationId: 'info', security: [], responses: { '200': { description: 'info' } } },
    },
    '/actuator/health': {
      get: { operationId: 'health', security: [], responses: { '200': { description: 'health' } } },
    },
    '/api/libraries': {
      get: { operationId: 'libraries', security: [], responses: { '200': { description: 'credits' } } },
    },
    '/api/entries': { get: { operationId: 'entries', responses: { '200': { description: 'entries' } } } },
  },
};

const TOKENS = new Set(['ldg-7f3e1c9a', 'ldg-0b84d2e6']);

function startLedger(fixed: boolean) {
  return startServer((req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
        server: 'K8sGateway',
      });
      res.end(JSON.stringify(payload));
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(405, { error: 'Method Not Allowed' });
    if (path === '/actuator/info')
      return send(
        200,
        fixed
          ? { app: { name: 'ledger' } }
          : {
              app: { name: 'ledger', description: 'double-entry ledger' },
              java: { version: '17.0.9', vendor: 'Eclipse Adoptium' },
              db: 'PostgreSQL 15.4',
              os: { name: 'Linux', version: '6.1.0-18-amd64', arch: 'amd64' },
            },
      );
    if (path === '/actuator/health')
      return send(200, fixed ? { status: 'UP' } : { status: 'UP', version: '3.2.0-rc1', profile: 'dev' });
    if (path === '/api/libraries')
      return send(200, [
        { name: 'Spring Boot', version: '3.2.0', note: 'Spring Boot 3.2.0' },
        { name: 'Flyway', version: '9.22.3' },
      ]);
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!TOKENS.has(token)) return send(401, { error: 'Unauthorized' });
    if (path === '/api/entries') return send(200, [{ id: 1, amount: 120, account: 'cash' }]);
    return send(404, { error: 'Not Found' });
  });
}

describe('software versions in JSON answers to anonymous callers', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startLedger, {
      identities: [...TOKENS].map((t, i) => ({ name: `clerk${i + 1}`, bearer: t })),
      checks: ['API8'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('the info route names the JVM, the database and the OS with versions', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api8-version-banner' && x.operation?.operationId === 'info',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.severity, 'low');
    assert.match(f.message, /java\.version "17\.0\.9"/);
    assert.match(f.message, /db "PostgreSQL 15\.4"/);
    assert.match(f.message, /os\.version "6\.1\.0-18-amd64"/);
  });

  test("the health route's version beside its profile: a release candidate's dev profile, not prod", () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api8-version-banner' && x.operation?.operationId === 'health',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /version "3\.2\.0-rc1" beside profile "dev"/);
  });

  test('neither the library list (data) nor a product name with digits in Server', () => {
    assert.ok(!runs.vulnerable.findings.some((x) => x.operation?.operationId === 'libraries'));
    assert.ok(!runs.vulnerable.findings.some((x) => /K8sGateway/.test(x.message)));
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
