/**
 * The injection policy in its Core Rule Set mode, through a real gateway in front of a recording upstream,
 * with Debian's CRS 3.3 rules (issue 17).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../src/core/problems.ts';
import {
  buildConfig,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
  tempFiles,
} from '../harness.ts';
import { DEBIAN_CRS_RULES, oracleUnavailable } from './oracle.ts';

if (oracleUnavailable() !== undefined) throw new Error(`CRS rules missing: ${oracleUnavailable()}`);

const spec = {
  openapi: '3.1.0',
  security: [],
  info: { title: 'Jobs', version: '1' },
  paths: {
    '/jobs/{jobId}/logs': {
      get: {
        operationId: 'getLogs',
        parameters: [
          { name: 'jobId', in: 'path', required: true, schema: { type: 'integer' } },
          { name: 'mode', in: 'query', schema: { enum: ['tail -f', 'head'] } },
          { name: 'q', in: 'query', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'ok' } },
      },
    },
    '/jobs': {
      post: {
        operationId: 'postJob',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { shell: { enum: ['sh -c', 'bash -c'] }, script: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'ok' } },
      },
    },
    '/notes': {
      put: {
        operationId: 'putNote',
        requestBody: {
          content: {
            'application/json': { schema: { type: 'object', properties: { comment: { type: 'string' } } } },
          },
        },
        responses: { '200': { description: 'ok' } },
      },
    },
  },
};

const headers = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64)', accept: 'application/json' };
const SQLI = "1' UNION SELECT password FROM users--";

function crsConfig(upstream: string, injection: Record<string, unknown>) {
  return {
    apis: [{ name: 'jobs', spec: 'spec.yaml', upstream: { url: upstream }, policies: { injection } }],
  };
}

describe('injection policy, CRS mode', () => {
  let upstream: TestServer;
  let seen: string[];
  let gw: TestGateway;
  before(async () => {
    seen = [];
    upstream = await startServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    gw = await startGateway({
      specs: { 'spec.yaml': spec },
      config: crsConfig(upstream.url, {
        crs: {
          path: DEBIAN_CRS_RULES,
          allowedMethods: ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'],
          exclusions: [
            { operations: ['putNote'], ids: [942100, '942000-942999'], targets: ['ARGS:json.comment'] },
          ],
        },
        // The built-in detectors run after the CRS (builtinDetectors defaults to true): the same place is
        // excluded from them.
        exclusions: [{ operations: ['putNote'], location: 'body', pointer: '/comment' }],
      }),
    });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('refuses a SQL injection with 400 injection-detected listing the rule ids, never the payload', async () => {
    const before = seen.length;
    const res = await fetch(`${gw.url}/jobs/7/logs?q=${encodeURIComponent(SQLI)}`, { headers });
    const body = (await res.json()) as { type: string; rules: number[]; score: number };
    assert.equal(res.status, 400);
    assert.equal(body.type, problems.injectionDetected.type);
    assert.ok(body.rules.includes(949110), JSON.stringify(body.rules));
    assert.ok(
      body.rules.some((id) => id >= 942000 && id < 943000),
      JSON.stringify(body.rules),
    );
    assert.ok(body.score >= 5);
    assert.ok(!JSON.stringify(body).includes('UNION'), 'the payload is not echoed');
    assert.equal(seen.length, before, 'the upstream never saw it');
    const event = gw.events.findLast((e) => e['event.action'] === 'injection-detected');
    assert.equal(event?.['rule.name'], 'crs');
    assert.match(String(event?.['rule.ruleset']), /^OWASP CRS 3\.3\./);
    const crs = event?.['portcullis.crs'] as {
      score: number;
      matches: Array<{ id: number; variable?: string; data?: string }>;
    };
    assert.ok(crs.matches.some((m) => m.variable === 'ARGS:q'));
    assert.ok(crs.matches.every((m) => (m.data?.length ?? 0) <= 121));
    const record = gw.access.findLast((r) => r['url.path'].startsWith('/jobs/7/logs'));
    assert.equal(record?.['portcullis.decision'], 'injection_crs');
    assert.deepEqual(record?.['portcullis.waf.rule_ids'], body.rules);
    assert.equal(record?.['portcullis.waf.score'], body.score);
  });

  test('lets a benign request through to the upstream', async () => {
    const before = seen.length;
    const res = await fetch(`${gw.url}/jobs/7/logs?q=${encodeURIComponent("O'Reilly build logs")}`, {
      headers,
    });
    assert.equal(res.status, 200);
    assert.equal(seen.length, before + 1);
  });

  test('an enum value the schema pins is not fed to the rules that read it as a command', async () => {
    const res = await fetch(`${gw.url}/jobs/7/logs?mode=tail%20-f`, { headers });
    assert.equal(res.status, 200);
    const post = await fetch(`${gw.url}/jobs`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ shell: 'sh -c', script: 'make' }),
    });
    assert.equal(post.status, 200);
  });

  test('a value outside the enum is judged by the rules as any other', async () => {
    const res = await fetch(`${gw.url}/jobs/7/logs?mode=${encodeURIComponent('ls -l; cat /etc/passwd')}`, {
      headers,
    });
    assert.equal(res.status, 400);
  });

  test('an exclusion of rule ids on one target of one operation lets that target through, and only it', async () => {
    const ok = await fetch(`${gw.url}/notes`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ comment: SQLI }),
    });
    assert.equal(ok.status, 200);
    const other = await fetch(`${gw.url}/notes`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ other: SQLI }),
    });
    assert.equal(other.status, 400);
    assert.ok(((await other.json()) as { rules: number[] }).rules.includes(942100));
    const elsewhere = await fetch(`${gw.url}/jobs`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ comment: SQLI }),
    });
    assert.equal(elsewhere.status, 400);
  });
});

describe('injection policy, CRS mode without schema awareness and in report mode', () => {
  let upstream: TestServer;
  let gw: TestGateway;
  before(async () => {
    upstream = await startServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    gw = await startGateway({
      specs: { 'spec.yaml': spec },
      config: crsConfig(upstream.url, { crs: { path: DEBIAN_CRS_RULES, schemaAware: false } }),
    });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  test('without schema awareness the pinned enum value is refused like free text', async () => {
    const res = await fetch(`${gw.url}/jobs/7/logs?mode=tail%20-f`, { headers });
    assert.equal(res.status, 400);
  });

  test('a method outside the CRS default allowed methods is refused (rule 911100)', async () => {
    const res = await fetch(`${gw.url}/notes`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ comment: 'hello' }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { rules: number[] };
    assert.ok(body.rules.includes(911100), JSON.stringify(body.rules));
  });

  test('report mode lets the attack through and records what it would have refused', async () => {
    await gw.reload(crsConfig(upstream.url, { mode: 'report', crs: { path: DEBIAN_CRS_RULES } }));
    const res = await fetch(`${gw.url}/jobs/7/logs?q=${encodeURIComponent(SQLI)}`, { headers });
    assert.equal(res.status, 200);
    const event = gw.events.findLast((e) => e['event.action'] === 'injection-detected');
    assert.equal(event?.['portcullis.mode'], 'report');
    assert.equal(event?.['event.type'], 'info');
    const record = gw.access.findLast((r) => r['url.path'].startsWith('/jobs/7/logs'));
    assert.deepEqual(record?.['portcullis.reported'], ['injection:injection_crs']);
  });
});

describe('injection policy, CRS config errors', () => {
  test('a rules folder with no rule files is a config error naming crs.path', async () => {
    const dir = await tempFiles({ 'spec.yaml': spec });
    const empty = await tempFiles({ 'readme.txt': 'no rules here' });
    const { startRuntime } = await import('../../src/cli/runtime.ts');
    const { pino } = await import('pino');
    await assert.rejects(
      startRuntime({
        config: buildConfig(crsConfig('http://127.0.0.1:9', { crs: { path: empty } }), dir),
        logger: pino({ level: 'silent' }),
      }),
      (e: Error & { issues?: string[] }) => /crs\.path/.test(`${e.message} ${(e.issues ?? []).join(' ')}`),
    );
  });

  test('a detection paranoia level below the blocking level is a config error', async () => {
    const dir = await tempFiles({ 'spec.yaml': spec });
    const { startRuntime } = await import('../../src/cli/runtime.ts');
    const { pino } = await import('pino');
    await assert.rejects(
      startRuntime({
        config: buildConfig(
          crsConfig('http://127.0.0.1:9', {
            crs: { path: DEBIAN_CRS_RULES, paranoiaLevel: 2, detectionParanoiaLevel: 1 },
          }),
          dir,
        ),
        logger: pino({ level: 'silent' }),
      }),
      (e: Error & { issues?: string[] }) =>
        /crs\.detectionParanoiaLevel/.test(`${e.message} ${(e.issues ?? []).join(' ')}`),
    );
  });
});

describe('injection policy, CRS mode, with the unicode mapping libmodsecurity reads', () => {
  const MAP = '/etc/nginx/unicode.mapping';
  // U+00AB and U+00BB as IIS %u escapes: code page 20127 of the mapping gives < and >; without the map the
  // low byte of each code point stays (« and »), which no rule reads as markup.
  const QUOTED_XSS = '%u00abscript%u00bbalert(1)%u00ab/script%u00bb';
  let upstream: TestServer;
  let withMap: TestGateway;
  let withoutMap: TestGateway;
  before(async () => {
    upstream = await startServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    const start = (crs: Record<string, unknown>) =>
      startGateway({
        specs: { 'spec.yaml': spec },
        config: crsConfig(upstream.url, { crs: { path: DEBIAN_CRS_RULES, builtinDetectors: false, ...crs } }),
      });
    withMap = await start({ unicodeMapFile: MAP });
    withoutMap = await start({});
  });
  after(async () => {
    await withMap?.close();
    await withoutMap?.close();
    await upstream?.close();
  });

  test('%uXXXX escapes decode through the code page, as libmodsecurity does with SecUnicodeMapFile', async () => {
    const mapped = await fetch(`${withMap.url}/jobs/7/logs?q=${QUOTED_XSS}`, { headers });
    const plain = await fetch(`${withoutMap.url}/jobs/7/logs?q=${QUOTED_XSS}`, { headers });
    const body = (await mapped.json()) as { rules?: number[] };
    const other = (await plain.json()) as { rules?: number[] };
    assert.equal(mapped.status, 400, JSON.stringify(body));
    assert.ok(body.rules?.includes(941110), `the script-tag rule matched: ${JSON.stringify(body.rules)}`);
    // Without the map the escapes are no markup; the request may still be refused for the %u encoding itself
    // (920220) and a numeric Host (920350), as libmodsecurity refuses it.
    assert.ok(
      !(other.rules ?? []).includes(941110),
      `no script tag without the map: ${JSON.stringify(other.rules)}`,
    );
  });

  test('a mapping file that cannot be read is a config error naming it', async () => {
    const dir = await tempFiles({ 'spec.yaml': spec });
    const { startRuntime } = await import('../../src/cli/runtime.ts');
    const { pino } = await import('pino');
    await assert.rejects(
      startRuntime({
        config: buildConfig(
          crsConfig('http://127.0.0.1:9', {
            crs: { path: DEBIAN_CRS_RULES, unicodeMapFile: 'missing.mapping' },
          }),
          dir,
        ),
        logger: pino({ level: 'silent' }),
      }),
      (e: Error & { issues?: string[] }) =>
        /missing\.mapping/.test(`${e.message} ${(e.issues ?? []).join(' ')}`),
    );
  });
});
