import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { access } from '../../../test/kit/access-events.ts';
import { replay } from './index.ts';
import { createShadowApiDetector, shadowApiDefaults } from './shadow-api.ts';

const make = () => createShadowApiDetector(shadowApiDefaults);

function undeclared(atMs: number, path: string, ip = '203.0.113.50', status = 404) {
  // The gateway refuses an undeclared request (404/405), or forwards it in `undeclared: report` mode.
  return access(atMs, {
    'url.path': path,
    'http.route': undefined,
    'portcullis.operation_id': undefined,
    'client.address': ip,
    'http.response.status_code': status,
    'portcullis.decision': status === 404 ? 'undeclared_route' : 'undeclared_reported',
  });
}

describe('shadow API detector', () => {
  test('alerts on repeated use of one undeclared endpoint, ids templated', () => {
    const events = Array.from({ length: 5 }, (_, i) =>
      undeclared(i * 1000, `/internal/users/${i + 1}/export`, `198.51.100.${i}`),
    );
    const alerts = replay(make(), events);
    assert.equal(alerts.length, 1);
    assert.deepEqual(
      {
        rule: alerts[0].rule,
        route: alerts[0].route,
        severity: alerts[0].severity,
        callers: alerts[0].evidence.callers,
      },
      { rule: 'undeclared-endpoint', route: 'GET /internal/users/{id}/export', severity: 'low', callers: 5 },
    );
  });

  test('raises the severity when the upstream served the undeclared endpoint (decision undeclared_reported)', () => {
    const events = Array.from({ length: 5 }, (_, i) =>
      undeclared(i * 1000, '/v0/debug', '198.51.100.1', 200),
    );
    assert.equal(replay(make(), events)[0].severity, 'medium');
  });

  test('alerts on one caller probing 10 different undeclared paths', () => {
    const paths = [
      '/admin',
      '/.env',
      '/actuator',
      '/debug',
      '/v2/users',
      '/graphql',
      '/swagger.json',
      '/backup',
      '/api/internal',
      '/metrics',
    ];
    const alerts = replay(
      make(),
      paths.map((p, i) => undeclared(i * 1000, p)),
    );
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].rule, 'endpoint-probing');
    assert.deepEqual(alerts[0].offender, { ip: '203.0.113.50' });
  });

  test('stays quiet for declared routes however often they are used', () => {
    const events = Array.from({ length: 200 }, (_, i) => access(i * 10, { 'url.path': `/orders/${i}` }));
    assert.deepEqual(replay(make(), events), []);
  });

  test('stays quiet for a few stray 404s on different paths from different callers', () => {
    const events = ['/favicon.ico', '/robots.txt', '/orders', '/health'].map((p, i) =>
      undeclared(i * 1000, p, `192.0.2.${i}`),
    );
    assert.deepEqual(replay(make(), events), []);
  });
});
