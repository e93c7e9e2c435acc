import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** The OpenAPI document of the demo shop. */
export const DEMO_SPEC = path.join(import.meta.dirname, 'openapi.yaml');

interface Account {
  id: string;
  name: string;
  email: string;
  role: 'user' | 'admin';
  /** Internal field the API must never expose; the response protection strips it. */
  passwordHash: string;
}

interface Order {
  id: number;
  productId: number;
  quantity: number;
  note?: string;
  status: 'placed' | 'shipped';
}

export interface DemoApi {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The demo shop: a deliberately trusting upstream. It believes `X-Portcullis-Subject` and does no
 * authorization of its own, and it leaks an internal field in account responses, so that what the gateway
 * protects is visible. Never expose it without the gateway in front.
 */
export async function startDemoApi(opts: { host?: string; port?: number } = {}): Promise<DemoApi> {
  const accounts = new Map<string, Account>(
    [
      { id: 'alice', name: 'Alice Liddell', email: 'alice@example.com', role: 'user' as const },
      { id: 'bob', name: 'Bob Marley', email: 'bob@example.com', role: 'user' as const },
      { id: 'admin', name: 'Ada Admin', email: 'admin@example.com', role: 'admin' as const },
    ].map((a) => [a.id, { ...a, passwordHash: '$2b$10$demoDemoDemoDemoDemoDeuO7bT0KZ1q6R0' }]),
  );
  const orders = new Map<string, Order[]>([
    ['alice', [{ id: 1, productId: 1, quantity: 2, status: 'shipped' }]],
    ['bob', [{ id: 2, productId: 3, quantity: 1, note: 'gift wrap', status: 'placed' }]],
    ['admin', []],
  ]);
  let nextOrderId = 3;
  const products = [
    { id: 1, name: 'Portcullis mug', priceCents: 1200 },
    { id: 2, name: 'Drawbridge sticker', priceCents: 300 },
    { id: 3, name: 'Moat T-shirt', priceCents: 2500 },
  ];
  const redeemed = new Set<string>();

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  // Errors as RFC 9457 problems, as the spec declares them.
  const fail = (res: ServerResponse, status: number, title: string) => {
    const text = JSON.stringify({ type: 'about:blank', title, status });
    res.writeHead(status, {
      'content-type': 'application/problem+json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };
  const readJson = (req: IncomingMessage) =>
    new Promise<unknown>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          resolve(undefined);
        }
      });
    });

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo');
    const parts = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    if (method === 'GET' && url.pathname === '/health') return json(res, 200, { status: 'ok' });
    if (method === 'GET' && url.pathname === '/products') {
      const limit = Number(url.searchParams.get('limit') ?? 10);
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      return json(res, 200, products.filter((p) => p.name.toLowerCase().includes(q)).slice(0, limit));
    }
    if (parts[0] === 'accounts' && parts[1]) {
      const account = accounts.get(parts[1]);
      if (!account) return fail(res, 404, 'no such account');
      if (parts.length === 2 && method === 'GET') return json(res, 200, account); // leaks passwordHash
      const list = orders.get(account.id) ?? [];
      if (parts[2] === 'orders' && parts.length === 3 && method === 'GET') {
        return json(res, 200, list.slice(0, Number(url.searchParams.get('limit') ?? 20)));
      }
      if (parts[2] === 'orders' && parts.length === 3 && method === 'POST') {
        const body = (await readJson(req)) as Partial<Order> | undefined;
        if (!body || typeof body.productId !== 'number') return fail(res, 400, 'bad order');
        const order: Order = { ...body, id: nextOrderId++, status: 'placed' } as Order;
        list.push(order);
        orders.set(account.id, list);
        return json(res, 201, order);
      }
      if (parts[2] === 'orders' && parts.length === 4 && method === 'GET') {
        const order = list.find((o) => o.id === Number(parts[3]));
        return order ? json(res, 200, order) : fail(res, 404, 'no such order');
      }
    }
    if (method === 'POST' && url.pathname === '/coupons/redeem') {
      const body = (await readJson(req)) as { code?: string } | undefined;
      const who = String(req.headers['x-portcullis-subject'] ?? 'anonymous');
      if (body?.code !== 'WELCOME10') return fail(res, 400, 'unknown coupon');
      if (redeemed.has(who)) return fail(res, 400, 'already redeemed');
      redeemed.add(who);
      return json(res, 200, { discountPercent: 10 });
    }
    if (method === 'GET' && url.pathname === '/admin/users') return json(res, 200, [...accounts.values()]);
    if (method === 'DELETE' && parts[0] === 'admin' && parts[1] === 'users' && parts[2]) {
      if (!accounts.delete(parts[2])) return fail(res, 404, 'no such user');
      res.writeHead(204).end();
      return;
    }
    // An unhandled path answers like a careless framework would: with internals the gateway must mask.
    json(res, 500, {
      error: 'Error: route not found',
      stack: `at Router.handle (${import.meta.filename}:1:1)`,
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
