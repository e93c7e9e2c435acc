import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { posix } from 'node:path';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A team wiki's file service in a Django style, mounted under `/api` (the scan's target URL has that base
 * path), HTTP Basic auth, trailing ids in the answers. Attachments are stored in a media folder the server
 * also serves at `/media/...` (outside `/api`, undocumented), and the upload's answer gives the file's URL.
 * Avatars are read back through the documented `GET /api/avatars/{avatar_id}`. Vulnerable: attachments keep the
 * client's file name (`posix.join` of the upload folder and the name: `../x` lands one folder up) and are
 * served with a type taken from the extension; avatars accept any part whose declared type starts with
 * `image/` (SVG included) and are served with that type. Documents answer only `{"message", "filename"}` (the
 * file is served from `/uploads/`, which nothing documents); reports answer an id, and the documented
 * `GET /api/reports/{report_id}` gives the record with a relative `download` path. Both keep the client's
 * name and serve by extension. Fixed twin: files stored under names of the server's own, served as
 * `application/octet-stream`, `attachment`, `nosniff`; avatars must be PNG bytes.
 */
const ID = { type: 'object', properties: { id: { type: 'integer' } } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'wiki files', version: '3.1' },
  servers: [{ url: '/api' }],
  components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
  security: [{ basic: [] }],
  paths: {
    '/attachments': {
      post: {
        operationId: 'uploadAttachment',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['file'],
                properties: { file: { type: 'string', format: 'binary' }, label: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'stored', content: { 'application/json': { schema: ID } } } },
      },
      get: { operationId: 'listAttachments', responses: { '200': { description: 'attachments' } } },
    },
    '/avatars': {
      post: {
        operationId: 'uploadAvatar',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['picture'],
                properties: { picture: { type: 'string', format: 'binary' } },
              },
              encoding: { picture: { contentType: 'image/png' } },
            },
          },
        },
        responses: { '201': { description: 'stored' } },
      },
    },
    '/documents': {
      post: {
        operationId: 'uploadDocument',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: { type: 'object', properties: { doc: { type: 'string', format: 'binary' } } },
            },
          },
        },
        responses: { '200': { description: 'saved' } },
      },
    },
    '/reports': {
      post: {
        operationId: 'uploadReport',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: { type: 'object', properties: { report: { type: 'string', format: 'binary' } } },
            },
          },
        },
        responses: { '201': { description: 'filed' } },
      },
    },
    '/reports/{report_id}': {
      get: {
        operationId: 'getReport',
        parameters: [{ name: 'report_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'the report record' } },
      },
    },
    '/avatars/{avatar_id}': {
      get: {
        operationId: 'getAvatar',
        parameters: [{ name: 'avatar_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': { description: 'the picture', content: { 'image/png': {} } } },
      },
    },
  },
};

const USERS: Record<string, string> = {
  [`Basic ${Buffer.from('alice:pw-alice').toString('base64')}`]: 'alice',
  [`Basic ${Buffer.from('bob:pw-bob').toString('base64')}`]: 'bob',
};
const TYPES: Record<string, string> = { '.html': 'text/html', '.svg': 'image/svg+xml', '.png': 'image/png' };
const PNG = [0x89, 0x50, 0x4e, 0x47];

interface Stored {
  readonly bytes: Buffer;
  readonly type: string;
}

/**
 * `basename`: the vulnerable twin with two twists that are no traversal: an attachment's name loses its folders
 * (`../a.html` is stored as `a.html` in the upload folder), and `/media/...` finds a file by its last name at any
 * depth (so `/media/a.html` serves `/media/uploads/a.html`).
 */
async function startWiki(
  mode: boolean | 'basename',
): Promise<{ url: string; server: Server; media: Map<string, Stored> }> {
  const fixed = mode === true;
  const basename = mode === 'basename';
  const media = new Map<string, Stored>(); // by path under the origin: /media/uploads/a.html
  const avatars: Stored[] = [];
  const attachments: { id: number; url: string }[] = [];
  const reports: string[] = [];
  const api = await startServer((req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    if (req.method === 'GET' && /^\/(media|uploads|static)\//.test(path)) {
      const file = basename
        ? [...media].find(([k]) => k.startsWith('/media/') && posix.basename(k) === posix.basename(path))?.[1]
        : media.get(posix.normalize(path));
      if (!file) return json(404, { detail: 'Not found.' });
      res.writeHead(
        200,
        fixed
          ? {
              'content-type': 'application/octet-stream',
              'content-disposition': 'attachment',
              'x-content-type-options': 'nosniff',
            }
          : { 'content-type': file.type },
      );
      return res.end(file.bytes);
    }
    if (!USERS[String(req.headers.authorization)]) return json(401, { detail: 'Authentication required.' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const avatar = /^\/api\/avatars\/(\d+)\/?$/.exec(path);
      if (req.method === 'GET' && avatar) {
        const a = avatars[Number(avatar[1]) - 1];
        if (!a) return json(404, { detail: 'Not found.' });
        res.writeHead(200, { 'content-type': a.type });
        return res.end(a.bytes);
      }
      if (req.method === 'GET' && /^\/api\/attachments\/?$/.test(path)) return json(200, attachments);
      const report = /^\/api\/reports\/(\d+)$/.exec(path);
      if (req.method === 'GET' && report) {
        const r = reports[Number(report[1]) - 1];
        return r
          ? json(200, { id: Number(report[1]), download: r.slice(1) })
          : json(404, { detail: 'Not found.' });
      }
      if (req.method !== 'POST' || !/^\/api\/(attachments|avatars|documents|reports)\/?$/.test(path))
        return json(404, { detail: 'Not found.' });
      let form: FormData;
      try {
        form = await new Request('http://wiki.local/', {
          method: 'POST',
          headers: { 'content-type': String(req.headers['content-type']) },
          body: Buffer.concat(chunks),
        }).formData();
      } catch {
        return json(400, { detail: 'Multipart form parse error.' });
      }
      if (path.startsWith('/api/avatars')) {
        const picture = form.get('picture');
        if (!(picture instanceof File)) return json(400, { picture: ['No file was submitted.'] });
        const bytes = Buffer.from(await picture.arrayBuffer());
        const ok = fixed ? PNG.every((b, i) => bytes[i] === b) : picture.type.startsWith('image/');
        if (!ok) return json(415, { picture: ['Upload a valid image.'] });
        avatars.push({ bytes, type: fixed ? 'image/png' : picture.type });
        return json(201, { avatar_id: avatars.length });
      }
      const kind = /^\/api\/(\w+)/.exec(path)?.[1];
      if (kind === 'documents' || kind === 'reports') {
        const part = form.get(kind === 'documents' ? 'doc' : 'report');
        if (!(part instanceof File)) return json(400, { detail: 'No file was submitted.' });
        const name = fixed ? `${randomUUID()}.bin` : posix.basename(part.name);
        const where = posix.join(kind === 'documents' ? '/uploads' : '/static/reports', name);
        media.set(where, {
          bytes: Buffer.from(await part.arrayBuffer()),
          type: TYPES[posix.extname(name)] ?? 'text/plain',
        });
        if (kind === 'documents') return json(200, { message: 'Document saved', filename: name });
        reports.push(where);
        return json(201, { report_id: reports.length });
      }
      const file = form.get('file');
      if (!(file instanceof File)) return json(400, { file: ['No file was submitted.'] });
      // The upload's multipart parser here already took the name's last segment; the vulnerable view reads it
      // from the raw header instead, as a hand-written parser would.
      const raw = /filename="([^"]*)"/.exec(Buffer.concat(chunks).toString('latin1'))?.[1] ?? file.name;
      const name = fixed ? `${randomUUID()}.bin` : basename ? posix.basename(raw) : raw;
      const where = posix.join('/media/uploads', name);
      const ext = posix.extname(name);
      media.set(where, { bytes: Buffer.from(await file.arrayBuffer()), type: TYPES[ext] ?? 'text/plain' });
      const attachment = { id: attachments.length + 1, url: where };
      attachments.push(attachment);
      return json(201, { ...attachment, label: form.get('label') });
    });
  });
  return { ...api, url: `${api.url}/api`, media };
}

describe('dangerous file uploads', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; media: Map<string, Stored> }>;
  before(async () => {
    const both = await scanTwins(SPEC, startWiki, {
      identities: [
        {
          name: 'alice',
          headers: { Authorization: `Basic ${Buffer.from('alice:pw-alice').toString('base64')}` },
        },
        { name: 'bob', headers: { Authorization: `Basic ${Buffer.from('bob:pw-bob').toString('base64')}` } },
      ],
      checks: ['API8'],
      ratePerSecond: 200,
      timeDelayMs: 300,
    });
    scans.vulnerable = { result: both.vulnerable.result, media: both.vulnerable.api.media };
    scans.fixed = { result: both.fixed.result, media: both.fixed.api.media };
  });

  const upload = (r: ScanResult, op: string) =>
    r.findings.filter(
      (f) => f.rule.id === 'scan/api8-unrestricted-upload' && f.operation?.operationId === op,
    );

  test('reports the HTML attachment served back as text/html from the media folder', () => {
    const f = upload(scans.vulnerable.result, 'uploadAttachment').find((x) => x.severity === 'high');
    assert.ok(f, operationsFound(scans.vulnerable.result).join(', '));
    assert.match(
      f.message,
      /an HTML file in file .* at \/media\/uploads\/pcu[0-9a-f]{10}\.html as text\/html/,
    );
  });

  test('reports the ../ file name written one folder up, read back there', () => {
    const f = upload(scans.vulnerable.result, 'uploadAttachment').find((x) => x.severity === 'critical');
    assert.ok(f, operationsFound(scans.vulnerable.result).join(', '));
    assert.match(f.message, /served at \/media\/pcu[0-9a-f]{10}\.html/);
    assert.ok([...scans.vulnerable.media.keys()].some((k) => /^\/media\/pcu[0-9a-f]{10}\.html$/.test(k)));
  });

  test('reports the SVG avatar read back through the documented route as image/svg+xml', () => {
    const [f] = upload(scans.vulnerable.result, 'uploadAvatar');
    assert.equal(f?.severity, 'high', operationsFound(scans.vulnerable.result).join(', '));
    assert.match(f.message, /an SVG file in picture .* at \/api\/avatars\/\d+ as image\/svg\+xml/);
  });

  test('finds the document served from the usual upload folder under the name the answer gave', () => {
    const [f] = upload(scans.vulnerable.result, 'uploadDocument');
    assert.equal(f?.severity, 'high', operationsFound(scans.vulnerable.result).join(', '));
    assert.match(f.message, /at \/uploads\/pcu[0-9a-f]{10}\.html as text\/html/);
  });

  test('follows the report record to the relative download path it links', () => {
    const [f] = upload(scans.vulnerable.result, 'uploadReport');
    assert.equal(f?.severity, 'high', operationsFound(scans.vulnerable.result).join(', '));
    assert.match(f.message, /at \/static\/reports\/pcu[0-9a-f]{10}\.html as text\/html/);
  });

  test('finds no dangerous upload on the fixed twin, which still took the files', () => {
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((x) => x.includes('upload')),
      [],
    );
    assert.ok([...scans.fixed.media.keys()].some((k) => k.endsWith('.bin')));
  });
});

describe('dangerous file uploads: names that lose their folders are no traversal', () => {
  let result: ScanResult;
  before(async () => {
    const both = await scanTwins(SPEC, () => startWiki('basename'), {
      identities: [
        {
          name: 'alice',
          headers: { Authorization: `Basic ${Buffer.from('alice:pw-alice').toString('base64')}` },
        },
        { name: 'bob', headers: { Authorization: `Basic ${Buffer.from('bob:pw-bob').toString('base64')}` } },
      ],
      checks: ['API8'],
      ratePerSecond: 200,
      timeDelayMs: 300,
    });
    result = both.vulnerable.result;
  });

  test('reports the HTML served back, and no file written outside the folder', () => {
    const found = result.findings.filter(
      (f) => f.rule.id === 'scan/api8-unrestricted-upload' && f.operation?.operationId === 'uploadAttachment',
    );
    assert.deepEqual(
      found.map((f) => f.severity),
      ['high'],
      found.map((f) => f.message).join('\n'),
    );
  });
});
