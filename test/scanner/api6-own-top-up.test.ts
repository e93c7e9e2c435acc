import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A transit card site in a PHP style: form posts to `.php` pages, a `PHPSESSID` cookie from `POST /login.php
 * (user, pass)`, sign-up at `POST /register.php (user, pass, email)`, `GET /card.php` answering `{card_no,
 * credit}` (credit as text), `POST /topup.php (amount)` adding credit. The vulnerable twin adds whatever it is
 * given, without payment and without limit (a negative amount takes credit off); the fixed one takes 1 to 50
 * and two top-ups a minute. A top-up changes the caller's money: API6 repeats it as an account of the scan's
 * own, never as alice or bob.
 */
const SPEC = {
  swagger: '2.0',
  info: { title: 'transit card', version: '2' },
  securityDefinitions: { session: { type: 'apiKey', in: 'header', name: 'Cookie' } },
  security: [{ session: [] }],
  consumes: ['application/x-www-form-urlencoded'],
  produces: ['application/json'],
  paths: {
    '/login.php': {
      post: {
        operationId: 'login',
        security: [],
        parameters: [
          { name: 'user', in: 'formData', type: 'string', required: true },
          { name: 'pass', in: 'formData', type: 'string', required: true },
        ],
        responses: { '200': { description: 'signed in' } },
      },
    },
    '/register.php': {
      post: {
        operationId: 'register',
        security: [],
        parameters: [
          { name: 'user', in: 'formData', type: 'string', required: true },
          { name: 'pass', in: 'formData', type: 'string', required: true },
          { name: 'email', in: 'formData', type: 'string', required: true },
        ],
        responses: { '200': { description: 'registered' } },
      },
    },
    '/card.php': { get: { operationId: 'card', responses: { '200': { description: 'my card' } } } },
    '/topup.php': {
      post: {
        operationId: 'topUp',
        parameters: [{ name: 'amount', in: 'formData', type: 'number', required: true }],
        responses: { '200': { description: 'topped up' } },
      },
    },
  },
};

interface Rider {
  user: string;
  pass: string;
  email: string;
  card: string;
  credit: number;
}

const seeded = (): Rider[] => [
  { user: 'alice', pass: 'alice-ride-11', email: 'alice@transit.test', card: 'TC-501', credit: 20 },
  { user: 'bob', pass: 'bob-ride-22', email: 'bob@transit.test', card: 'TC-502', credit: 20 },
  { user: 'root', pass: 'root-ride-33', email: 'root@transit.test', card: 'TC-503', credit: 20 },
];

interface Site extends TwinTarget {
  readonly riders: Rider[];
  readonly topUps: string[];
}

async function startSite(fixed: boolean): Promise<Site> {
  const riders = seeded();
  const sessions = new Map<string, Rider>();
  const recent = new Map<string, number[]>();
  const topUps: string[] = [];
  let next = 600;
  const { url, server } = await startServer(async (req, res) => {
    const text = await readText(req);
    const fields = new URLSearchParams(text);
    const send = (status: number, payload: unknown) => sendJson(res, status, payload);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/register.php') {
      const user = fields.get('user');
      const pass = fields.get('pass');
      const email = fields.get('email');
      if (!user || !pass || !email) return send(200, { status: 'error', message: 'all fields' });
      if (riders.some((r) => r.user === user)) return send(200, { status: 'error', message: 'taken' });
      riders.push({ user, pass, email, card: `TC-${next++}`, credit: 0 });
      return send(200, { status: 'ok', message: 'registered' });
    }
    if (req.method === 'POST' && path === '/login.php') {
      const r = riders.find((x) => x.user === fields.get('user') && x.pass === fields.get('pass'));
      if (!r) return send(200, { status: 'error', message: 'wrong user or password' });
      const sid = randomBytes(12).toString('hex');
      sessions.set(sid, r);
      res.setHeader('set-cookie', `PHPSESSID=${sid}; path=/`);
      return send(200, { status: 'ok', user: r.user });
    }
    const sid = /PHPSESSID=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
    const who = sid ? sessions.get(sid) : undefined;
    if (!who) return send(200, { status: 'error', message: 'please log in' });
    if (req.method === 'GET' && path === '/card.php')
      return send(200, { card_no: who.card, credit: who.credit.toFixed(2) });
    if (req.method === 'POST' && path === '/topup.php') {
      const amount = Number(fields.get('amount'));
      if (!Number.isFinite(amount)) return send(200, { status: 'error', message: 'amount' });
      if (fixed) {
        if (amount < 1 || amount > 50) return send(200, { status: 'error', message: 'amount 1 to 50' });
        const now = Date.now();
        const times = (recent.get(who.user) ?? []).filter((t) => now - t < 60_000);
        if (times.length >= 2) return send(200, { status: 'error', message: 'two top-ups a minute' });
        recent.set(who.user, [...times, now]);
      }
      topUps.push(`${who.user} ${text}`);
      who.credit += amount;
      return send(200, { status: 'ok', message: 'topped up' });
    }
    return send(404, { status: 'error', message: 'no such page' });
  });
  return { url, server, riders, topUps };
}

const identity = (r: Rider) => ({
  name: r.user,
  login: { path: '/login.php', encoding: 'form' as const, body: { user: r.user, pass: r.pass } },
});

describe("API6 repeats a top-up as an account of the scan's own, never as a given rider", () => {
  let runs: TwinScans<Site>;
  before(async () => {
    const [alice, bob, root] = seeded();
    runs = await scanTwins(SPEC, startSite, {
      identities: [identity(alice), identity(bob)],
      admin: identity(root),
      ratePerSecond: 200,
    });
  });

  const flows = (kind: 'vulnerable' | 'fixed') =>
    runs[kind].result.findings
      .filter(
        (f) => f.rule.id === 'scan/api6-repeatable-business-flow' && f.operation?.operationId === 'topUp',
      )
      .map((f) => f.message)
      .join('\n');

  test("vulnerable: five top-ups in a row and a negative one, on the scan's own account", () => {
    const text = flows('vulnerable');
    assert.match(text, /succeeded 5 times in a row for pc\w+, an account of the scan's own/, text);
    assert.match(text, /negative/, text);
  });

  test('fixed: no API6 finding on the top-up', () => {
    assert.equal(flows('fixed'), '', operationsFound(runs.fixed.result).join('\n'));
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: API6 topped up no given rider (API3's mass-assignment pair aside)`, () => {
      const { riders, topUps } = runs[kind].api;
      const given = topUps.filter((t) => /^(alice|bob|root) /.test(t));
      // API3 sends its mass-assignment probe (marked pcma-) and its control to every POST as alice: not API6's
      // (reported: it changes a given identity's money). Without this change API6 added five more.
      const probes = given.filter((t) => /portcullisProbe=pcma-/.test(t));
      assert.ok(given.length - probes.length <= probes.length, given.join('\n'));
      const [alice, bob, root] = seeded();
      assert.deepEqual(riders.slice(1, 3), [bob, root]);
      assert.ok(riders[0]!.credit <= alice!.credit + given.length, String(riders[0]!.credit));
    });
  }
});
