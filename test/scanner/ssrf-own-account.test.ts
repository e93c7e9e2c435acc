import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans } from './twins.ts';

/**
 * A crafts guild under `/v2`: members sign up (`POST /v2/signup {handle, secret, mail}`), sign in for a token
 * (`POST /v2/tokens`, `{"token": ...}`, sent as a bearer), read themselves at `GET /v2/member` and set their
 * picture from a link (`POST /v2/member/picture {picture_link}`, 201): the guild fetches the picture and keeps the
 * link on the member's row. A pattern preview (`POST /v2/imports/preview {source_url}`) fetches a link and keeps
 * nothing. Wardens import members from a roster link (`POST /v2/admin/members/import {roster_url}`, 403 to
 * members). A banner file (`POST /v2/member/banner`, multipart) keeps its file name on the row. The vulnerable twin fetches any link; the fixed one refuses loopback and private addresses (422).
 * SQLite behind it. The picture path says no `me` or `profile`: only its `member` word and its field say that
 * the link lands on the sender's own row. A plain scan must leave the given members' rows as they were (the
 * picture probed only as an account the scan registered itself) and still find both fetches on the vulnerable
 * twin, none on the fixed.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'crafts guild', version: '2.4.1' },
  components: { securitySchemes: { token: { type: 'http', scheme: 'bearer' } } },
  security: [{ token: [] }],
  paths: {
    '/v2/signup': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['handle', 'secret', 'mail'],
                properties: {
                  handle: { type: 'string' },
                  secret: { type: 'string', format: 'password' },
                  mail: { type: 'string', format: 'email' },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'member made' } },
      },
    },
    '/v2/tokens': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { handle: { type: 'string' }, secret: { type: 'string', format: 'password' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/v2/member': {
      get: { operationId: 'whoAmI', responses: { '200': { description: 'the caller' } } },
    },
    '/v2/member/picture': {
      post: {
        operationId: 'setPicture',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['picture_link'],
                properties: { picture_link: { type: 'string' } },
              },
            },
          },
        },
        responses: { '201': { description: 'picture set' }, '422': { description: 'bad link' } },
      },
    },
    '/v2/member/banner': {
      post: {
        operationId: 'setBanner',
        requestBody: {
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                properties: { banner: { type: 'string', format: 'binary' } },
              },
            },
          },
        },
        responses: { '201': { description: 'banner kept' } },
      },
    },
    '/v2/admin/members/import': {
      post: {
        operationId: 'importRoster',
        summary: 'Wardens only: import members from a roster file at a link',
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { roster_url: { type: 'string' } } },
            },
          },
        },
        responses: { '202': { description: 'import started' }, '403': { description: 'wardens only' } },
      },
    },
    '/v2/imports/preview': {
      post: {
        operationId: 'previewPattern',
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { source_url: { type: 'string' } } },
            },
          },
        },
        responses: { '200': { description: 'the first bytes' }, '422': { description: 'bad link' } },
      },
    },
  },
};

const MEMBERS = [
  { handle: 'wren', secret: 'Wren-loom-4471' },
  { handle: 'odile', secret: 'Odile-kiln-9023' },
];

interface Guild {
  readonly url: string;
  readonly server: import('node:http').Server;
  readonly db: DatabaseSync;
  readonly seed: string;
  /** The file names a given member's banner was sent. */
  readonly banners: string[];
}

/**
 * The seeded members' rows (the scan's own sign-ups come after them), the banner left out: discovery and API3
 * still send the planner's sample file (`portcullis-scan.txt`) to `/v2/member/banner` as a given member (the
 * runner's own-record guard does not know that path); the banner is checked by the names of the upload, XXE and
 * YAML probe files instead (`banners`).
 */
function seeded(db: DatabaseSync): string {
  return JSON.stringify(
    db.prepare('SELECT id, handle, secret, mail, picture_link FROM members WHERE id <= 3 ORDER BY id').all(),
  );
}

/** Loopback, private and link-local hosts, in the spellings a client accepts (decimal, short, bracketed). */
function privateHost(link: string): boolean {
  let host: string;
  try {
    host = new URL(link).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return true;
  }
  if (/^(localhost|.*\.localhost)$/i.test(host)) return true;
  if (/^\d+$/.test(host) || /^0x/i.test(host)) return true;
  if (isIP(host) === 6) return true;
  return /^(127\.|10\.|0\.|169\.254\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host);
}

async function fetchSome(link: string): Promise<number> {
  try {
    const res = await fetch(link, { signal: AbortSignal.timeout(1500) });
    return (await res.arrayBuffer()).byteLength;
  } catch {
    return -1;
  }
}

/** Tokens handed out before the scan (identities given as bearer tokens, no login the scan could use). */
const GIVEN_TOKENS: Record<string, number> = { 'gt-wren-given-5c1e': 1, 'gt-odile-given-90ab': 2 };

async function startGuild(fixed: boolean): Promise<Guild> {
  const db = new DatabaseSync(':memory:');
  db.exec(`CREATE TABLE members(id INTEGER PRIMARY KEY, handle TEXT UNIQUE, secret TEXT, mail TEXT, picture_link TEXT,
      banner TEXT);
    INSERT INTO members VALUES(1,'wren','Wren-loom-4471','wren@guild.test','https://cdn.guild.test/wren.png',
      'loom.jpg'),
      (2,'odile','Odile-kiln-9023','odile@guild.test','https://cdn.guild.test/odile.png','kiln.jpg'),
      (3,'sable','Sable-ward-6610','sable@guild.test',NULL,NULL);`);
  const banners: string[] = [];
  const sessions = new Map<string, number>(Object.entries(GIVEN_TOKENS));
  let next = 0;
  const bearerOf = (req: IncomingMessage) => {
    const auth = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
    return auth ? sessions.get(auth[1]) : undefined;
  };
  const { url, server } = await startServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/v2/member/banner') {
      const me = bearerOf(req);
      const text = await readText(req);
      if (me === undefined) return sendJson(res, 401, { problem: 'sign in first' });
      // The file's name as the client gave it, kept on the member's row.
      const name = /filename="([^"]{1,120})"/.exec(text)?.[1];
      if (!name) return sendJson(res, 422, { problem: 'a banner file is required' });
      if (me <= 2) banners.push(name);
      db.prepare('UPDATE members SET banner=? WHERE id=?').run(name, me);
      return sendJson(res, 201, { banner: name });
    }
    const body = (await readJson(req)) ?? {};
    if (req.method === 'POST' && path === '/v2/signup') {
      const { handle, secret, mail } = body;
      if (typeof handle !== 'string' || typeof secret !== 'string' || typeof mail !== 'string' || !handle)
        return sendJson(res, 422, { problem: 'handle, secret and mail are required' });
      try {
        const r = db
          .prepare('INSERT INTO members(handle, secret, mail, picture_link) VALUES(?,?,?,NULL)')
          .run(handle.slice(0, 80), secret, mail.slice(0, 120));
        return sendJson(res, 201, { member: { id: Number(r.lastInsertRowid), handle } });
      } catch {
        return sendJson(res, 409, { problem: 'handle taken' });
      }
    }
    if (req.method === 'POST' && path === '/v2/tokens') {
      const m = db
        .prepare('SELECT id FROM members WHERE handle=? AND secret=?')
        .get(String(body.handle ?? ''), String(body.secret ?? '')) as { id: number } | undefined;
      if (!m) return sendJson(res, 401, { problem: 'wrong handle or secret' });
      const token = `gt-${++next}-${Math.random().toString(36).slice(2)}`;
      sessions.set(token, m.id);
      return sendJson(res, 200, { token });
    }
    const me = bearerOf(req);
    if (me === undefined) return sendJson(res, 401, { problem: 'sign in first' });
    if (req.method === 'GET' && path === '/v2/member')
      return sendJson(
        res,
        200,
        db.prepare('SELECT id, handle, mail, picture_link FROM members WHERE id=?').get(me),
      );
    if (req.method === 'POST' && path === '/v2/admin/members/import') {
      if (me !== 3) return sendJson(res, 403, { problem: 'wardens only' });
      const link = body.roster_url;
      if (typeof link !== 'string' || !/^https?:\/\//i.test(link))
        return sendJson(res, 422, { problem: 'an http(s) link is required' });
      if (fixed && privateHost(link)) return sendJson(res, 422, { problem: 'the link must be public' });
      return sendJson(res, 202, { read: await fetchSome(link) });
    }
    if (req.method === 'POST' && (path === '/v2/member/picture' || path === '/v2/imports/preview')) {
      const link = path === '/v2/member/picture' ? body.picture_link : body.source_url;
      if (typeof link !== 'string' || !/^https?:\/\//i.test(link))
        return sendJson(res, 422, { problem: 'an http(s) link is required' });
      if (fixed && privateHost(link)) return sendJson(res, 422, { problem: 'the link must be public' });
      const bytes = await fetchSome(link);
      if (path === '/v2/imports/preview') return sendJson(res, 200, { bytes });
      db.prepare('UPDATE members SET picture_link=? WHERE id=?').run(link.slice(0, 300), me);
      return sendJson(res, 201, { picture_link: link, bytes });
    }
    return sendJson(res, 404, { problem: 'no such route' });
  });
  return { url, server, db, seed: seeded(db), banners };
}

describe("SSRF probes of a URL kept on the sender's own row go only as the scan's own account", () => {
  let runs: TwinScans<Guild>;
  before(async () => {
    runs = await scanTwins(SPEC, startGuild, {
      identities: MEMBERS.map((m) => ({
        name: m.handle,
        login: { path: '/v2/tokens', body: { handle: m.handle, secret: m.secret } },
      })),
      admin: {
        name: 'sable',
        login: { path: '/v2/tokens', body: { handle: 'sable', secret: 'Sable-ward-6610' } },
      },
      ratePerSecond: 200,
    });
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: the given members' rows are as seeded`, () => {
      const { api, result } = runs[kind];
      assert.equal(seeded(api.db), api.seed, operationsFound(result).join('\n'));
      const probes = api.banners.filter((n) => /^pcu|\.(svg|xml|ya?ml|html?)$/i.test(n));
      assert.deepEqual(probes, [], 'no upload, XXE or YAML probe file sent as a given member');
    });
  }

  test('vulnerable: the three fetches found, the picture as an account the scan registered', () => {
    const found = runs.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api7-ssrf');
    assert.deepEqual(found.map((f) => f.operation?.operationId).sort(), [
      'importRoster',
      'previewPattern',
      'setPicture',
    ]);
    const picture = found.find((f) => f.operation?.operationId === 'setPicture');
    const as = String((picture?.evidence as Record<string, unknown> | undefined)?.as ?? '');
    assert.ok(!MEMBERS.some((m) => m.handle === as) && as !== 'sable', `sent as ${as}`);
    // The wardens' import works on others' records: sent as the identities, the admin reaching it.
    const roster = found.find((f) => f.operation?.operationId === 'importRoster');
    assert.equal((roster?.evidence as Record<string, unknown> | undefined)?.as, 'sable');
  });

  test('fixed: no SSRF finding', () => {
    const found = runs.fixed.result.findings.filter((f) => f.rule.id === 'scan/api7-ssrf');
    assert.deepEqual(
      found.map((f) => f.message),
      [],
    );
  });
});

/** The same guild's document without its sign-up: the scan cannot have an account of its own. */
const NO_SIGNUP = {
  ...SPEC,
  paths: Object.fromEntries(Object.entries(SPEC.paths).filter(([p]) => p !== '/v2/signup')),
};

describe('without a sign-up (no account of its own): the picture probed as a member, then set back', () => {
  let runs: TwinScans<Guild>;
  before(async () => {
    runs = await scanTwins(NO_SIGNUP, startGuild, {
      identities: Object.entries(GIVEN_TOKENS).map(([token, id]) => ({
        name: MEMBERS[id - 1].handle,
        bearer: token,
      })),
      checks: ['API7', 'API10', 'API8', 'API4'],
      ratePerSecond: 200,
    });
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: the given members' rows are as seeded, no set-back warning`, () => {
      const { api, result } = runs[kind];
      assert.equal(seeded(api.db), api.seed, operationsFound(result).join('\n'));
      assert.deepEqual(
        api.banners.filter((n) => /^pcu|\.(svg|xml|ya?ml|html?)$/i.test(n)),
        [],
      );
      assert.deepEqual(
        result.warnings.filter((w) => w.includes('API7')),
        [],
      );
    });
  }

  test('vulnerable: the picture SSRF found as wren (read first, set back)', () => {
    const found = runs.vulnerable.result.findings.filter((f) => f.rule.id === 'scan/api7-ssrf');
    assert.deepEqual(found.map((f) => f.operation?.operationId).sort(), ['previewPattern', 'setPicture']);
    const picture = found.find((f) => f.operation?.operationId === 'setPicture');
    assert.equal((picture?.evidence as Record<string, unknown> | undefined)?.as, 'wren');
  });

  test('fixed: no SSRF finding', () => {
    assert.deepEqual(
      runs.fixed.result.findings.filter((f) => f.rule.id === 'scan/api7-ssrf').map((f) => f.message),
      [],
    );
  });
});
