import assert from 'node:assert/strict';
import { test } from 'node:test';
import { operation } from '../../../../test/kit/operation.ts';
import type { ApiDocument, Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import {
  answersAlike,
  configFolders,
  describes,
  docPageRefs,
  extraMembers,
  olderCollections,
  olderVersions,
  oldInternal,
  ownNotFound,
  STAGE_WORDS,
  stageFolders,
  versionOf,
} from './api9-inventory.ts';

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

function reply(
  path: string,
  status: number,
  type: string,
  body: string,
): { path: string; res: ScanResponse } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const sent = { method: 'POST', url: path };
  const res = {
    status,
    headers: { 'content-type': type },
    text: body,
    json,
    durationMs: 1,
    sent,
  } as ScanResponse;
  return { path, res };
}

test("a 404 of the route's own is told from the framework's 404 for routes that are not there", () => {
  const html = (p: string) => reply(p, 404, 'text/html; charset=utf-8', `<pre>Cannot POST ${p}</pre>`);
  const made = [html('/api/v1/reset/portcullis-1a2b'), html('/api/v1/reset/portcullis-9f8e')] as const;
  const own = reply('/api/v1/reset/verify', 404, 'application/json', '{"message":"User not found"}');
  assert.deepEqual(ownNotFound(own, made), {
    route: 'application/json {"message":"User not found"}',
    madeUp: 'text/html <pre>Cannot POST /api/v1/reset/portcullis-1a2b</pre>',
  });
  // The framework's page for the route itself (its path in the text) is no route.
  assert.equal(ownNotFound(html('/api/v1/reset/verify'), made), undefined);
  // A JSON 404 of the app's own for every route: the same members and values, a timestamp aside.
  const spring = (p: string, at: string) =>
    reply(
      p,
      404,
      'application/json',
      JSON.stringify({ timestamp: at, status: 404, error: 'Not Found', path: p }),
    );
  const springMade = [
    spring('/v1/x/portcullis-1', '10:00:01'),
    spring('/v1/x/portcullis-2', '10:00:02'),
  ] as const;
  assert.equal(ownNotFound(spring('/v1/x/verify', '10:00:03'), springMade), undefined);
  // Another value where the made-up answers agree, or other members: the route's own.
  assert.ok(
    ownNotFound(reply('/v1/x/verify', 404, 'application/json', '{"message":"No such code"}'), springMade),
  );
  const generic = (p: string) => reply(p, 404, 'application/json', '{"message":"Not found"}');
  const genericMade = [generic('/v1/x/portcullis-1'), generic('/v1/x/portcullis-2')] as const;
  assert.equal(ownNotFound(generic('/v1/x/verify'), genericMade), undefined);
  assert.ok(
    ownNotFound(reply('/v1/x/verify', 404, 'application/json', '{"message":"User not found"}'), genericMade),
  );
  // Made-up routes answered unlike each other (a request id in the page): nothing to judge by.
  const unstable = [
    reply('/v1/x/portcullis-1', 404, 'text/html', '<p>not found, request 81f2</p>'),
    reply('/v1/x/portcullis-2', 404, 'text/html', '<p>not found, request 77a0</p>'),
  ] as const;
  assert.equal(ownNotFound(own, unstable), undefined);
  // Anything but 404 is not judged here.
  assert.equal(ownNotFound(reply('/v1/x/verify', 401, 'application/json', '{}'), genericMade), undefined);
});

test("Django's DEBUG 404 for a route ending with a slash, echoing the path without its leading slash, is no route's own", () => {
  // R2-F3: the route's last segment was '' (the path ends with `/`), and `api/v0/projects/` stayed in its text.
  const page = (p: string) =>
    reply(
      p,
      404,
      'text/html; charset=utf-8',
      `<title>Page not found at ${p}</title><ol><li>api/v1/projects/</li><li>api/v1/issues/</li></ol>` +
        `<p>The current path, <code>${p.slice(1)}</code>, didn’t match any of these.</p>`,
    );
  const made = [
    page('/api/v0/projects/portcullis-1111aaaa'),
    page('/api/v0/projects/portcullis-9999bbbb'),
  ] as const;
  assert.equal(ownNotFound(page('/api/v0/projects/'), made), undefined);
  assert.equal(
    ownNotFound(page('/api/projects/'), [
      page('/api/projects/portcullis-1'),
      page('/api/projects/portcullis-2'),
    ]),
    undefined,
  );
});

test('a guessed path answering like a made-up suffix of the same parent is the parent taking any suffix', () => {
  const j = 'application/json';
  const missing = '{"error":"Missing ID"}';
  const madeUp = reply('/api/view-user.php/pcx0a1b2c', 200, j, missing);
  assert.equal(answersAlike(reply('/api/view-user.php/admin', 200, j, missing), madeUp), true);
  // The path echoed back is set aside.
  assert.equal(
    answersAlike(
      reply('/files/admin', 200, 'text/plain', 'no file admin'),
      reply('/files/pcx0a1b2c', 200, 'text/plain', 'no file pcx0a1b2c'),
    ),
    true,
  );
  // Another status, another body, another media type: a route of its own.
  assert.equal(answersAlike(reply('/api/view-user.php/admin', 201, j, missing), madeUp), false);
  assert.equal(
    answersAlike(reply('/api/users/admin', 200, j, '{"admins":[{"id":1,"username":"alice"}]}'), madeUp),
    false,
  );
  assert.equal(answersAlike(reply('/api/view-user.php/admin', 200, 'text/html', missing), madeUp), false);
});

test('configuration files are looked for in the base path and the first folders of documented paths, at most three', () => {
  assert.deepEqual(configFolders(['/login.php', '/api/view-user.php', '/api/users/{id}'], ''), ['/api']);
  assert.deepEqual(configFolders(['/api/v2/a', '/api/v2/b'], '/api/v2'), ['/api/v2', '/api']);
  assert.deepEqual(configFolders(['/{tenant}/x', '/a/x', '/b/x', '/c/x', '/d/x'], ''), ['/a', '/b', '/c']);
});

test('stage routes are looked for at the root, the base, its version before, the base without its version and /v1', () => {
  const at = (base: string) => stageFolders(base).map((f) => `${f.folder || '/'} ${f.words}`);
  const all = STAGE_WORDS.length;
  assert.deepEqual(at('/api/v2'), [`/ ${all}`, `/api/v2 ${all}`, '/api/v1 10', '/api 10', '/v1 10']);
  assert.deepEqual(at('/api'), [`/ ${all}`, `/api ${all}`, '/api/v1 10', '/api/v2 10', '/v1 10']);
  assert.deepEqual(at(''), [`/ ${all}`, '/v1 10', '/v2 10']);
  assert.ok(STAGE_WORDS.slice(0, 10).some(([w]) => w === 'legacy-api'));
});

test('an internal route under a version older than the newest the document has is an old internal route', () => {
  const doc = (paths: string[]) => ({ operations: paths.map(get) }) as unknown as ApiDocument;
  const spec = doc(['/api/v2/posts', '/api/v1/internal/backup', '/api/v2/internal/stats', '/api/v1/posts']);
  assert.match(
    oldInternal(spec, get('/api/v1/internal/backup')) ?? '',
    /older version \(v1; the document's newest is v2\)/,
  );
  assert.equal(oldInternal(spec, get('/api/v2/internal/stats')), undefined);
  assert.equal(oldInternal(spec, get('/api/v1/posts')), undefined);
});

test('whole-collection routes are looked for below the first literal segment of each path, one version down', () => {
  assert.deepEqual(
    olderCollections([
      '/api/v1/users/{id}',
      '/api/v1/users/view',
      '/api/v1/items',
      '/api/v1/admin/users',
      '/v3/pets/{petId}',
      '/api/v0/legacy',
      '/api/v1/auth/login',
      '/api/v1/password/forgot',
      '/api/v1/me',
      '/api/v1/{tenant}/orders',
      '/health',
    ]),
    [
      { older: '/api/v0/users', documented: '/api/v1/users' },
      { older: '/api/v0/items', documented: '/api/v1/items' },
      { older: '/api/v0/admin', documented: '/api/v1/admin' },
      { older: '/v2/pets', documented: '/v3/pets' },
    ],
  );
});
