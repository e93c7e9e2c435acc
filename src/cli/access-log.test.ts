import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessRecord } from '../gateway/gateway.ts';
import { formatAccessLine } from './runtime.ts';

test('writes an access record as one pino-compatible JSON line, escaping what clients control', () => {
  const rec: AccessRecord = {
    'http.request.id': 'abc123',
    'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736',
    'http.request.method': 'GET',
    'url.path': '/a"b\\c\n',
    'http.route': '/items/{id}',
    'http.response.status_code': 403,
    'client.address': '203.0.113.9',
    'event.duration_ms': 1.25,
    'portcullis.api': 'items',
    'portcullis.operation_id': 'getItem',
    'portcullis.decision': 'rule_denied',
    'portcullis.denied_by': 'authorize',
    'portcullis.reported': ['injection:sqli'],
    'user.id': 'alice',
  };
  const line = formatAccessLine(rec, 1795937701901);
  assert.ok(line.endsWith('}\n'));
  assert.equal(line.split('\n').length, 2);
  const parsed = JSON.parse(line);
  assert.deepEqual(parsed, { level: 30, time: 1795937701901, service: 'portcullis', ...rec, msg: 'access' });
  const minimal = JSON.parse(
    formatAccessLine(
      {
        ...rec,
        'http.route': undefined,
        'portcullis.denied_by': undefined,
        'portcullis.reported': undefined,
        'user.id': undefined,
      },
      1,
    ),
  );
  assert.equal('http.route' in minimal, false);
  assert.equal('user.id' in minimal, false);
});
