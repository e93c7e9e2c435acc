import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WellKnownDocument } from '../core/policy.ts';
import { type Problem, problem, problems } from '../core/problems.ts';

/** Paths the gateway may answer itself before routing (RFC 8615). */
export const WELL_KNOWN_PREFIX = '/.well-known/';

/** One published document, the API it belongs to (`T`) and the hosts it is answered on (null: any). */
export interface WellKnownEntry<T> {
  readonly api: T;
  readonly hosts: ReadonlySet<string> | null;
  readonly doc: WellKnownDocument;
}

interface Compiled<T> {
  readonly entry: WellKnownEntry<T>;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/** The documents of one config snapshot, looked up by exact path and host. */
export interface WellKnownTable<T> {
  find(path: string, host: string): Compiled<T> | undefined;
}

/**
 * Compiles the published documents into a lookup table; null when there are none, so the request path
 * skips the check. Throws when two APIs publish the same path on overlapping hosts.
 */
export function compileWellKnown<T>(
  entries: ReadonlyArray<WellKnownEntry<T>>,
  nameOf: (api: T) => string,
): WellKnownTable<T> | null {
  if (entries.length === 0) return null;
  const byPath = new Map<string, Compiled<T>[]>();
  for (const entry of entries) {
    const { doc } = entry;
    if (!doc.path.startsWith(WELL_KNOWN_PREFIX)) {
      throw new Error(`${nameOf(entry.api)}: ${doc.path} is not under ${WELL_KNOWN_PREFIX}`);
    }
    const list = byPath.get(doc.path) ?? [];
    for (const other of list) {
      const overlap =
        entry.hosts === null ||
        other.entry.hosts === null ||
        [...entry.hosts].some((h) => other.entry.hosts!.has(h));
      if (overlap) {
        throw new Error(
          `${nameOf(entry.api)} and ${nameOf(other.entry.api)} both publish ${doc.path} on the same host; give the APIs distinct hosts or resources`,
        );
      }
    }
    const body = Buffer.from(doc.body);
    list.push({
      entry,
      body,
      headers: {
        'content-type': doc.contentType,
        'content-length': String(body.length),
        'cache-control': `public, max-age=${doc.maxAgeSeconds}`,
        'x-content-type-options': 'nosniff',
        // Public metadata without credentials: browser-based clients may read it from any origin.
        'access-control-allow-origin': '*',
      },
    });
    byPath.set(doc.path, list);
  }
  return {
    find(path, host) {
      const list = byPath.get(path);
      if (list === undefined) return undefined;
      for (const c of list) if (c.entry.hosts === null || c.entry.hosts.has(host)) return c;
      return undefined;
    },
  };
}

/**
 * Answers GET and HEAD with the document; any other method gets a 405 problem to send (the path exists,
 * but it is read-only), so nothing but GET or HEAD is ever answered as metadata.
 */
export function answerWellKnown(
  found: { readonly body: Buffer; readonly headers: Readonly<Record<string, string>> },
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  hsts: string | undefined,
): Problem | undefined {
  const method = req.method;
  if (method !== 'GET' && method !== 'HEAD') {
    return problem(problems.methodNotAllowed, `${method} is not allowed on this document`, {
      reason: 'undeclared_method',
      headers: { allow: 'GET, HEAD' },
    });
  }
  const headers: Record<string, string> = { ...found.headers, 'x-request-id': requestId };
  if (hsts !== undefined) headers['strict-transport-security'] = hsts;
  res.writeHead(200, headers);
  res.end(method === 'HEAD' ? undefined : found.body);
  return undefined;
}
