import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { access } from '../../../test/kit/access-events.ts';
import { createCredentialAbuseDetector, credentialAbuseDefaults } from './credential-abuse.ts';
import { replay } from './index.ts';

const make = () => createCredentialAbuseDetector(credentialAbuseDefaults);

function login(atMs: number, ip: string, user: string, status: number) {
  return access(atMs, {
    'http.request.method': 'POST',
    'http.route': '/login',
    'url.path': '/login',
    'portcullis.operation_id': 'login',
    'client.address': ip,
    'user.name': user,
    'http.response.status_code': status,
    'portcullis.decision': status === 401 ? 'invalid_credentials' : 'allow',
  });
}

function withToken(atMs: number, ip: string, hash: string, status: number) {
  return access(atMs, {
    'client.address': ip,
    'portcullis.credential.hash': hash,
    'http.response.status_code': status,
    'portcullis.decision': status === 401 ? 'expired' : 'allow',
    'portcullis.denied_by': status === 401 ? 'authenticate' : undefined,
  });
}

describe('credential abuse detector', () => {
  test('alerts on brute force: 20 failed logins from one IP for one user', () => {
    const alerts = replay(
      make(),
      Array.from({ length: 20 }, (_, i) => login(i * 1000, '198.51.100.1', 'alice', 401)),
    );
    assert.equal(alerts.length, 1);
    assert.deepEqual(
      {
        rule: alerts[0].rule,
        severity: alerts[0].severity,
        offender: alerts[0].offender,
        failures: alerts[0].evidence.failures,
      },
      { rule: 'brute-force-ip', severity: 'high', offender: { ip: '198.51.100.1' }, failures: 20 },
    );
    assert.equal(alerts[0].evidence.sampleRequestIds.length, 5);
  });

  test('alerts on stuffing from one IP trying 10 different user names', () => {
    const alerts = replay(
      make(),
      Array.from({ length: 10 }, (_, i) => login(i * 1000, '198.51.100.2', `user${i}`, 401)),
    );
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].rule, 'stuffing-from-ip');
    assert.deepEqual(alerts[0].offender, { ip: '198.51.100.2' });
  });

  test('alerts on distributed stuffing against one account without naming the account as offender', () => {
    const alerts = replay(
      make(),
      Array.from({ length: 10 }, (_, i) => login(i * 1000, `192.0.2.${i % 5}`, 'alice', 401)),
    );
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0].rule, 'stuffing-against-user');
    assert.deepEqual(alerts[0].offender, {});
    assert.deepEqual(alerts[0].target, { user: 'alice' });
    assert.equal(alerts[0].evidence.ips, 5);
  });

  test('alerts when one rejected token is replayed 10 times', () => {
    const alerts = replay(
      make(),
      Array.from({ length: 10 }, (_, i) => withToken(i * 1000, `192.0.2.${i}`, 'abc123', 401)),
    );
    const a = alerts.find((x) => x.rule === 'rejected-credential-replayed');
    assert.ok(a);
    assert.deepEqual(a.offender, { tokenHash: 'abc123' });
  });

  test('stays quiet for a user mistyping a password three times then succeeding, repeatedly over a day', () => {
    const events = [];
    for (let h = 0; h < 24; h++) {
      for (let k = 0; k < 3; k++) events.push(login(h * 3_600_000 + k * 5000, '198.51.100.9', 'bob', 401));
      events.push(login(h * 3_600_000 + 20_000, '198.51.100.9', 'bob', 200));
    }
    assert.deepEqual(replay(make(), events), []);
  });

  test('stays quiet for many successful logins of many users from one office IP', () => {
    const events = Array.from({ length: 500 }, (_, i) =>
      login(i * 100, '198.51.100.10', `user${i % 50}`, 200),
    );
    assert.deepEqual(replay(make(), events), []);
  });

  test('stays quiet when 19 failures from one IP are spread so no window holds 20', () => {
    const events = Array.from({ length: 40 }, (_, i) => login(i * 20_000, '198.51.100.11', 'carol', 401));
    assert.deepEqual(replay(make(), events), []);
  });

  test('counts a 403 from authorization as no authentication failure', () => {
    const events = Array.from({ length: 50 }, (_, i) =>
      access(i * 100, {
        'user.id': 'dave',
        'http.response.status_code': 403,
        'portcullis.denied_by': 'authorize',
        'portcullis.decision': 'rule_denied',
      }),
    );
    assert.deepEqual(replay(make(), events), []);
  });

  test('does not count the failure events of the authenticate policy a second time', () => {
    const events = [];
    for (let i = 0; i < 15; i++) {
      events.push({
        '@timestamp': new Date(Date.parse(access(0)['@timestamp']) + i * 1000).toISOString(),
        'event.kind': 'event' as const,
        'event.category': 'authentication',
        'event.type': 'denied',
        'event.action': 'authenticate',
        'event.outcome': 'failure' as const,
        'source.ip': '198.51.100.77',
      });
      events.push(login(i * 1000, '198.51.100.77', 'erin', 401));
    }
    assert.deepEqual(replay(make(), events), []);
  });

  test('tracks at most maxKeys IPs', () => {
    const d = createCredentialAbuseDetector({ ...credentialAbuseDefaults, maxKeys: 10 });
    replay(
      d,
      Array.from({ length: 100 }, (_, i) => withToken(i, `10.0.${i}.1`, `h${i % 3}`, 401)),
    );
    assert.equal(d.size(), 13);
  });
});
