import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { systemClock } from '../../src/core/clock.ts';
import { createMonitor } from '../../src/monitor/monitor.ts';
import { createMemoryStore } from '../../src/state/memory-store.ts';
import { writeVersion1File } from '../kit/version1-file.ts';

test('the monitor logs the rewrite of an events file from an earlier version, and serves its events', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-upgrade-'));
  try {
    const path = join(dir, 'events.db');
    writeVersion1File(path);
    const lines: Array<{ msg: string; events?: number; fromVersion?: number }> = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    for (const worker of [false, true]) {
      const monitor = await createMonitor(
        { events: { store: 'sqlite', sqlite: { path, worker, retentionDays: 0 } } },
        { logger, clock: systemClock, store: createMemoryStore({ clock: systemClock }) },
      );
      assert.equal((await monitor.query({ limit: 100 })).events.length, 6);
      await monitor.close();
    }
    // Once, on the first open; the second (on a worker thread) found the current layout.
    const rewrites = lines.filter((l) => l.msg.startsWith('events database rewritten'));
    assert.equal(rewrites.length, 1);
    assert.equal(rewrites[0].msg.startsWith('events database rewritten to layout 2 (6 events, '), true);
    assert.equal(rewrites[0].fromVersion, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
