import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { findingOn, operationsFound, scanTwins } from './twins.ts';

/**
 * A newsletter service in a Hono-like style (one handler table, `c.json`-like answers): members sign in at
 * `POST /session {email, password}` and send `Authorization: Bearer <token>`; no sign-up. In a development build
 * the mailer's answer shows the mail it would send.
 * - `POST /password/forgot {email}` (anyone): "Mails a reset link"; the answer previews it (`preview_url`).
 * - `POST /me/verification` (a member): mails the caller a new verification link; never to be sent as a given member.
 * - `GET /issues?page=` (a member): a page of issues with a `next` link.
 * Vulnerable: the reset link is built from `Host`, the `next` link from `X-Forwarded-Host` (else Host). Fixed twin:
 * both from the configured public base (`PUBLIC_URL`, the address it listens on).
 * Recorded: every address a reset was asked for, and every verification mail sent.
 */
const MEMBERS = [
  { email: 'alice@letters.test', password: 'ink-alice-12', token: '' },
  { email: 'bob@letters.test', password: 'ink-bob-34', token: '' },
];

const json = (schema: object) => ({ 'application/json': { schema } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'newsletter', version: '3.1.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['email', 'password'],
            properties: { email: { type: 'string', format: 'email' }, password: { type: 'string' } },
          }),
        },
        responses: { '200': { description: 'a token' }, '401': { description: 'refused' } },
      },
    },
    '/password/forgot': {
      post: {
        operationId: 'forgotPassword',
        summary: 'Mails a reset link',
        security: [],
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['email'],
            properties: { email: { type: 'string', format: 'email', example: 'alice@letters.test' } },
          }),
        },
        responses: { '202': { description: 'queued' } },
      },
    },
    '/me/verification': {
      post: {
        operationId: 'resendVerification',
        summary: 'Sends the caller a new verification link',
        responses: { '202': { description: 'queued' } },
      },
    },
    '/issues': {
      get: {
        operationId: 'issues',
        parameters: [{ name: 'page', in: 'query', schema: { type: 'integer', minimum: 1 } }],
        responses: { '200': { description: 'a page of issues' } },
      },
    },
  },
};

interface Letters {
  readonly url: string;
  readonly server: Server;
  /** Addresses a reset was asked for. */
  readonly resets: string[];
  /** Members a verification mail was sent to. */
  readonly verifications: string[];
}

async function startLetters(fixed: boolean): Promise<Letters> {
  const resets: string[] = [];
  const verifications: string[] = [];
  const tokens = new Map<string, string>();
  let publicUrl = '';
  const origin = (req: IncomingMessage, forwarded: boolean) => {
    if (fixed) return publicUrl;
    const xf = req.headers['x-forwarded-host'];
    return `http://${forwarded && typeof xf === 'string' ? xf : req.headers.host}`;
  };
  const send = (res: ServerResponse, status: number, body: unknown) =>
    sendJson(res, status, body, GUARDED_JSON);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /session') {
      const b = await readJson(req);
      const m = MEMBERS.find((x) => x.email === b?.email && x.password === b?.password);
      if (!m) return send(res, 401, { error: 'refused' });
      const token = randomBytes(12).toString('hex');
      tokens.set(token, m.email);
      return send(res, 200, { token });
    }
    if (route === 'POST /password/forgot') {
      const b = await readJson(req);
      if (typeof b?.email !== 'string' || !b.email.includes('@')) return send(res, 422, { error: 'email' });
      resets.push(b.email);
      const code = randomBytes(8).toString('hex');
      return send(res, 202, {
        queued: true,
        preview_url: `${origin(req, false)}/password/reset?code=${code}`,
      });
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (who === undefined) return send(res, 401, { error: 'sign in' });
    if (route === 'POST /me/verification') {
      verifications.push(who);
      return send(res, 202, { queued: true });
    }
    if (route === 'GET /issues') {
      const page = Number(url.searchParams.get('page') ?? '1') || 1;
      return send(res, 200, {
        items: [{ id: page, title: `Issue ${page}` }],
        next: `${origin(req, true)}/issues?page=${page + 1}`,
      });
    }
    send(res, 404, { error: 'no route' });
  });
  publicUrl = api.url.replace(/\/$/, '');
  return { ...api, resets, verifications };
}

describe('links built from the Host header (API8)', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Letters }>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startLetters, {
        identities: MEMBERS.map((m) => ({
          name: m.email.split('@')[0],
          login: { path: '/session', body: { email: m.email, password: m.password } },
        })),
        checks: ['API8'],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });

  test('the reset link built from Host and the next page built from X-Forwarded-Host are found', () => {
    const reset = findingOn(scans.vulnerable.result, 'scan/api8-host-header-injection', 'forgotPassword');
    assert.ok(reset, operationsFound(scans.vulnerable.result).join('\n'));
    assert.deepEqual(reset.evidence?.headers, ['Host']);
    assert.equal(reset.severity, 'medium');
    assert.match(
      reset.message,
      /"preview_url":"http:\/\/ph[0-9a-f]+\.example\/password\/reset\?code=\*\*\*"/,
    );
    const next = findingOn(scans.vulnerable.result, 'scan/api8-host-header-injection', 'issues');
    assert.ok(next, operationsFound(scans.vulnerable.result).join('\n'));
    // Only X-Forwarded-Host is tried on reads (a cache keys by Host); a link in an ordinary answer harms only where a
    // cache keeps it: low.
    assert.deepEqual(next.evidence?.headers, ['X-Forwarded-Host']);
    assert.equal(next.severity, 'low');
  });

  test('the fixed twin, which links from its configured base, has none', () => {
    assert.deepEqual(
      scans.fixed.result.findings.filter((f) => f.rule.id === 'scan/api8-host-header-injection'),
      [],
    );
  });

  test('no reset was asked for a given member’s address, and no member was mailed a verification link', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { resets, verifications } = scans[kind].api;
      assert.ok(resets.length >= 1, kind);
      assert.deepEqual(
        resets.filter((r) => MEMBERS.some((m) => m.email === r)),
        [],
        kind,
      );
      assert.deepEqual(verifications, [], kind);
    }
  });

  test('the verification resend is noted as not sent: the scan has no account of its own', () => {
    const text = JSON.stringify(scans.vulnerable.result.coverage);
    assert.match(text, /mails as its sender or invites someone, and the scan has no account of its own/);
  });
});
