import type { IncomingMessage } from 'node:http';
import type { Exchange } from '../../core/exchange.ts';
import type { CompileContext, PolicyDefinition, PolicyHandler, ResponseHead } from '../../core/policy.ts';
import { type ConfigOf, defaultsOf } from '../../core/policy-config.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import { emitViolation } from '../violation-events.ts';

/** JSON Schema of the `cors` config block. */
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    allowOrigins: {
      type: 'array',
      items: { type: 'string', pattern: '^https?://[^/?#*]+$' },
      default: [],
      description:
        'Origins (scheme://host[:port], exact, no wildcards) that may call the API from a browser. Others are ' +
        'never reflected.',
    },
    allowCredentials: {
      type: 'boolean',
      default: false,
      description: 'Send Access-Control-Allow-Credentials: true (only ever to listed origins).',
    },
    allowHeaders: {
      type: 'array',
      items: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
      default: ['authorization', 'content-type'],
      description:
        'Request headers a preflight may ask for, besides the header parameters the operation declares.',
    },
    exposeHeaders: {
      type: 'array',
      items: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
      default: [],
      description: 'Response headers scripts may read (Access-Control-Expose-Headers).',
    },
    maxAgeSeconds: {
      type: 'integer',
      minimum: 0,
      default: 600,
      description: 'How long browsers may cache a preflight answer (Access-Control-Max-Age).',
    },
    rejectUnlistedOrigins: {
      type: 'boolean',
      default: true,
      description:
        'Answer 403 to requests whose Origin is not listed (cross-site request forgery from other sites); ' +
        'false only withholds the CORS headers.',
    },
  },
} as const;

export type CorsConfig = ConfigOf<typeof schema>;

export const defaults = defaultsOf<CorsConfig>(schema);

/** The gateway's answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`). */
export interface PreflightAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

/** The compiled CORS handler: request and response hooks plus the preflight answer for its operation. */
export interface CorsHandler extends PolicyHandler {
  /**
   * Answers a preflight for this handler's operation (the gateway matches the route with the method in
   * `Access-Control-Request-Method`). A problem means the preflight is refused.
   */
  preflight(req: IncomingMessage): PreflightAnswer | Problem;
}

/** Whether a request is a CORS preflight (Fetch standard §3.2.2): OPTIONS with Origin and a requested method. */
export function isCorsPreflight(req: IncomingMessage): boolean {
  return (
    req.method === 'OPTIONS' &&
    req.headers.origin !== undefined &&
    typeof req.headers['access-control-request-method'] === 'string'
  );
}

/** Whether a compiled handler is the CORS handler (so the gateway can ask it to answer a preflight). */
export function isCorsHandler(handler: PolicyHandler): handler is CorsHandler {
  return typeof (handler as Partial<CorsHandler>).preflight === 'function';
}

// Fetch standard §4.8 / §3.2.2: headers a page may send without a preflight need no allowance.
const SAFELISTED = ['accept', 'accept-language', 'content-language', 'content-type', 'range'];

function normaliseOrigin(origin: string): string {
  try {
    const u = new URL(origin);
    return `${u.protocol}//${u.host}`;
  } catch {
    return '';
  }
}

function appendVary(head: ResponseHead, value: string): void {
  const current = head.headers.vary;
  const list = (Array.isArray(current) ? current.join(',') : (current ?? '')).split(',').map((v) => v.trim());
  if (list.includes('*')) return;
  const have = new Set(list.filter((v) => v !== '').map((v) => v.toLowerCase()));
  const add = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => !have.has(v.toLowerCase()));
  if (add.length > 0) head.headers.vary = [...list.filter((v) => v !== ''), ...add].join(', ');
}

/** One operation's CORS settings, compiled. */
interface CorsState {
  readonly ctx: CompileContext;
  readonly c: typeof defaults & CorsConfig;
  /** Listed origins, normalised; compared exactly, never as patterns. */
  readonly origins: ReadonlySet<string>;
  readonly allowedHeaders: ReadonlySet<string>;
  readonly method: string;
  readonly expose: string;
  readonly maxAge: string;
}

/** Compiles the CORS policy for one operation. */
export function compileCors(config: CorsConfig, ctx: CompileContext): CorsHandler {
  const c = { ...defaults, ...config };
  const s: CorsState = {
    ctx,
    c,
    origins: new Set(c.allowOrigins.map(normaliseOrigin).filter((o) => o !== '')),
    allowedHeaders: new Set([
      ...SAFELISTED,
      ...c.allowHeaders.map((h) => h.toLowerCase()),
      ...ctx.operation.parameters.filter((p) => p.in === 'header').map((p) => p.name.toLowerCase()),
    ]),
    method: ctx.operation.method,
    expose: c.exposeHeaders.join(', '),
    maxAge: String(c.maxAgeSeconds),
  };
  return {
    onRequest: (ex) => onRequest(s, ex),
    onResponseHead(_ex, head) {
      // Only the gateway speaks CORS: an upstream's own `Access-Control-Allow-Origin: *` must not leak out.
      for (const k of Object.keys(head.headers)) if (k.startsWith('access-control-')) delete head.headers[k];
      appendVary(head, 'Origin');
    },
    preflight: (req) => preflight(s, req),
  };
}

// ---- Per request ----

/** The listed origin of a request, or undefined; exact comparison, never a pattern. */
function listed(s: CorsState, req: IncomingMessage): string | undefined {
  const origin = req.headers.origin;
  if (origin === undefined || origin === 'null') return undefined;
  return s.origins.has(origin) ? origin : undefined;
}

function refuse(s: CorsState, ex: Exchange | undefined, reason: string): Problem {
  if (ex !== undefined) emitViolation(s.ctx, ex, { policy: 'cors', action: 'cors', reason, mode: s.c.mode });
  return problem(problems.forbidden, 'This origin may not call the API.', { reason });
}

function onRequest(s: CorsState, ex: Exchange): Problem | undefined {
  const { c } = s;
  const origin = ex.req.headers.origin;
  if (origin === undefined) return undefined; // not a browser cross-origin request
  const allowed = listed(s, ex.req);
  if (allowed === undefined) return c.rejectUnlistedOrigins ? refuse(s, ex, 'origin_not_allowed') : undefined;
  ex.responseHeaders['access-control-allow-origin'] = allowed;
  if (c.allowCredentials) ex.responseHeaders['access-control-allow-credentials'] = 'true';
  if (s.expose !== '') ex.responseHeaders['access-control-expose-headers'] = s.expose;
  return undefined;
}

function preflight(s: CorsState, req: IncomingMessage): ReturnType<CorsHandler['preflight']> {
  const allowed = listed(s, req);
  if (allowed === undefined) return refuse(s, undefined, 'origin_not_allowed');
  const requested = req.headers['access-control-request-method'];
  if (requested !== s.method) return refuse(s, undefined, 'method_not_allowed');
  const asked = (req.headers['access-control-request-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  if (asked.some((h) => !s.allowedHeaders.has(h))) return refuse(s, undefined, 'header_not_allowed');
  const headers: Record<string, string> = {
    'access-control-allow-origin': allowed,
    'access-control-allow-methods': s.method,
    'access-control-max-age': s.maxAge,
    vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
  };
  if (asked.length > 0) headers['access-control-allow-headers'] = asked.join(', ');
  if (s.c.allowCredentials) headers['access-control-allow-credentials'] = 'true';
  return { status: 204, headers };
}

/**
 * `cors`: CORS from an exact origin allowlist. Runs in the first stage so that even a 401 or 429 carries
 * the headers a listed origin needs to read it; unlisted origins are never reflected.
 */
export const cors: PolicyDefinition<CorsConfig> = {
  name: 'cors',
  stage: 'ban',
  description:
    'CORS from an exact allowlist of origins: no reflection of other origins, credentials only for listed ' +
    'ones, preflights answered by the gateway, upstream CORS headers replaced.',
  schema,
  compile: compileCors,
};
