/**
 * `portcullis scan` against three vulnerable APIs whose conventions are not ours (test/fixtures/scan-targets/),
 * each scanned as a new user would: its own OpenAPI document, two ordinary identities and an admin logging in
 * through the API's own login, nothing else. Each vulnerable API is scored against its answer key (`flaws.ts`,
 * matched by category, method and path), and its fixed twin must give nothing (every finding there is a false
 * positive).
 *
 * Prints a table: found/total per target, the flaws missed, findings outside the key, false positives on the
 * twin, requests and scan time. The assertions are the minimums measured so far (MINIMUMS); raise them as the
 * scanner improves, up to the bar of issue 16 (GOAL: 70% found, no false positive on a twin) and beyond.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { loadApiDocument } from '../../src/openapi/load.ts';
import { runScan, type ScanResult } from '../../src/scanner/scan/index.ts';
import { type RunningTarget, SCAN_TARGETS, type ScanTarget } from '../fixtures/scan-targets/index.ts';
import { findingLabel, flawLabel, matches, type Score, score } from '../fixtures/scan-targets/measure.ts';

/** The bar of issue 16, for the record in the printed table. */
const GOAL = { foundRatio: 0.7, falsePositives: 0 } as const;

/**
 * What holds today, per target: flaws found at least, findings on the fixed twin at most. Update as you
 * measure; never lower a minimum to make a regression pass.
 */
const MINIMUMS: Readonly<Record<string, { found: number; twinFindings: number }>> = {
  // Measured (issue 16, after the explore and attack work): 17/17, 21/21, 21/21, no finding on any twin. The
  // scanner before issue 16 (422773c) found 8/17, 0/21 (it could not log in) and 9/21, one twin finding. One
  // flaw of margin per target for checks whose outcome depends on timing or order on a loaded machine.
  // 25 flaws since the shapes Vulnerable Bank showed were added (RPC loans, member card, reset PIN...).
  // Session 9: the three with a sign-up accept any password (the fixed twins refuse short and common ones): one
  // flaw more each (26, 22, 22).
  'flask-bookshelf': { found: 25, twinFindings: 0 },
  'fastapi-petclinic': { found: 21, twinFindings: 0 },
  'express-kanban': { found: 21, twinFindings: 0 },
  // Added last and measured before the scanner was tuned to it: 12/18 (67%), below the bar; no twin finding.
  // After the Vulnerable Bank work (Django's `/tickets/{id}/` items, the profile PATCH): 17/18.
  'django-helpdesk': { found: 16, twinFindings: 0 },
};

interface Run {
  readonly result?: ScanResult;
  /** The scan threw (e.g. a login it could not do). */
  readonly failure?: string;
  readonly wallMs: number;
}

async function scanTarget(target: ScanTarget, api: RunningTarget): Promise<Run> {
  const started = performance.now();
  try {
    const result = await runScan({
      spec: api.specFile,
      target: api.url,
      // The time-based injection probes ask for 300 ms instead of 1 s (controls unchanged), to shorten the test.
      timeDelayMs: 300,
      identities: [target.identity('alice'), target.identity('bob')],
      admin: target.identity('admin'),
    });
    return { result, wallMs: performance.now() - started };
  } catch (err) {
    return { failure: (err as Error).message, wallMs: performance.now() - started };
  }
}

interface Measured {
  readonly target: ScanTarget;
  readonly vulnerable: Run;
  readonly twin: Run;
  readonly score: Score;
}

const measured: Measured[] = [];

function seconds(run: Run): string {
  return `${(run.wallMs / 1000).toFixed(1)} s`;
}

function report(m: Measured): string {
  const total = m.target.flaws.length;
  const found = m.score.found.length;
  const lines = [
    `${m.target.name}: found ${found}/${total} (${Math.round((100 * found) / total)}%), ` +
      `twin findings ${m.twin.result?.findings.length ?? 'n/a'}, ` +
      `vulnerable scan ${seconds(m.vulnerable)} / ${m.vulnerable.result?.stats.requests ?? 0} requests, ` +
      `twin scan ${seconds(m.twin)} / ${m.twin.result?.stats.requests ?? 0} requests`,
  ];
  if (m.vulnerable.failure) lines.push(`  vulnerable scan failed: ${m.vulnerable.failure}`);
  if (m.twin.failure) lines.push(`  twin scan failed: ${m.twin.failure}`);
  for (const run of [m.vulnerable, m.twin]) {
    for (const e of run.result?.errors ?? []) lines.push(`  check error ${e.check}: ${e.message}`);
    for (const t of run.result?.timedOut ?? []) lines.push(`  check timed out: ${t}`);
  }
  for (const f of m.score.found) {
    const by = m.vulnerable.result?.findings.find((x) => matches(f, x));
    lines.push(`  found   ${flawLabel(f)} <- ${by ? findingLabel(by).slice(0, 140) : ''}`);
  }
  for (const f of m.score.missed) lines.push(`  MISSED  ${flawLabel(f)}: ${f.description}`);
  for (const f of m.score.unmatched) lines.push(`  outside the key: ${findingLabel(f)}`);
  for (const f of m.twin.result?.findings ?? []) lines.push(`  FALSE POSITIVE on twin: ${findingLabel(f)}`);
  return lines.join('\n');
}

for (const target of SCAN_TARGETS) {
  describe(`portcullis scan against ${target.name} (${target.style})`, () => {
    let vulnerableApi: RunningTarget;
    let twinApi: RunningTarget;
    let m: Measured;

    before(
      async () => {
        vulnerableApi = await target.start({ fixed: false });
        twinApi = await target.start({ fixed: true });
        // One after the other: the time-based checks compare against a baseline.
        const vulnerable = await scanTarget(target, vulnerableApi);
        const twin = await scanTarget(target, twinApi);
        m = { target, vulnerable, twin, score: score(target.flaws, vulnerable.result?.findings ?? []) };
        measured.push(m);
        console.log(report(m));
      },
      { timeout: 300_000 },
    );

    after(async () => {
      await vulnerableApi?.close();
      await twinApi?.close();
    });

    test(`finds at least ${MINIMUMS[target.name].found} of the ${target.flaws.length} known flaws`, () => {
      assert.ok(
        m.score.found.length >= MINIMUMS[target.name].found,
        `found ${m.score.found.length}: ${m.score.found.map(flawLabel).join(', ')}`,
      );
    });

    test('scans the fixed twin as fully as the vulnerable API: no failure, no check error, as many requests', () => {
      assert.equal(m.twin.failure, undefined);
      assert.equal(m.vulnerable.failure, undefined);
      assert.deepEqual(m.twin.result?.errors, []);
      const twinRequests = m.twin.result?.stats.requests ?? 0;
      const vulnerableRequests = m.vulnerable.result?.stats.requests ?? 0;
      assert.ok(
        twinRequests >= vulnerableRequests / 2,
        `twin ${twinRequests}, vulnerable ${vulnerableRequests} requests`,
      );
    });

    test(`reports at most ${MINIMUMS[target.name].twinFindings} findings on the fixed twin`, () => {
      const findings = m.twin.result?.findings ?? [];
      assert.ok(findings.length <= MINIMUMS[target.name].twinFindings, findings.map(findingLabel).join('\n'));
    });

    test('every flaw of the answer key is a documented operation, or for API9 a route the document leaves out', async () => {
      const spec = await loadApiDocument(vulnerableApi.specFile);
      const documented = (method: string, path: string) =>
        spec.operations.some((op) => op.path === path && (method === '*' || op.method === method));
      for (const flaw of target.flaws) {
        if (flaw.path === '*') continue;
        assert.equal(documented(flaw.method, flaw.path), flaw.category !== 'API9', flawLabel(flaw));
      }
    });
  });
}

after(() => {
  if (measured.length === 0) return;
  const rows = measured.map((m) => {
    const total = m.target.flaws.length;
    const pct = Math.round((100 * m.score.found.length) / total);
    return `| ${m.target.name.padEnd(17)} | ${`${m.score.found.length}/${total}`.padStart(5)} | ${`${pct}%`.padStart(4)} | ${String(m.twin.result?.findings.length ?? 'n/a').padStart(12)} | ${seconds(m.vulnerable).padStart(8)} | ${seconds(m.twin).padStart(8)} |`;
  });
  const found = measured.reduce((n, m) => n + m.score.found.length, 0);
  const total = measured.reduce((n, m) => n + m.target.flaws.length, 0);
  console.log(
    [
      `scan targets (goal: ${GOAL.foundRatio * 100}% found, ${GOAL.falsePositives} false positives on twins)`,
      '| target            | found |    % | twin finds | vuln scan | twin scan |',
      '| ----------------- | ----- | ---- | ---------- | --------- | --------- |',
      ...rows,
      `overall: ${found}/${total} (${Math.round((100 * found) / total)}%)`,
    ].join('\n'),
  );
});
