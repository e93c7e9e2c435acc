/**
 * `portcullis scan` against the deliberately vulnerable API and its fixed twin; then the Portcullis gateway in
 * front of the vulnerable API, configured from `suggestPolicy`: which findings it closes and which stay (those
 * only the API itself can fix).
 *
 * Note: `maskServerErrors` hides the database error text, so the error-based SQL injection check no longer
 * sees the flaw through the gateway; the injection itself is still there. The test claims nothing about it.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { loadApiDocument } from '../../src/openapi/load.ts';
import type { OwaspCategory } from '../../src/scanner/finding.ts';
import { renderReport } from '../../src/scanner/report/index.ts';
import { runScan, type ScanIdentity, type ScanResult, suggestPolicy } from '../../src/scanner/scan/index.ts';
import { FIXTURE_USERS, startVulnerableApi, type VulnerableApi } from '../fixtures/vulnerable-api/server.ts';
import { buildConfig, startGateway, type TestGateway } from '../harness.ts';

function loginAs(index: number): ScanIdentity {
  const { username, password } = FIXTURE_USERS[index];
  return { name: username, login: { path: '/v2/auth/login', body: { username, password } } };
}

async function scan(api: VulnerableApi): Promise<ScanResult> {
  return runScan({
    spec: api.specFile,
    target: api.url,
    // The time-based injection probes ask for 300 ms instead of 1 s (controls unchanged), to shorten the test.
    timeDelayMs: 300,
    identities: [loginAs(0), loginAs(1)],
    admin: loginAs(2),
  });
}

/** Every active check's rule, each with a true positive on the vulnerable API. */
const EXPECTED_RULES = [
  'scan/api1-bola-read',
  'scan/api1-bola-write',
  'scan/api1-bola-delete',
  'scan/api2-no-credentials',
  'scan/api2-invalid-token-accepted',
  'scan/api2-weak-hmac-secret',
  'scan/api2-user-enumeration',
  'scan/api2-no-brute-force-protection',
  'scan/api3-mass-assignment',
  'scan/api3-undeclared-response-fields',
  'scan/api3-sensitive-data-exposure',
  'scan/api4-no-rate-limit',
  'scan/api4-unbounded-page-size',
  'scan/api4-oversized-input',
  'scan/api5-bfla',
  'scan/api6-repeatable-business-flow',
  'scan/api7-ssrf',
  'scan/api8-cors-credentials',
  'scan/api8-missing-security-headers',
  'scan/api8-verbose-errors',
  'scan/api8-version-banner',
  'scan/api8-trace-enabled',
  'scan/api8-sql-injection',
  'scan/api8-nosql-injection',
  'scan/api8-command-injection',
  'scan/api9-undocumented-endpoint',
  'scan/api10-unvalidated-third-party-data',
];

describe('portcullis scan against the deliberately vulnerable API and its fixed twin', () => {
  let vulnerable: VulnerableApi;
  let fixed: VulnerableApi;
  let bad: ScanResult;
  let good: ScanResult;

  before(async () => {
    vulnerable = await startVulnerableApi({ fixed: false });
    fixed = await startVulnerableApi({ fixed: true });
    // One after the other: the time-based injection checks compare against a baseline.
    bad = await scan(vulnerable);
    good = await scan(fixed);
    console.log(
      `vulnerable API: ${bad.findings.length} findings, ${bad.stats.requests} requests in ${bad.stats.durationMs} ms; ` +
        `fixed twin: ${good.findings.length} findings, ${good.stats.requests} requests in ${good.stats.durationMs} ms`,
    );
  });

  after(async () => {
    await vulnerable?.close();
    await fixed?.close();
  });

  test('finds at least one flaw in every category API1 to API10 on the vulnerable API', () => {
    const categories = new Set(bad.findings.map((f) => f.rule.owasp));
    for (let i = 1; i <= 10; i++)
      assert.ok(categories.has(`API${i}:2023` as OwaspCategory), `no API${i} finding`);
  });

  test('every active check has a true positive on the vulnerable API', () => {
    const found = new Set(bad.findings.map((f) => f.rule.id));
    assert.deepEqual(
      EXPECTED_RULES.filter((id) => !found.has(id)),
      [],
    );
  });

  test('reports nothing on the fixed twin', () => {
    assert.deepEqual(
      good.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });

  test('exercises the fixed twin as fully as the vulnerable API', () => {
    assert.deepEqual(good.errors, []);
    assert.deepEqual(good.timedOut, []);
    assert.ok(good.stats.requests > 100, `only ${good.stats.requests} requests`);
    assert.ok(good.stats.objectsCreated >= 2, 'the setup created no objects on the fixed twin');
    assert.ok(fixed.createdNoteIds.size >= 2, 'no notes on the fixed twin');
  });

  test('completes the vulnerable scan without errors or timeouts', () => {
    assert.deepEqual(bad.errors, []);
    assert.deepEqual(bad.timedOut, []);
    assert.ok(bad.stats.requests > 100 && bad.stats.requests < 1000, `${bad.stats.requests} requests`);
  });

  test('sends PUT, PATCH and DELETE only to objects the scan created (or, a DELETE, to a made-up id)', () => {
    for (const api of [vulnerable, fixed]) {
      const destructive = api.received.filter((r) => ['PUT', 'PATCH', 'DELETE'].includes(r.method));
      assert.ok(destructive.length > 0);
      for (const r of destructive) {
        const id = /^\/v2\/notes\/([^/]+)$/.exec(r.path)?.[1];
        assert.ok(id !== undefined, `${r.method} ${r.path}`);
        const value = decodeURIComponent(id);
        // The injection probes of a DELETE name a value nobody has (pc<letters><hex>, 987654321, or for a uuid id the
        // scan's made-up uuid c0ffee00-5ca7-4d0e-8xxx-...), never a condition.
        const madeUp =
          r.method === 'DELETE' &&
          /^(pc[a-z]{0,6}[0-9a-f]{6,32}|987654321|c0ffee00-5ca7-4d0e-8[0-9a-f]{3}-[0-9a-f]{12})(?![0-9a-z])/.test(
            value,
          );
        assert.ok(madeUp || api.createdNoteIds.has(value), `${r.method} ${r.path}`);
        if (madeUp) assert.doesNotMatch(value, /\bor\b|\|\||\blike\b/i, `${r.method} ${r.path}`);
      }
    }
  });

  test('locates findings at the operation in the spec with a line and a stable fingerprint', () => {
    const bola = bad.findings.find((f) => f.rule.id === 'scan/api1-bola-read');
    assert.ok(bola);
    assert.equal(bola.location.file, vulnerable.specFile);
    assert.equal(bola.location.pointer, '/paths/~1v2~1notes~1{noteId}/get');
    assert.equal(typeof bola.location.line, 'number');
    assert.deepEqual(bola.operation, { method: 'GET', path: '/v2/notes/{noteId}', operationId: 'getNote' });
    assert.match(bola.fingerprint, /^[0-9a-f]{32}$/);
    assert.equal(new Set(bad.findings.map((f) => f.fingerprint)).size, bad.findings.length);
  });

  test('keeps credentials and the guessed secret out of the findings', () => {
    const text = JSON.stringify(bad.findings);
    // The only JWTs shown are the altered tokens an API accepted (their curl lines run as printed): unsigned,
    // or expired, never an identity's own token.
    for (const [jwt] of text.matchAll(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g)) {
      const [h, p, sig] = jwt.split('.');
      const alg = String(JSON.parse(Buffer.from(h, 'base64url').toString()).alg);
      const exp = Number(JSON.parse(Buffer.from(p, 'base64url').toString()).exp);
      assert.ok(
        sig === '' || alg.toLowerCase() === 'none' || exp < Date.now() / 1000,
        `a JWT in the evidence: ${jwt}`,
      );
    }
    const shown = bad.findings.filter((f) => /eyJ/.test(JSON.stringify(f)));
    assert.deepEqual([...new Set(shown.map((f) => f.rule.id))], ['scan/api2-invalid-token-accepted']);
    assert.doesNotMatch(text, /JWT_SECRET=secret/);
    assert.doesNotMatch(text, /alice-pass-1/);
    const weak = bad.findings.find((f) => f.rule.id === 'scan/api2-weak-hmac-secret');
    assert.ok(weak);
    assert.doesNotMatch(JSON.stringify(weak), /"secret"|secret\)/);
  });

  test('suggests gateway policies that address what the vulnerable scan found', async () => {
    const spec = await loadApiDocument(vulnerable.specFile);
    const yaml = suggestPolicy(bad.findings, spec);
    const config = parse(yaml) as {
      policies: Record<string, Record<string, unknown>>;
      operations: Record<string, { policies: Record<string, Record<string, unknown>> }>;
    };
    assert.deepEqual(Object.keys(config.policies).sort(), [
      'authenticate',
      'cors',
      'protectResponse',
      'rateLimit',
      'securityHeaders',
      'validateRequest',
    ]);
    // signUp: its 409 'username taken' is user enumeration where the login tells too (a rate limit there).
    assert.deepEqual(Object.keys(config.operations).sort(), [
      'adminListUsers',
      'login',
      'previewLink',
      'redeemCoupon',
      'signUp',
    ]);
    assert.deepEqual(config.operations.adminListUsers.policies.authorize.rolesAnyOf, ['admin']);
    assert.ok(config.operations.redeemCoupon.policies.rateLimit);
    assert.ok(config.operations.login.policies.rateLimit);
    assert.ok(config.operations.previewLink.policies.ssrfGuard);
    // Ownership cannot be enforced from the gateway for these paths: a commented hint only.
    assert.match(yaml, /^# getNote:\n# {3}API1: /m);
  });

  test('renders as SARIF with one result per finding', () => {
    const sarif = JSON.parse(renderReport('sarif', bad)) as { runs: { results: unknown[] }[] };
    assert.equal(sarif.runs[0].results.length, bad.findings.length);
  });

  test('suggests no policies for the fixed twin', async () => {
    const spec = await loadApiDocument(fixed.specFile);
    const config = parse(suggestPolicy(good.findings, spec)) as Record<string, unknown>;
    assert.deepEqual(config, { policies: {} });
  });

  describe('the gateway in front of the vulnerable API, with the suggested policies', () => {
    let gw: TestGateway;
    let proxied: ScanResult;
    let fragment: Record<string, unknown>;

    before(async () => {
      fragment = parse(suggestPolicy(bad.findings, await loadApiDocument(vulnerable.specFile)));
      const policies = fragment.policies as Record<string, unknown>;
      // The fixture's tokens carry no issuer or audience, so the suggested `authenticate` (TODO issuer) cannot
      // apply here: it is switched off explicitly (the gateway refuses to serve declared security without it).
      // The API-wide budget is raised so that the scan's own pace (20/s) passes and only the burst trips.
      policies.authenticate = { enabled: false };
      policies.rateLimit = {
        mode: 'enforce',
        limits: [
          { name: 'per-client', algorithm: 'gcra', limit: 30, windowSeconds: 1, burst: 30, key: 'ip' },
        ],
      };
      gw = await startGateway({
        specs: { 'notes.yaml': await readFile(vulnerable.specFile, 'utf8') },
        config: {
          apis: [{ name: 'notes', spec: 'notes.yaml', upstream: { url: vulnerable.url }, ...fragment }],
        },
      });
      proxied = await runScan({
        spec: vulnerable.specFile,
        target: gw.url,
        // The time-based injection probes ask for 300 ms instead of 1 s (controls unchanged), to shorten the test.
        timeDelayMs: 300,
        identities: [loginAs(0), loginAs(1)],
        admin: loginAs(2),
      });
      const rules = (r: ScanResult) => [...new Set(r.findings.map((f) => f.rule.id))].sort();
      const closed = rules(bad).filter((id) => !rules(proxied).includes(id));
      console.log(
        `vulnerable API directly: ${bad.findings.length} findings (${bad.stats.requests} requests, ${bad.stats.durationMs} ms); ` +
          `through the gateway: ${proxied.findings.length} (${proxied.stats.requests} requests, ${proxied.stats.durationMs} ms)\n` +
          `closed by the gateway: ${closed.join(', ')}\nstill open: ${rules(proxied).join(', ')}`,
      );
    });

    after(async () => {
      await gw?.close();
    });

    test('the suggested fragment is a valid gateway API config as it stands', async () => {
      const raw = parse(suggestPolicy(bad.findings, await loadApiDocument(vulnerable.specFile)));
      const config = buildConfig(
        { apis: [{ name: 'notes', spec: 'notes.yaml', upstream: { url: vulnerable.url }, ...raw }] },
        gw.dir,
      );
      assert.deepEqual(Object.keys(config.apis[0].policies ?? {}).sort(), [
        'authenticate',
        'cors',
        'protectResponse',
        'rateLimit',
        'securityHeaders',
        'validateRequest',
      ]);
      assert.deepEqual(Object.keys(config.apis[0].operations).sort(), [
        'adminListUsers',
        'login',
        'previewLink',
        'redeemCoupon',
        'signUp',
      ]);
    });

    test('closes the inventory, misconfiguration, SSRF and excessive-data findings', () => {
      const open = new Set(proxied.findings.map((f) => f.rule.id));
      for (const id of [
        'scan/api9-undocumented-endpoint',
        'scan/api8-trace-enabled',
        'scan/api8-version-banner',
        'scan/api8-verbose-errors',
        'scan/api8-cors-credentials',
        'scan/api8-nosql-injection',
        'scan/api7-ssrf',
        'scan/api10-unvalidated-third-party-data',
        'scan/api3-mass-assignment',
        'scan/api3-undeclared-response-fields',
        'scan/api3-sensitive-data-exposure',
        'scan/api4-oversized-input',
        'scan/api4-no-rate-limit',
        'scan/api5-bfla',
        'scan/api6-repeatable-business-flow',
        'scan/api2-no-brute-force-protection',
      ]) {
        assert.ok(
          bad.findings.some((f) => f.rule.id === id),
          `${id} not found directly`,
        );
        assert.ok(!open.has(id), `${id} still open through the gateway`);
      }
    });

    test('leaves open what only the API or its spec can fix', () => {
      const open = new Set(proxied.findings.map((f) => f.rule.id));
      // Ownership of a note is known only to the API.
      assert.ok(open.has('scan/api1-bola-read'));
      assert.ok(open.has('scan/api1-bola-write'));
      assert.ok(open.has('scan/api1-bola-delete'));
      // The spec declares no `maximum` for `limit` and no `pattern` for `host`: validation cannot refuse them.
      assert.ok(open.has('scan/api4-unbounded-page-size'));
      assert.ok(open.has('scan/api8-command-injection'));
      // `authenticate` was left out here (the fixture's tokens name no issuer), so token flaws pass through.
      assert.ok(open.has('scan/api2-invalid-token-accepted'));
    });
  });
});
