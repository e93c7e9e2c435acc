/** What a benchmark scenario is, and the request bodies and spec they share. */

export interface Scenario {
  readonly name: string;
  /** What runs the proxy. */
  readonly kind: 'nginx' | 'nginx-modsecurity' | 'haproxy' | 'node-minimal' | 'portcullis';
  /** Portcullis: extra config merged into the API entry (policies, ...), and the spec to serve. */
  readonly api?: Record<string, unknown>;
  readonly server?: Record<string, unknown>;
  readonly root?: Record<string, unknown>;
  readonly spec?: object;
  /** Merged into the root of the bench spec (security schemes, root `security`). */
  readonly specPatch?: Record<string, unknown>;
  readonly workers?: number;
  readonly accessLog?: boolean;
  readonly method?: 'GET' | 'POST';
  readonly path?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Runs before the scenario starts (e.g. serving a JWKS); returns a cleanup function. */
  setup?(): Promise<{
    env?: Record<string, string>;
    headers?: Record<string, string>;
    cleanup(): Promise<void>;
  }>;
}

/** A 1 KB JSON order, as an API client would POST it. */
export const JSON_1K = JSON.stringify({
  customer: { id: 'c-1029384756', name: "Dana O'Brien", email: 'dana.obrien@example.com', tier: 'gold' },
  shipping: { street: '221B Baker Street', city: 'London', postcode: 'NW1 6XE', country: 'GB' },
  items: [
    { sku: 'MUG-PORTCULLIS', quantity: 2, priceCents: 1200, note: 'gift wrap, please' },
    { sku: 'TEE-MOAT-L', quantity: 1, priceCents: 2500, note: 'select the blue one if available' },
    { sku: 'STICKER-DRAWBRIDGE', quantity: 10, priceCents: 300, note: '' },
  ],
  coupon: 'WELCOME10',
  comment:
    'Please deliver between 9 and 5; if nobody answers, leave it with the neighbour at number 223. Thanks a lot for the quick service last time!',
  metadata: {
    source: 'web',
    campaign: 'autumn-2026',
    referrer: 'https://blog.example.com/posts/moats-and-drawbridges',
  },
}).padEnd(1024, ' ');

const orderSchema = {
  type: 'object',
  required: ['customer', 'items'],
  properties: {
    customer: {
      type: 'object',
      properties: {
        id: { type: 'string', maxLength: 64 },
        name: { type: 'string', maxLength: 100 },
        email: { type: 'string', format: 'email' },
        tier: { enum: ['basic', 'gold'] },
      },
    },
    shipping: {
      type: 'object',
      properties: {
        street: { type: 'string', maxLength: 200 },
        city: { type: 'string', maxLength: 100 },
        postcode: { type: 'string', maxLength: 16 },
        country: { type: 'string', pattern: '^[A-Z]{2}$' },
      },
    },
    items: {
      type: 'array',
      maxItems: 50,
      items: {
        type: 'object',
        properties: {
          sku: { type: 'string', maxLength: 64 },
          quantity: { type: 'integer', minimum: 1, maximum: 100 },
          priceCents: { type: 'integer', minimum: 0 },
          note: { type: 'string', maxLength: 200 },
        },
      },
    },
    coupon: { type: 'string', maxLength: 32 },
    comment: { type: 'string', maxLength: 1000 },
    metadata: {
      type: 'object',
      properties: {
        source: { type: 'string' },
        campaign: { type: 'string' },
        referrer: { type: 'string', format: 'uri' },
      },
    },
  },
};

const itemSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    price: { type: 'number' },
    stock: { type: 'integer' },
    description: { type: 'string' },
  },
};

export const BENCH_SPEC = {
  openapi: '3.1.0',
  info: { title: 'bench', version: '1' },
  security: [],
  paths: {
    '/bench': {
      get: {
        operationId: 'getBench',
        responses: { '200': { description: 'ok', content: { 'application/json': { schema: itemSchema } } } },
      },
      post: {
        operationId: 'postBench',
        requestBody: { required: true, content: { 'application/json': { schema: orderSchema } } },
        responses: { '200': { description: 'ok', content: { 'application/json': { schema: itemSchema } } } },
      },
    },
  },
};

export const JSON_POST = {
  method: 'POST',
  body: JSON_1K,
  headers: { 'content-type': 'application/json' },
} as const;
