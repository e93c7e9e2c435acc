import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { ApiDocument, Operation } from '../../core/api-document.ts';
import { type AuditResult, runAudit } from '../audit/index.ts';
import type { Finding, FindingsResult, RuleInfo } from '../finding.ts';
import { buildCoverage } from '../scan/coverage.ts';
import { SCAN_RULES } from '../scan/rules.ts';
import {
  exitCodeFor,
  parseSeverity,
  ReportFormatError,
  renderHtml,
  renderJson,
  renderJunit,
  renderSarif,
  renderText,
  writeReport,
} from './index.ts';

const root = join(import.meta.dirname, '../../..');
const specs = join(root, 'test/fixtures/specs');
let bad: AuditResult;
let clean: AuditResult;
let tmp: string;
before(async () => {
  bad = await runAudit(join(specs, 'bad-3.0.yaml'));
  clean = await runAudit(join(specs, 'clean-3.0.yaml'));
  tmp = await mkdtemp(join(tmpdir(), 'portcullis-report-'));
});
after(() => rm(tmp, { recursive: true, force: true }));

/** A scan-style result: no occurrences, no line, hostile text everywhere. */
function hostileResult(): FindingsResult {
  const rule: RuleInfo = {
    id: 'scan/api8-verbose-errors',
    title: 'Verbose <b>errors</b> & "traces"',
    description: 'Stack traces <script>alert("d")</script> leak internals.',
    remediation: "Return problem details; don't echo input.",
    owasp: 'API8:2023',
    cwe: [209],
    severity: 'medium',
  };
  const finding: Finding = {
    rule,
    severity: 'high',
    message: 'GET /search echoed <script>alert(1)</script> in a 500 body',
    location: { file: join(specs, 'bad-3.0.yaml'), pointer: '/paths/~1search/get' },
    operation: { method: 'GET', path: '/search' },
    evidence: { request: 'GET /search?q=<img src=x onerror=alert(2)>', status: 500 },
    fingerprint: 'f'.repeat(32),
  };
  return {
    kind: 'scan',
    target: 'http://127.0.0.1:1',
    findings: [finding],
    rules: [rule],
    stats: { requests: 3 },
  };
}

// A small strict XML reader: enough to prove well-formedness and count elements.
interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}
function parseXml(xml: string): XmlElement {
  let i = 0;
  const decode = (s: string): string => {
    assert.doesNotMatch(
      s,
      /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i,
      `bad entity in ${s.slice(0, 40)}`,
    );
    assert.doesNotMatch(s, /</, 'raw < in text or attribute');
    return s
      .replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>')
      .replaceAll('&quot;', '"')
      .replaceAll('&#39;', "'")
      .replaceAll('&amp;', '&');
  };
  if (xml.startsWith('<?xml')) i = xml.indexOf('?>') + 2;
  const parseElement = (): XmlElement => {
    while (/\s/.test(xml[i]!)) i++;
    assert.equal(xml[i], '<', `element expected at ${i}`);
    const m = /^<([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*(\/?)>/.exec(xml.slice(i));
    assert.ok(m, `malformed tag at ${i}: ${xml.slice(i, i + 60)}`);
    const el: XmlElement = { name: m[1]!, attrs: {}, children: [], text: '' };
    for (const a of m[2]!.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      assert.ok(!(a[1]! in el.attrs), `duplicate attribute ${a[1]}`);
      el.attrs[a[1]!] = decode(a[2]!);
    }
    i += m[0].length;
    if (m[3] === '/') return el;
    for (;;) {
      const next = xml.indexOf('<', i);
      assert.ok(next >= 0, `unclosed <${el.name}>`);
      el.text += decode(xml.slice(i, next));
      i = next;
      if (xml.startsWith('</', i)) {
        const close = `</${el.name}>`;
        assert.ok(xml.startsWith(close, i), `expected ${close} at ${i}`);
        i += close.length;
        return el;
      }
      el.children.push(parseElement());
    }
  };
  const rootEl = parseElement();
  assert.equal(xml.slice(i).trim(), '', 'content after the root element');
  return rootEl;
}

describe('SARIF', () => {
  test('has every field GitHub code scanning requires', () => {
    const sarif = JSON.parse(renderSarif(bad, { baseDir: root, toolVersion: '0.1.0' }));
    assert.equal(sarif.version, '2.1.0');
    assert.equal(sarif.$schema, 'https://json.schemastore.org/sarif-2.1.0.json');
    assert.equal(sarif.runs.length, 1);
    const run = sarif.runs[0];
    assert.equal(run.tool.driver.name, 'Portcullis');
    assert.equal(run.tool.driver.semanticVersion, '0.1.0');
    assert.equal(run.tool.driver.informationUri, 'https://portcullis.dev');
    assert.match(run.automationDetails.id, /^portcullis\/audit\/$/);
    const rules = run.tool.driver.rules;
    assert.equal(rules.length, bad.rules.length);
    for (const r of rules) {
      for (const field of ['shortDescription', 'fullDescription', 'help']) {
        assert.ok(typeof r[field].text === 'string' && r[field].text.length > 0, `${r.id} ${field}.text`);
      }
      assert.ok(['note', 'warning', 'error'].includes(r.defaultConfiguration.level));
      const tags: string[] = r.properties.tags;
      assert.ok(tags.includes('security'));
      assert.ok(tags.length <= 20);
      assert.ok(
        tags.some((t) => /^external\/cwe\/cwe-\d{3,}$/.test(t)),
        `${r.id} has a CWE tag`,
      );
      assert.ok(
        tags.some((t) => /^owasp-api\/API\d+:2023$/.test(t)),
        `${r.id} has an OWASP tag`,
      );
      if (r.properties['security-severity'] !== undefined) {
        assert.equal(typeof r.properties['security-severity'], 'string');
        const n = Number(r.properties['security-severity']);
        assert.ok(n > 0 && n <= 10);
      }
    }
    assert.equal(run.results.length, bad.findings.length);
    assert.ok(run.results.length <= 25_000);
    for (const res of run.results) {
      assert.equal(rules[res.ruleIndex].id, res.ruleId);
      assert.ok(['note', 'warning', 'error'].includes(res.level));
      assert.ok(res.message.text.length > 0);
      const loc = res.locations[0].physicalLocation;
      assert.equal(loc.artifactLocation.uri, 'test/fixtures/specs/bad-3.0.yaml');
      assert.ok(Number.isInteger(loc.region.startLine) && loc.region.startLine >= 1);
      assert.match(res.partialFingerprints.primaryLocationLineHash, /^[0-9a-f]{32}$/);
      assert.ok((res.relatedLocations ?? []).length <= 1000);
    }
  });

  test('maps severities to levels and GitHub security-severity bands', () => {
    const sarif = JSON.parse(renderSarif(bad, { baseDir: root }));
    const byRule = new Map(sarif.runs[0].tool.driver.rules.map((r: { id: string }) => [r.id, r]));
    const http = byRule.get('audit/no-server-http') as {
      defaultConfiguration: { level: string };
      properties: Record<string, unknown>;
    };
    assert.equal(http.defaultConfiguration.level, 'error');
    assert.equal(http.properties['security-severity'], '8.0');
    const critical = sarif.runs[0].results.find(
      (r: { ruleId: string }) => r.ruleId === 'audit/credentials-in-server-url',
    );
    assert.equal(critical.properties['security-severity'], '9.5');
    assert.ok(
      Array.isArray(http.properties.tags) &&
        (http.properties.tags as string[]).includes('external/cwe/cwe-319'),
    );
  });

  test('keeps fingerprints identical across runs', async () => {
    const again = await runAudit(join(specs, 'bad-3.0.yaml'));
    const fp = (r: AuditResult) =>
      JSON.parse(renderSarif(r, { baseDir: root })).runs[0].results.map(
        (x: { partialFingerprints: Record<string, string> }) => x.partialFingerprints['portcullis/v1'],
      );
    assert.deepEqual(fp(again), fp(bad));
  });

  test('lists a grouped finding’s places as related locations with lines', () => {
    const sarif = JSON.parse(renderSarif(bad, { baseDir: root }));
    const res = sarif.runs[0].results.find(
      (r: { ruleId: string }) => r.ruleId === 'audit/rate-limit-responses-429',
    );
    assert.equal(res.relatedLocations.length, 6);
    assert.ok(
      res.relatedLocations.every(
        (l: { physicalLocation: { region: { startLine: number } } }) =>
          l.physicalLocation.region.startLine > 0,
      ),
    );
  });

  test('writes a scan finding without a line and keeps its rule even if not listed', () => {
    const result = hostileResult();
    const sarif = JSON.parse(renderSarif({ ...result, rules: [] }, { baseDir: root }));
    const res = sarif.runs[0].results[0];
    assert.equal(sarif.runs[0].tool.driver.rules[res.ruleIndex].id, 'scan/api8-verbose-errors');
    assert.equal(res.locations[0].physicalLocation.region, undefined);
    assert.equal(res.properties.operation, 'GET /search');
  });

  test('uses an absolute file URI for a spec outside the base directory', () => {
    const sarif = JSON.parse(renderSarif(bad, { baseDir: tmp }));
    assert.match(sarif.runs[0].results[0].locations[0].physicalLocation.artifactLocation.uri, /^file:\/\/\//);
  });
});

describe('JUnit', () => {
  test('parses as XML with one testcase per rule and place and consistent counts', () => {
    const doc = parseXml(renderJunit(bad, { now: new Date('2026-01-01T00:00:00Z') }));
    assert.equal(doc.name, 'testsuites');
    let tests = 0;
    let failures = 0;
    const cases: XmlElement[] = [];
    for (const suite of doc.children) {
      assert.equal(suite.name, 'testsuite');
      const list = suite.children.filter((c) => c.name === 'testcase');
      const failed = list.filter((c) => c.children.some((x) => x.name === 'failure'));
      assert.equal(Number(suite.attrs.tests), list.length);
      assert.equal(Number(suite.attrs.failures), failed.length);
      assert.equal(suite.attrs.timestamp, '2026-01-01T00:00:00');
      tests += list.length;
      failures += failed.length;
      cases.push(...list);
    }
    assert.equal(Number(doc.attrs.tests), tests);
    assert.equal(Number(doc.attrs.failures), failures);
    const rl = cases.filter((c) => c.attrs.classname === 'audit/rate-limit-responses-429');
    assert.equal(rl.length, 6);
    assert.ok(rl.every((c) => c.children[0]!.attrs.type === 'medium'));
    const passing = cases.filter((c) => c.children.length === 0).map((c) => c.attrs.classname);
    const fired = new Set(bad.findings.map((f) => f.rule.id));
    assert.deepEqual(
      passing.sort(),
      bad.rules
        .filter((r) => !fired.has(r.id))
        .map((r) => r.id)
        .sort(),
    );
  });

  test('reports a clean spec as all passing testcases', () => {
    const doc = parseXml(renderJunit(clean));
    assert.equal(Number(doc.attrs.tests), clean.rules.length);
    assert.equal(doc.attrs.failures, '0');
  });

  test("carries a scan's warnings and failed checks in a suite of their own, first", () => {
    const long = `API1 ran out of time: it kept its findings, but did not test everything ${'and more '.repeat(20)}`;
    const result: FindingsResult = {
      ...hostileResult(),
      warnings: [
        'THE API RATE-LIMITED THE SCAN: 31 answers 429 Too Many Requests (API1 31; first: POST /auth/register in API1)',
        'SETUP CREATED NO OBJECT: the object-level checks had nothing of their own to test',
        'API3 failed: <boom> & "bust"',
        'scan/api8-xxe was not tested: no operation takes XML',
        long,
      ],
      errors: [{ check: 'API3', message: '<boom> & "bust"' }],
      notes: ['registered 1 account of its own (pcs1a2b3c4d5e), deleted it at the end'],
      coverage: {
        checks: [
          {
            check: 'API8',
            tested: 1,
            findings: 1,
            skipped: 0,
            requests: 3,
            untestedRules: [{ rule: 'scan/api8-xxe', reason: 'no operation takes XML' }],
          },
        ],
        matrix: [],
      },
    };
    const doc = parseXml(renderJunit(result));
    const [first, ...rest] = doc.children;
    assert.equal(first!.attrs.name, 'portcullis scan: warnings');
    const cases = first!.children.filter((c) => c.name === 'testcase');
    // The 429s, the setup, the long one as skipped testcases; the failed check as an error; the untested rule
    // only once, as the skipped testcase of its category.
    assert.deepEqual(
      cases.map((c) => [c.attrs.classname, c.children[0]!.name]),
      [
        ['portcullis/check-error', 'error'],
        ['portcullis/scan-warning', 'skipped'],
        ['portcullis/scan-warning', 'skipped'],
        ['portcullis/scan-warning', 'skipped'],
      ],
    );
    assert.equal(cases[0]!.attrs.name, 'API3 failed');
    assert.equal(cases[0]!.children[0]!.attrs.message, '<boom> & "bust"');
    assert.match(cases[1]!.attrs.name!, /^THE API RATE-LIMITED THE SCAN: 31 answers 429/);
    assert.equal(cases[1]!.children[0]!.attrs.message, result.warnings![0]);
    assert.equal(cases[3]!.attrs.name!.length, 120);
    assert.equal(cases[3]!.children[0]!.attrs.message, long);
    assert.deepEqual(
      [first!.attrs.tests, first!.attrs.skipped, first!.attrs.errors, first!.attrs.failures],
      ['4', '3', '1', '0'],
    );
    const out = first!.children.find((c) => c.name === 'system-out');
    assert.deepEqual(out?.text.split('\n'), [
      ...result.warnings!.map((w) => `WARNING: ${w}`),
      `NOTE: ${result.notes![0]}`,
    ]);
    const xxe = rest.flatMap((s) => s.children).filter((c) => c.attrs.classname === 'scan/api8-xxe');
    assert.equal(xxe.length, 1);
    assert.equal(xxe[0]!.children[0]!.name, 'skipped');
    // The totals count the warnings suite.
    const all = doc.children.flatMap((s) => s.children.filter((c) => c.name === 'testcase'));
    assert.equal(Number(doc.attrs.tests), all.length);
    assert.equal(doc.attrs.errors, '1');
    assert.equal(Number(doc.attrs.skipped), all.filter((c) => c.children[0]?.name === 'skipped').length);
    assert.equal(Number(doc.attrs.failures), 1);
  });

  test('a run without warnings has no warnings suite', () => {
    const doc = parseXml(renderJunit(hostileResult()));
    assert.deepEqual(
      doc.children.map((s) => s.attrs.name),
      ['API8:2023 Security Misconfiguration'],
    );
    assert.equal(doc.attrs.errors, '0');
  });

  test('escapes markup in failure messages and bodies', () => {
    const xml = renderJunit(hostileResult());
    const doc = parseXml(xml);
    const failure = doc.children[0]!.children[0]!.children[0]!;
    assert.equal(failure.attrs.message, 'GET /search echoed <script>alert(1)</script> in a 500 body');
    assert.match(failure.text, /<script>alert\(1\)<\/script>/);
    assert.doesNotMatch(xml, /<script>/);
  });
});

describe('HTML', () => {
  test('escapes script tags and attribute breakers from findings', () => {
    const html = renderHtml(hostileResult());
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /Verbose &lt;b&gt;errors&lt;\/b&gt; &amp; &quot;traces&quot;/);
  });

  test('is self-contained: inline CSS, no external stylesheet, script or image', () => {
    const html = renderHtml(bad);
    assert.doesNotMatch(html, /<link\b|<script\b|\bsrc=/i);
    assert.match(html, /<style>/);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    for (const f of bad.findings.slice(0, 5)) assert.ok(html.includes(f.fingerprint));
  });
});

/** A scan's notes: the clean-up of its accounts, a hostile one (markup, a terminal escape), a long one. */
function notedResult(extra = 0): FindingsResult {
  return {
    ...hostileResult(),
    notes: [
      'clean-up: pcs1a2b3c4d5e: deleted with DELETE /api/me',
      'clean-up: pcs9f8e7d6c5b: not deleted (no delete route names it: its id was not read back as its own)',
      'setup: the API answered <script>alert(3)</script>\u001b[31m\nred',
      `setup: ${'long '.repeat(60)}end`,
      ...Array.from({ length: extra }, (_, i) => `clean-up: pcs${i}: deleted with DELETE /api/me`),
    ],
  };
}

describe('scan notes in the text and HTML reports', () => {
  test('the text report lists them one line each, escapes and line breaks gone', () => {
    const result = notedResult();
    const lines = renderText(result).split('\n');
    const head = lines.indexOf('Notes (4): what the scan did beyond its probes');
    assert.ok(head > 0, lines.join('\n'));
    assert.deepEqual(lines.slice(head + 1, head + 4), [
      '  - clean-up: pcs1a2b3c4d5e: deleted with DELETE /api/me',
      '  - clean-up: pcs9f8e7d6c5b: not deleted (no delete route names it: its id was not read back as its own)',
      '  - setup: the API answered <script>alert(3)</script> [31m red',
    ]);
    const long = lines[head + 4]!;
    assert.equal(long.length, '  - '.length + 200);
    assert.ok(long.startsWith('  - setup: long long') && long.endsWith('…'));
    assert.equal(lines[head + 5], '');
    assert.doesNotMatch(renderText(result), /\u001b/);
  });

  test('the text report shows 20 notes and says how many more the JSON report has', () => {
    const text = renderText(notedResult(30));
    assert.match(text, /^Notes \(34\): /m);
    assert.equal(text.match(/^ {2}- /gm)?.length, 21);
    assert.match(text, /^ {2}- and 14 more in the JSON report$/m);
  });

  test('the HTML report lists every note, escaped', () => {
    const html = renderHtml(notedResult(30));
    const section = /<h2>Notes \(34\): [^<]*<\/h2>\n<ul class="notes">(.*?)<\/ul>/.exec(html);
    assert.ok(section, 'a notes section');
    const items = [...section[1]!.matchAll(/<li>(.*?)<\/li>/g)].map((m) => m[1]);
    assert.equal(items.length, 34);
    assert.equal(items[0], 'clean-up: pcs1a2b3c4d5e: deleted with DELETE /api/me');
    assert.equal(items[2], 'setup: the API answered &lt;script&gt;alert(3)&lt;/script&gt; [31m red');
    assert.doesNotMatch(html, /<script/i);
  });

  test('a run without notes has no notes section in either', () => {
    assert.doesNotMatch(renderText(hostileResult()), /Notes/);
    assert.doesNotMatch(renderHtml(hostileResult()), /Notes/);
    assert.doesNotMatch(renderText({ ...hostileResult(), notes: [] }), /Notes/);
  });
});

/** A scan whose API2 tested POST /login and noted there a login that creates the account on first use. */
function firstUseResult(extraOperations = 0): FindingsResult {
  const operation = (method: string, path: string) =>
    ({ id: `${method} ${path}`, method, path }) as unknown as Operation;
  const login = operation('POST', '/login');
  const more = Array.from({ length: extraOperations }, (_, i) => operation('POST', `/act/${i}`));
  const reason =
    'POST /login signed a user name nobody has in once, but refused another password for it: a login that creates the account on first use';
  const sent = { method: 'POST', url: 'http://h/login', headers: {}, credentials: [] };
  const covered = buildCoverage({
    spec: { operations: [login, ...more] } as unknown as ApiDocument,
    checks: [{ id: 'API2', title: 'API2', rules: [SCAN_RULES.anyCredentialsAccepted], run: async () => {} }],
    // Every operation tested: a request of API2 reached each.
    observations: [login, ...more].map((o) => ({
      request: { method: 'POST', path: o.path },
      response: { status: 200, headers: {}, text: '', json: undefined, durationMs: 1, sent },
      operation: o,
      check: 'API2',
    })),
    findings: [],
    notes: [
      { check: 'API2', rule: SCAN_RULES.anyCredentialsAccepted, operation: login, reason },
      // One text noted on many tested operations is one line, its first three places named.
      ...more.map((o) => ({ check: 'API2', operation: o, reason: 'not sent: <b>its path acts</b>' })),
    ],
    timedOut: [],
    errors: [],
    objectsCreated: 1,
    identities: [{ name: 'a', token: 't' }, { name: 'b' }],
    admin: { name: 'root' },
  });
  return {
    kind: 'scan',
    target: 'http://h',
    findings: [],
    rules: covered.rules,
    stats: {},
    coverage: covered.coverage,
    warnings: covered.warnings,
  };
}

describe('check notes on operations the check tested', () => {
  const firstUse = /a login that creates the account on first use/;
  test('the JSON report keeps the note, whole, at the tested cell', () => {
    const doc = JSON.parse(renderJson(firstUseResult()));
    const cell = doc.coverage.matrix.find(
      (c: { check: string; operation: string }) => c.check === 'API2' && c.operation === 'POST /login',
    );
    assert.equal(cell.status, 'tested');
    assert.equal(cell.notes.length, 1);
    assert.match(cell.notes[0], firstUse);
  });

  test('the text report lists it, one line a check and text, under Check notes', () => {
    const lines = renderText(firstUseResult(5)).split('\n');
    const head = lines.indexOf('Check notes (2): what the checks noted beside the counts');
    assert.ok(head > 0, lines.join('\n'));
    assert.match(
      lines[head + 1]!,
      /^ {2}- API2 · POST \/login: POST \/login signed a user name nobody has in/,
    );
    assert.match(lines[head + 1]!, firstUse);
    assert.equal(
      lines[head + 2],
      '  - API2 · POST /act/0, POST /act/1, POST /act/2 and 2 more: not sent: <b>its path acts</b>',
    );
  });

  test('the HTML report lists it, escaped', () => {
    const html = renderHtml(firstUseResult(5));
    const section = /<h2>Check notes \(2\): [^<]*<\/h2>\n<ul class="notes">(.*?)<\/ul>/.exec(html);
    assert.ok(section, 'a check notes section');
    assert.match(section[1]!, firstUse);
    assert.match(section[1]!, /not sent: &lt;b&gt;its path acts&lt;\/b&gt;/);
  });

  test('a scan with no check note has no such section', () => {
    assert.doesNotMatch(renderText(hostileResult()), /Check notes/);
    assert.doesNotMatch(renderHtml(hostileResult()), /Check notes/);
  });
});

describe('text and JSON', () => {
  test('groups the terminal summary by severity then OWASP category', () => {
    const text = renderText(bad, { baseDir: root });
    const critical = text.indexOf('CRITICAL (2)');
    const high = text.indexOf('HIGH (');
    const medium = text.indexOf('MEDIUM (');
    assert.ok(critical >= 0 && critical < high && high < medium);
    assert.match(text, /API2:2023 Broken Authentication/);
    assert.match(text, /test\/fixtures\/specs\/bad-3\.0\.yaml:7/);
    assert.match(text, new RegExp(`${bad.findings.length} findings: 2 critical`));
    assert.doesNotMatch(text, /\u001b\[/);
  });

  test('uses colours only when asked', () => {
    assert.match(renderText(bad, { color: true }), /\u001b\[1;31mHIGH/);
  });

  test('says so when there is nothing to report', () => {
    assert.match(renderText(clean), new RegExp(`No findings \\(${clean.rules.length} rules checked\\)`));
  });

  test('JSON lists rules once and findings by rule id', () => {
    const doc = JSON.parse(renderJson(bad, { toolVersion: '0.1.0' }));
    assert.equal(doc.findings.length, bad.findings.length);
    assert.equal(doc.rules.length, bad.rules.length);
    assert.equal(doc.summary.bySeverity.critical, 2);
    assert.ok(
      doc.findings.every((f: { ruleId: string }) => doc.rules.some((r: { id: string }) => r.id === f.ruleId)),
    );
  });
});

describe('writeReport and exit codes', () => {
  test('writes to a file without colours', async () => {
    const file = join(tmp, 'report.txt');
    await writeReport('text', bad, file);
    assert.doesNotMatch(await readFile(file, 'utf8'), /\u001b\[/);
  });

  test('colours text only on a TTY stream', async () => {
    const capture = (isTTY: boolean) => {
      let out = '';
      const stream = Object.assign(
        new Writable({
          write(chunk, _enc, cb) {
            out += chunk.toString();
            cb();
          },
        }),
        { isTTY },
      );
      return { stream, text: () => out };
    };
    const tty = capture(true);
    await writeReport('text', bad, tty.stream);
    assert.match(tty.text(), /\u001b\[/);
    const pipe = capture(false);
    await writeReport('text', bad, pipe.stream);
    assert.doesNotMatch(pipe.text(), /\u001b\[/);
  });

  test('refuses an unknown format with a stable code', async () => {
    await assert.rejects(
      writeReport('pdf', bad, join(tmp, 'x')),
      (e: unknown) => e instanceof ReportFormatError && e.code === 'ERR_REPORT_FORMAT',
    );
  });

  test('exits 1 only when a finding reaches --fail-on (default high)', () => {
    const medium = bad.findings.filter((f) => f.severity === 'medium');
    assert.equal(exitCodeFor(medium), 0);
    assert.equal(exitCodeFor(medium, 'medium'), 1);
    assert.equal(exitCodeFor(bad.findings), 1);
    assert.equal(exitCodeFor([], 'info'), 0);
    assert.equal(exitCodeFor(clean.findings, 'info'), 0);
  });

  test('parses severities case-insensitively and rejects others', () => {
    assert.equal(parseSeverity('HIGH'), 'high');
    assert.equal(parseSeverity('severe'), undefined);
  });
});
