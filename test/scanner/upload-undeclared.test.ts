import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A NestJS-style shop whose upload route documents no body at all (`@UploadedFile()` without `@ApiBody`): `POST
 * /upload/product-image` takes a multipart `file` part (multer's usual name) and answers `201 {"success": true, "url":
 * "/uploads/<name>"}`; `GET /uploads/{name}` serves the file. Vulnerable: under the client's file name, with the type
 * its extension says (an `.html` file comes back as `text/html`). Fixed twin: `application/octet-stream`,
 * `attachment`, `nosniff`. The upload check must try the route all the same, and find the vulnerable one only.
 */
const SPEC = {
  openapi: '3.0.0',
  info: { title: 'shop', version: '1.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  security: [{ bearer: [] }],
  paths: {
    '/upload/product-image': {
      post: {
        operationId: 'UploadController_uploadProductImage',
        responses: { '201': { description: 'Uploaded' } },
      },
    },
    '/products': {
      get: { operationId: 'ProductsController_findAll', responses: { '200': { description: 'Products' } } },
    },
  },
};

const TOKENS = new Set(['tok-ivo', 'tok-jen']);
const TYPES: Record<string, string> = {
  html: 'text/html',
  svg: 'image/svg+xml',
  png: 'image/png',
  txt: 'text/plain',
};

function startShop(fixed: boolean) {
  const files = new Map<string, Buffer>();
  return startServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const path = new URL(req.url ?? '/', 'http://shop').pathname;
    const served = /^\/uploads\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && served) {
      const name = decodeURIComponent(served[1]);
      const file = files.get(name);
      if (!file) return send(404, { statusCode: 404, message: 'Not Found' });
      const ext = name.split('.').pop() ?? '';
      res.writeHead(
        200,
        fixed
          ? {
              'content-type': 'application/octet-stream',
              'content-disposition': 'attachment',
              'x-content-type-options': 'nosniff',
            }
          : { 'content-type': TYPES[ext] ?? 'application/octet-stream' },
      );
      return res.end(file);
    }
    if (!TOKENS.has(String(req.headers.authorization ?? '').replace(/^Bearer /, '')))
      return send(401, { statusCode: 401, message: 'Unauthorized' });
    if (req.method === 'GET' && path === '/products')
      return send(200, { success: true, data: [{ id: 1, name: 'Mug' }] });
    if (req.method === 'POST' && path === '/upload/product-image') {
      const boundary = /boundary=([^;]+)/.exec(String(req.headers['content-type'] ?? ''))?.[1];
      const text = raw.toString('latin1');
      const head = /name="file"; filename="([^"]*)"[\s\S]*?\r\n\r\n/.exec(text);
      if (!boundary || !head) return send(400, { statusCode: 400, message: 'No file uploaded' });
      const start = head.index + head[0].length;
      const end = text.indexOf(`\r\n--${boundary}`, start);
      const name = head[1].replace(/[/\\]/g, '_');
      files.set(name, raw.subarray(start, end < 0 ? raw.length : end));
      return send(201, { success: true, url: `/uploads/${encodeURIComponent(name)}` });
    }
    return send(404, { statusCode: 404, message: `Cannot ${req.method} ${path}` });
  });
}

describe('an upload route the document gives no body is tried with a multipart file part', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startShop>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startShop, {
        identities: [
          { name: 'ivo', headers: { Authorization: 'Bearer tok-ivo' } },
          { name: 'jen', headers: { Authorization: 'Bearer tok-jen' } },
        ],
        checks: ['API8'],
        ratePerSecond: 200,
      }),
    );
  });

  test('vulnerable: the HTML file served back as text/html from the API’s origin is found', () => {
    assert.ok(
      operationsFound(scans.vulnerable.result).includes(
        'scan/api8-unrestricted-upload UploadController_uploadProductImage',
      ),
      operationsFound(scans.vulnerable.result).join('\n'),
    );
  });

  test('fixed twin: no upload finding', () => {
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => f.startsWith('scan/api8-unrestricted-upload')),
      [],
    );
  });
});
