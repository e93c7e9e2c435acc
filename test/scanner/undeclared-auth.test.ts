import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument, scanTwins } from './twins.ts';

/**
 * A climbing gym's member service in a Koa style: every answer is an envelope (`{"ok": true, "data": ...}`,
 * `{"ok": false, "reason": ...}`), the session is a hand-made `X-Member-Session` header, ids are `bk-<hex>`
 * strings under `ref`, and the document declares no security at all (no scheme, no requirement): which
 * operation needs a session is only in the code.
 *
 * Vulnerable: `GET /members/roster` shows every member's e-mail, plan and locker to anyone, though
 * `GET /members/self` refuses a caller without a session; `GET /board` shows every booking (its ref, slot and
 * note) to anyone, though `GET /bookings/{ref}` shows a booking to its member only; the login answer echoes
 * the passphrase it was sent (under a name no secret list has: `passphrase`), and so does the member's own
 * record at `GET /members/self`.
 * The login's user input is a `handle`: nothing locks a handle out after failed logins.
 * Fixed twin: the roster and the board show anonymous callers public fields only (handle, avatar, join date;
 * slot and count), the login answer and the member's record have no passphrase, five failed logins lock a
 * handle out (429).
 * Both: `GET /classes` names the coach (a member's handle) and `GET /members/{handle}/card` is a public card
 * (handle, avatar, join date): a member's public name and picture shown to anyone are no finding.
 */
const envelope = (data: Record<string, unknown>) => ({
  type: 'object',
  properties: { ok: { type: 'boolean' }, data: { type: 'object', properties: data } },
});
const ok = (description: string, data: Record<string, unknown>, status = '200') => ({
  [status]: { description, content: { 'application/json': { schema: envelope(data) } } },
});
const str = { type: 'string' };
const MEMBER = { handle: str, email: str, plan: str, locker: str, joined: str, avatar: str };
const BOOKING = { ref: str, class_slot: str, note: str, handle: str };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'crag members', version: '3' },
  paths: {
    '/session': {
      post: {
        operationId: 'openSession',
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'object', properties: { handle: str, passphrase: str } },
            },
          },
        },
        responses: ok('a session', { session: str, member: { type: 'object' } }),
      },
    },
    '/members/self': { get: { operationId: 'self', responses: ok('own membership', MEMBER) } },
    '/members/roster': {
      get: { operationId: 'roster', responses: { '200': { description: 'every member' } } },
    },
    '/members/{handle}/card': {
      get: {
        operationId: 'card',
        parameters: [{ name: 'handle', in: 'path', required: true, schema: str }],
        responses: ok('a public card', { handle: str, avatar: str, joined: str }),
      },
    },
    '/bookings': {
      post: {
        operationId: 'book',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { class_slot: { type: 'string', example: 'tue-18' }, note: str },
              },
            },
          },
        },
        responses: ok('booked', BOOKING, '201'),
      },
    },
    '/bookings/{ref}': {
      get: {
        operationId: 'booking',
        parameters: [{ name: 'ref', in: 'path', required: true, schema: str }],
        responses: ok('a booking', BOOKING),
      },
    },
    '/board': { get: { operationId: 'board', responses: { '200': { description: 'the booking board' } } } },
    '/classes': { get: { operationId: 'classes', responses: { '200': { description: 'the timetable' } } } },
  },
};

interface Member {
  readonly handle: string;
  readonly passphrase: string;
  readonly email: string;
  readonly plan: string;
  readonly locker: string;
}
const MEMBERS: readonly Member[] = [
  {
    handle: 'kestrel',
    passphrase: 'Crimp-4417-kes',
    email: 'kes@crag.test',
    plan: 'gold-annual',
    locker: 'L-114',
  },
  {
    handle: 'osprey',
    passphrase: 'Sloper-2290-osp',
    email: 'osp@crag.test',
    plan: 'ten-visit',
    locker: 'L-207',
  },
];
const JOINED = '2024-03-01';
const avatar = (m: Member) => `/img/${m.handle}.png`;

function startGym(fixed: boolean) {
  const sessions = new Map<string, Member>();
  const failures = new Map<string, number>();
  const bookings: { ref: string; class_slot: string; note: string; handle: string }[] = [];
  return startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const me = sessions.get(String(req.headers['x-member-session'] ?? ''));
    const denied = () => sendJson(res, 401, { ok: false, reason: 'session required' });
    if (req.method === 'POST' && path === '/session') {
      const body = await readJson(req);
      const handle = String(body?.handle ?? '');
      // The fixed twin locks a handle out after five failed logins.
      if (fixed && (failures.get(handle) ?? 0) >= 5)
        return sendJson(res, 429, { ok: false, reason: 'too many attempts' });
      const m = MEMBERS.find((x) => x.handle === handle && x.passphrase === body?.passphrase);
      if (!m) {
        if (failures.size < 1000) failures.set(handle, (failures.get(handle) ?? 0) + 1);
        return sendJson(res, 401, { ok: false, reason: 'unknown handle or passphrase' });
      }
      const session = randomBytes(12).toString('hex');
      sessions.set(session, m);
      const member = fixed
        ? { handle: m.handle, email: m.email }
        : { handle: m.handle, email: m.email, passphrase: body?.passphrase };
      return sendJson(res, 200, { ok: true, data: { session, member } });
    }
    if (req.method === 'GET' && path === '/members/self') {
      if (!me) return denied();
      const { passphrase, ...rest } = me;
      // The vulnerable twin keeps the passphrase in the member's record, and shows it.
      const record = fixed ? rest : { ...rest, passphrase };
      return sendJson(res, 200, { ok: true, data: { ...record, joined: JOINED, avatar: avatar(me) } });
    }
    if (req.method === 'GET' && path === '/members/roster') {
      const full = !fixed || me !== undefined;
      return sendJson(res, 200, {
        ok: true,
        data: MEMBERS.map((m) =>
          full
            ? { handle: m.handle, email: m.email, plan: m.plan, locker: m.locker, avatar: avatar(m) }
            : { handle: m.handle, avatar: avatar(m), joined: JOINED },
        ),
      });
    }
    const card = /^\/members\/([^/]+)\/card$/.exec(path);
    if (req.method === 'GET' && card) {
      const m = MEMBERS.find((x) => x.handle === decodeURIComponent(card[1]));
      if (!m) return sendJson(res, 404, { ok: false, reason: 'no such member' });
      return sendJson(res, 200, { ok: true, data: { handle: m.handle, avatar: avatar(m), joined: JOINED } });
    }
    if (req.method === 'POST' && path === '/bookings') {
      if (!me) return denied();
      const body = await readJson(req);
      if (typeof body?.class_slot !== 'string')
        return sendJson(res, 422, { ok: false, reason: 'class_slot' });
      const booking = {
        ref: `bk-${randomBytes(4).toString('hex')}`,
        class_slot: body.class_slot,
        note: typeof body.note === 'string' ? body.note : '',
        handle: me.handle,
      };
      if (bookings.length < 100) bookings.push(booking);
      return sendJson(res, 201, { ok: true, data: booking });
    }
    const one = /^\/bookings\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && one) {
      if (!me) return denied();
      const b = bookings.find((x) => x.ref === decodeURIComponent(one[1]) && x.handle === me.handle);
      if (!b) return sendJson(res, 404, { ok: false, reason: 'no such booking' });
      return sendJson(res, 200, { ok: true, data: b });
    }
    if (req.method === 'GET' && path === '/board') {
      if (fixed && !me) {
        const slots = [...new Set(bookings.map((b) => b.class_slot))];
        return sendJson(res, 200, {
          ok: true,
          data: slots.map((s) => ({
            class_slot: s,
            taken: bookings.filter((b) => b.class_slot === s).length,
          })),
        });
      }
      return sendJson(res, 200, { ok: true, data: bookings });
    }
    if (req.method === 'GET' && path === '/classes')
      return sendJson(res, 200, { ok: true, data: [{ slot: 'tue-18', coach: MEMBERS[0].handle }] });
    return sendJson(res, 404, { ok: false, reason: 'no route' });
  });
}

const identity = (m: Member) => ({
  name: m.handle,
  login: {
    path: '/session',
    body: { handle: m.handle, passphrase: m.passphrase },
    header: 'x-member-session',
    tokenPointer: '/data/session',
  },
});

const at = (r: ScanResult, rule: string, op: string) =>
  r.findings.find((f) => f.rule.id === rule && f.operation?.operationId === op);

describe('operations that declare no security, judged by what the API refuses elsewhere', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startGym, {
      identities: [identity(MEMBERS[0]), identity(MEMBERS[1])],
      checks: ['API2'],
      ratePerSecond: 300,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("the roster shows a member's e-mail, plan and locker to anyone, which /members/self guards", () => {
    const f = at(runs.vulnerable, 'scan/api2-no-credentials', 'roster');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /declares no security/);
    assert.match(f.message, /GET \/members\/self shows only with credentials/);
    assert.match(f.message, /email/);
    assert.match(String(f.evidence?.curl), /\/members\/roster/);
    assert.doesNotMatch(String(f.evidence?.curl), /x-member-session/i);
  });

  test("the board shows a member's own booking to anyone, which its read shows to that member only", () => {
    const f = at(runs.vulnerable, 'scan/api2-no-credentials', 'board');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /an object of kestrel's \(ref, /);
    assert.match(f.message, /GET \/bookings\/\{ref\}/);
  });

  test('public names, pictures and dates are no finding: the timetable and the public card', () => {
    for (const op of ['classes', 'card', 'self', 'booking'])
      assert.equal(at(runs.vulnerable, 'scan/api2-no-credentials', op), undefined, op);
  });

  test('the login answer giving the passphrase back is reported, without the passphrase', () => {
    const f = at(runs.vulnerable, 'scan/api3-sensitive-data-exposure', 'openSession');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /with kestrel's password in plain text at \/data\/member\/passphrase/);
    const shown = JSON.stringify(f);
    for (const m of MEMBERS) assert.ok(!shown.includes(m.passphrase), 'the passphrase is masked');
    assert.match(
      String(f.evidence?.curl),
      /-X POST '[^']*\/session' -H 'Content-Type: application\/json' --data-raw/i,
    );
  });

  test("a member's own read showing the passphrase is reported too, without it", () => {
    const f = at(runs.vulnerable, 'scan/api3-sensitive-data-exposure', 'self');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(
      f.message,
      /GET \/members\/self answered 200 with (kestrel|osprey)'s password in plain text at \/data\/passphrase/,
    );
    const shown = JSON.stringify(f);
    for (const m of MEMBERS) assert.ok(!shown.includes(m.passphrase), 'the passphrase is masked');
  });

  test('a login whose user input is a handle is recognised: its missing lockout is found', () => {
    assert.ok(at(runs.vulnerable, 'scan/api2-no-brute-force-protection', 'openSession'));
  });

  test('the fixed twin (also a lockout after five failed logins): no finding at all', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});

describe('the same, with identities given as session headers (no login body to name them)', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startGym(kind === 'fixed');
      try {
        const identities = [];
        for (const m of MEMBERS) {
          const res = await fetch(`${api.url}/session`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ handle: m.handle, passphrase: m.passphrase }),
          });
          const { data } = (await res.json()) as { data: { session: string } };
          identities.push({ name: m.handle, headers: { 'x-member-session': data.session } });
        }
        runs[kind] = await scanDocument(SPEC, api.url, { identities, checks: ['API2'], ratePerSecond: 300 });
      } finally {
        await api.close();
      }
    }
  });

  test("the member's own read names the account: the roster is still found", () => {
    const f = at(runs.vulnerable, 'scan/api2-no-credentials', 'roster');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /kestrel's account record \(email, plan, locker\)/);
  });

  test('the fixed twin: no finding for the rule', () => {
    assert.equal(
      runs.fixed.findings.find((f) => f.rule.id === 'scan/api2-no-credentials'),
      undefined,
    );
  });
});

describe("the same without an own-profile read in the document: A's login answer is what is guarded", () => {
  const spec = structuredClone(SPEC) as { paths: Record<string, unknown> };
  delete spec.paths['/members/self'];
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(spec, startGym, {
      identities: [identity(MEMBERS[0]), identity(MEMBERS[1])],
      checks: ['API2'],
      ratePerSecond: 300,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test("the roster shows the e-mail the login gives only for kestrel's passphrase", () => {
    const f = at(runs.vulnerable, 'scan/api2-no-credentials', 'roster');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(
      f.message,
      /kestrel's account record \(email\), which the login \(POST \/session\) gives only for kestrel's password/,
    );
  });

  test('the fixed twin: no finding for the rule', () => {
    assert.equal(
      runs.fixed.findings.find((f) => f.rule.id === 'scan/api2-no-credentials'),
      undefined,
    );
  });
});
