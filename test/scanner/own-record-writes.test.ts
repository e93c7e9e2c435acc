import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { renderJson } from '../../src/scanner/report/json.ts';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Writes to parts of one's own record under another name leave a given identity's record as it was. A small
 * settings API with bearer tokens: `GET /api/me` shows the caller's record; `PATCH /api/me {display_name}`,
 * `POST /api/me/avatar {url}`, `POST /api/me/notifications {email_on}` and `POST /api/account/bio {bio}` each
 * replace one part of it; `POST /api/me/addresses` adds an address (a documented sub-collection with an item
 * route: the scan's own objects, which it may create). Each user may rename itself `quota` times, then every
 * rename is refused (429).
 *
 * A plain scan (no --allow-destructive, no quota) of every check but API7, API8 and API10, and one of every check: alice's and bob's
 * records are as seeded, and discovery sent none of the three POSTs (before, it sent each once as alice with
 * sampled values: a made-up avatar URL, email_on flipped, a portcullis-<hex> bio). API3 probes the two whose
 * fields `GET /api/me` shows as an update of bob's record (read first, set back), and not the avatar (`url` is
 * shown nowhere); API7's and API10's URL probes leave writes to one's own record alone, and API8's injection
 * probes of `POST /api/account/bio` read the record first and set it back (or, with no read, are not sent). With
 * a quota of one rename, API3's probe of `PATCH /api/me` cannot
 * set bob's display name back: the report warns, by name, field and former value.
 */
const RECORD = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    display_name: { type: 'string' },
    avatar_url: { type: 'string' },
    email_on: { type: 'boolean' },
    bio: { type: 'string' },
  },
};
const ADDRESS = {
  type: 'object',
  properties: { id: { type: 'integer' }, label: { type: 'string' }, street: { type: 'string' } },
};
const ok = (schema: object) => ({
  '200': { description: 'ok', content: { 'application/json': { schema } } },
  '429': { description: 'rename limit reached' },
});
const body = (properties: Record<string, object>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', required, properties } } },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'settings', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/me': {
      get: { operationId: 'readMe', responses: ok(RECORD) },
      patch: {
        operationId: 'renameMe',
        requestBody: body({ display_name: { type: 'string' } }, ['display_name']),
        responses: ok(RECORD),
      },
    },
    '/api/me/avatar': {
      post: {
        operationId: 'setAvatar',
        requestBody: body({ url: { type: 'string', format: 'uri' } }, ['url']),
        responses: ok(RECORD),
      },
    },
    '/api/me/notifications': {
      post: {
        operationId: 'setNotifications',
        requestBody: body({ email_on: { type: 'boolean' } }, ['email_on']),
        responses: ok(RECORD),
      },
    },
    '/api/account/bio': {
      post: {
        operationId: 'setBio',
        requestBody: body({ bio: { type: 'string', maxLength: 200 } }, ['bio']),
        responses: ok(RECORD),
      },
    },
    '/api/me/addresses': {
      get: { operationId: 'listAddresses', responses: ok({ type: 'array', items: ADDRESS }) },
      post: {
        operationId: 'addAddress',
        requestBody: body({ label: { type: 'string' }, street: { type: 'string' } }, ['label', 'street']),
        responses: { '201': { description: 'added', content: { 'application/json': { schema: ADDRESS } } } },
      },
    },
    '/api/me/addresses/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'readAddress', responses: ok(ADDRESS) },
      delete: { operationId: 'removeAddress', responses: { '204': { description: 'removed' } } },
    },
  },
};

interface Address {
  id: number;
  label: string;
  street: string;
}
interface User {
  id: number;
  username: string;
  display_name: string;
  avatar_url: string;
  email_on: boolean;
  bio: string;
  addresses: Address[];
  renames: number;
}
const SEEDED = [
  {
    id: 1,
    username: 'alice',
    display_name: 'Alice',
    avatar_url: 'https://img.example/alice.png',
    email_on: true,
    bio: 'walks by the river',
    addresses: [{ id: 1, label: 'home', street: '1 River Lane' }],
  },
  {
    id: 2,
    username: 'bob',
    display_name: 'Bob',
    avatar_url: 'https://img.example/bob.png',
    email_on: false,
    bio: 'bakes bread',
    addresses: [{ id: 2, label: 'home', street: '2 Mill Road' }],
  },
];
const TOKENS: Record<string, string> = { 'tok-alice-5c1e07': 'alice', 'tok-bob-9a3f62': 'bob' };

interface Settings extends TestServer {
  readonly users: Map<string, User>;
  /** `user METHOD path`, each write in order. */
  readonly writes: string[];
}

async function startSettings(quota: number): Promise<Settings> {
  const users = new Map<string, User>(
    SEEDED.map((u) => [u.username, { ...u, addresses: u.addresses.map((a) => ({ ...a })), renames: 0 }]),
  );
  const writes: string[] = [];
  let nextAddress = 100;
  const server = await startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0].replace(/\/$/, '');
    const who = TOKENS[/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''];
    const me = who === undefined ? undefined : users.get(who);
    if (me === undefined) return sendJson(res, 401, { error: 'sign in' });
    const view = () => ({
      id: me.id,
      username: me.username,
      display_name: me.display_name,
      avatar_url: me.avatar_url,
      email_on: me.email_on,
      bio: me.bio,
    });
    const item = /^\/api\/me\/addresses\/(\d+)$/.exec(path);
    if (req.method === 'GET') {
      if (path === '/api/me') return sendJson(res, 200, view());
      if (path === '/api/me/addresses') return sendJson(res, 200, me.addresses);
      const found = item ? me.addresses.find((a) => a.id === Number(item[1])) : undefined;
      return found ? sendJson(res, 200, found) : sendJson(res, 404, { error: 'not found' });
    }
    writes.push(`${me.username} ${req.method} ${path}`);
    if (req.method === 'DELETE' && item) {
      const at = me.addresses.findIndex((a) => a.id === Number(item[1]));
      if (at < 0) return sendJson(res, 404, { error: 'not found' });
      me.addresses.splice(at, 1);
      res.writeHead(204).end();
      return;
    }
    const input = (await readJson(req)) ?? {};
    const text = (k: string, max: number) =>
      typeof input[k] === 'string' && (input[k] as string).length <= max;
    if (req.method === 'PATCH' && path === '/api/me') {
      if (!text('display_name', 100)) return sendJson(res, 422, { error: 'display_name is invalid' });
      if (me.renames >= quota) return sendJson(res, 429, { error: 'rename limit reached for today' });
      me.renames++;
      me.display_name = input.display_name as string;
      return sendJson(res, 200, view());
    }
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' });
    if (path === '/api/me/avatar') {
      if (!text('url', 500) || !/^https?:\/\//.test(input.url as string))
        return sendJson(res, 422, { error: 'url is invalid' });
      me.avatar_url = input.url as string;
      return sendJson(res, 200, view());
    }
    if (path === '/api/me/notifications') {
      if (typeof input.email_on !== 'boolean') return sendJson(res, 422, { error: 'email_on is invalid' });
      me.email_on = input.email_on;
      return sendJson(res, 200, view());
    }
    if (path === '/api/account/bio') {
      if (!text('bio', 200)) return sendJson(res, 422, { error: 'bio is invalid' });
      me.bio = input.bio as string;
      return sendJson(res, 200, view());
    }
    if (path === '/api/me/addresses') {
      if (!text('label', 100) || !text('street', 200))
        return sendJson(res, 422, { error: 'invalid address' });
      const added = { id: nextAddress++, label: input.label as string, street: input.street as string };
      me.addresses.push(added);
      return sendJson(res, 201, added);
    }
    return sendJson(res, 404, { error: 'not found' });
  });
  return { ...server, users, writes };
}

async function scan(quota: number, checks: string[]): Promise<{ result: ScanResult; api: Settings }> {
  const api = await startSettings(quota);
  try {
    const result = await scanDocument(SPEC, api.url, {
      identities: [
        { name: 'alice', bearer: 'tok-alice-5c1e07' },
        { name: 'bob', bearer: 'tok-bob-9a3f62' },
      ],
      checks,
      ratePerSecond: 400,
      timeDelayMs: 300,
    });
    return { result, api };
  } finally {
    await api.close();
  }
}

/** A user's record without the rename count, and the seeded addresses it still holds. */
const record = (api: Settings, name: string) => {
  const { renames: _, addresses, ...rest } = api.users.get(name)!;
  const seeded = SEEDED.find((u) => u.username === name)!.addresses.map((a) => a.id);
  return { ...rest, addresses: addresses.filter((a) => seeded.includes(a.id)) };
};
const SET_BACK = /could not be set back/;

describe('writes to parts of one’s own record leave a given identity’s record as seeded', () => {
  let plain: { result: ScanResult; api: Settings };
  let limited: { result: ScanResult; api: Settings };
  let every: { result: ScanResult; api: Settings };
  before(async () => {
    plain = await scan(1_000_000, ['API1', 'API2', 'API3', 'API4', 'API5', 'API6', 'API9']);
    every = await scan(1_000_000, [
      'API1',
      'API2',
      'API3',
      'API4',
      'API5',
      'API6',
      'API7',
      'API8',
      'API9',
      'API10',
    ]);
    limited = await scan(1, ['API3']);
  });

  test('after a plain scan with every check (URL and injection probes too) the records equal their seeds', () => {
    for (const seed of SEEDED)
      assert.deepEqual(record(every.api, seed.username), seed, every.api.writes.join('\n'));
    // The URL probes (API7, API10) send nothing to a part of one's own record.
    for (const who of ['alice', 'bob'])
      assert.ok(
        !every.api.writes.some((w) => w === `${who} POST /api/me/avatar`) ||
          every.result.coverage.matrix.some(
            (m) => m.check === 'API8' && m.operation === 'POST /api/me/avatar',
          ),
        every.api.writes.join('\n'),
      );
  });

  test('after a plain scan alice’s and bob’s records equal their seeds', () => {
    for (const seed of SEEDED)
      assert.deepEqual(record(plain.api, seed.username), seed, plain.api.writes.join('\n'));
    assert.ok(!plain.result.warnings.some((w) => SET_BACK.test(w)), plain.result.warnings.join('\n'));
  });

  test('discovery sends none of the three POSTs, and a scan note names them', () => {
    const note = plain.result.notes.find((n) => /not sent in discovery/.test(n));
    assert.ok(note, plain.result.notes.join('\n'));
    for (const op of ['POST /api/me/avatar', 'POST /api/me/notifications', 'POST /api/account/bio'])
      assert.ok(note.includes(op), note);
    assert.ok(!note.includes('/api/me/addresses'), note);
  });

  test('a creation in the documented sub-collection of one’s own still goes (the scan’s own addresses)', () => {
    assert.ok(
      plain.api.writes.some((w) => /^(alice|bob) POST \/api\/me\/addresses$/.test(w)),
      plain.api.writes.join('\n'),
    );
    // No DELETE named a seeded address.
    assert.ok(
      !plain.api.writes.some((w) => / DELETE \/api\/me\/addresses\/[12]$/.test(w)),
      plain.api.writes.join('\n'),
    );
  });

  test('API3 probes the parts its read shows as an update of bob’s record, set back; not the avatar', () => {
    const sent = (what: string) => plain.api.writes.filter((w) => w === what).length;
    assert.ok(sent('bob POST /api/me/notifications') >= 2, plain.api.writes.join('\n'));
    assert.ok(sent('bob POST /api/account/bio') >= 2, plain.api.writes.join('\n'));
    for (const who of ['alice', 'bob']) assert.equal(sent(`${who} POST /api/me/avatar`), 0);
    const avatar = plain.result.coverage.matrix.find(
      (m) => m.check === 'API3' && m.operation === 'POST /api/me/avatar',
    );
    assert.match(avatar?.reason ?? '', /no documented read shows/, JSON.stringify(avatar));
  });

  test('a set-back the quota refuses: a warning in the JSON report names bob, the field and its former value', () => {
    // API3 probes the last identity's own record.
    const bob = limited.api.users.get('bob')!;
    assert.equal(bob.renames, 1);
    assert.notEqual(bob.display_name, 'Bob');
    const json = JSON.parse(renderJson(limited.result)) as { warnings?: string[] };
    const lines = (json.warnings ?? []).filter((w) => SET_BACK.test(w));
    assert.equal(lines.length, 1, JSON.stringify(json.warnings));
    assert.equal(
      lines[0],
      "API3: bob's display_name could not be set back to 'Bob' after the API3 probe of PATCH /api/me: reset it on the target by hand",
    );
    assert.deepEqual(record(limited.api, 'alice'), SEEDED[0]);
    // A warning, not an identity made privileged, nor a note of the report.
    assert.ok(!limited.result.warnings.some((w) => /ELEVATED/.test(w)), limited.result.warnings.join('\n'));
    assert.ok(!limited.result.notes.some((n) => SET_BACK.test(n)), limited.result.notes.join('\n'));
  });
});
