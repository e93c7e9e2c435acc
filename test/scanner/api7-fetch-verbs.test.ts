import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * URL inputs of operations that fetch once and store nothing on the caller's account, at paths with an account
 * word: `POST /api/import-user {externalApiUrl}` (`format: uri`: a user record read from another system) and
 * `POST /api/members/preview-link {link}`. Missed in session 14 (a third-party Express API's `externalApiUrl`): the
 * word `user` made the input one that may stay on the sender's account, probed only as an account the scan
 * registered, and the API has no sign-up, so the canary was never sent. `PUT /api/me/homepage {homepage}` stays
 * held back (it stores the URL on the given identity's own record).
 *
 * And `POST /api/media/from-url`, documented without a body (NestJS's `@Body() body: {url}`), which answers `{}` with
 * "a url is required" and names no member: the path's URL word is the member tried.
 *
 * Style: Express-like, `X-Api-Key` identities (no sign-up, no login), `{error}` bodies, 200 answers. The vulnerable
 * twin fetches whatever it is given; the fixed twin fetches only https URLs (400 otherwise).
 */
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'club directory', version: '1.4.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/api/import-user': {
      post: {
        operationId: 'importUser',
        requestBody: json({ externalApiUrl: { type: 'string', format: 'uri' } }, ['externalApiUrl']),
        responses: { '200': { description: 'imported' }, '400': { description: 'bad url' } },
      },
    },
    '/api/members/preview-link': {
      post: {
        operationId: 'previewLink',
        requestBody: json({ link: { type: 'string' } }, ['link']),
        responses: { '200': { description: 'a preview' }, '400': { description: 'bad url' } },
      },
    },
    // NestJS documents no body for `@Body() body: { url: string }`.
    '/api/media/from-url': {
      post: { operationId: 'mediaFromUrl', responses: { '201': { description: 'stored' } } },
    },
    '/api/me/homepage': {
      put: {
        operationId: 'setHomepage',
        requestBody: json({ homepage: { type: 'string', format: 'uri' } }, ['homepage']),
        responses: { '200': { description: 'saved' } },
      },
    },
    '/api/me': { get: { operationId: 'me', responses: { '200': { description: 'you' } } } },
  },
};

const KEYS = { ada: randomBytes(12).toString('hex'), bert: randomBytes(12).toString('hex') };

type Club = TwinTarget & { homepages: Map<string, string>; fetched: string[] };

function startClub(fixed: boolean): Promise<Club> {
  const homepages = new Map<string, string>([
    ['ada', 'https://ada.club.test/'],
    ['bert', 'https://bert.club.test/'],
  ]);
  const fetched: string[] = [];
  return startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const who = Object.entries(KEYS).find(([, k]) => k === req.headers['x-api-key'])?.[0];
    if (!who) return send(401, { error: 'api key required' });
    const fetchOnce = async (link: unknown) => {
      if (typeof link !== 'string' || !/^https?:\/\//.test(link)) return { error: 'a url is required' };
      if (fixed && !link.startsWith('https://')) return { error: 'only https sources' };
      fetched.push(link);
      try {
        const r = await fetch(link, { signal: AbortSignal.timeout(1500) });
        return { status: r.status, bytes: (await r.arrayBuffer()).byteLength };
      } catch {
        return { status: 0, bytes: 0 };
      }
    };
    if (req.method === 'POST' && url.pathname === '/api/import-user') {
      const got = await fetchOnce(b.externalApiUrl);
      return 'error' in got ? send(400, got) : send(200, { message: 'User imported', source: got });
    }
    if (req.method === 'POST' && url.pathname === '/api/members/preview-link') {
      const got = await fetchOnce(b.link);
      return 'error' in got ? send(400, got) : send(200, { preview: got });
    }
    if (req.method === 'POST' && url.pathname === '/api/media/from-url') {
      const got = await fetchOnce(b.url);
      return 'error' in got
        ? send(400, { success: false, ...got })
        : send(201, { success: true, media: got });
    }
    if (req.method === 'PUT' && url.pathname === '/api/me/homepage') {
      if (typeof b.homepage !== 'string') return send(400, { error: 'homepage is required' });
      homepages.set(who, b.homepage);
      return send(200, { homepage: b.homepage });
    }
    if (req.method === 'GET' && url.pathname === '/api/me')
      return send(200, { name: who, homepage: homepages.get(who) });
    return send(404, { error: 'not found' });
  }).then((api) => Object.assign(api, { homepages, fetched }));
}

const ssrf = (r: ScanResult) =>
  r.findings
    .filter((f) => f.rule.id === 'scan/api7-ssrf')
    .map((f) => f.operation?.operationId ?? '')
    .sort();

describe('URL inputs of operations that fetch once, at paths with an account word', () => {
  let runs: TwinScans<Club>;
  before(async () => {
    runs = await scanTwins(SPEC, startClub, {
      identities: Object.entries(KEYS).map(([name, key]) => ({ name, headers: { 'X-Api-Key': key } })),
      checks: ['API7'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: the import, the preview and the undocumented from-url body reach the canary', () => {
    assert.deepEqual(ssrf(runs.vulnerable.result), ['importUser', 'mediaFromUrl', 'previewLink']);
  });

  test('fixed: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });

  test("the given identities' homepages are never changed", () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(Object.fromEntries(runs[kind].api.homepages), {
        ada: 'https://ada.club.test/',
        bert: 'https://bert.club.test/',
      });
  });
});
