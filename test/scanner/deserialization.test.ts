import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A greeting service in an Express style: `GET /welcome` keeps the visitor's profile in a cookie, base64 JSON,
 * set on the first visit and read back on the next ones ("Hello <username>"); bearer tokens; no body anywhere.
 * Vulnerable: the cookie is read the way `node-serialize` does, reviving `_$$ND_FUNC$$_` functions and running
 * them. This fixture evaluates only a closed arithmetic-and-string subset (literals, `+`, `*`, parentheses), so
 * the canary runs for real and nothing else can; `GET /status` also serves the process environment (names
 * that hold no obvious secret). Fixed twin: `JSON.parse`, the member shown as text, no environment.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'greeter', version: '1.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/welcome': {
      get: {
        operationId: 'welcome',
        responses: {
          '200': { description: 'a greeting', content: { 'text/plain': { schema: { type: 'string' } } } },
        },
      },
    },
    '/status': {
      get: {
        operationId: 'status',
        responses: {
          '200': {
            description: 'up',
            content: {
              'application/json': { schema: { type: 'object', properties: { ok: { type: 'boolean' } } } },
            },
          },
        },
      },
    },
  },
};

const FUNC = /^_\$\$ND_FUNC\$\$_function\s*\(\)\s*\{\s*return\s+([\s'\w+*()]+?);?\s*\}\s*\(\)$/;

/** node-serialize's revival, limited to expressions of literals, `+`, `*` and parentheses. */
function revive(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const m = FUNC.exec(value);
  if (!m || !/^[\s'\d+*()a-z]*$/.test(m[1]) || /[a-z]\s*\(/.test(m[1].replace(/'[^']*'/g, "''")))
    return value;
  return new Function(`return (${m[1]});`)();
}

async function startGreeter(fixed: boolean): Promise<{ url: string; server: Server }> {
  return startServer((req, res) => {
    const auth = String(req.headers.authorization ?? '');
    if (auth !== 'Bearer t-alice' && auth !== 'Bearer t-bob') {
      res.writeHead(401, { 'content-type': 'application/json' });
      return res.end('{"error":"unauthorized"}');
    }
    const path = (req.url ?? '').split('?')[0];
    if (path === '/status') {
      // The vulnerable twin's status also dumps its environment (a debug leftover); the fixed one does not.
      const env = {
        PATH: '/usr/local/bin:/usr/bin:/bin',
        HOME: '/home/app',
        HOSTNAME: 'greeter-7',
        LANG: 'C.UTF-8',
        NODE_ENV: 'production',
        PORT: '8080',
        TZ: 'UTC',
        GREETER_MODE: 'live',
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(fixed ? { ok: true } : { ok: true, env }));
    }
    if (path !== '/welcome') {
      res.writeHead(404, { 'content-type': 'application/json' });
      return res.end('{"error":"not found"}');
    }
    const raw = /(?:^|;\s*)profile=([^;]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    if (raw === undefined) {
      const profile = Buffer.from(JSON.stringify({ username: 'guest', country: 'nl' })).toString('base64');
      res.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': `profile=${profile}; HttpOnly` });
      return res.end('Hello guest');
    }
    let profile: Record<string, unknown>;
    try {
      profile = JSON.parse(Buffer.from(decodeURIComponent(raw), 'base64').toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      return res.end('bad profile');
    }
    const name = fixed ? String(profile.username) : String(revive(profile.username));
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`Hello ${name}`);
  });
}

describe('insecure deserialisation of a cookie the API set', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startGreeter, {
      identities: [
        { name: 'alice', bearer: 't-alice' },
        { name: 'bob', bearer: 't-bob' },
      ],
      checks: ['API8'],
      ratePerSecond: 200,
      timeDelayMs: 300,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  test('reports the function revived from the profile cookie at the operation that reads it', () => {
    assert.ok(
      operationsFound(results.vulnerable).includes('scan/api8-insecure-deserialization welcome'),
      operationsFound(results.vulnerable).join(', '),
    );
    const f = results.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-insecure-deserialization');
    assert.match(f?.message ?? '', /cookie profile: its member username .* came back as its result, pcx42z/);
  });

  test('reports the environment served by the status route as configuration exposure', () => {
    const f = results.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-configuration-exposure');
    assert.equal(f?.operation?.operationId, 'status');
    assert.match(f?.message ?? '', /process environment/);
  });

  test('finds nothing of the kind on the fixed twin', () => {
    assert.deepEqual(
      operationsFound(results.fixed).filter((x) => /deserialization|configuration/.test(x)),
      [],
    );
  });
});
