/**
 * The demo's own checks (the curl lines `portcullis demo` prints) give the same answers over HTTP/1.1 and
 * over HTTP/2 with prior knowledge (the demo's h2c listener): the real demo API, the real identity provider
 * (oidc-provider), the gateway as `npm start` runs it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

interface Answer {
  status: number;
  contentType: string;
}

function h2Get(
  session: http2.ClientHttp2Session,
  p: string,
  headers: Record<string, string>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'GET', ':path': p, ...headers });
    let head: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => {
      head = h;
    });
    req.on('data', () => {});
    req.on('end', () =>
      resolve({ status: Number(head[':status']), contentType: String(head['content-type'] ?? '') }),
    );
    req.on('error', reject);
    req.end();
  });
}

async function h1Get(base: string, p: string, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${base}${p}`, { headers });
  await res.arrayBuffer();
  return { status: res.status, contentType: res.headers.get('content-type') ?? '' };
}

describe('the demo over HTTP/2 (h2c)', () => {
  const cwd = process.cwd();
  let dir = '';
  let running: { close(): Promise<void> } | undefined;
  let gateway = '';
  let gatewayHttp2 = '';
  let tokenEndpoint = '';
  let audience = '';
  let session: http2.ClientHttp2Session | undefined;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-demo-h2-'));
    // The demo keeps its state and events under ./data.
    process.chdir(dir);
    const { demo } = await import('../../src/cli/commands/demo.ts');
    const [port, http2Port, adminPort] = [await freePort(), await freePort(), await freePort()];
    const lines: string[] = [];
    running = await demo({ port, http2Port, adminPort, out: (l) => lines.push(l) });
    const { readFile } = await import('node:fs/promises');
    const state = JSON.parse(await readFile(path.join(dir, 'data/demo-state.json'), 'utf8'));
    gateway = state.gateway;
    gatewayHttp2 = state.gatewayHttp2;
    tokenEndpoint = state.tokenEndpoint;
    audience = state.audience;
    assert.equal(gatewayHttp2, `http://127.0.0.1:${http2Port}`);
    assert.ok(
      lines.some((l) => l.includes(`--http2-prior-knowledge ${gatewayHttp2}`)),
      'the demo says how to reach it over HTTP/2',
    );
    session = http2.connect(gatewayHttp2);
  });

  after(async () => {
    session?.close();
    await running?.close();
    process.chdir(cwd);
    await rm(dir, { recursive: true, force: true });
  });

  async function token(user: string, scope: string): Promise<string> {
    const res = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${user}:${user}-secret`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: audience }),
    });
    const body = (await res.json()) as { access_token?: string };
    assert.ok(body.access_token, `a token for ${user}`);
    return body.access_token;
  }

  test('every check the demo prints answers alike over HTTP/1.1 and HTTP/2', async () => {
    const alice = await token('alice', 'shop:read shop:write');
    const bob = await token('bob', 'shop:read shop:write');
    const admin = await token('admin', 'shop:read shop:write shop:admin');
    const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
    const checks: Array<[string, Record<string, string>, number]> = [
      ['/products', {}, 200],
      ['/internal/debug', {}, 404],
      ["/products?q=1'%20OR%201=1--", {}, 400],
      ['/products?limit=5000', {}, 400],
      ['/accounts/alice', bearer(alice), 200],
      ['/accounts/bob', bearer(alice), 403],
      ['/accounts/bob', bearer(admin), 200],
      ['/admin/users', bearer(bob), 403],
      ['/accounts/alice', {}, 401],
    ];
    for (const [p, headers, expected] of checks) {
      const one = await h1Get(gateway, p, headers);
      const two = await h2Get(session!, p, headers);
      assert.equal(one.status, expected, `HTTP/1.1 ${p}`);
      assert.equal(two.status, expected, `HTTP/2 ${p}`);
      if (expected >= 400)
        assert.equal(two.contentType, 'application/problem+json', `HTTP/2 ${p} is a problem`);
    }
  });

  test('the rate limit counts HTTP/2 requests too: a burst on one connection gets 429s', async () => {
    const statuses = new Map<number, number>();
    for (let batch = 0; batch < 6; batch++) {
      const answers = await Promise.all(Array.from({ length: 50 }, () => h2Get(session!, '/products', {})));
      for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    }
    assert.ok((statuses.get(429) ?? 0) > 0, `429s among ${JSON.stringify([...statuses])}`);
    assert.ok((statuses.get(200) ?? 0) > 0, 'the first requests pass');
  });
});
