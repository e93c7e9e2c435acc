import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pino from 'pino';
import { createManualClock } from '../core/clock.ts';
import { createBanList } from '../state/bans.ts';
import { createMemoryStore } from '../state/memory-store.ts';
import type { Alert } from './detectors/detector.ts';
import { createResponder, type ResponderConfig, responderDefaults } from './responder.ts';

function setup(cfg: Partial<ResponderConfig> = {}) {
  const clock = createManualClock();
  const bans = createBanList({ store: createMemoryStore({ clock }), clock });
  const responder = createResponder({
    bans,
    config: { ...responderDefaults, ...cfg },
    logger: pino({ level: 'silent' }),
  });
  return { clock, bans, responder };
}

function alert(more: Partial<Alert>): Alert {
  return {
    id: 'a1',
    '@timestamp': new Date().toISOString(),
    detector: 'enumeration',
    rule: 'distinct-ids',
    severity: 'high',
    summary: 's',
    offender: {},
    evidence: { windowSeconds: 60, sampleRequestIds: [] },
    ...more,
  };
}

describe('responder', () => {
  test('bans the subject of an authenticated offender, not its shared address', async () => {
    const { responder, bans } = setup();
    const made = await responder.handle(alert({ offender: { subject: 'mallory', ip: '203.0.113.7' } }));
    assert.deepEqual(
      made.map((b) => [b.kind, b.value, b.source, b.detector, b.alertId]),
      [['subject', 'mallory', 'auto', 'enumeration', 'a1']],
    );
    assert.equal(await bans.get('ip', '203.0.113.7'), undefined);
  });

  test('bans the address of an anonymous offender for baseSeconds', async () => {
    const { responder } = setup();
    const [ban] = await responder.handle(
      alert({ detector: 'credential-abuse', offender: { ip: '198.51.100.4' } }),
    );
    assert.deepEqual(
      [ban.kind, ban.value, (ban.expiresAt - ban.createdAt) / 1000],
      ['ip', '198.51.100.4', 300],
    );
  });

  test('bans the offender for longer on each repeat offence', async () => {
    const { responder, clock } = setup();
    const durations: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [b] = await responder.handle(alert({ offender: { ip: '198.51.100.5' } }));
      durations.push((b.expiresAt - b.createdAt) / 1000);
      clock.advance(b.expiresAt - b.createdAt);
    }
    assert.deepEqual(durations, [300, 1200, 4800]);
  });

  test('bans nothing for an alert below minSeverity, from a detector not listed, or with no offender', async () => {
    const { responder } = setup();
    assert.deepEqual(
      await responder.handle(alert({ severity: 'medium', offender: { ip: '198.51.100.6' } })),
      [],
    );
    assert.deepEqual(
      await responder.handle(alert({ detector: 'error-spike', offender: { ip: '198.51.100.6' } })),
      [],
    );
    assert.deepEqual(await responder.handle(alert({ target: { user: 'alice' } })), []);
  });

  test('never bans an exempt address or range', async () => {
    const { responder } = setup({ exemptIps: ['10.0.0.0/8', '2001:db8::1'] });
    assert.deepEqual(await responder.handle(alert({ offender: { ip: '10.1.2.3' } })), []);
    assert.deepEqual(await responder.handle(alert({ offender: { ip: '2001:db8::1' } })), []);
    assert.equal((await responder.handle(alert({ offender: { ip: '11.0.0.1' } }))).length, 1);
  });

  test('bans nothing when disabled', async () => {
    const { responder } = setup({ enabled: false });
    assert.deepEqual(await responder.handle(alert({ offender: { ip: '198.51.100.7' } })), []);
  });
});
