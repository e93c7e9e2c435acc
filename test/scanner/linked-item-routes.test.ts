import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A blogging API written the way many gin and Spring Boot services are: every answer is `{"code", "msg",
 * "data"}` (code mirrors the HTTP status), camelCase members, and creations that live at one path while their
 * items are served at another:
 *
 * - `POST /v1/posts` makes a post whose item routes are `GET/PUT/DELETE /v1/post/{postId}` (singular);
 * - `POST /v1/drafts/create` makes a draft served at `/v1/draft/{draftId}`;
 * - `POST /v1/users/{uid}/notes` makes a note of the caller served at `/v1/notes/{noteId}` (no user in the path);
 * - `POST /v1/reports` only queues a report: it answers a job number as `reportId` (202), and job numbers run in
 *   step with report ids, so the first job's number is kofi's seeded report 102 at `/v1/report/{reportId}`;
 * - `POST /v1/labels` queues a label the same way (`labelId` 7 first, kofi's seeded label), and labels have only
 *   `DELETE /v1/label/{labelId}`: nothing can show that 7 is what the scan made.
 *
 * Vulnerable twin: the item routes read, change and delete anyone's post, draft or note. Fixed twin: the caller's
 * own only (404 to others). Setup must link each creation to its item route by the id the creation answered, so
 * that the scan has objects of its own to update and delete there; nothing seeded may change: the report route
 * shows lena kofi's report 102 on the vulnerable twin, which is no object the scan made (none of its values).
 */
const wrapped = (description: string) => ({
  description,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        properties: { code: { type: 'integer' }, msg: { type: 'string' }, data: { type: 'object' } },
      },
    },
  },
});
const jsonBody = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const idParam = (name: string, type: 'integer' | 'string') => ({
  name,
  in: 'path',
  required: true,
  schema: { type },
});
const itemRoutes = (
  kind: string,
  param: string,
  type: 'integer' | 'string',
  update: 'put' | 'patch',
  body: object,
) => ({
  get: {
    operationId: `get${kind}`,
    parameters: [idParam(param, type)],
    responses: { '200': wrapped('one'), '404': wrapped('none') },
  },
  [update]: {
    operationId: `update${kind}`,
    parameters: [idParam(param, type)],
    requestBody: body,
    responses: { '200': wrapped('updated'), '404': wrapped('none') },
  },
  delete: {
    operationId: `delete${kind}`,
    parameters: [idParam(param, type)],
    responses: { '200': wrapped('deleted'), '404': wrapped('none') },
  },
});
const postBody = jsonBody({ title: { type: 'string', maxLength: 80 }, content: { type: 'string' } }, [
  'title',
]);
const noteBody = jsonBody({ text: { type: 'string', maxLength: 200 } }, ['text']);
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'inkwell', version: '1.4.2' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer' } } },
  security: [{ jwt: [] }],
  paths: {
    '/v1/me': { get: { operationId: 'me', responses: { '200': wrapped('the caller') } } },
    '/v1/posts': {
      get: { operationId: 'listPosts', responses: { '200': wrapped('the caller’s posts') } },
      post: { operationId: 'createPost', requestBody: postBody, responses: { '201': wrapped('created') } },
    },
    '/v1/post/{postId}': itemRoutes('Post', 'postId', 'integer', 'put', postBody),
    '/v1/drafts/create': {
      post: { operationId: 'createDraft', requestBody: postBody, responses: { '200': wrapped('created') } },
    },
    '/v1/draft/{draftId}': itemRoutes('Draft', 'draftId', 'string', 'put', postBody),
    '/v1/users/{uid}/notes': {
      post: {
        operationId: 'createNote',
        parameters: [idParam('uid', 'integer')],
        requestBody: noteBody,
        responses: { '201': wrapped('created'), '403': wrapped('not yours') },
      },
    },
    '/v1/notes/{noteId}': itemRoutes('Note', 'noteId', 'string', 'patch', noteBody),
    '/v1/reports': {
      post: { operationId: 'queueReport', requestBody: postBody, responses: { '202': wrapped('queued') } },
    },
    '/v1/report/{reportId}': itemRoutes('Report', 'reportId', 'integer', 'put', postBody),
    '/v1/labels': {
      post: { operationId: 'queueLabel', requestBody: postBody, responses: { '202': wrapped('queued') } },
    },
    '/v1/label/{labelId}': {
      delete: {
        operationId: 'deleteLabel',
        parameters: [idParam('labelId', 'integer')],
        responses: { '200': wrapped('deleted') },
      },
    },
  },
};

interface Row {
  id: number | string;
  owner: number;
  [field: string]: unknown;
}
const USERS = [
  { uid: 31, name: 'lena', token: 'eyJ.lena.5b0c' },
  { uid: 32, name: 'kofi', token: 'eyJ.kofi.77d1' },
];
const SEED = {
  posts: [
    { id: 101, owner: 31, title: 'Lena on rivers', content: 'long read' },
    { id: 102, owner: 32, title: 'Kofi on bridges', content: 'short read' },
  ] as Row[],
  drafts: [
    { id: 'd-7a01', owner: 31, title: 'Lena draft', content: 'wip' },
    { id: 'd-7a02', owner: 32, title: 'Kofi draft', content: 'wip' },
  ] as Row[],
  notes: [
    { id: 'n-51', owner: 31, text: 'buy film' },
    { id: 'n-52', owner: 32, text: 'call Ama' },
  ] as Row[],
  reports: [{ id: 102, owner: 32, title: 'Kofi quarterly', content: 'figures' }] as Row[],
  labels: [{ id: 7, owner: 32, title: 'travel' }] as Row[],
};

function startInkwell(fixed: boolean) {
  const tables = {
    posts: SEED.posts.map((r) => ({ ...r })),
    drafts: SEED.drafts.map((r) => ({ ...r })),
    notes: SEED.notes.map((r) => ({ ...r })),
    reports: SEED.reports.map((r) => ({ ...r })),
    labels: SEED.labels.map((r) => ({ ...r })),
  };
  let next = 500;
  let job = 102;
  let labelJob = 7;
  return startServer(async (req, res) => {
    const text = await readText(req);
    const send = (code: number, data: unknown, msg = code < 400 ? 'ok' : 'error') => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code, msg, data }));
    };
    const user = USERS.find((u) => req.headers.authorization === `Bearer ${u.token}`);
    if (!user) return send(401, null, 'token invalid');
    const path = new URL(req.url ?? '/', 'http://inkwell').pathname;
    let body: Record<string, unknown> = {};
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, null, 'malformed json');
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        return send(400, null, 'object expected');
    }
    const create = (table: Row[], row: Row) => {
      table.push(row);
      return row;
    };
    if (req.method === 'GET' && path === '/v1/me') return send(200, { uid: user.uid, name: user.name });
    if (req.method === 'GET' && path === '/v1/posts')
      return send(200, { list: tables.posts.filter((p) => p.owner === user.uid), total: 0 });
    if (req.method === 'POST' && (path === '/v1/posts' || path === '/v1/drafts/create')) {
      if (typeof body.title !== 'string' || body.title === '') return send(422, null, 'title is required');
      const draft = path === '/v1/drafts/create';
      const row = create(draft ? tables.drafts : tables.posts, {
        id: draft ? `d-${(next++).toString(16)}` : next++,
        owner: user.uid,
        title: body.title.slice(0, 80),
        content: typeof body.content === 'string' ? body.content : '',
      });
      return send(
        draft ? 200 : 201,
        draft ? { draftId: row.id, title: row.title } : { postId: row.id, ...row },
      );
    }
    const notes = /^\/v1\/users\/(\d+)\/notes$/.exec(path);
    if (req.method === 'POST' && notes) {
      if (Number(notes[1]) !== user.uid) return send(403, null, 'not your notebook');
      if (typeof body.text !== 'string' || body.text === '') return send(422, null, 'text is required');
      const row = create(tables.notes, { id: `n-${next++}`, owner: user.uid, text: body.text.slice(0, 200) });
      return send(201, { noteId: row.id, text: row.text });
    }
    if (req.method === 'POST' && path === '/v1/reports') {
      if (typeof body.title !== 'string' || body.title === '') return send(422, null, 'title is required');
      return send(202, { reportId: job++, status: 'queued' });
    }
    if (req.method === 'POST' && path === '/v1/labels') {
      if (typeof body.title !== 'string' || body.title === '') return send(422, null, 'title is required');
      return send(202, { labelId: labelJob++, status: 'queued' });
    }
    const label = /^\/v1\/label\/(\d+)$/.exec(path);
    if (req.method === 'DELETE' && label) {
      const at = tables.labels.findIndex(
        (l) => l.id === Number(label[1]) && (!fixed || l.owner === user.uid),
      );
      if (at < 0) return send(404, null, 'not found');
      tables.labels.splice(at, 1);
      return send(200, { deleted: Number(label[1]) });
    }
    const item = /^\/v1\/(post|draft|notes|report)\/([\w-]+)$/.exec(path);
    if (item) {
      const table =
        item[1] === 'post'
          ? tables.posts
          : item[1] === 'draft'
            ? tables.drafts
            : item[1] === 'report'
              ? tables.reports
              : tables.notes;
      const at = table.findIndex((r) => String(r.id) === item[2]);
      const row = table[at];
      if (!row || (fixed && row.owner !== user.uid)) return send(404, null, 'not found');
      if (req.method === 'GET') return send(200, row);
      if (req.method === 'DELETE') {
        table.splice(at, 1);
        return send(200, { deleted: row.id });
      }
      if (req.method === 'PUT' || req.method === 'PATCH') {
        for (const k of ['title', 'content', 'text'])
          if (k in row && typeof body[k] === 'string') row[k] = body[k];
        return send(200, row);
      }
    }
    return send(404, null, 'no such route');
  }).then((api) => Object.assign(api, { tables }));
}

const identities = USERS.map((u) => ({ name: u.name, headers: { Authorization: `Bearer ${u.token}` } }));

describe('creations whose items live under another path: linked by the id they answer', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startInkwell>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startInkwell, { identities, ratePerSecond: 300, checks: ['API1'] }),
    );
  });

  test('the vulnerable twin: another user updates and deletes the scan’s post, draft and note', () => {
    const found = operationsFound(scans.vulnerable.result);
    for (const f of [
      'scan/api1-bola-write updatePost',
      'scan/api1-bola-delete deletePost',
      'scan/api1-bola-write updateDraft',
      'scan/api1-bola-delete deleteDraft',
      'scan/api1-bola-write updateNote',
      'scan/api1-bola-delete deleteNote',
    ])
      assert.ok(found.includes(f), `${f} missing from:\n${found.join('\n')}`);
  });

  test('the fixed twin: no API1 finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });

  test('nothing seeded changed or went on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const t = scans[kind].api.tables;
      assert.deepEqual(
        {
          posts: t.posts.filter((r) => typeof r.id === 'number' && r.id < 500),
          drafts: t.drafts.filter((r) => SEED.drafts.some((s) => s.id === r.id)),
          notes: t.notes.filter((r) => SEED.notes.some((s) => s.id === r.id)),
          reports: t.reports,
          labels: t.labels,
        },
        SEED,
        kind,
      );
    }
  });
});
