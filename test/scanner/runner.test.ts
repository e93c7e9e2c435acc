import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SCAN_DEFAULTS } from '../../src/scanner/scan/options.ts';
import { runScan } from '../../src/scanner/scan/runner.ts';
import { startVulnerableApi, type VulnerableApi } from '../fixtures/vulnerable-api/server.ts';

describe('runScan options and failures', () => {
  let api: VulnerableApi;
  before(async () => {
    api = await startVulnerableApi({ fixed: false });
  });
  after(() => api.close());

  test('rejects an identity whose login fails with ERR_SCAN_LOGIN', async () => {
    await assert.rejects(
      runScan({
        spec: api.specFile,
        target: api.url,
        identities: [
          { name: 'eve', login: { path: '/v2/auth/login', body: { username: 'eve', password: 'x' } } },
        ],
      }),
      { code: 'ERR_SCAN_LOGIN' },
    );
  });

  test('rejects an identity with two kinds of credentials with ERR_SCAN_IDENTITY', async () => {
    await assert.rejects(
      runScan({
        spec: api.specFile,
        target: api.url,
        identities: [{ name: 'x', bearer: 't', headers: { a: 'b' } }],
      }),
      { code: 'ERR_SCAN_IDENTITY' },
    );
  });

  test('rejects a target that is not a URL and an empty identity list with ERR_SCAN_OPTIONS', async () => {
    await assert.rejects(
      runScan({ spec: api.specFile, target: 'nope', identities: [{ name: 'a', bearer: 't' }] }),
      {
        code: 'ERR_SCAN_OPTIONS',
      },
    );
    await assert.rejects(runScan({ spec: api.specFile, target: api.url, identities: [] }), {
      code: 'ERR_SCAN_OPTIONS',
    });
  });

  test('keeps the time-based delay at 1 s unless told, and refuses one outside 100 ms to 10 s', async () => {
    assert.equal(SCAN_DEFAULTS.timeDelayMs, 1000);
    for (const timeDelayMs of [50, 20_000, Number.NaN]) {
      await assert.rejects(
        runScan({
          spec: api.specFile,
          target: api.url,
          identities: [{ name: 'a', bearer: 't' }],
          timeDelayMs,
        }),
        { code: 'ERR_SCAN_OPTIONS', message: /timeDelayMs/ },
      );
    }
  });

  test('runs only the selected checks and reports progress up to the last one', async () => {
    const seen: string[] = [];
    const result = await runScan({
      spec: api.specFile,
      target: api.url,
      identities: [
        {
          name: 'alice',
          login: { path: '/v2/auth/login', body: { username: 'alice', password: 'alice-pass-1' } },
        },
      ],
      checks: ['API5'],
      onProgress: (p) => seen.push(`${p.check} ${p.checksDone}/${p.checksTotal}`),
    });
    assert.deepEqual([...new Set(result.findings.map((f) => f.rule.id))], ['scan/api5-bfla']);
    assert.deepEqual(
      result.rules.map((r) => r.id),
      ['scan/api5-bfla'],
    );
    // After the last check, the clean-up of what the scan made (its setup objects since 0921604) may report too.
    assert.equal(seen.filter((s) => !s.startsWith('cleanup ')).at(-1), 'API5 1/1');
    assert.match(seen.at(-1) ?? '', /^(API5|cleanup) 1\/1$/);
    assert.ok(result.stats.requests >= 3);
  });

  test('stops a check at its timeout and says so', async () => {
    const result = await runScan({
      spec: api.specFile,
      target: api.url,
      identities: [
        {
          name: 'alice',
          login: { path: '/v2/auth/login', body: { username: 'alice', password: 'alice-pass-1' } },
        },
      ],
      checks: ['API8'],
      checkTimeoutMs: 300,
    });
    // Discovery has the same budget as a check, so it runs out too and says so.
    assert.deepEqual(result.timedOut, ['discovery', 'API8']);
  });
});
