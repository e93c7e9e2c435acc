import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A small "field office" API in a plain Node style (query strings, JSON answers, a bearer token), with inputs the
 * injection probes used to miss or reach too late:
 *
 * - `GET /audit?tag=`: the tag goes into SQL (`SELECT ... WHERE tag = '<tag>'`) whose result the answer never
 *   shows (always `{"logged":true}`), and errors are a bare 500: only the quote differential shows it.
 * - `GET /rates?day=`: reads a cached file named by the day from a data directory; today's is missing, so the
 *   plain request fails (500). The name is no file-like name, yet `../` up to the root reads any file.
 * - `GET /card?greeting=`: known greetings map to a phrase ("hi" → "Hello"), anything else is rendered by a
 *   template engine: the sampled value never comes back, a value of the scan's own does.
 * - `GET /lookup?name=`, `?title=`, `?term=`, `?query=`: likely sinks that are not injectable (their time-based
 *   probes must wait for every input's cheaper ones); `GET /slow?search=` answers in 350 ms (no time-based
 *   probes there).
 * - `GET /v1/members` beside `GET /v2/members`: the old version answers without credentials and with the
 *   password hash; the current one declares bearer security and shows id and name only.
 *
 * Fixed twin: bound SQL parameters, day names checked against a pattern, templates not evaluated, the old
 * version behind the same authentication and fields as the current one.
 */
const text = { type: 'string' };
const ok = { '200': { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } };
const list = {
  '200': {
    description: 'members',
    content: {
      'application/json': {
        schema: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' } } } },
      },
    },
  },
};
const q = (name: string, schema: object = text) => ({ name, in: 'query', required: false, schema });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'field office', version: '2.1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/audit': { get: { operationId: 'audit', parameters: [q('tag')], responses: ok } },
    '/rates': {
      get: {
        operationId: 'rates',
        parameters: [q('day', { type: 'string', default: '2026-12-07' })],
        responses: ok,
      },
    },
    '/card': {
      get: {
        operationId: 'card',
        parameters: [q('greeting', { type: 'string', enum: ['hi', 'bye'], default: 'hi' })],
        responses: ok,
      },
    },
    '/lookup': {
      get: {
        operationId: 'lookup',
        parameters: [q('name'), q('title'), q('term'), q('query')],
        responses: ok,
      },
    },
    '/catalog': {
      get: {
        operationId: 'catalog',
        parameters: [q('q')],
        responses: {
          '200': {
            description: 'items',
            content: {
              'application/json': {
                schema: {
                  type: 'array',
                  items: { type: 'object', properties: { id: { type: 'integer' }, label: text } },
                },
              },
            },
          },
        },
      },
    },
    '/slow': { get: { operationId: 'slow', parameters: [q('search')], responses: ok } },
    '/v1/members': { get: { operationId: 'members_v1', responses: list } },
    '/v2/members': { get: { operationId: 'members_v2', security: [{ bearer: [] }], responses: list } },
  },
};

const GREETINGS: Record<string, string> = { hi: 'Hello', bye: 'Goodbye' };
const MEMBERS = [
  { id: 1, name: 'ann', password_hash: '$1$x$abc' },
  { id: 2, name: 'ben', password_hash: '$1$y$def' },
];

interface Office {
  readonly url: string;
  readonly server: Server;
  /** Every request's path and query, in arrival order. */
  readonly seen: string[];
}

async function startOffice(fixed: boolean): Promise<Office> {
  const db = new DatabaseSync(':memory:');
  db.exec("CREATE TABLE tags (tag TEXT); INSERT INTO tags VALUES ('red'), ('blue')");
  db.exec(
    "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT); INSERT INTO items (label) VALUES ('a'), ('b'), ('c'), ('d'), ('e'), ('f')",
  );
  const data = mkdtempSync(path.join(tmpdir(), 'office-rates-'));
  writeFileSync(path.join(data, '2026-12-06'), '{"eur":1}');
  const seen: string[] = [];
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(`${url.pathname}${url.search}`);
    const p = (n: string) => url.searchParams.get(n) ?? '';
    const authed =
      req.headers.authorization === 'Bearer tok-a' || req.headers.authorization === 'Bearer tok-b';
    switch (url.pathname) {
      case '/audit': {
        try {
          if (fixed) db.prepare('SELECT count(*) FROM tags WHERE tag = ?').get(p('tag'));
          else db.prepare(`SELECT count(*) FROM tags WHERE tag = '${p('tag')}'`).get();
          return send(res, 200, { logged: true });
        } catch {
          res.writeHead(500, { 'content-type': 'text/plain' });
          return res.end('Internal Server Error');
        }
      }
      case '/rates': {
        const day = p('day') || '2026-12-07';
        if (fixed && !/^\d{4}-\d\d-\d\d$/.test(day)) return send(res, 400, { detail: 'bad day' });
        try {
          // The vulnerable one joins the name to the directory as given.
          const file = fixed ? path.join(data, path.basename(day)) : `${data}/${day}`;
          return send(res, 200, readFileSync(file, 'utf8'));
        } catch {
          res.writeHead(500, { 'content-type': 'text/plain' });
          return res.end('Internal Server Error');
        }
      }
      case '/card': {
        const g = p('greeting') || 'hi';
        const word = GREETINGS[g] ?? g;
        const rendered = fixed
          ? word
          : word.replace(/\{\{\s*(\d+)\s*\*\s*(\d+)\s*\}\}/g, (_, a, b) => String(Number(a) * Number(b)));
        return send(res, 200, { card: `${rendered}, friend` });
      }
      case '/catalog': {
        const term = p('q');
        try {
          const rows = fixed
            ? db.prepare('SELECT id, label FROM items WHERE label LIKE ?').all(`%${term}%`)
            : db.prepare(`SELECT id, label FROM items WHERE label LIKE '%${term}%'`).all();
          // Shuffled, as rows come from a store with no defined order.
          return send(
            res,
            200,
            rows
              .map((r) => [Math.random(), r] as const)
              .sort((x, y) => x[0] - y[0])
              .map(([, r]) => r),
          );
        } catch {
          res.writeHead(500, { 'content-type': 'text/plain' });
          return res.end('Internal Server Error');
        }
      }
      case '/lookup':
        return send(res, 200, { results: [] });
      case '/slow':
        return void setTimeout(() => send(res, 200, { results: [] }), 350);
      case '/v1/members':
        if (fixed && !authed) return send(res, 401, { detail: 'Not authenticated' });
        return send(res, 200, fixed ? MEMBERS.map(({ id, name }) => ({ id, name })) : MEMBERS);
      case '/v2/members':
        if (!authed) return send(res, 401, { detail: 'Not authenticated' });
        return send(
          res,
          200,
          MEMBERS.map(({ id, name }) => ({ id, name })),
        );
      default:
        return send(res, 404, { detail: 'Not Found' });
    }
  };
  const api = await startServer(handle);
  api.server.on('close', () => {
    db.close();
    rmSync(data, { recursive: true, force: true });
  });
  return { url: api.url, server: api.server, seen };
}

describe('injection reach: quote differential, traversal beyond file names, own reflection marker, fair budget; API9 older versions', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; seen: string[] }>;
  before(async () => {
    const scans = await scanTwins(SPEC, startOffice, {
      identities: [
        { name: 'a', headers: { authorization: 'Bearer tok-a' } },
        { name: 'b', headers: { authorization: 'Bearer tok-b' } },
      ],
      checks: ['API8', 'API9'],
      ratePerSecond: 300,
      timeDelayMs: 300,
    });
    runs.vulnerable = { result: scans.vulnerable.result, seen: scans.vulnerable.api.seen };
    runs.fixed = { result: scans.fixed.result, seen: scans.fixed.api.seen };
  });

  test('a quote that breaks the request twice while two quotes do not is SQL injection at medium severity', () => {
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api8-sql-injection' && x.operation?.path === '/audit',
    );
    assert.ok(f, 'no SQL injection on /audit');
    assert.equal(f.severity, 'medium');
    assert.match(f.message, /likely: a quote broke the request twice/);
  });

  test('tautologies that return longer lists than a contradiction prove it although the order varies', () => {
    const f = runs.vulnerable.result.findings.find(
      (x) => x.rule.id === 'scan/api8-sql-injection' && x.operation?.path === '/catalog',
    );
    assert.match(f?.message ?? '', /boolean-based/);
  });

  test('a day that names a cached file is traversed to /etc/passwd although its plain request fails', () => {
    assert.ok(operationsFound(runs.vulnerable.result).includes('scan/api8-path-traversal rates'));
  });

  test('a value of the scan’s own finds the reflection the sampled enum value hides, and the template runs', () => {
    assert.ok(operationsFound(runs.vulnerable.result).includes('scan/api8-template-injection card'));
  });

  test('every input gets its cheap probes before any time-based probe, and a slow input gets none', () => {
    const { seen } = runs.vulnerable;
    const firstSleep = seen.findIndex((s) => /sleep|SLEEP|WAITFOR/.test(decodeURIComponent(s)));
    assert.ok(firstSleep > 0, 'no time-based probe sent');
    const lastDay = seen.findLastIndex((s) => s.startsWith('/rates?day='));
    const lastCard = seen.findLastIndex((s) => s.startsWith('/card?greeting='));
    assert.ok(lastDay >= 0 && lastDay < firstSleep, `day probed at ${lastDay}, first sleep at ${firstSleep}`);
    assert.ok(lastCard >= 0 && lastCard < firstSleep);
    assert.equal(
      seen.filter((s) => s.startsWith('/slow?') && /sleep|SLEEP|WAITFOR/.test(decodeURIComponent(s))).length,
      0,
    );
  });

  test('an older version that answers without credentials and shows more fields is API9', () => {
    const f = runs.vulnerable.result.findings.find((x) => x.rule.id === 'scan/api9-older-version-weaker');
    assert.equal(f?.operation?.path, '/v1/members');
    assert.match(f?.message ?? '', /without credentials/);
  });

  test('the fixed twin gives none of these findings', () => {
    const found = operationsFound(runs.fixed.result).filter(
      (x) => x.includes('injection') || x.includes('traversal') || x.includes('older-version'),
    );
    assert.deepEqual(found, []);
  });
});
