import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A community-garden plot service in a Flask-like style: every answer is an envelope `{"ok": ..., "data": ...}`
 * or `{"ok": false, "error": ...}`, members sign up at `POST /v2/accounts` and sign in by e-mail at
 * `POST /v2/sessions` (an opaque token under `data.access_token`). Two ways back into a lost account:
 * `POST /v2/accounts/forgot` (its body is not documented at all; the app sends `{email}`), and a two-step
 * recovery, `POST /v2/accounts/recovery {email}` then `POST /v2/accounts/recovery/complete {email,
 * recovery_code, new_password}`.
 *
 * Beside them, `POST /v2/accounts/password {email}` (a password help desk) and `POST /v2/accounts/otp/send {email}`
 * (a sign-in code by mail).
 *
 * Vulnerable: the forgot route sets a new password and answers it (`data.temporary_password`), the recovery
 * answers the code it would have mailed (`data.recovery_code`), the help desk answers the stored password, and
 * the code sender answers the code (`data.otp`): anyone who knows an e-mail gets in. Fixed twin: all answer
 * `202 {"ok": true, "data": {"queued": true}}` alike for every address, the codes go only to the mailbox (none
 * here). Both twins limit failed sign-ins (five, then 429) and want passwords of ten characters.
 */
const str = { type: 'string' } as const;
const email = { type: 'string', format: 'email' } as const;
const json = (properties: Record<string, object>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const envelope = {
  '200': { description: 'envelope', content: { 'application/json': { schema: { type: 'object' } } } },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'garden plots', version: '2.1.0' },
  components: { securitySchemes: { session: { type: 'http', scheme: 'bearer' } } },
  security: [{ session: [] }],
  paths: {
    '/v2/accounts': {
      post: {
        operationId: 'signUp',
        security: [],
        requestBody: json({ email, display_name: str, password: str }, ['email', 'display_name', 'password']),
        responses: { '201': envelope['200'] },
      },
    },
    '/v2/sessions': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: json({ email, password: str }, ['email', 'password']),
        responses: envelope,
      },
    },
    '/v2/accounts/me': { get: { operationId: 'ownAccount', responses: envelope } },
    '/v2/accounts/forgot': {
      post: { operationId: 'forgotPassword', security: [], responses: envelope },
    },
    '/v2/accounts/recovery': {
      post: {
        operationId: 'startRecovery',
        security: [],
        requestBody: json({ email }, ['email']),
        responses: envelope,
      },
    },
    '/v2/accounts/password': {
      post: {
        operationId: 'passwordHelp',
        security: [],
        requestBody: json({ email }, ['email']),
        responses: envelope,
      },
    },
    '/v2/accounts/otp/send': {
      post: {
        operationId: 'sendSignInCode',
        security: [],
        requestBody: json({ email }, ['email']),
        responses: envelope,
      },
    },
    '/v2/accounts/recovery/complete': {
      post: {
        operationId: 'completeRecovery',
        security: [],
        requestBody: json({ email, recovery_code: str, new_password: str }, [
          'email',
          'recovery_code',
          'new_password',
        ]),
        responses: envelope,
      },
    },
  },
};

interface Gardener {
  id: number;
  email: string;
  display_name: string;
  password: string;
}

const SEED: readonly Gardener[] = [
  { id: 1, email: 'ines@plots.example', display_name: 'Ines', password: 'Ines-plot-2291' },
  { id: 2, email: 'tomas@plots.example', display_name: 'Tomas', password: 'Tomas-plot-6604' },
];

async function startGarden(fixed: boolean) {
  const gardeners = SEED.map((g) => ({ ...g }));
  const tokens = new Map<string, Gardener>();
  const codes = new Map<string, string>();
  const failures = new Map<string, number>();
  /** The e-mail of every forgot or recovery request, in order. */
  const asked: unknown[] = [];
  let nextId = 100;
  const server = await startServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const body = (await readJson(req)) ?? {};
    const ok = (status: number, data: unknown) => sendJson(res, status, { ok: true, data });
    const fail = (status: number, error: string) => sendJson(res, status, { ok: false, error });
    const byEmail = (e: unknown) => gardeners.find((g) => g.email === e);
    if (req.method === 'POST' && path === '/v2/accounts') {
      const { email: e, display_name: name, password } = body;
      if (typeof e !== 'string' || typeof name !== 'string' || typeof password !== 'string')
        return fail(400, 'email, display_name and password are required');
      if (password.length < 10) return fail(400, 'password too short');
      if (byEmail(e)) return fail(400, 'could not create that account');
      const g = { id: nextId++, email: e, display_name: name, password };
      gardeners.push(g);
      return ok(201, { id: g.id });
    }
    if (req.method === 'POST' && path === '/v2/sessions') {
      const key = String(body.email);
      if ((failures.get(key) ?? 0) >= 5) return fail(429, 'too many attempts, wait a while');
      const g = byEmail(body.email);
      if (!g || g.password !== body.password) {
        failures.set(key, (failures.get(key) ?? 0) + 1);
        return fail(401, 'wrong e-mail or password');
      }
      const token = randomBytes(18).toString('hex');
      tokens.set(token, g);
      return ok(200, { access_token: token });
    }
    if (req.method === 'GET' && path === '/v2/accounts/me') {
      const g = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
      if (!g) return fail(401, 'sign in first');
      return ok(200, { id: g.id, email: g.email, display_name: g.display_name });
    }
    if (req.method === 'POST' && path === '/v2/accounts/forgot') {
      asked.push(body.email);
      if (fixed) return ok(202, { queued: true });
      const g = byEmail(body.email);
      if (!g) return fail(404, 'no such gardener');
      g.password = `tmp-${randomBytes(6).toString('hex')}`;
      return ok(200, { email: g.email, temporary_password: g.password });
    }
    if (req.method === 'POST' && path === '/v2/accounts/recovery') {
      asked.push(body.email);
      const g = byEmail(body.email);
      const code = String(randomInt(100000, 999999));
      if (g) codes.set(g.email, code);
      if (fixed) return ok(202, { queued: true });
      return ok(200, g ? { recovery_code: code, expires_in: 900 } : { expires_in: 900 });
    }
    if (req.method === 'POST' && path === '/v2/accounts/password') {
      asked.push(body.email);
      const g = byEmail(body.email);
      if (fixed || !g) return ok(202, { queued: true });
      return ok(200, { hint: 'your password, as we keep it', password: g.password });
    }
    if (req.method === 'POST' && path === '/v2/accounts/otp/send') {
      asked.push(body.email);
      const code = String(randomInt(100000, 999999));
      if (fixed) return ok(202, { queued: true });
      return ok(200, { channel: 'email', otp: code });
    }
    if (req.method === 'POST' && path === '/v2/accounts/recovery/complete') {
      const g = byEmail(body.email);
      if (!g || typeof body.recovery_code !== 'string' || codes.get(g.email) !== body.recovery_code)
        return fail(400, 'that code is not valid');
      if (typeof body.new_password !== 'string' || body.new_password.length < 10)
        return fail(400, 'password too short');
      codes.delete(g.email);
      g.password = body.new_password;
      return ok(200, { reset: true });
    }
    return fail(404, 'no such route');
  });
  return { url: server.url, server: server.server, close: server.close, gardeners, asked };
}

describe('a password reset that answers the new password or the reset code', () => {
  let scans: Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startGarden>>>>>;
  before(async () => {
    const identity = (g: Gardener) => ({
      name: g.display_name.toLowerCase(),
      login: {
        path: '/v2/sessions',
        body: { email: g.email, password: g.password },
        tokenPointer: '/data/access_token',
      },
    });
    scans = await scanTwins(SPEC, startGarden, {
      identities: [identity(SEED[0]), identity(SEED[1])],
      checks: ['API2'],
      ratePerSecond: 300,
    });
  });

  const resets = (r: ScanResult) =>
    r.findings.filter((f) => f.rule.id === 'scan/api2-password-reset-without-proof');

  test('the vulnerable twin: the forgot route and the recovery proven by signing in, the password route, the code sent', () => {
    const found = resets(scans.vulnerable.result);
    const all = found.map((f) => `${f.operation?.operationId} ${f.message}`).join('\n');
    const by = (id: string) => found.find((f) => f.operation?.operationId === id);
    const forgot = by('forgotPassword');
    const recovery = by('startRecovery');
    assert.ok(forgot, all);
    assert.match(forgot.message, /a new password itself .*signed the account in/);
    assert.ok(recovery, all);
    assert.match(recovery.message, /the reset token or one-time code itself .*recovery\/complete took it/);
    const help = by('passwordHelp');
    assert.ok(help, all);
    assert.match(help.message, /the account's current password itself/);
    const otp = by('sendSignInCode');
    assert.ok(otp, all);
    assert.match(otp.message, /the reset token or one-time code itself \(at \/data\/otp, 6 characters\)/);
    // The values handed back never reach the report.
    const text = JSON.stringify(found);
    assert.doesNotMatch(text, /tmp-[0-9a-f]{12}/);
    assert.equal(found.length, 4, all);
    // Nor does the code in the reset's enumeration finding.
    const told = scans.vulnerable.result.findings.filter((f) => f.operation?.operationId === 'startRecovery');
    assert.doesNotMatch(JSON.stringify(told), /"recovery_code\\?":\\?"\d/);
  });

  test('the fixed twin: no finding at all', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });

  test('no reset named a given identity, and both keep their passwords', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { asked, gardeners } = scans[kind].api;
      assert.deepEqual(
        asked.filter((e) => SEED.some((g) => g.email === e)),
        [],
        `${kind}: ${JSON.stringify(asked)}`,
      );
      assert.ok(asked.length >= 2, `${kind}: ${JSON.stringify(asked)}`);
      for (const g of SEED)
        assert.equal(gardeners.find((x) => x.id === g.id)?.password, g.password, `${kind}: ${g.email}`);
    }
  });
});
