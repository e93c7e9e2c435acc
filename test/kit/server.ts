/**
 * The server part of the test kit: real HTTP(S) servers on 127.0.0.1 with a free port, one HTTP request on
 * its own connection, an echo upstream, and a wait for a condition. Light to import (no gateway), so policy
 * tests use it directly; test/harness.ts re-exports it beside the gateway.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly server: http.Server;
  close(): Promise<void>;
}

/** Starts a real HTTP server (HTTPS with `opts.https`) on 127.0.0.1 with a free port. */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  opts: { https?: https.ServerOptions } = {},
): Promise<TestServer> {
  const server: http.Server =
    opts.https === undefined
      ? http.createServer(handler)
      : (https.createServer(opts.https, handler) as unknown as http.Server);
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${opts.https === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * Sends one HTTP/1.1 request on its own connection (node:http, so any Host and hop-by-hop header can be
 * set, which fetch forbids) and resolves with the whole response.
 */
export function httpRequest(
  url: string,
  opts: {
    method?: string;
    path: string;
    headers?: Record<string, string | string[]>;
    body?: Buffer | string;
    /** Local address to send from (any 127.x.y.z on loopback), e.g. to be a trusted proxy or not. */
    localAddress?: string;
  },
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        method: opts.method ?? 'GET',
        path: opts.path,
        headers: opts.headers,
        localAddress: opts.localAddress,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An upstream that answers every request with a JSON echo of what it received. */
export function echoHandler(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.stringify({
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

/**
 * Polls `probe` every `everyMs` of real time until it gives a truthy value, and resolves with that value;
 * throws `timed out waiting for <what>` after `ms`. For conditions another process or socket brings about;
 * a test that drives time itself moves its manual clock instead.
 */
export async function until<T>(
  probe: () => T | Promise<T>,
  what: string,
  opts: { ms?: number; everyMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.ms ?? 10_000);
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 20));
  }
}
