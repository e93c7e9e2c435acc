import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiDocument, Operation } from './api-document.ts';

/** How the caller proved who they are. */
export type AuthMethod = 'jwt' | 'introspection' | 'api-key' | 'basic' | 'mtls' | 'dpop' | 'anonymous';

/** The authenticated caller, attached by the authenticate stage. */
export interface Principal {
  /** Token `sub`, consumer name or certificate subject. */
  readonly subject: string;
  /** Consumer name, when the caller maps to a configured consumer. */
  readonly consumer?: string;
  readonly scopes: ReadonlySet<string>;
  readonly roles: ReadonlySet<string>;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly method: AuthMethod;
  /** Security schemes (from the spec) that this caller satisfied. */
  readonly schemes: readonly string[];
}

/** The route a request matched. */
export interface RouteMatch {
  readonly api: string;
  readonly spec: ApiDocument;
  readonly operation: Operation;
  /** Raw (still percent-encoded) path parameter values, by name. */
  readonly pathParams: Readonly<Record<string, string>>;
}

/**
 * One request passing through the gateway. Policies read it and may attach typed results; it carries
 * no behaviour of its own.
 */
export interface Exchange {
  readonly id: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Monotonic start time in ms (performance.now()). */
  readonly startedAt: number;
  /** Client address after trusted-proxy resolution. */
  readonly clientIp: string;
  /**
   * The TCP peer is one of `server.trustedProxies`: fields a proxy asserts about the client (forwarding,
   * RFC 9440 `Client-Cert`) may be believed. Absent means no.
   */
  readonly fromTrustedProxy?: boolean;
  readonly scheme: 'http' | 'https';
  readonly host: string;
  /** Path without the API base path, not decoded. */
  readonly path: string;
  /** Raw query string without `?`, or ''. */
  readonly rawQuery: string;
  readonly route: RouteMatch;
  /** Set by the authenticate stage. */
  principal?: Principal;
  /** Buffered request body, present when a policy of this route asked for it. */
  body?: Buffer;
  /** Parsed JSON body, cached by whoever parsed it first. */
  json?: unknown;
  /** Parsed JSON of the upstream response, when a response policy parsed it (as sent to the client). */
  responseJson?: unknown;
  /** Headers to add to the upstream request (identity forwarding, ...). */
  readonly upstreamHeaders: Record<string, string>;
  /** Incoming headers (lower-case) not to forward upstream, e.g. a password the gateway has verified. */
  dropUpstreamHeaders?: string[];
  /** Headers to add to the client response. */
  readonly responseHeaders: Record<string, string | string[]>;
  /** What the Core Rule Set matched on this request (the injection policy's CRS mode), for the access record. */
  waf?: { readonly score: number; readonly ruleIds: readonly number[] };
  /** Decisions taken in report mode: what would have been rejected, and why. */
  readonly reported: string[];
}
