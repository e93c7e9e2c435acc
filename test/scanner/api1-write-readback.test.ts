import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A field-notes service in a Koa-like style: errors as `{"error": {"code", "message"}}`, a static key per user in
 * `X-Notes-Key`, string note ids (`nt-<n>`). Each identity is given its own seeded note as `params: {noteId}`, as a
 * tester configures them; the scan makes notes of its own with `POST /notes`. The item read answers the owner only
 * (both twins). Vulnerable: `PUT /notes/{noteId}` changes anyone's note. Fixed twin: the owner's only.
 *
 * The write goes to a note the scan made as alice (never her seeded one), so its confirmation must read that same
 * note back: the item read planned on its own takes alice's given `noteId`, which the write did not touch.
 */
const failure = { description: 'error' };
const noteBody = {
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['title'],
        properties: { title: { type: 'string', maxLength: 80 }, text: { type: 'string', maxLength: 500 } },
      },
    },
  },
};
const idParam = [
  { name: 'noteId', in: 'path', required: true, schema: { type: 'string', pattern: '^nt-[0-9]+$' } },
];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'field notes', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Notes-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/notes': {
      post: { operationId: 'addNote', requestBody: noteBody, responses: { '201': { description: 'note' } } },
    },
    '/notes/{noteId}': {
      get: {
        operationId: 'readNote',
        parameters: idParam,
        responses: { '200': { description: 'note' }, '404': failure },
      },
      put: {
        operationId: 'editNote',
        parameters: idParam,
        requestBody: noteBody,
        responses: { '200': { description: 'note' }, '404': failure },
      },
    },
  },
};

interface Note {
  id: string;
  owner: string;
  title: string;
  text: string;
}

const KEYS: Record<string, string> = { 'k-alice-5c1e': 'alice', 'k-bob-77d0': 'bob' };

function startNotes(fixed: boolean) {
  const notes: Note[] = [
    { id: 'nt-7', owner: 'alice', title: 'heron nest', text: 'east bank, two eggs' },
    { id: 'nt-9', owner: 'bob', title: 'otter tracks', text: 'mud flat at dawn' },
  ];
  let next = 100;
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://notes').pathname;
    const fail = (status: number, code: string, message: string) =>
      sendJson(res, status, { error: { code, message } });
    const who = KEYS[String(req.headers['x-notes-key'] ?? '')];
    if (!who) return fail(401, 'unauthenticated', 'a key is needed');
    if (req.method === 'POST' && path === '/notes') {
      if (typeof body?.title !== 'string' || body.title === '')
        return fail(400, 'invalid', 'title is required');
      const note: Note = {
        id: `nt-${next++}`,
        owner: who,
        title: body.title.slice(0, 80),
        text: typeof body.text === 'string' ? body.text.slice(0, 500) : '',
      };
      notes.push(note);
      return sendJson(res, 201, note);
    }
    const m = /^\/notes\/([^/]+)$/.exec(path);
    const note = m ? notes.find((n) => n.id === decodeURIComponent(m[1])) : undefined;
    if (!m) return fail(404, 'no_route', 'no such route');
    if (!note) return fail(404, 'not_found', 'no such note');
    if (req.method === 'GET') {
      if (note.owner !== who) return fail(404, 'not_found', 'no such note');
      return sendJson(res, 200, note);
    }
    if (req.method === 'PUT') {
      if (fixed && note.owner !== who) return fail(404, 'not_found', 'no such note');
      if (typeof body?.title === 'string') note.title = body.title.slice(0, 80);
      if (typeof body?.text === 'string') note.text = body.text.slice(0, 500);
      return sendJson(res, 200, { updated: true });
    }
    return fail(405, 'method', 'method not allowed');
  }).then((api) => Object.assign(api, { notes }));
}

describe("API1 confirms a write by reading back the object it wrote, not the identity's given one", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startNotes>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startNotes, {
        identities: [
          { name: 'alice', headers: { 'X-Notes-Key': 'k-alice-5c1e' }, params: { noteId: 'nt-7' } },
          { name: 'bob', headers: { 'X-Notes-Key': 'k-bob-77d0' }, params: { noteId: 'nt-9' } },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: the edit of a note the scan made as the owner is found', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-write editNote'), found.join());
    const write = scans.vulnerable.result.findings.find((f) => f.rule.id === 'scan/api1-bola-write');
    assert.ok(!write?.message.includes('nt-7') && !write?.message.includes('nt-9'), write?.message);
  });

  test('fixed twin: no API1 finding; the seeded notes are unchanged on both twins', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
    for (const { api } of [scans.vulnerable, scans.fixed]) {
      const seeded = api.notes
        .filter((n) => n.id === 'nt-7' || n.id === 'nt-9')
        .map((n) => `${n.id}:${n.title}:${n.text}`);
      assert.deepEqual(seeded, ['nt-7:heron nest:east bank, two eggs', 'nt-9:otter tracks:mud flat at dawn']);
    }
  });
});
