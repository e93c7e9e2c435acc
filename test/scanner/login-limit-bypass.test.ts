import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A note-taking API in the style of a Spring Boot service: `POST /api/v1/auth/signin {email, password}` answers
 * `{"accessToken": <HS256 JWT>, "tokenType": "Bearer"}`, errors are Spring's `{timestamp, status, error, message,
 * path}`, and the sign-in is rate limited like express-rate-limit or bucket4j set up by hand: five requests per
 * five minutes per client, every request counted, then 429. No sign-up.
 *
 * Vulnerable: the limiter keys the client by `X-Forwarded-For` when the request has one (a proxy trusted that
 * is not there), answers 429 without Retry-After, and signs tokens with `quill-jwt-secret-change-me`.
 * Fixed twin: the limiter keys by the socket's address and answers 429 with Retry-After; tokens are signed with
 * 32 random bytes.
 */
interface Writer {
  email: string;
  password: string;
  notes: string[];
}
const SEED: Writer[] = [
  { email: 'ada@quill.test', password: 'Ada-writes-prose-52', notes: ['draft chapter'] },
  { email: 'ben@quill.test', password: 'Ben-writes-verse-19', notes: ['haiku'] },
];
const LIMIT = 5;

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function startQuill(fixed: boolean, clientHeader = 'x-forwarded-for') {
  const secret = fixed ? randomBytes(32) : 'quill-jwt-secret-change-me';
  const writers = SEED.map((w) => ({ ...w, notes: [...w.notes] }));
  const hits = new Map<string, number>();
  const sign = (sub: string) => {
    const now = Math.floor(Date.now() / 1000);
    const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, iat: now, exp: now + 900 })}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  const verify = (token: string) => {
    const [h, p, sig] = token.split('.');
    if (!sig || createHmac('sha256', secret).update(`${h}.${p}`).digest('base64url') !== sig)
      return undefined;
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { sub?: string; exp?: number };
    if (!claims.exp || claims.exp < Date.now() / 1000) return undefined;
    return writers.find((w) => w.email === claims.sub);
  };
  const clientOf = (req: IncomingMessage) => {
    const forwarded = String(req.headers[clientHeader] ?? '')
      .split(',')[0]
      .trim();
    return !fixed && forwarded ? forwarded : (req.socket.remoteAddress ?? '');
  };
  const error = (path: string, status: number, name: string, message: string) => ({
    timestamp: new Date().toISOString(),
    status,
    error: name,
    message,
    path,
  });
  return startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/v1/auth/signin') {
      const client = clientOf(req);
      const count = (hits.get(client) ?? 0) + 1;
      if (hits.size < 1000 || hits.has(client)) hits.set(client, count);
      if (count > LIMIT)
        return sendJson(
          res,
          429,
          error(url.pathname, 429, 'Too Many Requests', 'Rate limit exceeded'),
          fixed ? { 'content-type': 'application/json', 'retry-after': '300' } : undefined,
        );
      const b = await readJson(req);
      const w = writers.find((x) => x.email === b?.email && x.password === b?.password);
      if (!w) return sendJson(res, 401, error(url.pathname, 401, 'Unauthorized', 'Bad credentials'));
      return sendJson(res, 200, { accessToken: sign(w.email), tokenType: 'Bearer' });
    }
    const token = /^Bearer (\S+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const me = token ? verify(token) : undefined;
    if (!me)
      return sendJson(res, 401, error(url.pathname, 401, 'Unauthorized', 'Full authentication is required'));
    if (req.method === 'GET' && url.pathname === '/api/v1/notes') return sendJson(res, 200, me.notes);
    if (req.method === 'GET' && url.pathname === '/api/v1/users/me')
      return sendJson(res, 200, { email: me.email });
    return sendJson(res, 404, error(url.pathname, 404, 'Not Found', 'No message available'));
  }).then((s) => Object.assign(s, { hits }));
}

const SPEC = {
  openapi: '3.0.1',
  info: { title: 'quill notes', version: 'v1' },
  components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  paths: {
    '/api/v1/auth/signin': {
      post: {
        operationId: 'authenticateUser',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'OK' } },
      },
    },
    '/api/v1/notes': {
      get: {
        operationId: 'listNotes',
        security: [{ bearerAuth: [] }],
        responses: { '200': { description: 'OK' } },
      },
    },
    '/api/v1/users/me': {
      get: {
        operationId: 'currentUser',
        security: [{ bearerAuth: [] }],
        responses: { '200': { description: 'OK' } },
      },
    },
  },
};

const identity = (w: Writer) => ({
  name: w.email.split('@')[0],
  login: { path: '/api/v1/auth/signin', body: { email: w.email, password: w.password } },
});

const ruleFindings = (r: ScanResult, id: string) => r.findings.filter((f) => f.rule.id === id);

describe('a rate-limited login: no "no throttling" finding, and a limit keyed by X-Forwarded-For is found', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const api = await startQuill(kind === 'fixed');
      try {
        runs[kind] = await scanDocument(SPEC, api.url, {
          identities: SEED.map(identity),
          checks: ['API2'],
          ratePerSecond: 300,
        });
      } finally {
        await api.close();
      }
    }
  });

  test('vulnerable: rotating X-Forwarded-For lifts the limit, and the phrase secret is cracked', () => {
    const bypass = ruleFindings(runs.vulnerable, 'scan/api2-no-brute-force-protection');
    assert.equal(bypass.length, 1, operationsFound(runs.vulnerable).join('\n'));
    assert.match(bypass[0].message, /x-forwarded-for/);
    assert.equal(ruleFindings(runs.vulnerable, 'scan/api2-weak-hmac-secret').length, 1);
  });

  test('fixed twin: no brute-force, enumeration or secret finding', () => {
    for (const id of [
      'scan/api2-no-brute-force-protection',
      'scan/api2-user-enumeration',
      'scan/api2-weak-hmac-secret',
      'scan/api2-default-credentials',
    ])
      assert.deepEqual(ruleFindings(runs.fixed, id), [], `${id}\n${operationsFound(runs.fixed).join('\n')}`);
  });

  test('the coverage says the login met its limit', () => {
    const notes = JSON.stringify(runs.fixed.coverage);
    assert.match(notes, /a limit on logins/);
  });
});

describe('the same limiter keyed by X-Real-IP (an nginx set_real_ip_from left open)', () => {
  let run: ScanResult;
  before(async () => {
    const api = await startQuill(false, 'x-real-ip');
    try {
      run = await scanDocument(SPEC, api.url, {
        identities: SEED.map(identity),
        checks: ['API2'],
        ratePerSecond: 300,
      });
    } finally {
      await api.close();
    }
  });

  test('the bypass names x-real-ip', () => {
    const bypass = ruleFindings(run, 'scan/api2-no-brute-force-protection');
    assert.equal(bypass.length, 1, operationsFound(run).join('\n'));
    assert.match(bypass[0].message, /keys the limit by x-real-ip/);
  });
});
