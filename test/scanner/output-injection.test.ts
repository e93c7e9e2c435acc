import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A beer shop's small API in the style of hand-written Express apps: a front page that renders a message,
 * pictures served by file name, a brand's status checked by a command, a search whose first path segment
 * names the column, and an admin listing that answers a missing token with `200 {"error": ...}`.
 *
 * Vulnerable: the message is rendered as a template (`{{a*b}}` is computed), the file name is joined to the
 * pictures folder as given, the brand goes into a shell command line (an unknown tool: the plain request
 * always fails with 502, only an injected command succeeds), and the search builds its SQL from both path
 * segments. Fixed twin: the message is shown as text, the file name is reduced to its base name, no shell
 * runs, and the search takes a known column and binds the value.
 */
const str = { type: 'string' } as const;
const query = (name: string, description = '') => ({
  name,
  in: 'query',
  required: true,
  description,
  schema: str,
});
const inPath = (name: string, description = '') => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: str,
});
const ok = { '200': { description: 'ok' } };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'beer shop', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'x-user' } } },
  paths: {
    '/beers': {
      post: {
        operationId: 'addBeer',
        requestBody: {
          content: { 'application/json': { schema: { type: 'object', properties: { name: str } } } },
        },
        responses: ok,
      },
    },
    '/': {
      get: { operationId: 'front', parameters: [query('message', 'a message to show')], responses: ok },
    },
    '/greet': {
      get: {
        operationId: 'greet',
        parameters: [
          { name: 'name', in: 'query', required: true, schema: { type: 'string', default: 'world' } },
        ],
        responses: ok,
      },
    },
    '/beer-pic': { get: { operationId: 'picture', parameters: [query('picture')], responses: ok } },
    '/status/{brand}': { get: { operationId: 'status', parameters: [inPath('brand')], responses: ok } },
    '/search/{filter}/{query}': {
      get: {
        operationId: 'search',
        parameters: [inPath('query', 'the value to look for'), inPath('filter', 'the column')],
        responses: ok,
      },
    },
    '/admin/users': { get: { operationId: 'adminUsers', security: [{ key: [] }], responses: ok } },
  },
};

const PICTURES = path.join(import.meta.dirname, 'fixtures-pictures-that-do-not-exist');

/** Renders `{{a*b}}` the way a template engine would: the vulnerable front page's only template feature. */
function render(message: string): string {
  return message.replace(/\{\{\s*(\d+)\s*\*\s*(\d+)\s*\}\}/g, (_, a, b) => String(Number(a) * Number(b)));
}

async function startShop(fixed: boolean): Promise<{ url: string; server: Server; bodies: string[] }> {
  /** Every request's URL and body, in order of arrival. */
  const bodies: string[] = [];
  const db = new DatabaseSync(':memory:');
  db.exec(
    "CREATE TABLE beers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO beers (name) VALUES ('lager')",
  );
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => shop(req, res, raw));
  });
  const shop = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    bodies.push(`${req.url} ${raw}`);
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const segments = url.pathname.split('/').map(decodeURIComponent);
    if (url.pathname === '/') {
      const message = url.searchParams.get('message') ?? 'Please log in';
      const shown = fixed ? message.replace(/[<>&]/g, '') : render(message);
      return send(200, `<html><body><p>${shown}</p></body></html>`, 'text/html');
    }
    if (url.pathname === '/greet') {
      // A short default (`world`) the answer repeats: reflected, though too short to tell by itself.
      const name = url.searchParams.get('name') ?? 'world';
      return send(200, `Hello ${fixed ? name.replace(/[<>&{}]/g, '') : render(name)}`, 'text/plain');
    }
    if (url.pathname === '/beer-pic') {
      const name = url.searchParams.get('picture') ?? '';
      const file = path.join(PICTURES, fixed ? path.basename(name) : name);
      readFile(file).then(
        (data) => send(200, data.toString(), 'application/octet-stream'),
        () => send(200, 'error', 'text/plain'),
      );
      return;
    }
    if (segments[1] === 'status' && segments.length === 3) {
      if (fixed) return send(502, JSON.stringify({ error: 'brand site unreachable' }));
      execFile(
        '/bin/sh',
        ['-c', `portcullis-no-such-tool ${segments[2]}`],
        { timeout: 2000 },
        (err, stdout) =>
          err
            ? send(502, JSON.stringify({ error: 'brand site unreachable' }))
            : send(200, stdout, 'text/plain'),
      );
      return;
    }
    if (segments[1] === 'search' && segments.length === 4) {
      const [, , filter, value] = segments;
      try {
        if (fixed) {
          if (!['id', 'name'].includes(filter)) return send(400, JSON.stringify({ error: 'unknown column' }));
          return send(200, JSON.stringify(db.prepare(`SELECT * FROM beers WHERE ${filter} = ?`).all(value)));
        }
        return send(
          200,
          JSON.stringify(db.prepare(`SELECT * FROM beers WHERE ${filter} = '${value}'`).all()),
        );
      } catch (err) {
        return send(500, JSON.stringify({ error: `query failed: ${(err as Error).message}` }));
      }
    }
    if (url.pathname === '/admin/users') {
      if (!req.headers['x-user']) return send(200, JSON.stringify({ error: 'missing token in header' }));
      return send(200, JSON.stringify({ error: 'not an admin' }));
    }
    if (req.method === 'POST' && url.pathname === '/beers') return send(200, raw);
    send(404, JSON.stringify({ error: 'not found' }));
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server: server.on('close', () => db.close()),
    bodies,
  };
}

describe('injection probes whose output proves itself, and inputs that name a column', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  let bodies: string[] = [];
  before(async () => {
    const scans = await scanTwins(SPEC, startShop, {
      identities: [
        { name: 'alice', headers: { 'x-user': 'alice' } },
        { name: 'bob', headers: { 'x-user': 'bob' } },
      ],
      checks: ['API8', 'API2'],
      ratePerSecond: 200,
      timeDelayMs: 300,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
    bodies = scans.vulnerable.api.bodies;
  });

  test('operator objects, which kill fragile servers, go after every string probe of every input', () => {
    const object = (b: string) => b.includes('"$ne"') || b.includes('%5B%24ne%5D') || b.includes('[$ne]');
    const firstObject = bodies.findIndex(object);
    const lastString = bodies.findLastIndex((b) => b.includes('pcx') || b.includes('%3Becho'));
    assert.ok(lastString > 0, `${lastString}`);
    // The creation (POST /beers) is a write: `{"$ne": ...}` as an update's filter would match every document. The
    // reads' inputs are found by their string probes first, so here no operator object goes out at all.
    assert.deepEqual(
      bodies.filter((b) => b.startsWith('/beers') && object(b)),
      [],
    );
    if (firstObject >= 0)
      assert.ok(
        firstObject > lastString,
        `first object at ${firstObject}, last string probe at ${lastString}`,
      );
  });

  test('a message rendered as a template: the computed product comes back', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api8-template-injection' && x.operation?.operationId === 'front',
    );
    assert.ok(f);
    assert.equal(f?.rule.owasp, 'API8:2023');
    assert.match(String(f?.evidence?.payload), /7331\*1709/);
  });

  test('a file name joined as given: /etc/passwd comes back', () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-path-traversal');
    assert.equal(f?.operation?.operationId, 'picture');
    assert.match(String(f?.evidence?.payload), /etc\/passwd/);
  });

  test('a command whose plain request always fails is still probed, and its injected echo comes back', () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-command-injection');
    assert.equal(f?.operation?.operationId, 'status');
    assert.match(f?.message ?? '', /plain request failed/);
  });

  test('the value of a search whose other segment names the column is probed with a real column', () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api8-sql-injection');
    assert.equal(f?.operation?.operationId, 'search');
    assert.equal(f?.evidence?.parameter, 'query');
  });

  test('an error answered with 200 to a caller without credentials is not a missing authentication', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      assert.deepEqual(
        runs[kind].findings.filter((x) => x.rule.id === 'scan/api2-no-credentials').map((x) => x.message),
        [],
        kind,
      );
    }
  });

  test('the fixed twin has none of these findings', () => {
    const injection = /injection|traversal/;
    assert.deepEqual(
      operationsFound(runs.fixed).filter((x) => injection.test(x)),
      [],
    );
    assert.deepEqual(
      operationsFound(runs.vulnerable).filter((x) => injection.test(x)),
      [
        'scan/api8-command-injection status',
        'scan/api8-path-traversal picture',
        'scan/api8-sql-injection search',
        'scan/api8-template-injection front',
        'scan/api8-template-injection greet',
      ],
    );
  });
});
