import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { JSON_TYPE, readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A birding field-notes archive (Gin-style snake_case, a key in `Api-Token`, 1,500 observations, 640 stations;
 * its document declares no answer schemas). `GET /catalog/search?q=` (q required, no paging declared) matches
 * names with `LIKE '%q%'`; `GET /observations/find?term=&max_rows=` declares a page size under a name of its own;
 * `GET /stations` declares no input and pages by `per_page`, which it names in its answer
 * (`{"stations": [...20], "per_page": 20, "total": 640}`); `GET /sightings` answers a Spring-like page (`content`,
 * `size`, `totalElements`) and `GET /species` a bare array of 10; `POST /stations/lookup {text}` searches station labels.
 *
 * Vulnerable: an empty q matches every observation and answers them all (an empty text every station); max_rows and an undeclared per_page are
 * honoured whatever their size. Fixed twin: q and text need two characters and a search answers 25 at most, max_rows is
 * clamped to 50, per_page to 50. The scan must report the three on the vulnerable twin and no API4 page finding on
 * the fixed one.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'field notes archive', version: '0.9.2' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Api-Token' } } },
  security: [{ token: [] }],
  paths: {
    '/catalog/search': {
      get: {
        operationId: 'searchCatalog',
        parameters: [
          { name: 'q', in: 'query', required: true, schema: { type: 'string' }, example: 'heron' },
        ],
        responses: { '200': { description: 'matching observations' }, '400': { description: 'bad query' } },
      },
    },
    '/observations/find': {
      get: {
        operationId: 'findObservations',
        parameters: [
          { name: 'term', in: 'query', schema: { type: 'string' }, example: 'heron' },
          { name: 'max_rows', in: 'query', schema: { type: 'integer', minimum: 1 } },
        ],
        responses: { '200': { description: 'observations found' } },
      },
    },
    '/stations/lookup': {
      post: {
        operationId: 'lookupStations',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['text'],
                properties: { text: { type: 'string', example: 'hide 4' } },
              },
            },
          },
        },
        responses: { '200': { description: 'stations whose label holds the text' } },
      },
    },
    '/sightings': {
      get: { operationId: 'listSightings', responses: { '200': { description: 'a page of sightings' } } },
    },
    '/species': {
      get: { operationId: 'listSpecies', responses: { '200': { description: 'species' } } },
    },
    '/stations': {
      get: { operationId: 'listStations', responses: { '200': { description: 'stations, a page of them' } } },
    },
  },
};

const SPECIES = ['grey heron', 'mallard', 'common tern', 'kestrel', 'little grebe', 'coot'];
const OBSERVATIONS = Array.from({ length: 1500 }, (_, i) => ({
  obs_id: i + 1,
  species: SPECIES[i % SPECIES.length],
  station_id: (i % 640) + 1,
}));
const STATIONS = Array.from({ length: 640 }, (_, i) => ({ station_id: i + 1, label: `hide ${i + 1}` }));
const TOKENS = new Set(['tok-ruth-3a91', 'tok-emil-77c2']);

function startArchive(fixed: boolean): Promise<TwinTarget> {
  return startServer(async (req, res) => {
    // A rate limit announced on every answer: the burst probe has nothing to report on either twin.
    const send = (status: number, payload: unknown) =>
      sendJson(res, status, payload, { ...JSON_TYPE, 'x-ratelimit-limit': '600' });
    if (!TOKENS.has(String(req.headers['api-token']))) return send(401, { error_code: 'NO_TOKEN' });
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/stations/lookup') {
      const body = (await readJson(req)) ?? {};
      const text = typeof body.text === 'string' ? body.text : '';
      if (fixed && text.trim().length < 2) return send(400, { error_code: 'TEXT_TOO_SHORT' });
      const found = STATIONS.filter((st) => st.label.includes(text));
      return send(200, { stations: fixed ? found.slice(0, 25) : found });
    }
    if (req.method !== 'GET') return send(405, { error_code: 'METHOD' });
    const size = (name: string, fallback: number, clamp: number) => {
      const raw = url.searchParams.get(name);
      const n = raw === null ? fallback : Number(raw);
      if (!Number.isInteger(n) || n < 1) return undefined;
      return fixed ? Math.min(n, clamp) : n;
    };
    const like = (text: string) => OBSERVATIONS.filter((o) => o.species.includes(text.toLowerCase()));
    if (url.pathname === '/catalog/search') {
      const q = url.searchParams.get('q');
      if (q === null) return send(400, { error_code: 'Q_REQUIRED' });
      if (fixed && q.trim().length < 2) return send(400, { error_code: 'Q_TOO_SHORT' });
      const found = like(q);
      return send(200, { matches: fixed ? found.slice(0, 25) : found, took_ms: 3 });
    }
    if (url.pathname === '/observations/find') {
      const rows = size('max_rows', 20, 50);
      if (rows === undefined) return send(400, { error_code: 'MAX_ROWS' });
      const found = like(url.searchParams.get('term') ?? '');
      return send(200, { observations: found.slice(0, rows), total: found.length });
    }
    if (url.pathname === '/sightings') {
      // A Spring-like page: its size named `size` beside totalElements.
      const pageSize = size('size', 20, 50);
      if (pageSize === undefined) return send(400, { error_code: 'SIZE' });
      return send(200, {
        content: OBSERVATIONS.slice(0, pageSize),
        size: pageSize,
        totalElements: OBSERVATIONS.length,
      });
    }
    if (url.pathname === '/species') {
      // A bare array of 10; the vulnerable twin also honours an undeclared limit, the fixed one ignores it.
      const limit = fixed ? 10 : (size('limit', 10, 10) ?? 10);
      return send(200, OBSERVATIONS.slice(0, limit));
    }
    if (url.pathname === '/stations') {
      const perPage = size('per_page', 20, 50);
      if (perPage === undefined) return send(400, { error_code: 'PER_PAGE' });
      return send(200, { stations: STATIONS.slice(0, perPage), per_page: perPage, total: STATIONS.length });
    }
    return send(404, { error_code: 'NOT_FOUND' });
  });
}

describe('API4: searches that match everything and page sizes past the document', () => {
  let scans: TwinScans<TwinTarget>;
  before(async () => {
    scans = await scanTwins(SPEC, startArchive, {
      identities: [
        { name: 'ruth', headers: { 'Api-Token': 'tok-ruth-3a91' } },
        { name: 'emil', headers: { 'Api-Token': 'tok-emil-77c2' } },
      ],
      checks: ['API4'],
      ratePerSecond: 200,
    });
  });

  const pages = (kind: 'vulnerable' | 'fixed') =>
    scans[kind].result.findings
      .filter((f) => /api4-(unbounded-page-size|no-pagination|page-limit-ignored)/.test(f.rule.id))
      .map((f) => `${f.rule.id} ${f.operation?.operationId}`)
      .sort();

  test('vulnerable: the empty searches (GET and POST), the large max_rows and the undeclared per_page are reported', () => {
    assert.deepEqual(pages('vulnerable'), [
      'scan/api4-no-pagination lookupStations',
      'scan/api4-no-pagination searchCatalog',
      'scan/api4-unbounded-page-size findObservations',
      'scan/api4-unbounded-page-size listSightings',
      'scan/api4-unbounded-page-size listSpecies',
      'scan/api4-unbounded-page-size listStations',
    ]);
  });

  test('fixed: no page finding', () => {
    assert.deepEqual(pages('fixed'), []);
  });
});
