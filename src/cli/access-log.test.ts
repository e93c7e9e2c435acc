import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessRecord } from '../gateway/gateway.ts';
import { createAccessLog, formatAccessLine } from './access-log.ts';
import type { LineWriter } from './line-writer.ts';

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

test('writes the duration as String() would, and client strings JSON needs to escape through JSON.stringify', () => {
  const base: AccessRecord = {
    'http.request.id': 'abc123',
    'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736',
    'http.request.method': 'GET',
    'url.path': '/',
    'http.route': undefined,
    'http.response.status_code': 200,
    'client.address': '::1',
    'event.duration_ms': 0,
    'portcullis.api': 'caf\u00e9 \u2603',
    'portcullis.operation_id': undefined,
    'portcullis.decision': 'allow',
    'portcullis.denied_by': undefined,
    'portcullis.reported': undefined,
    'user.id': 'j\u00f6rg "\u0001"',
    'portcullis.waf.rule_ids': [942100, 920350],
    'portcullis.waf.score': 10,
  };
  const durations = [0, 0.001, 0.01, 0.1, 0.5, 1, 1.25, 10.007, 123.456, 99999.999, 1e9 + 0.123, 7.1e-7, -1];
  for (let i = 0; i < 2000; i++) durations.push(Math.round(Math.random() * 10 ** (i % 9) * 1000) / 1000);
  for (const d of durations) {
    const line = formatAccessLine({ ...base, 'event.duration_ms': d }, 1795937701901);
    assert.ok(line.includes(`,"event.duration_ms":${String(d)},`), `${d}: ${line}`);
    assert.equal(JSON.parse(line)['event.duration_ms'], d);
  }
  const parsed = JSON.parse(formatAccessLine({ ...base, 'url.path': '/\u00e4/\n"x"' }, 5));
  assert.equal(parsed['url.path'], '/\u00e4/\n"x"');
  assert.equal(parsed['user.id'], 'j\u00f6rg "\u0001"');
  assert.equal(parsed['portcullis.api'], 'caf\u00e9 \u2603');
  assert.deepEqual(parsed['portcullis.waf.rule_ids'], [942100, 920350]);
  assert.equal(parsed['portcullis.waf.score'], 10);
  assert.equal(parsed.time, 5);
});

test('the access log writes each line into the destination within the bound it asked for', () => {
  const lines: string[] = [];
  const destination: LineWriter = {
    write: () => assert.fail('the access log writes into the buffer'),
    writeInto(maxBytes, fill, a, b) {
      const buf = Buffer.alloc(maxBytes + 16, 0xff);
      const end = fill(buf, 8, a, b);
      assert.ok(end - 8 <= maxBytes);
      assert.ok(buf.subarray(end).every((x) => x === 0xff));
      lines.push(buf.toString('utf8', 8, end));
      return true;
    },
    flush: () => {},
    dropped: 0,
  };
  const log = createAccessLog(destination);
  const rec: AccessRecord = {
    'http.request.id': 'x'.repeat(128),
    'trace.id': '4bf92f3577b34da6a3ce929d0e0e4736',
    'http.request.method': 'PATCH',
    'url.path': `/${'\u0001'.repeat(3000)}`,
    'http.route': '/items/{id}',
    'http.response.status_code': 499,
    'client.address': '2001:db8::1',
    'event.duration_ms': 12.5,
    'portcullis.api': 'items',
    'portcullis.operation_id': 'patchItem',
    'portcullis.decision': 'client_aborted',
    'portcullis.denied_by': 'gateway',
    'portcullis.reported': ['injection:sqli', 'validate:\u00e9'],
    'user.id': '\u2603'.repeat(50),
  };
  const before = Date.now();
  log(rec);
  assert.equal(lines.length, 1);
  const parsed = JSON.parse(lines[0]);
  assert.ok(parsed.time >= before && parsed.time <= Date.now());
  assert.deepEqual(parsed, { level: 30, time: parsed.time, service: 'portcullis', ...rec, msg: 'access' });
  assert.ok(lines[0].endsWith('}\n'));
});
