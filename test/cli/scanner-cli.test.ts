import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { parseIdentity } from '../../src/cli/commands/scanner.ts';
import { FIXTURE_USERS, startVulnerableApi } from '../fixtures/vulnerable-api/server.ts';
import { tempFiles } from '../harness.ts';
import { runCli } from '../kit/process.ts';

const demoSpec = path.resolve(import.meta.dirname, '../../src/demo/openapi.yaml');

const cli = (args: string[]) => runCli(args);

describe('portcullis audit', () => {
  test('exits by --fail-on and writes SARIF to --output', async () => {
    const dir = await tempFiles({});
    const out = path.join(dir, 'audit.sarif');
    const strict = await cli(['audit', demoSpec, '--format', 'sarif', '--output', out, '--fail-on', 'low']);
    assert.equal(strict.code, 1);
    const sarif = JSON.parse(await readFile(out, 'utf8'));
    assert.equal(sarif.version, '2.1.0');
    // The CLI names the tool's version, so code scanning can tell runs of different releases apart.
    assert.match(sarif.runs[0].tool.driver.semanticVersion, /^\d+\.\d+\.\d+/);
    assert.ok(sarif.runs[0].results.length > 0);
    assert.ok(sarif.runs[0].results.every((r: { ruleId: string }) => r.ruleId.startsWith('audit/')));
    const lenient = await cli(['audit', demoSpec, '--format', 'json', '--fail-on', 'critical']);
    assert.equal(lenient.code, 0);
    assert.ok(JSON.parse(lenient.stdout).findings.length > 0);
  });

  test('answers a usage error with one line and exit 2', async () => {
    const r = await cli(['audit', demoSpec, '--format', 'pdf']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'portcullis: --format must be one of text, json, sarif, junit, html\n');
    const missing = await cli(['audit', '/nope/openapi.yaml']);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
  });
});

describe('portcullis scan', () => {
  test('parses identities from the command line', () => {
    assert.deepEqual(parseIdentity('alice:bearer:abc:def'), { name: 'alice', bearer: 'abc:def' });
    assert.deepEqual(parseIdentity('bob;accountId=bob:header:X-Api-Key=k1'), {
      name: 'bob',
      params: { accountId: 'bob' },
      headers: { 'X-Api-Key': 'k1' },
    });
    assert.deepEqual(parseIdentity('carol:login:/auth/login:{"username":"carol"}'), {
      name: 'carol',
      login: { path: '/auth/login', body: { username: 'carol' } },
    });
    assert.throws(() => parseIdentity('nobody'), /NAME:bearer:TOKEN/);
  });

  test('parses form and OAuth2 password-grant logins from the command line', () => {
    assert.deepEqual(parseIdentity('dan:form:/login:user=dan&password=a%26b'), {
      name: 'dan',
      login: { path: '/login', body: { user: 'dan', password: 'a&b' }, encoding: 'form' },
    });
    assert.deepEqual(parseIdentity('eve:oauth2:/token:eve:pa:ss'), {
      name: 'eve',
      login: { path: '/token', grantType: 'password', body: { username: 'eve', password: 'pa:ss' } },
    });
  });

  test('prints its options on --help and exits 0 without scanning', async () => {
    const r = await cli(['scan', '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of [
      '--spec',
      '--target',
      '--identity',
      '--identities',
      '--format FORMAT[:FILE]',
      'oauth2',
      '--rate N',
      '--timeout SECONDS',
    ])
      assert.ok(r.stdout.includes(flag), `${flag} in --help`);
    const audit = await cli(['audit', '--help']);
    assert.equal(audit.code, 0);
    assert.match(audit.stdout, /--fail-on/);
  });

  test('refuses two reports on stdout with one usage line', async () => {
    const r = await cli(['audit', demoSpec, '-f', 'json', '-f', 'text']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /only one report can go to stdout/);
  });

  test("--timeout sets the whole scan's time in seconds, and refuses a value that is no number of seconds", async () => {
    for (const bad of ['0', 'ten', '5000']) {
      const r = await cli([
        'scan',
        '--spec',
        demoSpec,
        '--target',
        'http://127.0.0.1:9',
        '--identity',
        'a:bearer:x',
        '--timeout',
        bad,
      ]);
      assert.equal(r.code, 2, `${bad}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /^portcullis: --timeout (must be a positive number|is in seconds, at most 3600)\n$/,
      );
    }
    const api = await startVulnerableApi({ fixed: false });
    const dir = await tempFiles({});
    try {
      const json = path.join(dir, 'scan.json');
      const login = (i: number) =>
        `${FIXTURE_USERS[i].username}:login:/v2/auth/login:${JSON.stringify({ username: FIXTURE_USERS[i].username, password: FIXTURE_USERS[i].password })}`;
      const r = await cli([
        'scan',
        '--spec',
        api.specFile,
        '--target',
        api.url,
        '--identity',
        login(0),
        '--identity',
        login(1),
        '--timeout',
        '1',
        '--rate',
        '200',
        '--format',
        `json:${json}`,
      ]);
      assert.ok(r.code === 0 || r.code === 1, r.stderr);
      const doc = JSON.parse(await readFile(json, 'utf8'));
      // One second is not enough for every check: the report says the scan's time was 1 s and what was left.
      assert.ok(
        doc.notes.some((n: string) => /^time: the scan had 1 s \(scanTimeoutMs\)/.test(n)),
        JSON.stringify(doc.notes),
      );
    } finally {
      await api.close();
    }
  });

  test('scans the vulnerable API, reports JUnit and suggests gateway policies', async () => {
    const api = await startVulnerableApi({ fixed: false });
    const dir = await tempFiles({});
    try {
      const login = (i: number) =>
        `${FIXTURE_USERS[i].username}:login:/v2/auth/login:${JSON.stringify({ username: FIXTURE_USERS[i].username, password: FIXTURE_USERS[i].password })}`;
      const junit = path.join(dir, 'scan.xml');
      const json = path.join(dir, 'scan.json');
      // Alice from an identities file, with the token place spelled out as a JSON pointer.
      const identitiesFile = path.join(dir, 'identities.yaml');
      const { username, password } = FIXTURE_USERS[0];
      await writeFile(
        identitiesFile,
        `identities:\n  - { name: ${username}, login: { path: /v2/auth/login, body: { username: ${username}, password: ${password} }, tokenPointer: /token } }\n`,
      );
      const policy = path.join(dir, 'policy.yaml');
      const r = await cli([
        'scan',
        '--spec',
        api.specFile,
        '--target',
        api.url,
        '--identities',
        identitiesFile,
        '--identity',
        login(1),
        '--admin',
        login(2),
        '--checks',
        'API1,API5',
        '--format',
        'junit',
        '--output',
        junit,
        '--format',
        `json:${json}`,
        '--format',
        'text:/dev/null',
        '--suggest-policy',
        policy,
        '--rate',
        '200',
      ]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /portcullis: \d+ requests in [\d.]+ s, \d+ findings/);
      const xml = await readFile(junit, 'utf8');
      assert.match(xml, /<testsuites[^>]* failures="[1-9]\d*"/);
      assert.match(xml, /API1:2023/);
      // Several formats in one run; the JSON report carries errors, timeouts, warnings and the coverage.
      const doc = JSON.parse(await readFile(json, 'utf8'));
      assert.deepEqual(doc.errors, []);
      assert.deepEqual(doc.timedOut, []);
      assert.ok(Array.isArray(doc.warnings));
      assert.ok(doc.coverage.checks.some((c: { check: string; tested: number }) => c.check === 'API1'));
      assert.ok(
        doc.findings.every((f: { evidence?: { curl?: string } }) => f.evidence?.curl?.startsWith('curl ')),
      );
      assert.ok(!JSON.stringify(doc).includes(FIXTURE_USERS[0].password));
      const suggested = parse(await readFile(policy, 'utf8'));
      assert.equal(typeof suggested, 'object');
    } finally {
      await api.close();
    }
  });

  test('audit --min-severity reports only findings at or above it', async () => {
    const all = JSON.parse(
      (await cli(['audit', demoSpec, '--format', 'json', '--fail-on', 'critical'])).stdout,
    );
    const high = JSON.parse(
      (
        await cli([
          'audit',
          demoSpec,
          '--format',
          'json',
          '--fail-on',
          'critical',
          '--min-severity',
          'medium',
        ])
      ).stdout,
    );
    const rank = ['info', 'low', 'medium', 'high', 'critical'];
    assert.ok(high.findings.length > 0 && high.findings.length < all.findings.length);
    for (const f of high.findings) assert.ok(rank.indexOf(f.severity) >= 2, f.severity);
    assert.equal((await cli(['audit', demoSpec, '--min-severity', 'urgent'])).code, 2);
  });
});
