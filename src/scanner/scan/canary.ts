/** A loopback listener that records callbacks: proof that the API fetched a URL the scanner gave it. */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

export interface CanaryHit {
  readonly path: string;
  readonly at: number;
}

export interface Canary {
  readonly port: number;
  /** A fresh URL on the canary, `http://127.0.0.1:PORT/c/<token>`; `host` replaces the address. */
  url(host?: string): { url: string; token: string };
  /** Waits up to `ms` for a request to the token's path. */
  waitFor(token: string, ms: number): Promise<CanaryHit | undefined>;
  close(): Promise<void>;
}

/** The body the canary answers with: recognisable markup a careful API would not pass through verbatim. */
export const CANARY_BODY_MARKER = 'portcullis-canary';

const MAX_HITS = 1000;

/** Starts the canary on 127.0.0.1, port 0. */
export async function startCanary(): Promise<Canary> {
  const hits = new Map<string, CanaryHit>();
  const waiters = new Map<string, (hit: CanaryHit) => void>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const token = path.split('/')[2] ?? '';
    const hit = { path, at: Date.now() };
    if (hits.size < MAX_HITS) hits.set(path, hit);
    waiters.get(path)?.(hit);
    if (path.endsWith('/redirect')) {
      res.writeHead(302, { location: `/c/${token}/redirected` });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<script>/*${CANARY_BODY_MARKER}:${token}*/</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('canary has no port');
  const port = address.port;
  return {
    port,
    url(host = '127.0.0.1') {
      const token = randomUUID();
      return { url: `http://${host}:${port}/c/${token}`, token };
    },
    waitFor(path, ms) {
      const key = path.startsWith('/') ? path : `/c/${path}`;
      const seen = hits.get(key);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(key);
          resolve(undefined);
        }, ms);
        waiters.set(key, (hit) => {
          clearTimeout(timer);
          waiters.delete(key);
          resolve(hit);
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
