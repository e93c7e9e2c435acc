import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * The injection probes of a write to a given identity's own profile leave nothing on it. A small journal API with
 * bearer tokens: each user reads `GET /api/me` and changes its display name and bio with `PATCH /api/me`. The
 * vulnerable twin pastes the bio into its SQL text (a lone quote answers 500 with the database's error); the fixed
 * twin binds it. Both store what they are sent. Two shapes:
 * - `given`: no sign-up; the probes go to alice's or bob's own profile, which is read first and set back after.
 * - `signup`: `POST /api/register` and `POST /api/login`: the probes go to an account of the scan's own.
 * After a plain scan (every check) alice's and bob's profiles are as seeded, and the SQL injection in the bio is
 * still found on the vulnerable twin only.
 */
type Shape = 'given' | 'signup' | 'given-post' | 'signup-post';
const SHAPES = ['given', 'signup', 'given-post', 'signup-post'] as const;
const signs = (shape: Shape) => shape.startsWith('signup');
/** Where the profile is read and written: `PATCH /api/me`, or `POST /api/profile` for the `-post` shapes. */
const at = (shape: Shape) => (shape.endsWith('-post') ? '/api/profile' : '/api/me');
const method = (shape: Shape) => (shape.endsWith('-post') ? 'POST' : 'PATCH');

const json = (properties: Record<string, unknown>, required: string[] = []) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const PROFILE = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    display_name: { type: 'string' },
    bio: { type: 'string' },
  },
};
const ok = (schema: object) => ({
  '200': { description: 'ok', content: { 'application/json': { schema } } },
});

function spec(shape: Shape) {
  return {
    openapi: '3.0.3',
    info: { title: 'journal', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      [at(shape)]: {
        get: { operationId: 'readMe', responses: ok(PROFILE) },
        [method(shape).toLowerCase()]: {
          operationId: 'updateMe',
          requestBody: json({ display_name: { type: 'string' }, bio: { type: 'string' } }),
          responses: { ...ok(PROFILE), '422': { description: 'invalid' } },
        },
      },
      '/api/entries': {
        get: { operationId: 'listEntries', responses: ok({ type: 'array', items: { type: 'object' } }) },
      },
      ...(signs(shape)
        ? {
            '/api/register': {
              post: {
                operationId: 'register',
                security: [],
                requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }, [
                  'username',
                  'password',
                ]),
                responses: { '201': { description: 'registered' }, '409': { description: 'taken' } },
              },
            },
            '/api/login': {
              post: {
                operationId: 'login',
                security: [],
                requestBody: json({ username: { type: 'string' }, password: { type: 'string' } }, [
                  'username',
                  'password',
                ]),
                responses: {
                  '200': {
                    description: 'signed in',
                    content: {
                      'application/json': {
                        schema: { type: 'object', properties: { token: { type: 'string' } } },
                      },
                    },
                  },
                  '401': { description: 'wrong' },
                },
              },
            },
          }
        : {}),
    },
  };
}

interface User {
  id: number;
  username: string;
  password: string;
  display_name: string;
  bio: string;
}
const SEEDED: readonly User[] = [
  { id: 1, username: 'alice', password: 'alice-pw-5d1c0e', display_name: 'Alice', bio: 'walks by the river' },
  { id: 2, username: 'bob', password: 'bob-pw-77e3a9', display_name: 'Bob', bio: 'bakes bread' },
];
const GIVEN_TOKENS: Record<string, string> = { 'tok-alice-0d9e1f': 'alice', 'tok-bob-4b2c7a': 'bob' };

interface Journal extends TestServer {
  readonly users: Map<string, User>;
  /** `METHOD path username` for every request with a known token, and the body of a write. */
  readonly log: string[];
}

async function startJournal(shape: Shape, fixed: boolean): Promise<Journal> {
  const users = new Map<string, User>(SEEDED.map((u) => [u.username, { ...u }]));
  const tokens = new Map<string, string>(Object.entries(GIVEN_TOKENS));
  const log: string[] = [];
  let next = 100;
  const server = await startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const body = req.method === 'GET' ? {} : ((await readJson(req)) ?? {});
    if (signs(shape) && req.method === 'POST' && (path === '/api/register' || path === '/api/login')) {
      const { username, password } = body;
      if (typeof username !== 'string' || typeof password !== 'string' || username.length > 64)
        return sendJson(res, 422, { error: 'username and password are required' });
      if (path === '/api/register') {
        if (users.has(username) || users.size > 200) return sendJson(res, 409, { error: 'taken' });
        const u: User = { id: next++, username, password, display_name: username, bio: '' };
        users.set(username, u);
        return sendJson(res, 201, { id: u.id, username });
      }
      const u = users.get(username);
      if (!u || u.password !== password) return sendJson(res, 401, { error: 'wrong user name or password' });
      const token = `tok-${u.username}-${next++}`;
      tokens.set(token, u.username);
      return sendJson(res, 200, { token });
    }
    const who = tokens.get(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const me = who === undefined ? undefined : users.get(who);
    if (me === undefined) return sendJson(res, 401, { error: 'sign in' });
    log.push(`${req.method} ${path} ${me.username}${req.method === 'GET' ? '' : ` ${JSON.stringify(body)}`}`);
    const view = (u: User) => ({ id: u.id, username: u.username, display_name: u.display_name, bio: u.bio });
    if (path === at(shape) && req.method === 'GET') return sendJson(res, 200, view(me));
    if (path === at(shape) && req.method === method(shape)) {
      for (const k of ['display_name', 'bio'] as const) {
        if (k in body && (typeof body[k] !== 'string' || (body[k] as string).length > 500))
          return sendJson(res, 422, { error: `${k} is invalid` });
      }
      const bio = typeof body.bio === 'string' ? body.bio : undefined;
      // The flaw: `UPDATE users SET bio = '<bio>' WHERE id = ?`; a lone quote ends the string early.
      if (!fixed && bio !== undefined && bio.replaceAll("''", '').includes("'"))
        return sendJson(res, 500, { error: `SQLITE_ERROR: near "${bio.slice(0, 40)}": syntax error` });
      for (const k of ['display_name', 'bio'] as const) if (typeof body[k] === 'string') me[k] = body[k];
      return sendJson(res, 200, view(me));
    }
    if (path === '/api/entries' && req.method === 'GET') return sendJson(res, 200, [{ id: 1, text: 'rain' }]);
    return sendJson(res, 404, { error: 'not found' });
  });
  return { ...server, users, log };
}

async function scan(shape: Shape, fixed: boolean): Promise<{ result: ScanResult; api: Journal }> {
  const api = await startJournal(shape, fixed);
  try {
    const result = await scanDocument(spec(shape), api.url, {
      identities: [
        { name: 'alice', bearer: 'tok-alice-0d9e1f' },
        { name: 'bob', bearer: 'tok-bob-4b2c7a' },
      ],
      ratePerSecond: 400,
      timeDelayMs: 300,
    });
    return { result, api };
  } finally {
    await api.close();
  }
}

const profiles = (api: Journal) =>
  ['alice', 'bob'].map((n) => {
    const u = api.users.get(n)!;
    return { username: u.username, display_name: u.display_name, bio: u.bio };
  });
const SEEDED_PROFILES = SEEDED.map((u) => ({
  username: u.username,
  display_name: u.display_name,
  bio: u.bio,
}));
const sqlFound = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api8-sql-injection').map((f) => f.operation?.operationId);

describe('injection probes of a given identity’s own profile leave nothing on it', () => {
  const runs = {} as Record<Shape, Record<'vulnerable' | 'fixed', { result: ScanResult; api: Journal }>>;
  before(async () => {
    for (const shape of SHAPES) {
      runs[shape] = { vulnerable: await scan(shape, false), fixed: await scan(shape, true) };
    }
  });

  for (const shape of SHAPES) {
    test(`${shape}: alice's and bob's profiles are as seeded after a plain scan, on both twins`, () => {
      for (const kind of ['vulnerable', 'fixed'] as const) {
        const { api, result } = runs[shape][kind];
        // Discovery sends no write to a given identity's own profile (`POST /api/profile` is no creation), and
        // the probes' payloads are set back: nothing of the scan's stays, not even a plain sample.
        assert.deepEqual(profiles(api), SEEDED_PROFILES, `${kind}: ${result.warnings.join('; ')}`);
        assert.ok(!result.notes.some((n) => /set back/.test(n)), `${kind}: ${result.notes.join('\n')}`);
        assert.ok(!result.warnings.some((w) => /set back/.test(w)), `${kind}: ${result.warnings.join('\n')}`);
      }
    });

    test(`${shape}: the SQL injection in the bio is found on the vulnerable twin only`, () => {
      const { vulnerable, fixed } = runs[shape];
      assert.deepEqual(
        sqlFound(vulnerable.result),
        ['updateMe'],
        vulnerable.result.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`).join('\n'),
      );
      assert.deepEqual(sqlFound(fixed.result), []);
    });
  }

  const probesBy = (api: Journal, shape: Shape, who: RegExp) =>
    api.log.filter((l) => {
      const m = /^(\S+) (\S+) (\S+) (.*)$/.exec(l);
      return m !== null && m[1] === method(shape) && m[2] === at(shape) && who.test(m[3]) && /'/.test(m[4]);
    });

  for (const shape of ['given', 'given-post'] as const) {
    test(`${shape}: the probes went to alice's own profile, which was set back after them`, () => {
      for (const kind of ['vulnerable', 'fixed'] as const) {
        const { api } = runs[shape][kind];
        assert.ok(probesBy(api, shape, /^alice$/).length > 2, `${kind}: ${api.log.join('\n')}`);
        assert.deepEqual(probesBy(api, shape, /^bob$/), [], kind);
      }
    });
  }

  // With a sign-up, a PATCH as well as a POST of one's own profile goes to an account of the scan's own (the runner
  // lets it write its own profile path): no write of any check or of discovery reaches alice's or bob's profile.
  for (const shape of ['signup', 'signup-post'] as const) {
    test(`${shape}: the probes went to an account of the scan’s own, none to alice or bob`, () => {
      for (const kind of ['vulnerable', 'fixed'] as const) {
        const { api } = runs[shape][kind];
        assert.ok(probesBy(api, shape, /^pci/).length > 2, `${kind}: ${api.log.join('\n')}`);
        assert.deepEqual(probesBy(api, shape, /^(alice|bob)$/), [], kind);
        // Whatever else reaches their profiles (API3's harmless marker member, an empty body) holds their own values.
        const foreign = api.log.filter((l) => {
          const m = /^(\S+) (\S+) (alice|bob) (.*)$/.exec(l);
          if (m === null || m[1] !== method(shape) || m[2] !== at(shape)) return false;
          const seeded = SEEDED.find((u) => u.username === m[3])!;
          const body = JSON.parse(m[4]) as Record<string, unknown>;
          return Object.entries(body).some(
            ([k, v]) => k !== 'portcullisProbe' && v !== seeded[k as 'display_name' | 'bio'],
          );
        });
        assert.deepEqual(foreign, [], kind);
      }
    });
  }
});
