import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Server, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { scanTwins } from './twins.ts';

/**
 * A reading club's profiles in a Sinatra-like style (plain JSON, `{"errors": [...]}`), in memory: anyone registers
 * (`POST /club/register {username, password}`) and signs in (`POST /club/login` → `{"token"}`, Bearer). The
 * caller's profile is `GET /club/me` and `PATCH /club/me {display_name, bio}`, which documents an optional
 * `?userId=` ("staff may update another member's profile by giving userId"). Review R1-11: that optional input ruled
 * out the scan's own account, and the injection probes of the profile went to alice's record instead.
 * Vulnerable: `userId` is honoured for anyone. Fixed twin: only for staff (nobody here).
 * On both, no write may reach a given member's record.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const CREDS = json({
  type: 'object',
  required: ['username', 'password'],
  properties: { username: { type: 'string' }, password: { type: 'string' } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'reading club', version: '1.0.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/club/register': {
      post: {
        operationId: 'register',
        security: [],
        requestBody: { required: true, content: CREDS },
        responses: { '201': { description: 'registered' } },
      },
    },
    '/club/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: { required: true, content: CREDS },
        responses: { '200': { description: 'a token' } },
      },
    },
    '/club/me': {
      get: { operationId: 'me', responses: { '200': { description: 'the caller' } } },
      patch: {
        operationId: 'updateMe',
        description: "Staff may update another member's profile by giving userId.",
        parameters: [{ name: 'userId', in: 'query', required: false, schema: { type: 'integer' } }],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            properties: { display_name: { type: 'string' }, bio: { type: 'string' } },
          }),
        },
        responses: { '200': { description: 'the profile' } },
      },
    },
  },
};

interface Member {
  id: number;
  username: string;
  password: string;
  display_name: string;
  bio: string;
}

interface Club {
  readonly url: string;
  readonly server: Server;
  readonly members: Member[];
  /** The ids of the members every PATCH wrote to. */
  readonly written: number[];
}

async function startClub(fixed: boolean): Promise<Club> {
  const members: Member[] = [
    { id: 1, username: 'alice', password: 'pages-alice-8', display_name: 'Alice', bio: 'likes sagas' },
    { id: 2, username: 'bob', password: 'pages-bob-9', display_name: 'Bob', bio: 'poetry' },
  ];
  const written: number[] = [];
  const tokens = new Map<string, number>();
  const send = (res: ServerResponse, status: number, body: unknown) =>
    sendJson(res, status, body, GUARDED_JSON);
  const card = (m: Member) => ({ id: m.id, username: m.username, display_name: m.display_name, bio: m.bio });
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && (url.pathname === '/club/register' || url.pathname === '/club/login')) {
      const b = await readJson(req);
      if (typeof b?.username !== 'string' || typeof b.password !== 'string')
        return send(res, 422, { errors: ['username and password'] });
      if (url.pathname === '/club/register') {
        if (members.some((m) => m.username === b.username) || members.length > 50)
          return send(res, 409, { errors: ['taken'] });
        const m = {
          id: members.length + 1,
          username: b.username,
          password: b.password,
          display_name: '',
          bio: '',
        };
        members.push(m);
        return send(res, 201, card(m));
      }
      const m = members.find((x) => x.username === b.username && x.password === b.password);
      if (!m) return send(res, 401, { errors: ['no'] });
      const token = randomBytes(12).toString('hex');
      tokens.set(token, m.id);
      return send(res, 200, { token });
    }
    const uid = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const me = members.find((m) => m.id === uid);
    if (!me) return send(res, 401, { errors: ['sign in'] });
    if (url.pathname !== '/club/me') return send(res, 404, { errors: ['no route'] });
    if (req.method === 'GET') return send(res, 200, card(me));
    if (req.method === 'PATCH') {
      const b = (await readJson(req)) ?? {};
      const asked = url.searchParams.get('userId');
      const target = asked !== null && !fixed ? members.find((m) => m.id === Number.parseInt(asked, 10)) : me;
      if (!target) return send(res, 404, { errors: ['no such member'] });
      written.push(target.id);
      if (typeof b.display_name === 'string') target.display_name = b.display_name;
      if (typeof b.bio === 'string') target.bio = b.bio;
      return send(res, 200, card(target));
    }
    send(res, 405, { errors: ['method'] });
  });
  return { ...api, members, written };
}

describe('an optional query input naming an account does not send the profile probes to a given member', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Club }>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startClub, {
        identities: [
          {
            name: 'alice',
            login: { path: '/club/login', body: { username: 'alice', password: 'pages-alice-8' } },
          },
          { name: 'bob', login: { path: '/club/login', body: { username: 'bob', password: 'pages-bob-9' } } },
        ],
        checks: ['API8'],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });

  test('the profile was probed, on an account the scan registered', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { written } = scans[kind].api;
      assert.ok(
        written.some((id) => id > 2),
        `${kind}: writes ${JSON.stringify(written)} ${JSON.stringify(scans[kind].result.coverage).slice(0, 1500)}`,
      );
    }
  });

  test('no write reached alice’s or bob’s record (the userId input left out)', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { written, members } = scans[kind].api;
      assert.deepEqual(
        written.filter((id) => id <= 2),
        [],
        kind,
      );
      assert.deepEqual(
        members.slice(0, 2).map((m) => [m.display_name, m.bio]),
        [
          ['Alice', 'likes sagas'],
          ['Bob', 'poetry'],
        ],
        kind,
      );
    }
  });
});
