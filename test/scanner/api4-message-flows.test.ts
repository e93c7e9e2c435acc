import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson } from './small-api.ts';
import { findingOn, headerIdentities, scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * A pharmacy's pickup API in Django REST framework's style (`{"detail": ...}` errors, trailing slashes,
 * `Authorization: Token <key>`). A forgotten password is answered by a code texted to the phone number given
 * (`POST /api/v1/auth/password/forgot/ {phone}`, open to anyone; each text costs the pharmacy), and the code sets a new
 * password (`POST /api/v1/auth/password/reset/ {phone, code, new_password}`). A signed-in member may have a code
 * texted to its own phone to confirm it (`POST /api/v1/me/phone/confirm/send/`). No sign-up.
 *
 * Vulnerable twin: the texts go without limit. Fixed twin: three texts a number in ten minutes, then 429 with
 * Retry-After (DRF's throttling). Measured miss of session 15 (a third-party Flask lab): an SMS reset without a
 * limit, OWASP's own API4 example, was never probed.
 */
const json = (schema: unknown) => ({ required: true, content: { 'application/json': { schema } } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'pharmacy pickup', version: '4.1.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/api/v1/auth/password/forgot/': {
      post: {
        operationId: 'forgotPassword',
        summary: 'Text a reset code to the phone number of the account',
        security: [],
        requestBody: json({ type: 'object', required: ['phone'], properties: { phone: { type: 'string' } } }),
        responses: {
          '200': { description: 'sent if the number is known' },
          '429': { description: 'throttled' },
        },
      },
    },
    '/api/v1/auth/password/reset/': {
      post: {
        operationId: 'resetPassword',
        security: [],
        requestBody: json({
          type: 'object',
          required: ['phone', 'code', 'new_password'],
          properties: {
            phone: { type: 'string' },
            code: { type: 'string' },
            new_password: { type: 'string' },
          },
        }),
        responses: { '200': { description: 'password set' }, '400': { description: 'invalid code' } },
      },
    },
    '/api/v1/me/phone/confirm/send/': {
      post: {
        operationId: 'sendPhoneConfirmation',
        summary: "Text a confirmation code to the member's phone",
        responses: { '202': { description: 'sent' } },
      },
    },
    '/api/v1/me/': { get: { operationId: 'me', responses: { '200': { description: 'the member' } } } },
    '/api/v1/prescriptions/': {
      get: {
        operationId: 'prescriptions',
        responses: { '200': { description: "the member's prescriptions" } },
      },
    },
  },
};

const MEMBERS = [
  { name: 'ines', key: 'ph-ines-90c1f2', phone: '+351911000111', password: 'correct-horse-1' },
  { name: 'pablo', key: 'ph-pablo-1d7e33', phone: '+351911000222', password: 'correct-horse-2' },
];

interface Pharmacy extends TwinTarget {
  /** Every text sent: the number and why. */
  readonly texts: { to: string; what: string }[];
  readonly passwords: () => string[];
}

function detail(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ detail: text }));
}

function startPharmacy(fixed: boolean): Promise<Pharmacy> {
  const members = MEMBERS.map((m) => ({ ...m }));
  const texts: { to: string; what: string }[] = [];
  const codes = new Map<string, string>();
  const sentAt = new Map<string, number[]>();
  // DRF's ScopedRateThrottle: three texts a number in ten minutes on the fixed twin.
  const throttled = (phone: string) => {
    if (!fixed) return false;
    const now = Date.now();
    const recent = (sentAt.get(phone) ?? []).filter((t) => now - t < 600_000);
    if (recent.length >= 3) return true;
    sentAt.set(phone, [...recent, now]);
    return false;
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (req.method !== 'POST') req.resume();
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const member = members.find((m) => req.headers.authorization === `Token ${m.key}`);
    if (req.method === 'POST' && path === '/api/v1/auth/password/forgot/') {
      const phone = typeof body?.phone === 'string' ? body.phone : '';
      if (!/^\+?[0-9]{6,15}$/.test(phone)) return detail(res, 400, 'Enter a valid phone number.');
      if (throttled(phone))
        return detail(res, 429, 'Request was throttled. Expected available in 600 seconds.', {
          'retry-after': '600',
        });
      const code = String(100000 + texts.length);
      codes.set(phone, code);
      texts.push({ to: phone, what: 'reset code' });
      return detail(res, 200, 'If the number belongs to an account, a code was sent.');
    }
    if (req.method === 'POST' && path === '/api/v1/auth/password/reset/') {
      const m = members.find((x) => x.phone === body?.phone);
      if (!m || codes.get(m.phone) !== body?.code || typeof body?.new_password !== 'string')
        return detail(res, 400, 'Invalid code.');
      m.password = body.new_password;
      return detail(res, 200, 'Password set.');
    }
    if (!member) return detail(res, 401, 'Authentication credentials were not provided.');
    if (req.method === 'POST' && path === '/api/v1/me/phone/confirm/send/') {
      if (throttled(member.phone))
        return detail(res, 429, 'Request was throttled. Expected available in 600 seconds.', {
          'retry-after': '600',
        });
      texts.push({ to: member.phone, what: 'confirmation code' });
      return detail(res, 202, 'A code was sent.');
    }
    if (req.method === 'GET' && path === '/api/v1/me/')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ username: member.name }));
    if (req.method === 'GET' && path === '/api/v1/prescriptions/')
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ count: 1, results: [{ id: 3, drug: 'amoxicillin', ready: true }] }));
    detail(res, 404, 'Not found.');
  };
  return startServer((req, res) => void handle(req, res).catch(() => res.destroy())).then((s) => ({
    url: s.url,
    server: s.server,
    texts,
    passwords: () => members.map((m) => m.password),
  }));
}

describe('API4: a reset code texted without limit', { timeout: 300_000 }, () => {
  let runs: TwinScans<Pharmacy>;
  before(async () => {
    runs = await scanTwins(SPEC, startPharmacy, {
      identities: headerIdentities(
        'Authorization',
        Object.fromEntries(MEMBERS.map((m) => [m.name, m.key])),
        'Token',
      ),
    });
  });

  test('vulnerable: the unlimited texts of the forgotten-password flow are reported on that operation', () => {
    const f = findingOn(runs.vulnerable.result, 'scan/api4-no-rate-limit', 'forgotPassword');
    assert.ok(
      f,
      runs.vulnerable.result.findings.map((x) => `${x.rule.id} ${x.operation?.operationId}`).join('\n'),
    );
    assert.match(f.message, /20 requests in a burst to POST \/api\/v1\/auth\/password\/forgot\//);
  });

  test('fixed: the throttled flow is not reported', () => {
    assert.equal(findingOn(runs.fixed.result, 'scan/api4-no-rate-limit', 'forgotPassword'), undefined);
  });

  for (const kind of ['vulnerable', 'fixed'] as const) {
    test(`${kind}: no text reaches a given member's phone, and no password changed`, () => {
      const { api, result } = runs[kind];
      const given = MEMBERS.map((m) => m.phone);
      assert.deepEqual(
        api.texts.filter((t) => given.includes(t.to)),
        [],
      );
      assert.deepEqual(
        api.passwords(),
        MEMBERS.map((m) => m.password),
      );
      const cell = result.coverage.matrix.find(
        (c) => c.check === 'API4' && c.operation === 'POST /api/v1/me/phone/confirm/send/',
      );
      assert.match(
        [cell?.reason ?? '', ...(cell?.notes ?? [])].join(' | '),
        /only an account of the scan's own may ask that/,
      );
    });
  }
});
