import assert from 'node:assert/strict';
import { test } from 'node:test';
import { operation } from '../../../../test/kit/operation.ts';
import type { ApiDocument, Operation } from '../../../core/api-document.ts';
import { describes, docPageRefs, extraMembers, olderVersions, versionOf } from './api9-inventory.ts';

function get(path: string): Operation {
  return { ...operation(`GET ${path}`), hasDeclaredId: false, path, pointer: '' };
}

test('a version segment is found and removed, with the parameters unnamed', () => {
  assert.deepEqual(versionOf('/api/v1/users/{id}'), { version: 1, bare: '/api/users/{}' });
  assert.equal(versionOf('/api/users'), undefined);
  assert.equal(versionOf('/api/v1beta/users'), undefined);
});

test('an older version pairs with the unversioned route, else with the highest version', () => {
  const ops = [
    '/api/v1/users',
    '/api/users',
    '/v1/notes/{id}',
    '/v2/notes/{note_id}',
    '/v3/notes/{nid}',
    '/v1/only',
  ].map(get);
  const pairs = olderVersions(ops).map(([o, c]) => `${o.path} -> ${c.path}`);
  assert.deepEqual(pairs, [
    '/api/v1/users -> /api/users',
    '/v1/notes/{id} -> /v3/notes/{nid}',
    '/v2/notes/{note_id} -> /v3/notes/{nid}',
  ]);
});

test('older records are compared with the same current records, whatever the envelope', () => {
  const current = { items: [{ id: 7, name: 'ada', email: 'ada@x.test' }], total: 1 };
  const older = {
    ok: true,
    data: { users: [{ id: 7, name: 'ada', email: 'ada@x.test', password_hash: 'h4sh' }] },
  };
  assert.deepEqual(extraMembers(older, current), ['password_hash']);
  // Envelope members, a renamed member with the same value, null or empty members: no difference.
  const envelopeOnly = {
    status: 'success',
    total: 1,
    data: [{ id: 7, full_name: 'ada', email: 'ada@x.test', pin: null }],
  };
  assert.deepEqual(extraMembers(envelopeOnly, { status: 'success', total: 1, items: current.items }), []);
  // A nested owner record pairs on its own.
  const withOwner = (extra: object) => ({ id: 1, title: 'note', owner: { id: 7, name: 'ada', ...extra } });
  assert.deepEqual(extraMembers(withOwner({ ssn: '078-05-1120' }), withOwner({})), ['ssn']);
  // Records that share too little are not the same record.
  assert.deepEqual(extraMembers([{ id: 8, secret: 'x1' }], [{ id: 7, name: 'ada' }]), []);
});

const answer = (text: string, json?: unknown) =>
  ({ status: 200, headers: {}, text, json, durationMs: 1, sent: { method: 'GET', url: 'x' } }) as const;

test("an API description is the API's own when every path it lists is documented, below its base too", () => {
  const spec = { operations: [get('/api/users/{id}'), get('/api/users')] } as unknown as ApiDocument;
  const doc = (paths: object, extra: object = {}) => answer('', { openapi: '3.0.0', paths, ...extra });
  assert.deepEqual(describes(spec, doc({ '/api/users/{user_id}': {}, '/api/users': {} })), { kind: 'own' });
  assert.deepEqual(describes(spec, doc({ '/users': {} }, { servers: [{ url: 'https://x.test/api' }] })), {
    kind: 'own',
  });
  assert.deepEqual(describes(spec, doc({ '/api/users': {}, '/api/internal/jobs': {} })), {
    kind: 'more',
    extra: ['/api/internal/jobs'],
  });
  // An empty description, or no description at all, says nothing either way.
  assert.equal(describes(spec, doc({})), undefined);
  assert.equal(describes(spec, answer('{"status":"ok"}', { status: 'ok' })), undefined);
  assert.deepEqual(describes(spec, answer('swagger: "2.0"\nbasePath: /api\npaths:\n  /users: {}\n')), {
    kind: 'own',
  });
});

test('a documentation page names the description it shows, same origin only', () => {
  const page =
    '<div id="swagger-ui"></div><script>SwaggerUIBundle({ url: "./openapi.json", dom_id: "#x" })</script>';
  assert.deepEqual(docPageRefs(answer(page), '/api/docs'), ['/api/openapi.json']);
  assert.deepEqual(
    docPageRefs(answer('<redoc spec-url="https://other.test/spec.json"></redoc>'), '/redoc'),
    [],
  );
  assert.deepEqual(docPageRefs(answer('<a href="/x">url: "/openapi.json"</a>'), '/'), []);
});
