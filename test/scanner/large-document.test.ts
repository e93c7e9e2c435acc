import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { type LargeApi, largeIdentity, largeSpec, RESOURCES, startLargeApi } from './large-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A 113-operation document (large-api.ts: Koa style, JWT sessions, 22 resources) scanned as a new user would: two
 * members and an admin, default options. The scan has one deadline (scanTimeoutMs, 55 s by default) shared by the
 * checks by their work; it took 120 s before (API3 ran out of its fixed 30 s). The fixed twin also limits each
 * client to 30 requests a second (429, Retry-After: 1): the scan slows down, sends the refused requests again, and
 * says so.
 */
const SCAN_TIMEOUT_MS = 55_000;
/** The clean-up may run a little past the deadline (runner.ts: at most CLEANUP_MS). */
const CLEANUP_SLACK_MS = 10_000;

/** The seeded records (alice's and bob's, two per resource), as they stand: ids taken at the start. */
const seeded = (api: LargeApi, ids: readonly string[]) =>
  ids.map((key) => {
    const [resource, id] = key.split('/');
    const row = api.rows.get(resource)?.find((r) => r.id === id);
    return row ? `${key} ${row.owner} ${row.name} ${row.description} ${row.priority}` : `${key} deleted`;
  });
const seededIds = (api: LargeApi) =>
  RESOURCES.flatMap((r) => (api.rows.get(r) ?? []).map((row) => `${r}/${row.id}`));

describe('a 113-operation document is scanned within the scan’s deadline', () => {
  const runs = {} as Record<
    'vulnerable' | 'fixed',
    { result: ScanResult; api: LargeApi; ids: string[]; before: string[] }
  >;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startLargeApi(kind === 'fixed', kind === 'fixed' ? 30 : 0);
      const ids = seededIds(api);
      const beforeScan = seeded(api, ids);
      try {
        const result = await scanDocument(largeSpec(), api.url, {
          identities: [largeIdentity('alice'), largeIdentity('bob')],
          admin: largeIdentity('admin'),
          timeDelayMs: 300,
        });
        runs[kind] = { result, api, ids, before: beforeScan };
      } finally {
        await api.close();
      }
    }
  });

  test('each scan ends by its deadline (plus the clean-up), and says which checks ran short of time', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { result } = runs[kind];
      assert.ok(
        result.stats.durationMs <= SCAN_TIMEOUT_MS + CLEANUP_SLACK_MS,
        `${kind}: ${result.stats.durationMs} ms (${JSON.stringify(result.phases)})`,
      );
      const short = [...result.timedOut, ...(result.notRun ?? [])];
      if (short.length > 0)
        assert.ok(
          result.notes.some((n) => n.startsWith('time: ') && short.every((c) => n.includes(c))),
          result.notes.join('\n'),
        );
    }
  });

  test('the vulnerable twin’s invoice read across members is found; not on the fixed twin', () => {
    assert.ok(
      operationsFound(runs.vulnerable.result).some((f) => /^scan\/api1-\S+ getInvoice$/.test(f)),
      operationsFound(runs.vulnerable.result).join('\n'),
    );
    assert.deepEqual(
      operationsFound(runs.fixed.result).filter((f) => f.startsWith('scan/api1-')),
      [],
    );
  });

  test('the fixed twin’s 429s slowed the scan and their requests were sent again', () => {
    const { api, result } = runs.fixed;
    assert.ok(api.counts.limited > 0, 'the limiter answered no 429');
    assert.ok(
      result.notes.some((n) => /^pace: the target answered 429 .* sent \d+ of those requests again/.test(n)),
      result.notes.join('\n'),
    );
  });

  test('no seeded record of alice or bob changed on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(seeded(runs[kind].api, runs[kind].ids), runs[kind].before, kind);
  });
});
