import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, sendJson } from './small-api.ts';
import { headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Three exposures session 15's measurement named by cause: a static folder served with its directory listing (a
 * database dump beside the posters), a settings file with a password in that folder (the scan looked for
 * configuration files below the documented folders only), and a CSV export that anyone can download holding every
 * volunteer's e-mail and phone. The scan reported none: it never asked for a folder, and its personal-data readings
 * read JSON only.
 *
 * Style: a Hapi-style volunteer registry (`{statusCode, error, message}` errors, `Authorization: Bearer`), events that
 * link their posters under `/media/posters/` (a folder no usual list has at its depth), nginx-style `Index of`
 * pages. Both twins serve a public CSV of the events (no personal data: no finding); the fixed twin lists no folder
 * (404) and asks for a token before the volunteers' export.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'volunteer registry', version: '2.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/api/events': {
      get: { operationId: 'listEvents', responses: { '200': { description: 'events' } } },
    },
    '/api/events/export': {
      get: {
        operationId: 'exportEvents',
        responses: { '200': { description: 'events as CSV', content: { 'text/csv': {} } } },
      },
    },
    '/api/volunteers/export': {
      get: {
        operationId: 'exportVolunteers',
        summary: 'Volunteers as CSV, for the newsletter',
        responses: { '200': { description: 'volunteers as CSV', content: { 'text/csv': {} } } },
      },
    },
    '/api/me': {
      get: {
        operationId: 'me',
        security: [{ bearer: [] }],
        responses: { '200': { description: 'my record' } },
      },
    },
  },
};

const VOLUNTEERS = [
  {
    name: 'Ines Moreau',
    email: 'ines.moreau@example.org',
    phone: '+33 6 12 34 56 78',
    token: 'vt-ines-31c7',
  },
  { name: 'Tomas Lind', email: 'tomas.lind@example.org', phone: '+46 70 123 45 67', token: 'vt-tomas-9be2' },
  { name: 'Aiko Sato', email: 'aiko.sato@example.org', phone: '+81 90 1234 5678', token: 'vt-aiko-04d5' },
];
const EVENTS = [
  { id: 1, title: 'Harvest fair', day: '2026-12-12', poster: '/media/posters/harvest.png' },
  { id: 2, title: 'Beach clean-up', day: '2026-12-19', poster: '/media/posters/beach.png' },
];
const HEADERS = { 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };

function index(folder: string, entries: string[]): string {
  const links = entries
    .map((e) => `<a href="${e}">${e}</a>                 07-Dec-2026 09:12    2048`)
    .join('\n');
  return `<html>\r\n<head><title>Index of ${folder}</title></head>\r\n<body>\r\n<h1>Index of ${folder}</h1><hr><pre><a href="../">../</a>\n${links}\n</pre><hr></body>\r\n</html>\r\n`;
}

function startRegistry(fixed: boolean): Promise<TwinTarget> {
  const listings: Record<string, string[]> = {
    '/media/': ['posters/'],
    '/media/posters/': ['beach.png', 'harvest.png', 'registry-2026-11.sql'],
  };
  return startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const fail = (status: number, error: string, message: string) =>
      sendJson(res, status, { statusCode: status, error, message }, GUARDED_JSON);
    const csv = (text: string, name: string) => {
      res.writeHead(200, {
        ...HEADERS,
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="${name}"`,
      });
      res.end(text);
    };
    const who = VOLUNTEERS.find((v) => req.headers.authorization === `Bearer ${v.token}`);
    if (req.method !== 'GET') return fail(404, 'Not Found', 'Not Found');
    if (!fixed && listings[url.pathname]) {
      res.writeHead(200, { ...HEADERS, 'content-type': 'text/html' });
      return res.end(index(url.pathname, listings[url.pathname]));
    }
    if (!fixed && url.pathname === '/media/settings.json')
      return sendJson(
        res,
        200,
        { smtp: { host: 'mail.example.org', smtp_password: 'n8Qe-77-volunteer' } },
        GUARDED_JSON,
      );
    if (url.pathname === '/api/events') return sendJson(res, 200, EVENTS, GUARDED_JSON);
    if (url.pathname === '/api/events/export')
      return csv(
        `id,title,day\n${EVENTS.map((e) => `${e.id},"${e.title}",${e.day}`).join('\n')}\n`,
        'events.csv',
      );
    if (url.pathname === '/api/volunteers/export') {
      if (fixed && !who) return fail(401, 'Unauthorized', 'Missing authentication');
      const rows = VOLUNTEERS.map((v) => `"${v.name}",${v.email},${v.phone}`);
      return csv(`name,email,phone\n${rows.join('\n')}\n`, 'volunteers.csv');
    }
    if (url.pathname === '/api/me') {
      if (!who) return fail(401, 'Unauthorized', 'Missing authentication');
      return sendJson(res, 200, { name: who.name, email: who.email }, GUARDED_JSON);
    }
    return fail(404, 'Not Found', 'Not Found');
  });
}

const found = (r: ScanResult) =>
  [
    ...new Set(
      r.findings.map((f) => `${f.rule.id} ${f.operation?.operationId ?? f.operation?.path} ${f.severity}`),
    ),
  ].sort();

describe('a listed static folder and a CSV export of personal data open to anyone', () => {
  let runs: TwinScans<TwinTarget>;
  before(async () => {
    runs = await scanTwins(SPEC, startRegistry, {
      identities: headerIdentities(
        'Authorization',
        { ines: VOLUNTEERS[0].token, tomas: VOLUNTEERS[1].token },
        'Bearer',
      ),
      checks: ['API3', 'API8', 'API9'],
      ratePerSecond: 200,
    });
  });

  test('vulnerable: both listings (the one naming a dump high), the settings file in the linked folder, and the volunteers export, not the events one', () => {
    const all = found(runs.vulnerable.result);
    for (const want of [
      'scan/api8-directory-listing GET /media/ medium',
      'scan/api8-directory-listing GET /media/posters/ high',
      'scan/api3-sensitive-data-exposure exportVolunteers high',
      'scan/api9-undocumented-endpoint GET /media/settings.json high',
    ])
      assert.ok(all.includes(want), `${want}\n${all.join('\n')}`);
    assert.ok(!all.some((f) => f.includes('exportEvents')), all.join('\n'));
    const listing = runs.vulnerable.result.findings.find((f) => f.operation?.path === '/media/posters/');
    assert.match(listing?.message ?? '', /registry-2026-11\.sql/);
  });

  test('fixed: no finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });
});
