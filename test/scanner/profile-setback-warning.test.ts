import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { renderJson } from '../../src/scanner/report/json.ts';
import { renderJunit } from '../../src/scanner/report/junit.ts';
import { renderText } from '../../src/scanner/report/text.ts';
import { escapeXml } from '../../src/scanner/report/xml.ts';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * When the injection probes of a given identity's own profile cannot be set back, the report says so loudly: a
 * warning (not a note, not an "elevated" identity) naming the identity, the field and the value it had, in the JSON,
 * JUnit and text reports. A small guestbook API with bearer tokens: `GET /api/me` and `PATCH /api/me {display_name,
 * bio}`; each user may change the profile `EDITS` times, then every change is refused (429). No sign-up, so the
 * probes go to alice's own profile; after the quota the set-back is refused too and alice keeps a payload.
 * A second API with no quota: the probes are set back, no such warning.
 */
const EDITS = 6;

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
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'guestbook', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/me': {
      get: { operationId: 'readMe', responses: ok(PROFILE) },
      patch: {
        operationId: 'updateMe',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { display_name: { type: 'string' }, bio: { type: 'string' } },
              },
            },
          },
        },
        responses: { ...ok(PROFILE), '429': { description: 'edit limit reached' } },
      },
    },
  },
};

interface User {
  id: number;
  username: string;
  display_name: string;
  bio: string;
  edits: number;
}
const SEEDED = [
  { id: 1, username: 'alice', display_name: 'Alice', bio: 'walks by the river' },
  { id: 2, username: 'bob', display_name: 'Bob', bio: 'bakes bread' },
];
const TOKENS: Record<string, string> = { 'tok-alice-3f1a9c': 'alice', 'tok-bob-8e2d4b': 'bob' };

interface Guestbook extends TestServer {
  readonly users: Map<string, User>;
}

async function startGuestbook(quota: number): Promise<Guestbook> {
  const users = new Map<string, User>(SEEDED.map((u) => [u.username, { ...u, edits: 0 }]));
  const server = await startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const who = TOKENS[/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''];
    const me = who === undefined ? undefined : users.get(who);
    if (me === undefined) return sendJson(res, 401, { error: 'sign in' });
    const view = () => ({ id: me.id, username: me.username, display_name: me.display_name, bio: me.bio });
    if (path !== '/api/me') return sendJson(res, 404, { error: 'not found' });
    if (req.method === 'GET') return sendJson(res, 200, view());
    if (req.method !== 'PATCH') return sendJson(res, 405, { error: 'method not allowed' });
    const body = (await readJson(req)) ?? {};
    for (const k of ['display_name', 'bio'] as const)
      if (k in body && (typeof body[k] !== 'string' || (body[k] as string).length > 500))
        return sendJson(res, 422, { error: `${k} is invalid` });
    if (me.edits >= quota) return sendJson(res, 429, { error: 'edit limit reached for today' });
    me.edits++;
    for (const k of ['display_name', 'bio'] as const) if (typeof body[k] === 'string') me[k] = body[k];
    return sendJson(res, 200, view());
  });
  return { ...server, users };
}

async function scan(quota: number): Promise<{ result: ScanResult; api: Guestbook }> {
  const api = await startGuestbook(quota);
  try {
    const result = await scanDocument(SPEC, api.url, {
      identities: [
        { name: 'alice', bearer: 'tok-alice-3f1a9c' },
        { name: 'bob', bearer: 'tok-bob-8e2d4b' },
      ],
      checks: ['API8'],
      ratePerSecond: 400,
      timeDelayMs: 300,
    });
    return { result, api };
  } finally {
    await api.close();
  }
}

const SET_BACK = /could not be set back/;

describe('a profile the injection probes could not set back is a warning of the report', () => {
  let limited: { result: ScanResult; api: Guestbook };
  let open: { result: ScanResult; api: Guestbook };
  before(async () => {
    limited = await scan(EDITS);
    open = await scan(1_000_000);
  });

  test('the quota kept a payload on alice’s profile (the case the warning is for)', () => {
    const alice = limited.api.users.get('alice')!;
    assert.equal(alice.edits, EDITS);
    assert.ok(alice.display_name !== 'Alice' || alice.bio !== 'walks by the river', JSON.stringify(alice));
    // bob's profile was never written.
    assert.equal(limited.api.users.get('bob')!.edits, 0);
  });

  test('the warning names alice, each field kept and the value it had, and asks for a reset by hand', () => {
    const alice = limited.api.users.get('alice')!;
    const lines = limited.result.warnings.filter((w) => SET_BACK.test(w));
    assert.equal(lines.length, 1, limited.result.warnings.join('\n'));
    const [line] = lines;
    assert.match(line, /^API8: /);
    assert.match(line, /PATCH \/api\/me/);
    assert.match(line, /reset it on the target by hand/);
    if (alice.bio !== 'walks by the river')
      assert.match(line, /alice's bio could not be set back to 'walks by the river'/);
    if (alice.display_name !== 'Alice')
      assert.match(line, /alice's display_name could not be set back to 'Alice'/);
    // A warning, not an identity made privileged, and not a note of the report.
    assert.ok(!limited.result.warnings.some((w) => /ELEVATED/.test(w)));
    assert.ok(!limited.result.notes.some((n) => SET_BACK.test(n)), limited.result.notes.join('\n'));
  });

  test('it reaches the JSON, JUnit and text reports', () => {
    const line = limited.result.warnings.find((w) => SET_BACK.test(w))!;
    const json = JSON.parse(renderJson(limited.result)) as { warnings?: string[] };
    assert.ok(json.warnings?.includes(line), JSON.stringify(json.warnings));
    const xml = renderJunit(limited.result);
    assert.ok(xml.includes(`<skipped message="${escapeXml(line)}"/>`), xml.slice(0, 2000));
    assert.ok(renderText(limited.result).includes(line));
  });

  test('set back when the API takes the change: profiles as seeded, no such warning', () => {
    for (const u of SEEDED) {
      const now = open.api.users.get(u.username)!;
      assert.deepEqual(
        { display_name: now.display_name, bio: now.bio },
        { display_name: u.display_name, bio: u.bio },
      );
    }
    assert.ok(open.api.users.get('alice')!.edits > EDITS);
    assert.ok(!open.result.warnings.some((w) => SET_BACK.test(w)), open.result.warnings.join('\n'));
  });
});
