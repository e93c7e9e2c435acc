import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A print shop's job API (Express-style camelCase, form-encoded and JSON bodies, a `Shop-Key` header, 202 for
 * accepted jobs). Its URL inputs have names that do not end like a URL: `POST /jobs/proof {fetchFrom}` (JSON, the
 * document's example is an https address), `POST /jobs/thumbnail` (a form, `imageUrlPreview`), `GET
 * /jobs/price?artwork_from=` (its parameter example an https address); `POST /jobs/logo {logo_url}` takes only a
 * link whose path ends like an image (`.png`). The vulnerable twin fetches each; the fixed one refuses loopback and
 * private hosts (422). The scan must report SSRF on all four on the vulnerable twin, none on the fixed.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'print shop jobs', version: '3.1.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'Shop-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/jobs/proof': {
      post: {
        operationId: 'proofJob',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { fetchFrom: { type: 'string' }, copies: { type: 'integer' } },
              },
              example: { fetchFrom: 'https://files.printshop.example/art/logo.pdf', copies: 1 },
            },
          },
        },
        responses: { '202': { description: 'proof queued' }, '422': { description: 'bad input' } },
      },
    },
    '/jobs/thumbnail': {
      post: {
        operationId: 'thumbnailJob',
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: { type: 'object', properties: { imageUrlPreview: { type: 'string' } } },
            },
          },
        },
        responses: { '202': { description: 'thumbnail queued' } },
      },
    },
    '/jobs/logo': {
      post: {
        operationId: 'logoJob',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['logo_url'],
                properties: { logo_url: { type: 'string' } },
              },
            },
          },
        },
        responses: { '202': { description: 'logo queued' }, '422': { description: 'not an image link' } },
      },
    },
    '/jobs/price': {
      get: {
        operationId: 'priceJob',
        parameters: [
          {
            name: 'artwork_from',
            in: 'query',
            schema: { type: 'string' },
            example: 'https://files.printshop.example/art/poster.pdf',
          },
        ],
        responses: { '200': { description: 'a price' } },
      },
    },
  },
};

const KEYS = new Set(['shop-key-ana', 'shop-key-bo']);

function privateHost(link: string): boolean {
  try {
    const host = new URL(link).hostname;
    return /^(localhost|\d+|0x.*|\[.*\]|127\..*|10\..*|192\.168\..*|169\.254\..*)$/i.test(host);
  } catch {
    return true;
  }
}

function startShop(fixed: boolean): Promise<TwinTarget> {
  return startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const text = await readText(req);
    if (!KEYS.has(String(req.headers['shop-key']))) return sendJson(res, 401, { err: 'unknown shop key' });
    let link: string | null = null;
    if (req.method === 'POST' && url.pathname === '/jobs/proof') {
      try {
        link = String((JSON.parse(text) as Record<string, unknown>).fetchFrom ?? '');
      } catch {
        return sendJson(res, 422, { err: 'json expected' });
      }
    } else if (req.method === 'POST' && url.pathname === '/jobs/thumbnail')
      link = new URLSearchParams(text).get('imageUrlPreview');
    else if (req.method === 'POST' && url.pathname === '/jobs/logo') {
      try {
        link = String((JSON.parse(text) as Record<string, unknown>).logo_url ?? '');
      } catch {
        return sendJson(res, 422, { err: 'json expected' });
      }
      // Both twins want an image's name; only the fixed one checks the host.
      let pathname = '';
      try {
        pathname = new URL(link).pathname;
      } catch {}
      if (!/\.(png|jpe?g|gif|svg)$/i.test(pathname))
        return sendJson(res, 422, { err: 'logo must be an image' });
    } else if (req.method === 'GET' && url.pathname === '/jobs/price')
      link = url.searchParams.get('artwork_from');
    else return sendJson(res, 404, { err: 'no such route' });
    if (!link || !/^https?:\/\//.test(link)) return sendJson(res, 422, { err: 'a link is required' });
    if (fixed && privateHost(link)) return sendJson(res, 422, { err: 'link must be public' });
    let bytes = -1;
    try {
      bytes = (await (await fetch(link, { signal: AbortSignal.timeout(1500) })).arrayBuffer()).byteLength;
    } catch {}
    return sendJson(res, req.method === 'GET' ? 200 : 202, { queued: true, bytes });
  });
}

describe('API7: URL inputs known by their examples or by a URL word inside their names, and image links', () => {
  let scans: TwinScans<TwinTarget>;
  before(async () => {
    scans = await scanTwins(SPEC, startShop, {
      identities: [
        { name: 'ana', headers: { 'Shop-Key': 'shop-key-ana' } },
        { name: 'bo', headers: { 'Shop-Key': 'shop-key-bo' } },
      ],
      checks: ['API7'],
      ratePerSecond: 200,
    });
  });
  const ssrf = (kind: 'vulnerable' | 'fixed') =>
    scans[kind].result.findings
      .filter((f) => f.rule.id === 'scan/api7-ssrf')
      .map((f) => f.operation?.operationId)
      .sort();

  test('vulnerable: all four fetches found', () => {
    assert.deepEqual(ssrf('vulnerable'), ['logoJob', 'priceJob', 'proofJob', 'thumbnailJob']);
  });
  test('fixed: none', () => {
    assert.deepEqual(ssrf('fixed'), []);
  });
});
