import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadApiDocument } from '../../../openapi/load.ts';
import type { ScanContext } from '../context.ts';
import { ObjectRegistry } from '../objects.ts';
import { configSecrets, craftedOrigins } from './api8-misconfiguration.ts';
import { basePath, versionVariants } from './api9-inventory.ts';
import { injectionPoints, SQL_ERROR } from './injection.ts';
import { urlInputs } from './url-inputs.ts';

const SPEC = `openapi: 3.1.0
info: { title: t, version: '1' }
paths:
  /api/items/{itemId}:
    parameters: [{ name: itemId, in: path, required: true, schema: { type: string } }]
    get:
      parameters:
        - { name: q, in: query, schema: { type: string } }
        - { name: limit, in: query, schema: { type: integer } }
        - { name: X-Tenant, in: header, schema: { type: string } }
        - { name: theme, in: cookie, schema: { type: string } }
      responses: { '200': { description: ok } }
    patch:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                title: { type: string }
                status: { type: string, enum: [open, done] }
                meta: { type: object, properties: { note: { type: string }, source: { type: object, properties: { url: { type: string } } } } }
                hook: { type: object, properties: { callback_url: { type: string } } }
      responses: { '200': { description: ok } }
    delete:
      responses: { '204': { description: gone } }
  /api/reports:
    post:
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema: { type: object, properties: { filename: { type: string }, feed: { type: string } } }
      responses: { '200': { description: ok } }
`;

async function context(): Promise<ScanContext> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pc-attack-'));
  const file = path.join(dir, 'openapi.yaml');
  await writeFile(file, SPEC);
  // No identity and nothing harvested: every input starts from the document's own samples.
  return {
    spec: await loadApiDocument(file),
    identities: [],
    objects: new ObjectRegistry(),
  } as unknown as ScanContext;
}

test('injection inputs cover path, query, header, cookie, nested JSON, enum and form fields, but not page sizes or DELETE', async () => {
  const ctx = await context();
  const names = injectionPoints(ctx).map((p) => `${p.op.method} ${p.in} ${p.name}`);
  assert.deepEqual(names.sort(), [
    'GET cookie theme',
    'GET header X-Tenant',
    'GET path itemId',
    'GET query q',
    'PATCH json meta.note',
    // Two objects down: JSON inputs are read three levels deep since b399c1f (`data.attributes.phrase`).
    'PATCH json meta.source.url',
    'PATCH json status',
    'PATCH json title',
    'PATCH path itemId',
    'POST form filename',
  ]);
});

test('URL inputs are found in PATCH bodies one level down and in form fields', async () => {
  const ctx = await context();
  const inputs = urlInputs(ctx.spec).map((u) => `${u.operation.method} ${u.in} ${u.name}`);
  assert.deepEqual(inputs.sort(), ['PATCH body hook.callback_url', 'POST form feed']);
});

test("a shell's unterminated-quote error is not taken for a database error", () => {
  assert.equal(SQL_ERROR.test('sh: 1: Syntax error: Unterminated quoted string'), false);
  assert.equal(SQL_ERROR.test('unterminated quoted string at or near "\'"'), true);
  assert.equal(SQL_ERROR.test('sqlite3.OperationalError: unrecognized token: "\'"'), true);
});

test('crafted CORS origins include null and look-alikes of the target host', () => {
  const origins = craftedOrigins('https://api.shop.example/v1');
  assert.ok(origins.includes('null'));
  assert.ok(origins.includes('https://api.shop.example.portcullis-evil.example'));
  assert.ok(origins.includes('https://portcullis-evilapi.shop.example'));
});

test('configuration secrets are told from a user record', () => {
  assert.deepEqual(configSecrets({ config: { SECRET_KEY: 'abcd1234', MAIL_PASSWORD: 'x1y2z3' } }, ''), [
    'SECRET_KEY',
    'MAIL_PASSWORD',
  ]);
  assert.deepEqual(configSecrets({ username: 'a', password: 'hunter22', secret: 'my diary' }, ''), []);
  assert.deepEqual(configSecrets({}, '{"db":"postgresql://app:Pa55@db.internal:5432/x"}'), [
    'a connection string with a password',
  ]);
});

test('version variants of documented paths: older, unversioned, and v1/v2 after an api prefix', () => {
  assert.deepEqual(versionVariants('/v3/pets/{id}'), [
    '/v2/pets/{id}',
    '/v1/pets/{id}',
    '/v0/pets/{id}',
    '/pets/{id}',
  ]);
  assert.deepEqual(versionVariants('/api/users'), ['/api/v1/users', '/api/v2/users']);
  assert.equal(basePath(['/api/v2/books', '/api/v2/users/me']), '/api/v2');
  assert.equal(basePath(['/token', '/v3/pets']), '');
});
