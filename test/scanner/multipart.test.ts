import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A photo album in an Express-with-multer style: every write is `multipart/form-data` (an image part and text
 * fields), answers carry the new id only, bearer tokens. The server parses the parts for real and refuses a
 * body without its image (400), a part that is not a PNG (415), or another encoding (415), so a scan that
 * does not send the declared file tests nothing. Vulnerable: any user reads any photo; any user runs the
 * admin import, whose YAML index is loaded unsafely (a `!!python/object/apply` tag runs); the caption is pasted
 * into an SQL string (a lone quote: an SQLite error). Fixed twin: photos only to their owner, the import to the
 * admin with a safe loader, the caption stored as given.
 */
const ID = { type: 'object', properties: { id: { type: 'integer' } } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'album', version: '2.1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/photos': {
      post: {
        operationId: 'uploadPhoto',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['image', 'caption'],
                properties: {
                  image: { type: 'string', format: 'binary' },
                  caption: { type: 'string' },
                },
              },
              encoding: { image: { contentType: 'image/png, image/jpeg' } },
            },
          },
        },
        responses: { '201': { description: 'stored', content: { 'application/json': { schema: ID } } } },
      },
    },
    '/photos/{photoId}': {
      get: {
        operationId: 'getPhoto',
        parameters: [{ name: 'photoId', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: {
          '200': {
            description: 'a photo',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    id: { type: 'integer' },
                    caption: { type: 'string' },
                    bytes: { type: 'integer' },
                  },
                },
              },
            },
          },
        },
      },
    },
    '/admin/imports': {
      post: {
        operationId: 'importArchive',
        summary: 'Bulk import of an album archive',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['archive'],
                properties: { archive: { type: 'string', format: 'binary' }, note: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'imported', content: { 'application/json': { schema: ID } } } },
      },
    },
  },
};

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47];

interface Photo {
  id: number;
  caption: string;
  bytes: number;
  owner: string;
}

async function startAlbum(fixed: boolean): Promise<{ url: string; server: Server; uploads: string[] }> {
  const photos = new Map<number, Photo>();
  const uploads: string[] = [];
  let next = 40;
  const api = await startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const user = { 't-alice': 'alice', 't-bob': 'bob', 't-root': 'root' }[
      String(req.headers.authorization).replace(/^Bearer /, '')
    ];
    if (!user) return send(401, { message: 'Unauthorized' });
    const path = (req.url ?? '').split('?')[0];
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const item = /^\/photos\/(\d+)$/.exec(path);
      if (item && req.method === 'GET') {
        const photo = photos.get(Number(item[1]));
        if (!photo || (fixed && photo.owner !== user)) return send(404, { message: 'Not found' });
        return send(200, { id: photo.id, caption: photo.caption, bytes: photo.bytes });
      }
      if (req.method !== 'POST' || (path !== '/photos' && path !== '/admin/imports')) {
        return send(404, { message: 'Not found' });
      }
      const type = String(req.headers['content-type'] ?? '');
      if (!type.startsWith('multipart/form-data'))
        return send(415, { message: 'multipart/form-data expected' });
      let form: FormData;
      try {
        form = await new Request('http://album.local/', {
          method: 'POST',
          headers: { 'content-type': type },
          body: Buffer.concat(chunks),
        }).formData();
      } catch {
        return send(400, { message: 'Malformed multipart body' });
      }
      if (path === '/admin/imports') {
        if (fixed && user !== 'root') return send(403, { message: 'Admins only' });
        const archive = form.get('archive');
        if (!(archive instanceof File) || archive.size === 0)
          return send(400, { message: 'archive is required' });
        uploads.push(`import:${user}:${archive.name}`);
        // The archive's index is YAML. The vulnerable twin loads it like an unsafe loader would (a
        // `!!python/object/apply` tag calls the function; only `operator.add` here); the fixed one refuses tags.
        const loaded: Record<string, string> = {};
        for (const line of (await archive.text()).split('\n')) {
          const kv = /^(\w+):\s*(.*)$/.exec(line.trim());
          if (!kv) continue;
          const call = /^!!python\/object\/apply:operator\.add \["([^"]*)", "([^"]*)"\]$/.exec(kv[2]);
          if (kv[2].startsWith('!!') && (fixed || !call))
            return send(400, { message: 'could not determine a constructor' });
          loaded[kv[1]] = call ? call[1] + call[2] : kv[2];
        }
        return send(201, { id: next++, loaded });
      }
      const image = form.get('image');
      const caption = form.get('caption');
      if (!(image instanceof File) || typeof caption !== 'string') {
        return send(400, { message: 'image and caption are required' });
      }
      const bytes = new Uint8Array(await image.arrayBuffer());
      if (!image.type.startsWith('image/') || !PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
        return send(415, { message: 'PNG images only' });
      }
      // The vulnerable twin builds `INSERT ... VALUES ('<caption>')`: a lone quote ends the string early.
      if (!fixed && /'/.test(caption.replace(/''/g, ''))) {
        return send(500, { error: `SQLITE_ERROR: near "${caption.slice(0, 20)}": syntax error` });
      }
      const photo = { id: next++, caption, bytes: bytes.length, owner: user };
      photos.set(photo.id, photo);
      uploads.push(`photo:${user}:${image.name}`);
      send(201, { id: photo.id });
    });
  });
  return { ...api, uploads };
}

describe('multipart/form-data operations: files sent, then authorization and injection', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; uploads: string[] }>;
  before(async () => {
    const both = await scanTwins(SPEC, startAlbum, {
      identities: [
        { name: 'alice', bearer: 't-alice' },
        { name: 'bob', bearer: 't-bob' },
      ],
      admin: { name: 'root', bearer: 't-root' },
      checks: ['API1', 'API5', 'API8'],
      ratePerSecond: 200,
      timeDelayMs: 300,
    });
    scans.vulnerable = { result: both.vulnerable.result, uploads: both.vulnerable.api.uploads };
    scans.fixed = { result: both.fixed.result, uploads: both.fixed.api.uploads };
  });

  test('uploads a PNG to the image part and a file to the archive part', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.ok(scans[kind].uploads.includes('photo:alice:portcullis-scan.png'), kind);
      assert.ok(scans[kind].uploads.includes('photo:bob:portcullis-scan.png'), kind);
    }
    assert.ok(scans.vulnerable.uploads.includes('import:alice:portcullis-scan.txt'));
    assert.ok(!scans.fixed.uploads.some((u) => u.startsWith('import:alice')));
  });

  test('reports the photo read across users, the admin import as a user and the caption injection', () => {
    const found = operationsFound(scans.vulnerable.result);
    for (const expected of [
      'scan/api1-bola-read getPhoto',
      'scan/api5-bfla importArchive',
      'scan/api8-sql-injection uploadPhoto',
      'scan/api8-insecure-deserialization importArchive',
    ]) {
      assert.ok(found.includes(expected), `${expected} in ${found.join(', ')}`);
    }
    const injection = scans.vulnerable.result.findings.find((f) => f.rule.id === 'scan/api8-sql-injection');
    // Its curl line sends the same multipart body: curl's own form arguments, the PNG named as a file.
    const curl = String(injection?.evidence?.curl);
    assert.match(curl, /--form-string 'caption=/);
    assert.match(curl, /-F 'image=@portcullis-scan\.png;type=image\/png'/);
  });

  test('finds none of them on the fixed twin', () => {
    const found = operationsFound(scans.fixed.result).filter((f) => /api1|api5|injection|deserial/.test(f));
    assert.deepEqual(found, []);
  });
});
