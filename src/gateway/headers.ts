import type { IncomingHttpHeaders } from 'node:http';
import type { ForwardingInfo } from '../shared/forwarding.ts';
import { createHexWriter } from './ids.ts';

const writeRandomHex = createHexWriter();

/** Connection-specific fields never forwarded (RFC 9110 §7.6.1), plus the legacy ones proxies still see. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // The h2c upgrade's settings belong to the connection that sent them (RFC 7540 §3.2.1).
  'http2-settings',
]);

/** Fields the gateway sets itself towards the upstream; incoming values are dropped or rebuilt. */
const REBUILT = new Set([
  'host',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-real-ip',
  'traceparent',
  'x-request-id',
  'content-length',
  // Node answers `Expect: 100-continue` itself before the request reaches the gateway; the upstream
  // gets a request whose body is already on its way (undici refuses the field outright).
  'expect',
  // The method was judged as sent: an upstream must not be told to treat the request as another one.
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
]);

/**
 * Fields in which a TLS-terminating proxy vouches for the client (RFC 9440 client certificates, the
 * client-address fields of CDNs and load balancers). They are believed only from a trusted proxy, and
 * removed from requests of any other peer before forwarding.
 */
export const PROXY_ASSERTED_HEADERS: readonly string[] = [
  'client-cert',
  'client-cert-chain',
  'true-client-ip',
  'x-client-ip',
  'client-ip',
  'cf-connecting-ip',
  'x-cluster-client-ip',
  'fastly-client-ip',
  'x-originating-ip',
];

/**
 * Fields some policy reads as one value. A request that repeats one is refused: Node keeps the first
 * copy in `req.headers` while the upstream would see them all, and may believe another one.
 */
export const SINGLE_VALUE_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'host',
  'user-agent',
  'referer',
  'cookie',
  'origin',
  'dpop',
  'x-api-key',
  'client-cert',
  'client-cert-chain',
  'expect',
  'traceparent',
  'x-request-id',
  'access-control-request-method',
];

/** Names listed in `Connection` are hop-by-hop too (RFC 9110 §7.6.1). */
function connectionTokens(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(',') : value;
  return text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}

/**
 * A new, empty record of header fields: fields are own properties and nothing is inherited, so a field
 * named `constructor`, `toString` or `__proto__` is a field like any other. Made by a constructor whose
 * prototype has no prototype rather than by `Object.create(null)`, which V8 makes a dictionary: filling
 * one with the ten or so fields of a request cost 3-4 times as much time and memory (issue 18).
 */
export const newHeaderFields = (() => {
  function HeaderFields() {}
  HeaderFields.prototype = Object.create(null);
  const Fields = HeaderFields as unknown as new () => Record<string, never>;
  return <T>(): Record<string, T> => new Fields();
})();

/** Why a request's header section has no single reading. */
export class HeaderFault {
  readonly fault: 'repeated_header' | 'underscore_header';
  /** The offending field name, lower case (a name, never a value). */
  readonly name: string;
  constructor(fault: HeaderFault['fault'], name: string) {
    this.fault = fault;
    this.name = name;
  }
}

/**
 * The set of single-value field names, compiled once per config: each name gets a bit, so a request
 * finds its repeats with one integer and no allocation.
 */
export interface SingleValueFields {
  readonly bits: ReadonlyMap<string, number>;
}

export function compileSingleValueFields(extra: Iterable<string>): SingleValueFields {
  const names = new Set(SINGLE_VALUE_HEADERS);
  for (const n of extra) names.add(n.toLowerCase());
  const bits = new Map<string, number>();
  let i = 0;
  for (const n of names) bits.set(n, i++);
  return { bits };
}

/**
 * Reads a request's header section once, into the fields to forward upstream: hop-by-hop fields, fields
 * the gateway rebuilds and `strip` (identity headers it owns) are left out; repeated fields are kept.
 * Returns a fault instead when the section has no single reading: a single-value field repeated, or a
 * name with `_`, which CGI, WSGI and PHP upstreams fold into the same variable as its `-` spelling
 * (`X_Portcullis_Subject` would arrive as the gateway's own identity header).
 */
export function readRequestHeaders(
  rawHeaders: readonly string[],
  connection: string | string[] | undefined,
  strip: ReadonlySet<string>,
  single: SingleValueFields,
): Record<string, string | string[]> | HeaderFault {
  const extra = connection === undefined ? undefined : connectionTokens(connection);
  const out = newHeaderFields<string | string[]>();
  let seen = 0;
  let seenMore: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (name.includes('_')) return new HeaderFault('underscore_header', name);
    const bit = single.bits.get(name);
    if (bit !== undefined) {
      if (bit < 31) {
        const mask = 1 << bit;
        if ((seen & mask) !== 0) return new HeaderFault('repeated_header', name);
        seen |= mask;
      } else {
        seenMore ??= new Set();
        if (seenMore.has(name)) return new HeaderFault('repeated_header', name);
        seenMore.add(name);
      }
    }
    if (HOP_BY_HOP.has(name) || REBUILT.has(name) || strip.has(name)) continue;
    if (extra?.includes(name)) continue;
    const value = rawHeaders[i + 1];
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

/**
 * The header section of an HTTP/2 request as an HTTP/1.1 request would carry it, for every reader of
 * `rawHeaders` (the receive step, the WAF): pseudo-header fields are left out, `:authority` becomes
 * `host` where it stood (RFC 9113 §8.3.1), and the `cookie` fields a client may split for compression
 * are joined with `; ` into one (RFC 9113 §8.2.3). A `host` field that disagrees with `:authority` is
 * kept beside it, so the section names its host twice and is refused as a repeated Host: the gateway
 * would route on one and the upstream might read the other. A `host` that agrees is dropped as a copy.
 */
export function http2RawHeaders(raw: readonly string[]): string[] {
  let authority: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i] === ':authority') {
      authority = raw[i + 1];
      break;
    }
  }
  const out: string[] = [];
  let cookieAt = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (name.charCodeAt(0) === 58 /* ':' */) {
      if (name === ':authority') out.push('host', value);
      continue;
    }
    if (name === 'host' && authority !== undefined && value.toLowerCase() === authority.toLowerCase())
      continue;
    if (name === 'cookie') {
      if (cookieAt !== -1) {
        out[cookieAt] = `${out[cookieAt]}; ${value}`;
        continue;
      }
      cookieAt = out.length + 1;
    }
    out.push(name, value);
  }
  return out;
}

/**
 * An upstream response's header fields without the hop-by-hop ones (RFC 9110 §7.6.1), as a new object:
 * copying the five or so fields an upstream usually sends is cheaper than deleting from undici's object,
 * which `delete` turns into a slow dictionary for every later read and write of the response head.
 */
export function responseHeadersWithoutHopByHop(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[] | undefined> {
  // Header names from undici are lower-case.
  const connection = headers.connection;
  // `keep-alive`, by far the usual value, names a field left out anyway: no split needed.
  const listed =
    connection !== undefined && !ONLY_HOP_BY_HOP.test(typeof connection === 'string' ? connection : '')
      ? connectionTokens(connection)
      : undefined;
  // Nothing inherited: a field named `__proto__` stays a field (undici keeps it as an own property too).
  const out = newHeaderFields<string | string[] | undefined>();
  for (const name in headers) {
    if (HOP_BY_HOP.has(name) || listed?.includes(name)) continue;
    out[name] = headers[name];
  }
  return out;
}

/** A Connection value naming one field that is always removed. */
const ONLY_HOP_BY_HOP = /^\s*(?:keep-alive|upgrade)\s*$/i;

/** Quotes a Forwarded parameter value when needed (RFC 7239 §4); IPv6 addresses are bracketed and quoted. */
function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const QUOTED_SPECIALS = /["\\]/g;

function forwardedToken(v: string): string {
  return TOKEN.test(v) ? v : `"${v.replace(QUOTED_SPECIALS, '\\$&')}"`;
}

/**
 * The last Forwarded element made, and what it was made from: a keep-alive connection sends the same
 * peer, scheme and Host request after request, and the element is rebuilt only when one of them changes.
 * One entry, compared by value: nothing accumulates.
 */
let lastElement = { peerIp: '', proto: '', host: '', element: '' };

function forwardedElement(peerIp: string, proto: string, host: string): string {
  const last = lastElement;
  if (last.peerIp === peerIp && last.proto === proto && last.host === host && last.element !== '')
    return last.element;
  const element = `for=${forwardedNode(peerIp)};proto=${proto}${host ? `;host=${forwardedToken(host)}` : ''}`;
  lastElement = { peerIp, proto, host, element };
  return element;
}

/**
 * Sets `Forwarded` (RFC 7239) and `X-Forwarded-*` for the upstream. Chains from a trusted proxy are
 * extended; from anyone else they are replaced.
 */
export function setForwardingHeaders(
  out: Record<string, string | string[]>,
  incoming: IncomingHttpHeaders,
  peerIp: string,
  trustedPeer: boolean,
  info: ForwardingInfo,
): void {
  const element = forwardedElement(peerIp, info.proto, info.host);
  const prevForwarded = trustedPeer ? incoming.forwarded : undefined;
  out.forwarded = prevForwarded ? `${prevForwarded}, ${element}` : element;
  const prevXff = trustedPeer ? incoming['x-forwarded-for'] : undefined;
  out['x-forwarded-for'] = prevXff
    ? `${Array.isArray(prevXff) ? prevXff.join(', ') : prevXff}, ${peerIp}`
    : peerIp;
  out['x-forwarded-proto'] = info.proto;
  if (info.host) out['x-forwarded-host'] = info.host;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * The request's W3C trace context: the traceparent sent upstream (`00-{trace id}-{the gateway's span
 * id}-{flags}`, 55 characters) and a new request id drawn with it. The ids are read out of the
 * traceparent when asked for: most requests only send it on, and log the trace id once.
 */
export class TraceContext {
  /** The traceparent to send upstream. */
  readonly traceparent: string;
  /** A new request id: the first half of the trace id and eight more random hex digits (`requestId`). */
  readonly newRequestId: string;
  constructor(traceparent: string, newRequestId: string) {
    this.traceparent = traceparent;
    this.newRequestId = newRequestId;
  }
  get traceId(): string {
    return this.traceparent.slice(3, 35);
  }
  /** The gateway's own span id, sent upstream as the new parent id. */
  get spanId(): string {
    return this.traceparent.slice(36, 52);
  }
  get flags(): string {
    return this.traceparent.slice(53, 55);
  }
}

/**
 * Where a trace context is assembled: the traceparent in bytes 0-54, the new request id in 55-78. Two
 * strings are made from it, instead of a random hex string, its slices and their concatenations.
 */
const traceScratch = Buffer.from(`00-${'0'.repeat(32)}-${'0'.repeat(16)}-01${'0'.repeat(24)}`, 'latin1');

/**
 * Continues a W3C Trace Context (`traceparent`) or starts one. A malformed or all-zero header is
 * ignored and a new trace begins (W3C Trace Context §3.2.2.x / §4.3).
 */
export function continueTrace(header: string | string[] | undefined): TraceContext {
  const m = typeof header === 'string' ? TRACEPARENT.exec(header) : null;
  const out = traceScratch;
  if (
    m &&
    m[1] !== 'ff' &&
    m[2] !== ZERO_TRACE &&
    m[3] !== ZERO_SPAN &&
    !(m[1] === '00' && header!.length !== 55)
  ) {
    // The incoming trace id and flags, checked as lower-case hex above.
    out.write(m[2], 3, 'latin1');
    out.write(m[4], 53, 'latin1');
  } else {
    writeRandomHex(out, 3, 16);
    out[53] = 0x30; // '0'
    out[54] = 0x31; // '1': sampled
  }
  writeRandomHex(out, 36, 8);
  out.copy(out, 55, 3, 19);
  writeRandomHex(out, 71, 4);
  return new TraceContext(out.toString('latin1', 0, 55), out.toString('latin1', 55, 79));
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/**
 * Request id: a well-formed incoming `X-Request-Id` from a trusted proxy, otherwise the trace context's
 * new one (the first half of the trace id and eight more random hex digits).
 */
export function requestId(
  incoming: string | string[] | undefined,
  trustedPeer: boolean,
  trace: TraceContext,
): string {
  if (trustedPeer && typeof incoming === 'string' && REQUEST_ID.test(incoming)) return incoming;
  return trace.newRequestId;
}
