import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { createScanClient, type ScanRequest, type Session } from '../../src/scanner/scan/client.ts';
import { curlFor } from '../../src/scanner/scan/curl.ts';
import { startServer, type TestServer } from '../kit/server.ts';

/**
 * A finding's curl line, run by a shell with the identity's credentials in TOKEN and COOKIE, sends what the
 * scan's client sent: method, path and query, the identity's Authorization and cookie jar, and the body byte
 * for byte (an injection payload with quotes in it included).
 */

const run = promisify(execFile);

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly cookie: string | undefined;
  readonly contentType: string | undefined;
  readonly body: string;
}

describe('a curl line replays the request the client sent', () => {
  let api: TestServer;
  const seen: Seen[] = [];
  before(async () => {
    api = await startServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          authorization: req.headers.authorization,
          cookie: req.headers.cookie,
          contentType: req.headers['content-type'],
          body,
        });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
  });
  after(() => api.close());

  async function replay(
    req: ScanRequest,
    session: Session,
    env: Record<string, string>,
  ): Promise<[Seen, Seen]> {
    const client = createScanClient({
      target: api.url,
      concurrency: 1,
      ratePerSecond: 100,
      timeoutMs: 10_000,
    });
    try {
      seen.length = 0;
      const res = await client.send(req, { session });
      const line = curlFor(res.sent);
      for (const secret of Object.values(env)) assert.ok(!line.includes(secret), `${secret} in ${line}`);
      await run('sh', ['-c', `${line} -s -o /dev/null`], { env: { PATH: process.env.PATH ?? '', ...env } });
      assert.equal(seen.length, 2);
      return [seen[0], seen[1]];
    } finally {
      await client.close();
    }
  }

  test('a bearer identity: its token, the query and an injection payload in a JSON body', async () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXRlc3Q';
    const session: Session = {
      name: 'alice',
      headers: { authorization: `Bearer ${token}` },
      cookies: new Map(),
    };
    const [sent, replayed] = await replay(
      {
        method: 'POST',
        path: "/api/search?q=x'%20OR%20'1'%3D'1&page=2",
        body: { term: "it's' OR '1'='1' -- ", note: 'a "quoted" $HOME `id` \\ end' },
      },
      session,
      { TOKEN: token },
    );
    assert.deepEqual(replayed, sent);
    assert.equal(sent.authorization, `Bearer ${token}`);
    assert.match(sent.body, /it's' OR '1'='1' -- /);
  });

  test("a cookie identity: its jar's cookies, with a form-encoded payload", async () => {
    const cookies = new Map([
      ['token', '"usuario2?True"'],
      ['PHPSESSID', 'abc123def456'],
    ]);
    const session: Session = { name: 'usuario2', headers: {}, cookies };
    const [sent, replayed] = await replay(
      {
        method: 'POST',
        path: '/password',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: { app_name: "x' OR '1'='1" },
      },
      session,
      { COOKIE: 'token="usuario2?True"; PHPSESSID=abc123def456' },
    );
    assert.deepEqual(replayed, sent);
    assert.equal(sent.cookie, 'token="usuario2?True"; PHPSESSID=abc123def456');
  });
});
