import assert from 'node:assert/strict';
import type { Server, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A help desk in an Express-like style whose password-reset request mails a code to an account it knows
 * (`POST /api/auth/forgot-password {email}`: 200 and a mail for a known e-mail, 404 for an unknown one), beside
 * a JSON login and a ticket search (`GET /api/tickets?q=`). Vulnerable twin: the search runs a shell command with
 * the text (`;echo` comes back). Fixed twin: it does not. Neither is about the reset; what is checked is that the
 * injection probes never fill the reset's e-mail with a given identity's (a sampled e-mail names nobody, 404, and
 * the identity's own would mail alice a code per probe).
 */
const USERS = [
  { email: 'alice@desk.test', password: 'pw-alice-2231' },
  { email: 'bob@desk.test', password: 'pw-bob-8870' },
];

const SPEC = {
  openapi: '3.0.3',
  info: { title: 'help desk', version: '4.0.1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/api/auth/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a token' }, '401': { description: 'bad credentials' } },
      },
    },
    '/api/auth/forgot-password': {
      post: {
        operationId: 'forgotPassword',
        security: [],
        summary: 'Mails a reset code to the account',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email'],
                properties: { email: { type: 'string', example: 'someone@desk.test' } },
              },
            },
          },
        },
        responses: { '200': { description: 'code sent' }, '404': { description: 'no such account' } },
      },
    },
    '/api/tickets': {
      get: {
        operationId: 'searchTickets',
        parameters: [{ name: 'q', in: 'query', schema: { type: 'string', example: 'printer' } }],
        responses: { '200': { description: 'matching tickets' } },
      },
    },
  },
};

interface Desk {
  readonly url: string;
  readonly server: Server;
  /** The reset codes mailed, by e-mail. */
  readonly mailed: string[];
  /** Every e-mail the reset request was sent. */
  readonly asked: unknown[];
}

async function startDesk(fixed: boolean): Promise<Desk> {
  const tokens = new Map<string, string>();
  const mailed: string[] = [];
  const asked: unknown[] = [];
  const send = (res: ServerResponse, status: number, body: unknown) =>
    sendJson(res, status, body, GUARDED_JSON);
  const api = await startServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/api/auth/login') {
      const body = await readJson(req);
      const u = USERS.find((x) => x.email === body?.email && x.password === body?.password);
      if (!u) return send(res, 401, { error: 'invalid credentials' });
      const token = `t-${Math.random().toString(36).slice(2)}`;
      tokens.set(token, u.email);
      return send(res, 200, { token });
    }
    if (req.method === 'POST' && url.pathname === '/api/auth/forgot-password') {
      const body = await readJson(req);
      asked.push(body?.email);
      const u = USERS.find((x) => x.email === body?.email);
      if (!u) return send(res, 404, { error: 'no such account' });
      mailed.push(u.email);
      return send(res, 200, { message: 'a reset code was mailed' });
    }
    if (!tokens.has(String(req.headers.authorization ?? '').replace(/^Bearer /i, '')))
      return send(res, 401, { error: 'unauthorized' });
    if (req.method === 'GET' && url.pathname === '/api/tickets') {
      const q = url.searchParams.get('q') ?? '';
      // The vulnerable twin hands the text to a shell: `;echo pcx$((6*7))z;` prints its output.
      const shell = !fixed && /;echo pcx\$\(\(6\*7\)\)z;/.test(q) ? 'pcx42z\n' : '';
      return send(res, 200, { tickets: [], log: shell });
    }
    send(res, 404, { error: 'not found' });
  });
  return { ...api, mailed, asked };
}

describe('a reset request is never probed with a given identity’s e-mail', () => {
  const scans = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: Desk }>;
  before(async () => {
    const login = (u: (typeof USERS)[number]) => ({
      name: u.email.split('@')[0],
      login: { path: '/api/auth/login', body: { email: u.email, password: u.password } },
    });
    Object.assign(
      scans,
      await scanTwins(SPEC, startDesk, {
        identities: [login(USERS[0]), login(USERS[1])],
        checks: ['API8'],
        ratePerSecond: 200,
        timeDelayMs: 300,
      }),
    );
  });

  test('the injection probes mailed alice and bob no reset code and sent their e-mails no payload', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const { mailed, asked } = scans[kind].api;
      // Neither the probes (each input's baseline and controls mailed alice before) nor discovery's plain request
      // (discover.ts ownFields filled A's e-mail in) name a given identity.
      assert.deepEqual(mailed, [], kind);
      const naming = asked.filter((e) => typeof e === 'string' && /alice|bob/.test(e));
      assert.deepEqual(
        naming.filter((e) => !USERS.some((u) => u.email === e)),
        [],
        kind,
      );
      assert.ok(asked.length > 2, `${kind}: the reset request was probed (${asked.length})`);
    }
  });

  test('the search’s command injection is found, and the fixed twin has no finding', () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), ['scan/api8-command-injection searchTickets']);
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });

  after(() => {});
});
