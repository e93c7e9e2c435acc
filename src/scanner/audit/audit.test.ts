import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import type { Finding } from '../finding.ts';
import {
  AUDIT_RULES,
  AuditOptionError,
  type AuditResult,
  auditText,
  runAudit,
  SpecSourceError,
} from './index.ts';

const dir = join(import.meta.dirname, '../../../test/fixtures/specs');
const BAD = ['bad-3.0.yaml', 'bad-3.1.yaml', 'bad-2.0.yaml'];
const CLEAN = ['clean-3.0.yaml', 'clean-2.0.json'];

const results = new Map<string, AuditResult>();
before(async () => {
  for (const f of [...BAD, ...CLEAN]) results.set(f, await runAudit(join(dir, f)));
});
const of = (file: string, ruleId: string): Finding[] =>
  results.get(file)!.findings.filter((f) => f.rule.id === ruleId);

describe('audit rules: a true positive and a true negative each', () => {
  for (const rule of AUDIT_RULES) {
    test(`${rule.id} fires on a vulnerable fixture`, () => {
      const hits = BAD.flatMap((f) => of(f, rule.id));
      assert.ok(hits.length > 0, `${rule.id} found nothing in ${BAD.join(', ')}`);
      for (const h of hits) {
        assert.equal(h.rule.owasp, rule.owasp);
        assert.ok(h.location.line !== undefined && h.location.line > 0, 'finding has a line');
        assert.match(h.fingerprint, /^[0-9a-f]{32}$/);
      }
    });
    test(`${rule.id} stays silent on the clean fixtures`, () => {
      for (const f of CLEAN) assert.deepEqual(of(f, rule.id), [], `${rule.id} fired on ${f}`);
    });
  }
});

describe('audit', () => {
  test('every rule has a unique id, an OWASP category, CWEs and a remediation', () => {
    assert.equal(new Set(AUDIT_RULES.map((r) => r.id)).size, AUDIT_RULES.length);
    for (const r of AUDIT_RULES) {
      assert.match(r.id, /^audit\/[a-z0-9-]+$/);
      assert.match(r.owasp, /^API(?:[1-9]|10):2023$/);
      assert.ok(r.cwe.length > 0 && r.remediation.length > 0 && r.description.length > 0);
    }
  });

  test('covers all 32 rules of the Spectral OWASP ruleset 2.0.1', () => {
    const covered = new Set(AUDIT_RULES.flatMap((r) => r.spectral ?? []));
    assert.equal(covered.size, 32);
    assert.ok([...covered].every((id) => /^owasp:api\d:2023-[a-zA-Z0-9-]+$/.test(id)));
  });

  test('points Swagger 2.0 findings at lines of the original file', async () => {
    const text = (await readFile(join(dir, 'bad-2.0.yaml'), 'utf8')).split('\n');
    const [ids] = of('bad-2.0.yaml', 'audit/numeric-ids');
    assert.equal(ids!.location.pointer, '/paths/~1pets~1{petId}/parameters/0');
    assert.match(text[ids!.location.line! - 1]!, /- name: petId/);
    const [http] = of('bad-2.0.yaml', 'audit/no-server-http');
    assert.equal(http!.location.pointer, '/schemes');
    assert.match(text[http!.location.line! - 1]!, /^schemes:/);
  });

  test('points JSON spec findings at lines of the JSON text', async () => {
    const { parse } = await import('yaml');
    const json = JSON.stringify(parse(await readFile(join(dir, 'bad-2.0.yaml'), 'utf8')), null, 2);
    const r = await auditText('bad-2.0.json', json);
    assert.equal(r.stats.parser, 'fast');
    const lines = json.split('\n');
    const [http] = r.findings.filter((f) => f.rule.id === 'audit/no-server-http');
    assert.match(lines[http!.location.line! - 1]!, /^ {2}"schemes": \[/);
    const [ids] = r.findings.filter((f) => f.rule.id === 'audit/numeric-ids');
    assert.match(lines[ids!.location.line! - 1]!, /^ {8}\{$/);
    assert.match(lines[ids!.location.line!]!, /"name": "petId"/);
  });

  test('points a 3.0 schema finding at the property line, one finding per field to fix', async () => {
    const text = (await readFile(join(dir, 'bad-3.0.yaml'), 'utf8')).split('\n');
    const found = of('bad-3.0.yaml', 'audit/mass-assignment-risk');
    assert.deepEqual(
      found.map((f) => [f.location.pointer, f.severity]),
      [
        ['/components/schemas/User/properties/role', 'high'],
        ['/components/schemas/User/properties/id', 'low'],
      ],
    );
    assert.match(text[found[0]!.location.line! - 1]!, /^ {8}role:/);
    assert.match(
      found[0]!.message,
      /`role`: schema User \(used in requests of PUT \/v2\/users\/\{userId\}\)/,
    );
  });

  test('groups size rules by property name across schemas, and parameters together', async () => {
    const spec = `openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /a/{aId}:
    parameters: [{ name: aId, in: path, required: true, schema: { type: integer } }]
    put:
      requestBody: { content: { application/json: { schema: { $ref: '#/components/schemas/A' } } } }
      responses: { '200': { description: ok } }
  /b/{bId}:
    parameters: [{ name: bId, in: path, required: true, schema: { type: integer } }]
    put:
      requestBody: { content: { application/json: { schema: { $ref: '#/components/schemas/B' } } } }
      responses: { '200': { description: ok } }
components:
  schemas:
    A: { type: object, properties: { description: { type: string } } }
    B: { type: object, properties: { description: { type: string } } }
`;
    const r = await auditText('group.yaml', spec);
    const strings = r.findings.filter((f) => f.rule.id === 'audit/string-limit');
    assert.equal(strings.length, 1);
    assert.match(strings[0]!.message, /`description`: schema A, schema B/);
    const ints = r.findings.filter((f) => f.rule.id === 'audit/integer-limit');
    assert.equal(ints.length, 1);
    assert.equal(ints[0]!.occurrences!.length, 2);
    const ids = r.findings.filter((f) => f.rule.id === 'audit/numeric-ids');
    assert.equal(ids.length, 1);
    assert.match(ids[0]!.message, /sequential numbers: `aId`, `bId`\./);
  });

  test('groups operations missing a 429 into one finding with one occurrence each', () => {
    const found = of('bad-3.0.yaml', 'audit/rate-limit-responses-429');
    assert.equal(found.length, 1);
    assert.equal(found[0]!.occurrences!.length, 6);
    assert.ok(found[0]!.occurrences!.every((o) => o.operation !== undefined && o.line !== undefined));
  });

  test('groups operations without any security under one finding at the root', () => {
    const [f] = of('bad-2.0.yaml', 'audit/read-without-auth');
    assert.equal(f!.location.pointer, '');
    assert.match(f!.message, /no security is declared/);
  });

  test('reports an operation that opts out of security where it opts out', () => {
    const [f] = of('bad-3.0.yaml', 'audit/write-without-auth');
    assert.equal(f!.location.pointer, '/paths/~1v2~1orders/post/security');
    assert.deepEqual(f!.operation, { method: 'POST', path: '/v2/orders', operationId: 'createOrder' });
  });

  test('rates unbounded arrays used only in responses as info', () => {
    const sev = of('bad-3.0.yaml', 'audit/array-limit').map((f) => [f.location.pointer, f.severity]);
    assert.deepEqual(sev, [
      ['/components/schemas/User/properties/tags', 'medium'],
      ['/paths/~1v2~1users/get/responses/200/content/application~1json/schema', 'info'],
    ]);
  });

  test('never repeats credentials from a server URL in the message', () => {
    const [f] = of('bad-3.0.yaml', 'audit/credentials-in-server-url');
    assert.equal(f!.severity, 'critical');
    assert.doesNotMatch(JSON.stringify(f), /hunter22/);
  });

  test('treats a server variable defaulting to http as plain HTTP', () => {
    const urls = of('bad-3.0.yaml', 'audit/no-server-http').map((f) => f.location.pointer);
    assert.deepEqual(urls, ['/servers/0/url', '/servers/2/url']);
  });

  test('raises CORS wildcards to high when credentials are allowed', () => {
    const [f] = of('bad-3.0.yaml', 'audit/cors-permissive');
    assert.equal(f!.severity, 'high');
  });

  test('accepts OpenAPI 3.1 exclusive bounds and type arrays', () => {
    const ints = of('bad-3.1.yaml', 'audit/integer-limit');
    assert.deepEqual(ints, []);
    assert.deepEqual(
      of('bad-3.1.yaml', 'audit/string-limit').map((f) => f.location.pointer),
      [
        '/components/schemas/Note/properties/title',
        '/components/schemas/Note/properties/attachments/prefixItems/0',
      ],
    );
  });

  test('names a pattern that needs backtracking and where it is', () => {
    const [f] = of('bad-3.1.yaml', 'audit/pattern-not-linear');
    assert.equal(f.location.pointer, '/components/schemas/Note/properties/slug/pattern');
    assert.ok(f.message.includes(`${JSON.stringify('^(\\w+)-\\1$')} cannot run on the linear-time engine`));
    assert.match(f.message, /uses a backreference/);
  });

  test('skips pagination tokens but flags access tokens in the query', () => {
    const names = of('bad-3.0.yaml', 'audit/no-credentials-in-url').map((f) => f.message);
    assert.equal(names.length, 1);
    assert.match(names[0]!, /access_token/);
  });

  test('finds a private key and a JWT in examples', () => {
    const labels = of('bad-3.0.yaml', 'audit/secrets-in-examples').map((f) => f.occurrences![0]!.label);
    assert.deepEqual(labels.sort(), ['JWT', 'private key', 'value of `password`']);
  });

  test('gives the same fingerprints on every run', async () => {
    const again = await runAudit(join(dir, 'bad-3.0.yaml'));
    assert.deepEqual(
      again.findings.map((f) => f.fingerprint),
      results.get('bad-3.0.yaml')!.findings.map((f) => f.fingerprint),
    );
  });

  test('skips disabled rules and refuses unknown rule ids', async () => {
    const r = await runAudit(join(dir, 'bad-3.0.yaml'), { disable: ['audit/string-restricted'] });
    assert.equal(r.rules.length, AUDIT_RULES.length - 1);
    assert.ok(!r.findings.some((f) => f.rule.id === 'audit/string-restricted'));
    await assert.rejects(runAudit(join(dir, 'bad-3.0.yaml'), { disable: ['audit/nope'] }), AuditOptionError);
  });

  test('keeps only findings at or above minSeverity', async () => {
    const r = await runAudit(join(dir, 'bad-3.0.yaml'), { minSeverity: 'high' });
    assert.ok(r.findings.length > 0);
    assert.ok(r.findings.every((f) => f.severity === 'high' || f.severity === 'critical'));
  });

  test('rejects a file that is not an OpenAPI document with a stable code', async () => {
    await assert.rejects(
      auditText('x.yaml', 'hello: world\n'),
      (e: unknown) => e instanceof SpecSourceError && e.code === 'ERR_SPEC_NOT_OPENAPI',
    );
    await assert.rejects(
      auditText('x.yaml', 'openapi: [\n'),
      (e: unknown) => e instanceof SpecSourceError && e.code === 'ERR_SPEC_PARSE',
    );
  });

  test('audits malformed documents without throwing', async () => {
    const docs = [
      'openapi: 3.0.0\npaths:\n',
      'openapi: 3.0.0\npaths: []\ncomponents: []\n',
      'openapi: 3.1.0\npaths:\n  /a:\n    get: 5\n    post:\n      parameters: [1, null, {in: query}]\n      responses: x\n      security: [1, {a: 2}]\n',
      "swagger: '2.0'\nschemes: http\nsecurityDefinitions: {a: 1, b: {type: oauth2}}\npaths:\n  /x:\n    $ref: '#/nope'\n  /y:\n    get:\n      responses:\n        200: {schema: {$ref: 'other.yaml#/Foo'}}\n",
      "openapi: 3.0.0\nservers: [{url: 5}, 7]\ncomponents:\n  schemas:\n    A: {$ref: '#/components/schemas/A'}\n    B: {items: [1, {type: string}]}\npaths:\n  /b:\n    post:\n      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}}\n      responses: {}\n",
    ];
    for (const d of docs) {
      const r = await auditText('odd.yaml', d);
      assert.ok(r.findings.every((f) => f.location.line === undefined || f.location.line >= 1));
    }
  });

  test('survives circular schema references', async () => {
    const spec = `openapi: 3.0.3
info: { title: t, version: '1' }
paths:
  /a:
    post:
      requestBody:
        content:
          application/json:
            schema: { $ref: '#/components/schemas/Node' }
      responses: { '200': { description: ok } }
components:
  schemas:
    Node:
      type: object
      properties:
        next: { $ref: '#/components/schemas/Node' }
        role: { type: string, enum: [a] }
`;
    const r = await auditText('loop.yaml', spec);
    assert.ok(r.findings.some((f) => f.rule.id === 'audit/mass-assignment-risk'));
  });
});
