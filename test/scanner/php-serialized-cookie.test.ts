import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A PHP-style allotment-garden site: `POST /login.php` (form: `user`, `pass`) answers `200 {"ok": 1}` and sets
 * `garden=<URL-encoded PHP serialize() of the member>`: `a:4:{s:3:"uid";i:12;s:4:"user";s:5:"hilde";s:4:"role";
 * s:6:"member";s:5:"nonce";s:12:"<random hex>";}`. `GET /plot.php` answers the caller's plot, `GET /admin/members.php` the roster (committee only,
 * 403 otherwise). No session otherwise: 401 `{"ok": 0, "err": ...}`.
 *
 * Vulnerable: the cookie is unserialised and believed (uid and role). A string whose declared length is wrong
 * does not unserialise (as PHP's unserialize() returns false). Fixed twin: only cookie values it issued count
 * (each holds a random nonce, so no one can compute another member's).
 */
interface Gardener {
  uid: number;
  user: string;
  pass: string;
  role: string;
  plot: string;
  crops: string[];
}
const GARDENERS: Gardener[] = [
  {
    uid: 12,
    user: 'hilde',
    pass: 'Hilde-grows-kale-5',
    role: 'member',
    plot: 'P-03',
    crops: ['kale', 'leeks'],
  },
  {
    uid: 19,
    user: 'oskar',
    pass: 'Oskar-grows-beans-8',
    role: 'member',
    plot: 'P-11',
    crops: ['runner beans'],
  },
  { uid: 2, user: 'chair', pass: 'Chair-keeps-keys-1', role: 'committee', plot: 'P-01', crops: [] },
];

/** The member's cookie data, with a random nonce: two logins never get the same value. */
function serialize(g: Gardener): string {
  const s = (v: string) => `s:${Buffer.byteLength(v)}:"${v}";`;
  const nonce = randomBytes(6).toString('hex');
  return `a:4:{${s('uid')}i:${g.uid};${s('user')}${s(g.user)}${s('role')}${s(g.role)}${s('nonce')}${s(nonce)}}`;
}

/** A small unserialize(): arrays of strings, integers and booleans; undefined where PHP's would fail. */
function unserialize(text: string): Record<string, unknown> | undefined {
  let i = 0;
  const value = (): unknown => {
    const kind = text[i];
    if (kind === 'i' || kind === 'b') {
      const m = /^[ib]:(-?\d+);/.exec(text.slice(i));
      if (!m) throw new Error('bad number');
      i += m[0].length;
      return kind === 'b' ? m[1] === '1' : Number(m[1]);
    }
    if (kind === 's') {
      const m = /^s:(\d+):"/.exec(text.slice(i));
      if (!m) throw new Error('bad string');
      i += m[0].length;
      const n = Number(m[1]);
      const body = Buffer.from(text.slice(i), 'utf8').subarray(0, n).toString('utf8');
      i += body.length;
      if (text.slice(i, i + 2) !== '";') throw new Error('bad length');
      i += 2;
      return body;
    }
    if (kind === 'a') {
      const m = /^a:(\d+):\{/.exec(text.slice(i));
      if (!m) throw new Error('bad array');
      i += m[0].length;
      const out: Record<string, unknown> = {};
      for (let k = 0; k < Number(m[1]); k++) {
        const key = String(value());
        out[key] = value();
      }
      if (text[i] !== '}') throw new Error('bad end');
      i += 1;
      return out;
    }
    throw new Error('unknown type');
  };
  try {
    const v = value();
    return i === text.length && v !== null && typeof v === 'object'
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function startGarden(fixed: boolean) {
  const issued = new Set<string>();
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/login.php') {
      const form = new URLSearchParams(await readText(req));
      const g = GARDENERS.find((x) => x.user === form.get('user') && x.pass === form.get('pass'));
      if (!g) return sendJson(res, 200, { ok: 0, err: 'login failed' });
      const value = encodeURIComponent(serialize(g));
      issued.add(value);
      return sendJson(
        res,
        200,
        { ok: 1 },
        { 'content-type': 'application/json', 'set-cookie': `garden=${value}; Path=/` },
      );
    }
    const raw = cookieOf(req.headers.cookie, 'garden');
    let data: Record<string, unknown> | undefined;
    if (raw !== undefined && (!fixed || issued.has(raw))) {
      try {
        data = unserialize(decodeURIComponent(raw));
      } catch {
        data = undefined;
      }
    }
    const g = GARDENERS.find((x) => x.uid === data?.uid);
    if (!g || !data) return sendJson(res, 401, { ok: 0, err: 'please log in' });
    if (req.method === 'GET' && url.pathname === '/plot.php')
      return sendJson(res, 200, { ok: 1, user: g.user, plot: g.plot, crops: g.crops });
    if (req.method === 'GET' && url.pathname === '/admin/members.php') {
      if (data.role !== 'committee' && data.role !== 'admin')
        return sendJson(res, 403, { ok: 0, err: 'committee only' });
      return sendJson(res, 200, { ok: 1, members: GARDENERS.map((x) => ({ user: x.user, plot: x.plot })) });
    }
    return sendJson(res, 404, { ok: 0, err: 'no such page' });
  });
}

const SPEC = {
  openapi: '3.0.0',
  info: { title: 'allotments', version: '1' },
  paths: {
    '/login.php': {
      post: {
        operationId: 'login',
        requestBody: {
          content: {
            'application/x-www-form-urlencoded': {
              schema: { type: 'object', properties: { user: { type: 'string' }, pass: { type: 'string' } } },
            },
          },
        },
        responses: { '200': { description: 'result' } },
      },
    },
    '/plot.php': { get: { operationId: 'myPlot', responses: { '200': { description: 'my plot' } } } },
    '/admin/members.php': { get: { operationId: 'roster', responses: { '200': { description: 'roster' } } } },
  },
};

const identity = (g: Gardener) => ({
  name: g.user,
  login: { path: '/login.php', encoding: 'form' as const, body: { user: g.user, pass: g.pass } },
});

const accepted = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api2-invalid-token-accepted');

describe('a PHP serialized cookie: the swapped name keeps its declared length right, and a role is raised', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startGarden(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: [identity(GARDENERS[0]), identity(GARDENERS[1])],
          admin: identity(GARDENERS[2]),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test("vulnerable: hilde's cookie with oskar's uid and name reads oskar's plot; member raised reads the roster", () => {
    const found = accepted(runs.vulnerable);
    const all = `${operationsFound(runs.vulnerable).join('\n')}\n${found.map((f) => f.message).join('\n')}`;
    const swap = found.find((f) => /oskar's own data/.test(f.message));
    assert.ok(swap, all);
    assert.equal(swap.operation?.operationId, 'myPlot');
    assert.match(String(swap.evidence?.altered), /s:5:"oskar"/);
    const role = found.find((f) => /role raised/.test(f.message));
    assert.ok(role, all);
    assert.equal(role.operation?.operationId, 'roster');
  });

  test('fixed twin: no altered cookie accepted', () => {
    assert.deepEqual(
      accepted(runs.fixed).map((f) => f.message),
      [],
    );
  });
});

/**
 * The same site with a remember-me cookie instead: `remember=<base64 of serialize()>` holding the member's name and
 * its remember token (`a:2:{s:4:"user";s:5:"hilde";s:5:"token";s:32:"<hex>";}`), checked against the stored token.
 * Vulnerable: compared as PHP's `==` does, so a token unserialised as `true` (`b:1`) equals any stored one. Fixed
 * twin: compared strictly (`===`, a string only). B's name with A's token fails on both. The same with the cookie
 * as base64 JSON (`json_decode`, then `==`): `"token": true` passes the loose comparison.
 */
function startRemember(fixed: boolean, json = false) {
  const tokens = new Map(GARDENERS.map((g) => [g.user, randomBytes(16).toString('hex')]));
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/login.php') {
      const form = new URLSearchParams(await readText(req));
      const g = GARDENERS.find((x) => x.user === form.get('user') && x.pass === form.get('pass'));
      if (!g) return sendJson(res, 200, { ok: 0, err: 'login failed' });
      const s = (v: string) => `s:${Buffer.byteLength(v)}:"${v}";`;
      const data = json
        ? JSON.stringify({ user: g.user, token: tokens.get(g.user) })
        : `a:2:{${s('user')}${s(g.user)}${s('token')}${s(tokens.get(g.user) ?? '')}}`;
      return sendJson(
        res,
        200,
        { ok: 1 },
        {
          'content-type': 'application/json',
          'set-cookie': `remember=${Buffer.from(data).toString('base64')}; Path=/; HttpOnly`,
        },
      );
    }
    const raw = cookieOf(req.headers.cookie, 'remember');
    const text = raw === undefined ? undefined : Buffer.from(raw, 'base64').toString('utf8');
    let data: Record<string, unknown> | undefined;
    try {
      data = text === undefined ? undefined : json ? JSON.parse(text) : unserialize(text);
    } catch {
      data = undefined;
    }
    const g = GARDENERS.find((x) => x.user === data?.user);
    const stored = g ? tokens.get(g.user) : undefined;
    const token = data?.token;
    const ok = fixed
      ? typeof token === 'string' && token === stored
      : token === true || (typeof token === 'string' && token === stored);
    if (!g || !ok) return sendJson(res, 401, { ok: 0, err: 'please log in' });
    if (req.method === 'GET' && url.pathname === '/plot.php')
      return sendJson(res, 200, { ok: 1, user: g.user, plot: g.plot, crops: g.crops });
    return sendJson(res, 404, { ok: 0, err: 'no such page' });
  });
}

for (const json of [false, true])
  describe(`a ${json ? 'base64 JSON (json_decode)' : 'PHP serialized'} remember-me cookie compared loosely: its token set to true with B named`, () => {
    const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
    before(async () => {
      for (const kind of ['vulnerable', 'fixed'] as const) {
        const api = await startRemember(kind === 'fixed', json);
        try {
          runs[kind] = await scanDocument(
            {
              ...SPEC,
              paths: { '/login.php': SPEC.paths['/login.php'], '/plot.php': SPEC.paths['/plot.php'] },
            },
            api.url,
            {
              identities: [identity(GARDENERS[0]), identity(GARDENERS[1])],
              checks: ['API2'],
              ratePerSecond: 300,
            },
          );
        } finally {
          await api.close();
        }
      }
    });

    test("vulnerable: hilde's cookie naming oskar with token b:1 reads oskar's plot", () => {
      const found = accepted(runs.vulnerable);
      const swap = found.find((f) => /oskar's own data/.test(f.message));
      assert.ok(
        swap,
        `${operationsFound(runs.vulnerable).join('\n')}\n${found.map((f) => f.message).join('\n')}`,
      );
      assert.match(swap.message, /secret members set to true/);
      assert.match(String(swap.evidence?.altered), json ? /"token":true/ : /s:5:"token";b:1;/);
    });

    test('fixed twin: no altered cookie accepted', () => {
      assert.deepEqual(
        accepted(runs.fixed).map((f) => f.message),
        [],
      );
    });
  });
