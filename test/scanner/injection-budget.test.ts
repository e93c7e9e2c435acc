import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { injectionLimits } from '../../src/scanner/scan/checks/injection.ts';
import { runScan, type ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins, type TwinTarget } from './twins.ts';

/**
 * A taproom API in a single-process, one-request-at-a-time style (every request waits for the one before, as in
 * a server whose handler blocks): an OAuth2 password-form login that hashes the password for ~250 ms per request
 * comes first in the document and blocks everything meanwhile; then ordinary operations with many plain inputs
 * (none injectable); last, the two flaws:
 *
 * - `GET /kegs/{brand}/status`: the brand goes into a shell command (`printf ... <brand>` through `sh -c`).
 * - `GET /labels?artwork=`: the artwork names a file under the labels directory, joined as given (`../` reads any
 *   file). Not a file-like name: it gets the single traversal probe of a read's query input.
 *
 * The injection probes share a budget: they used to go to the login's inputs first (likely names, then document
 * order) at 250 ms each and ran out before the last two inputs. Fixed twin: no shell (argv), the artwork name
 * checked against a pattern, and the security headers set.
 */
const str = { type: 'string' };
const ok = { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } };
const q = (name: string) => ({ name, in: 'query', required: false, schema: str });
const jsonBody = (...names: string[]) => ({
  required: true,
  content: {
    'application/json': {
      schema: { type: 'object', properties: Object.fromEntries(names.map((n) => [n, str])) },
    },
  },
});
const bearer = [{ bearer: [] }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'taproom', version: '4.2' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: bearer,
  paths: {
    '/auth/token': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['username', 'password'],
                properties: Object.fromEntries(
                  ['grant_type', 'username', 'password', 'scope', 'client_id', 'client_secret'].map((n) => [
                    n,
                    str,
                  ]),
                ),
              },
            },
          },
        },
        responses: ok,
      },
    },
    '/taps': {
      get: { operationId: 'taps', parameters: ['style', 'origin', 'brewer', 'glass'].map(q), responses: ok },
    },
    '/reviews': {
      post: {
        operationId: 'review',
        requestBody: jsonBody('beer', 'headline', 'body', 'mood'),
        responses: ok,
      },
    },
    '/events': {
      get: {
        operationId: 'events',
        parameters: ['city', 'venue', 'month', 'organiser'].map(q),
        responses: ok,
      },
    },
    '/orders': {
      post: { operationId: 'order', requestBody: jsonBody('tap', 'size', 'note', 'table'), responses: ok },
    },
    '/merch': {
      get: { operationId: 'merch', parameters: ['cut', 'colour', 'fit', 'print'].map(q), responses: ok },
    },
    '/bookings': {
      post: {
        operationId: 'booking',
        requestBody: jsonBody('party', 'occasion', 'contact_note', 'seating'),
        responses: ok,
      },
    },
    '/suppliers/{supplier}': {
      get: {
        operationId: 'supplier',
        parameters: [{ name: 'supplier', in: 'path', required: true, schema: str }, q('region')],
        responses: ok,
      },
    },
    '/kegs/{brand}/status': {
      get: {
        operationId: 'keg_status',
        parameters: [
          { name: 'brand', in: 'path', required: true, schema: { type: 'string', example: 'hopper' } },
        ],
        responses: ok,
      },
    },
    '/labels': {
      get: {
        operationId: 'label',
        parameters: [
          {
            name: 'artwork',
            in: 'query',
            required: false,
            schema: { type: 'string', default: 'hopper.svg' },
          },
        ],
        responses: ok,
      },
    },
  },
};

const USERS: Record<string, string> = { tess: 'Pw-tess-2026', omar: 'Pw-omar-2026' };
const TOKENS: Record<string, string> = { 'tok-tess-7f2': 'tess', 'tok-omar-91c': 'omar' };
/** What one login costs: a password hash, during which the server serves nothing else. */
const HASH_MS = 250;

async function startTaproom(fixed: boolean): Promise<TwinTarget> {
  const labels = mkdtempSync(path.join(tmpdir(), 'taproom-labels-'));
  writeFileSync(path.join(labels, 'hopper.svg'), '<svg><text>Hopper</text></svg>');
  const headers = (extra: Record<string, string> = {}) => ({
    'content-type': 'application/json',
    ...(fixed
      ? {
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'DENY',
          'content-security-policy': "default-src 'none'",
          'cache-control': 'no-store',
          'strict-transport-security': 'max-age=31536000',
        }
      : {}),
    ...extra,
  });
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, headers());
    res.end(JSON.stringify(body));
  };
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c) => {
        data += c;
      });
      req.on('end', () => resolve(data));
    });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /auth/token') {
      await delay(HASH_MS);
      const form = new URLSearchParams(raw);
      const user = form.get('username') ?? '';
      if (USERS[user] === undefined || USERS[user] !== form.get('password'))
        return send(res, 401, { detail: 'Incorrect username or password' });
      const token = Object.keys(TOKENS).find((t) => TOKENS[t] === user);
      return send(res, 200, { access_token: token, token_type: 'bearer' });
    }
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (TOKENS[token] === undefined) return send(res, 401, { detail: 'Not authenticated' });
    let body: Record<string, unknown> = {};
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        return send(res, 422, { detail: 'invalid JSON' });
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        return send(res, 422, { detail: 'object' });
    }
    if (route === 'GET /taps' || route === 'GET /events') return send(res, 200, { items: [], count: 0 });
    if (route === 'POST /reviews') return send(res, 200, { id: 12, status: 'queued' });
    if (route === 'POST /orders') return send(res, 200, { id: 31, status: 'placed' });
    if (route === 'GET /merch') return send(res, 200, { items: [{ sku: 'T-1', stock: 4 }] });
    if (route === 'POST /bookings') return send(res, 200, { id: 7, status: 'pending' });
    const supplier = /^\/suppliers\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && supplier) return send(res, 200, { supplier: 'Hopworks', region: 'north' });
    const keg = /^\/kegs\/([^/]+)\/status$/.exec(url.pathname);
    if (req.method === 'GET' && keg) {
      const brand = decodeURIComponent(keg[1]);
      try {
        const out = fixed
          ? execFileSync('printf', ['keg %s: ok', brand], {
              encoding: 'utf8',
              timeout: 2000,
              stdio: ['ignore', 'pipe', 'ignore'],
            })
          : execFileSync('sh', ['-c', `printf 'keg %s: ok' ${brand}`], {
              encoding: 'utf8',
              timeout: 2000,
              stdio: ['ignore', 'pipe', 'ignore'],
            });
        return send(res, 200, { status: out });
      } catch {
        return send(res, 500, { detail: 'status unavailable' });
      }
    }
    if (route === 'GET /labels') {
      const name = url.searchParams.get('artwork') ?? 'hopper.svg';
      if (fixed && !/^[\w-]+\.svg$/.test(name)) return send(res, 400, { detail: 'bad artwork name' });
      try {
        return send(res, 200, { artwork: readFileSync(`${labels}/${name}`, 'utf8') });
      } catch {
        return send(res, 404, { detail: 'no such artwork' });
      }
    }
    return send(res, 404, { detail: 'Not Found' });
  };
  // One request at a time: each waits for the one before (a handler that blocks the process).
  let queue = Promise.resolve();
  const api = await startServer((req, res) => {
    queue = queue
      .then(() => handle(req, res))
      .catch(() => {
        if (!res.headersSent) send(res, 500, { detail: 'error' });
      });
  });
  api.server.on('close', () => rmSync(labels, { recursive: true, force: true }));
  return { url: api.url, server: api.server };
}

const identity = (name: string) => ({
  name,
  login: { path: '/auth/token', encoding: 'form' as const, body: { username: name, password: USERS[name] } },
});
const OPTIONS = { identities: [identity('tess'), identity('omar')], checks: ['API8'] };

describe('injection budget: every input gets its first round before any input its second, a slow login last', () => {
  const runs = {} as Record<'vulnerable' | 'fixed' | 'small', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startTaproom, OPTIONS);
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
    // The budget forced small: 40 requests for the probes of 34 inputs.
    injectionLimits.maxRequests = 40;
    const dir = mkdtempSync(path.join(tmpdir(), 'taproom-spec-'));
    const api = await startTaproom(false);
    try {
      writeFileSync(path.join(dir, 'spec.json'), JSON.stringify(SPEC));
      runs.small = await runScan({ ...OPTIONS, spec: path.join(dir, 'spec.json'), target: api.url });
    } finally {
      delete injectionLimits.maxRequests;
      api.server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  after(() => {
    delete injectionLimits.maxRequests;
  });

  test('the command injection and the traversal at the end of the document are both found', () => {
    const found = operationsFound(runs.vulnerable);
    assert.ok(found.includes('scan/api8-command-injection keg_status'), found.join('\n'));
    assert.ok(found.includes('scan/api8-path-traversal label'), found.join('\n'));
  });

  test('the coverage says tested for the operations whose inputs had both rounds', () => {
    const cell = (op: string) =>
      runs.vulnerable.coverage.matrix.find((c) => c.check === 'API8' && c.operation === op);
    assert.equal(cell('GET /events')?.status, 'tested');
    assert.equal(cell('GET /kegs/{brand}/status')?.status, 'finding');
  });

  test('the fixed twin gives no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });

  test('with the budget forced small, inputs left without their rounds are skipped with why, never tested', () => {
    const cells = runs.small.coverage.matrix.filter((c) => c.check === 'API8');
    const cut = cells.filter((c) =>
      /^injection (not|partly) probed: .*budget of the injection probes used up/.test(c.reason ?? ''),
    );
    assert.ok(cut.length >= 3, JSON.stringify(cells, null, 1));
    for (const c of cut) assert.equal(c.status, 'skipped');
    // The login is probed last: its inputs are among those cut.
    const login = cells.find((c) => c.operation === 'POST /auth/token');
    assert.equal(login?.status, 'skipped');
    assert.match(login?.reason ?? '', /username (none|first round only)/);
    assert.ok(!cells.some((c) => c.status === 'tested' && c.operation === 'POST /auth/token'));
  });
});
