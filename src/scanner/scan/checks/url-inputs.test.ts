import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadApiDocument } from '../../../openapi/load.ts';
import { pathUrlWord, urlInputs } from './url-inputs.ts';

const body = (name: string) =>
  `{ content: { application/json: { schema: { type: object, properties: { ${name}: { type: string } } } } } }`;
const ok = `{ '200': { description: ok } }`;

const SPEC = `openapi: 3.1.0
info: { title: t, version: '1' }
paths:
  /v2/member/picture:
    post: { requestBody: ${body('picture_link')}, responses: ${ok} }
  /users/{userId}/avatar:
    post: { parameters: [{ name: userId, in: path, required: true, schema: { type: string } }], requestBody: ${body('image_url')}, responses: ${ok} }
  /update:
    post: { requestBody: ${body('homepage_url')}, responses: ${ok} }
  /me/avatar:
    post: { requestBody: ${body('url')}, responses: ${ok} }
  /setAvatar.php:
    get: { parameters: [{ name: url, in: query, schema: { type: string } }], responses: ${ok} }
  /signup:
    post: { requestBody: ${body('avatar_url')}, responses: ${ok} }
  /imports/preview:
    post: { requestBody: ${body('source_url')}, responses: ${ok} }
  /me:
    get: { parameters: [{ name: callback, in: query, schema: { type: string } }], responses: ${ok} }
  /avatars:
    post: { requestBody: ${body('source_url')}, responses: ${ok} }
  /avatars/{id}:
    get: { parameters: [{ name: id, in: path, required: true, schema: { type: string } }], responses: ${ok} }
  /api/import-user:
    post: { requestBody: ${body('externalApiUrl')}, responses: ${ok} }
  /members/preview-link:
    post: { requestBody: ${body('link')}, responses: ${ok} }
  /members/sync-avatar:
    post: { requestBody: ${body('avatar_url')}, responses: ${ok} }
`;

test('URL inputs that may be stored on the sender’s own account are told apart', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pc-url-inputs-'));
  try {
    await writeFile(path.join(dir, 'spec.yaml'), SPEC);
    const spec = await loadApiDocument(path.join(dir, 'spec.yaml'));
    const own = (list: ReturnType<typeof urlInputs>) =>
      Object.fromEntries(
        list.map((u) => [`${u.operation.method} ${u.operation.path} ${u.name}`, u.ownAccount]),
      );
    assert.deepEqual(own(urlInputs(spec, { ownRecords: true })), {
      'POST /v2/member/picture picture_link': true,
      'POST /users/{userId}/avatar image_url': true,
      'POST /update homepage_url': true,
      'POST /me/avatar url': true,
      'GET /setAvatar.php url': true,
      'POST /signup avatar_url': false,
      'POST /imports/preview source_url': false,
      'GET /me callback': false,
      'POST /avatars source_url': false,
      // A fetch done once beside an account word reads its URL; a profile field it still keeps.
      'POST /api/import-user externalApiUrl': false,
      'POST /members/preview-link link': false,
      'POST /members/sync-avatar avatar_url': true,
    });
    // Without ownRecords, writes under the caller's own record are left out (API10, injection).
    assert.equal(
      urlInputs(spec).some((u) => u.operation.path === '/me/avatar'),
      false,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const NAMED = `openapi: 3.1.0
info: { title: t, version: '1' }
paths:
  /jobs:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                fetchFrom: { type: string }
                imageUrlPreview: { type: string }
                link_id: { type: string }
                callback_type: { type: string }
                note: { type: string }
                copies: { type: integer }
            example: { fetchFrom: 'https://files.example/a.pdf', note: 'see https://x.example', copies: 2 }
      responses: { '202': { description: ok } }
  /price:
    get:
      parameters:
        - { name: artwork_from, in: query, schema: { type: string }, example: 'https://files.example/b.pdf' }
        - { name: label, in: query, schema: { type: string }, example: 'poster' }
      responses: { '200': { description: ok } }
`;

test('URL inputs by an example that is a URL, or by a URL word inside the name', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pc-url-inputs-'));
  try {
    await writeFile(path.join(dir, 'spec.yaml'), NAMED);
    const spec = await loadApiDocument(path.join(dir, 'spec.yaml'));
    assert.deepEqual(
      urlInputs(spec).map((u) => `${u.operation.path} ${u.name}`),
      ['/jobs fetchFrom', '/jobs imageUrlPreview', '/price artwork_from'],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an admin function works on others’ records: its URL input is no own-account write', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pc-url-inputs-'));
  try {
    await writeFile(
      path.join(dir, 'spec.yaml'),
      `openapi: 3.1.0
info: { title: t, version: '1' }
paths:
  /admin/members/import:
    post: { requestBody: ${body('roster_url')}, responses: ${ok} }
  /admin/members/avatar:
    post: { requestBody: ${body('avatar_url')}, responses: ${ok} }
`,
    );
    const spec = await loadApiDocument(path.join(dir, 'spec.yaml'));
    assert.deepEqual(
      urlInputs(spec).map((u) => [u.name, u.ownAccount]),
      [
        ['roster_url', false],
        ['avatar_url', true],
      ],
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a path whose last segment names a URL gives the member an undocumented body takes', () => {
  assert.equal(pathUrlWord('/upload/from-url'), 'url');
  assert.equal(pathUrlWord('/images/fetchLink'), 'link');
  assert.equal(pathUrlWord('/urls/{id}/stats'), undefined);
  assert.equal(pathUrlWord('/curl'), undefined);
  assert.equal(pathUrlWord('/webhooks/test'), undefined);
});
