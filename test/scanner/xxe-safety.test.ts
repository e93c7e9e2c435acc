import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { scanTwins, type TwinScans } from './twins.ts';

/**
 * A reading-list service in a Sinatra style (`/v2`, API key header) whose body parser takes JSON and, when sent
 * XML, the text of each element by its name. Its own account is changed at `POST /v2/me/password` and
 * `POST /v2/user/email` (JSON), and `POST /v2/me/settings` (declared XML): an XML document sent there as alice would store `&pa;&pb;` or `portcullis` as her
 * password or e-mail. Its creations (`/v2/books`, `/v2/shelves`, `/v2/quotes`, `/v2/reviews`) hand XML to a
 * worker pool that never answers. Vulnerable: account actions take XML, creations hang on it. Fixed twin: XML is
 * refused (415) everywhere. The XXE check must send nothing to the account actions and stop trying JSON bodies
 * as XML once one hangs.
 */
const KEY = { apiKey: [] };
const body = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const text = { type: 'string' };
const creation = (id: string) => ({
  post: {
    operationId: id,
    requestBody: body({ title: text, note: text }),
    responses: { '201': { description: 'ok' } },
  },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'reading list', version: '2' },
  components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [KEY],
  paths: {
    '/v2/me/password': {
      post: {
        operationId: 'changePassword',
        requestBody: body({ new_password: text }),
        responses: { '200': { description: 'ok' } },
      },
    },
    '/v2/user/email': {
      post: {
        operationId: 'changeEmail',
        requestBody: body({ email: text }),
        responses: { '200': { description: 'ok' } },
      },
    },
    '/v2/me/settings': {
      post: {
        operationId: 'changeSettings',
        requestBody: {
          required: true,
          content: {
            'application/xml': {
              schema: { type: 'object', xml: { name: 'settings' }, properties: { email: text, phone: text } },
            },
          },
        },
        responses: { '200': { description: 'ok' } },
      },
    },
    '/v2/books': creation('addBook'),
    '/v2/shelves': creation('addShelf'),
    '/v2/quotes': creation('addQuote'),
    '/v2/reviews': creation('addReview'),
  },
};

interface ReadingList {
  url: string;
  server: Server;
  /** Account changes made from an XML body, per user. */
  xmlAccountChanges: string[];
  /** XML documents sent to the creations. */
  xmlCreations: number;
}

async function startReadingList(fixed: boolean): Promise<ReadingList> {
  const api = { xmlAccountChanges: [] as string[], xmlCreations: 0 };
  const s = await startServer((req, res) => {
    const json = (status: number, b: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(b));
    };
    const user = { 'k-alice': 'alice', 'k-bob': 'bob' }[String(req.headers['x-api-key'])];
    if (!user) return json(401, { error: 'api key' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '').split('?')[0];
      const xml = /xml/.test(String(req.headers['content-type'] ?? ''));
      if (xml && fixed) return json(415, { error: 'JSON only' });
      let fields: Record<string, string> = {};
      if (xml) for (const m of raw.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) fields[m[1]] = m[2];
      else {
        try {
          fields = raw ? JSON.parse(raw) : {};
        } catch {
          return json(400, { error: 'bad json' });
        }
      }
      if (req.method !== 'POST') return json(404, { error: 'not found' });
      if (path === '/v2/me/password' || path === '/v2/user/email' || path === '/v2/me/settings') {
        if (xml) api.xmlAccountChanges.push(`${user} ${path} ${JSON.stringify(fields)}`);
        return json(200, { ok: true });
      }
      if (['/v2/books', '/v2/shelves', '/v2/quotes', '/v2/reviews'].includes(path)) {
        if (xml) {
          api.xmlCreations++;
          // The worker pool never answers; the connection is dropped long after the scan gave up.
          setTimeout(() => res.destroy(), 3000);
          return;
        }
        return json(201, { id: 1, ...fields });
      }
      return json(404, { error: 'not found' });
    });
  });
  return Object.assign(api, { url: s.url, server: s.server });
}

describe('XXE safety: account actions and XML that hangs', () => {
  let scans: TwinScans<ReadingList>;
  before(async () => {
    scans = await scanTwins(SPEC, startReadingList, {
      identities: [
        { name: 'alice', headers: { 'X-Api-Key': 'k-alice' } },
        { name: 'bob', headers: { 'X-Api-Key': 'k-bob' } },
      ],
      checks: ['API8'],
      ratePerSecond: 200,
      timeoutMs: 700,
    });
  });

  test('no XML document reaches the password or e-mail change of a given identity', () => {
    assert.deepEqual(scans.vulnerable.api.xmlAccountChanges, []);
    assert.deepEqual(scans.fixed.api.xmlAccountChanges, []);
  });

  test('after one unanswered XML document, no other identity and no other JSON creation is tried as XML', () => {
    assert.equal(scans.vulnerable.api.xmlCreations, 1);
  });

  test('no XXE finding on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        scans[kind].result.findings.filter((f) => f.rule.id === 'scan/api8-xxe').map((f) => f.message),
        [],
      );
  });
});
