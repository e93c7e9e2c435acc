import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { monitorConfigSchema, resolveMonitorConfig } from './schema.ts';

function validator() {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTypes: false });
  ajv.addKeyword('x-expected');
  return ajv.compile(monitorConfigSchema);
}

describe('monitor config schema', () => {
  test('compiles in strict mode and fills every default into an empty block', () => {
    const validate = validator();
    const cfg: Record<string, unknown> = {};
    assert.equal(validate(cfg), true, JSON.stringify(validate.errors));
    const d = resolveMonitorConfig();
    const c = cfg as unknown as typeof d;
    assert.deepEqual(c.events.sqlite, d.events.sqlite);
    assert.deepEqual(c.events.sqlite, {
      path: d.events.sqlite.path,
      retentionDays: 7,
      maxRows: 1_000_000,
      maxMegabytes: 1024,
      worker: 'auto',
    });
    assert.equal(c.events.store, 'sqlite');
    assert.deepEqual(c.detectors, d.detectors);
    assert.equal(c.bans.baseSeconds, d.bans.baseSeconds);
    assert.deepEqual(c.bans.detectors, d.bans.detectors);
  });

  test('accepts a PostgreSQL store and a webhook', () => {
    const validate = validator();
    const ok = validate({
      events: { store: 'postgres', postgres: { url: 'postgres://gw@db/portcullis', retentionDays: 14 } },
      alerts: { webhook: { url: 'https://hooks.example/portcullis', secret: 'a-long-enough-secret' } },
      detectors: { enumeration: { minDistinctIds: 50 }, errorSpike: { enabled: false } },
      bans: { exemptIps: ['10.0.0.0/8', '2001:db8::1'], minSeverity: 'critical' },
    });
    assert.equal(ok, true, JSON.stringify(validate.errors));
  });

  test('rejects unknown stores, unknown detector fields, ratios above 1 and a short webhook secret', () => {
    const validate = validator();
    assert.equal(validate({ events: { store: 'mysql' } }), false);
    assert.equal(validate({ detectors: { enumeration: { minDistinct: 5 } } }), false);
    assert.equal(validate({ detectors: { enumeration: { minFailureRatio: 1.5 } } }), false);
    assert.equal(validate({ alerts: { webhook: { url: 'https://h', secret: 'short' } } }), false);
    assert.deepEqual(
      validate.errors?.map((e) => e.instancePath),
      ['/alerts/webhook/secret'],
    );
  });

  test('resolveMonitorConfig merges partial input over the defaults', () => {
    const c = resolveMonitorConfig({
      events: { sqlite: { retentionDays: 30 } },
      detectors: { volumetric: { factor: 20 } },
      alerts: { webhook: { url: 'http://127.0.0.1:1/h', secret: 's'.repeat(16) } },
    });
    assert.equal(c.events.sqlite.retentionDays, 30);
    assert.equal(c.events.sqlite.path, './data/events.db');
    assert.equal(c.detectors.volumetric.factor, 20);
    assert.equal(c.detectors.volumetric.minRequests, 100);
    assert.equal(c.alerts.webhook?.maxAttempts, 6);
  });
});
