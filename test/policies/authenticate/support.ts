/**
 * What the authentication tests need beyond the test kit (test/kit/policy.ts, test/kit/policy-server.ts):
 * an identity provider's JWKS endpoint whose keys and availability the test controls.
 */
import type { JsonObject } from '../../../src/core/api-document.ts';
import { startServer } from '../../kit/server.ts';

/** A JWKS endpoint whose key set and availability the test controls. */
export interface JwksServer {
  readonly url: string;
  readonly origin: string;
  /** Number of JWKS requests served. */
  readonly hits: number;
  setKeys(keys: JsonObject[]): void;
  setDown(down: boolean): void;
  /** Extra JSON documents served at given paths (e.g. discovery metadata). */
  serve(path: string, body: unknown): void;
  close(): Promise<void>;
}

export async function startJwksServer(): Promise<JwksServer> {
  let keys: JsonObject[] = [];
  let down = false;
  let hits = 0;
  const extra = new Map<string, unknown>();
  const server = await startServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/jwks') {
      hits++;
      if (down) {
        res.writeHead(503).end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify({ keys }));
      return;
    }
    if (extra.has(path)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(extra.get(path)));
      return;
    }
    res.writeHead(404).end();
  });
  const origin = server.url;
  return {
    url: `${origin}/jwks`,
    origin,
    get hits() {
      return hits;
    },
    setKeys(k) {
      keys = k;
    },
    setDown(d) {
      down = d;
    },
    serve(path, body) {
      extra.set(path, body);
    },
    close: () => server.close(),
  };
}
