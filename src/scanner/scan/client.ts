/** The scanner's HTTP client: bounded concurrency and rate, per-request timeouts, cookies per identity. */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import type { ApiDocument } from '../../core/api-document.ts';
import { type ScanIdentity, secretHeader } from './options.ts';

export interface ScanRequest {
  readonly method: string;
  /** Path (and optional `?query`) relative to the target URL, already filled in. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * A string is sent as is. An object is encoded as the request's `content-type` says: form-encoded
   * (`application/x-www-form-urlencoded`), multipart (`multipart/form-data`, its `FilePart` members as files;
   * the boundary is added here), else JSON.
   */
  readonly body?: unknown;
}

/** A file in a multipart body: a small harmless file the scan uploads where the document declares one. */
export class FilePart {
  readonly filename: string;
  readonly contentType: string;
  readonly content: Uint8Array;
  constructor(filename: string, contentType: string, content: Uint8Array | string) {
    this.filename = filename;
    this.contentType = contentType;
    this.content = typeof content === 'string' ? new TextEncoder().encode(content) : content;
  }
  /** How the part shows in evidence and JSON: its name, type and size, never its bytes. */
  toJSON(): string {
    return `<file ${this.filename} ${this.contentType} ${this.content.length} bytes>`;
  }
}

/** A form field's text: strings as they are, other values as JSON (`true`, `3`, `{"a":1}`). */
function fieldText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

/** A member name or file name inside a quoted multipart header value: no quotes, no line breaks. */
function quotedName(name: string): string {
  return name.replace(/["\r\n]/g, '_');
}

/**
 * An object body in the encoding the content type names: the bytes to send, the content type to send them
 * with (a multipart boundary added) and a text for evidence (files shown by name and size).
 */
export function encodeBody(
  body: unknown,
  contentType: string | undefined,
): { bytes: string | Uint8Array; contentType: string; shown: string } {
  if (typeof body === 'string')
    return { bytes: body, contentType: contentType ?? 'application/json', shown: body };
  const type = contentType ?? 'application/json';
  const record = body !== null && typeof body === 'object' && !Array.isArray(body);
  if (record && /^application\/x-www-form-urlencoded/i.test(type)) {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      for (const item of Array.isArray(v) ? v : [v]) {
        if (item !== undefined) form.append(k, item instanceof FilePart ? item.filename : fieldText(item));
      }
    }
    const text = form.toString();
    return { bytes: text, contentType: type, shown: text };
  }
  if (record && /^multipart\/form-data/i.test(type)) {
    const boundary = `----portcullis${randomUUID().replace(/-/g, '')}`;
    const chunks: Uint8Array[] = [];
    let shown = '';
    const text = (t: string) => {
      chunks.push(new TextEncoder().encode(t));
      shown += t;
    };
    for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
      for (const item of Array.isArray(v) && v.some((x) => x instanceof FilePart) ? v : [v]) {
        if (item === undefined) continue;
        if (item instanceof FilePart) {
          text(
            `--${boundary}\r\nContent-Disposition: form-data; name="${quotedName(k)}"; filename="${quotedName(item.filename)}"\r\nContent-Type: ${item.contentType}\r\n\r\n`,
          );
          chunks.push(item.content);
          shown += `<${item.content.length} bytes>`;
          text('\r\n');
        } else {
          text(
            `--${boundary}\r\nContent-Disposition: form-data; name="${quotedName(k)}"\r\n\r\n${fieldText(item)}\r\n`,
          );
        }
      }
    }
    text(`--${boundary}--\r\n`);
    return { bytes: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}`, shown };
  }
  const json = JSON.stringify(body);
  return { bytes: json, contentType: type, shown: json };
}

export interface ScanResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with `, ` (set-cookie kept apart in `cookies`). */
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
  /**
   * Parsed body when it is JSON (also after leading PHP notices: see `jsonBody`), else undefined (also when the
   * body was cut: see `truncated`).
   */
  readonly json: unknown;
  /**
   * The body went past what the client keeps (`MAX_BODY_CHARS`): `text` holds exactly its first
   * `MAX_BODY_CHARS` characters, however the network split it, and `json` is undefined.
   */
  readonly truncated?: boolean;
  /**
   * Bytes of the body received, counted past what is kept (up to `MAX_COUNTED_BYTES`; a longer body is cut off
   * there and counts that much).
   */
  readonly size?: number;
  readonly durationMs: number;
  /** The request as sent, without credentials, for evidence. */
  readonly sent: SentRequest;
}

/** The request as it went out, for evidence and a reproducible curl line (credentials named, never copied). */
export interface SentRequest {
  readonly method: string;
  readonly url: string;
  /**
   * Headers sent, credentials included, spelled as on the wire (`Authorization`): only curl.ts reads them, and it
   * masks those in `credentials` (lower-case names).
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** Names of the headers that came from the identity (its token, its cookie jar) or are shared secrets. */
  readonly credentials?: readonly string[];
  /** The body as sent (cut at 4 KiB). */
  readonly body?: string;
}

/** Who a request is sent as: headers to add and a cookie jar that collects `Set-Cookie`. */
export interface Session {
  readonly name: string;
  readonly headers: Record<string, string>;
  readonly cookies: Map<string, string>;
}

export interface ClientOptions {
  readonly target: string;
  readonly concurrency: number;
  readonly ratePerSecond: number;
  /**
   * The pace may rise from `ratePerSecond` up to this (requests per second) while answers come quickly and set no
   * limit. Default: `ratePerSecond` (a fixed pace).
   */
  readonly maxRatePerSecond?: number;
  readonly timeoutMs: number;
  readonly ca?: string;
  readonly insecureTls?: boolean;
  /**
   * Headers every request carries, whoever it is sent as, anonymous ones and logins included (lower-case
   * names; see `sharedHeaders` in options.ts). A session's headers and the request's own win over them.
   */
  readonly sharedHeaders?: Readonly<Record<string, string>>;
  /**
   * How header names are spelled on the wire where the identities or the document give a spelling with a capital
   * (`X-API-Key`); see `headerSpellings`. Other names go out Title-Case (`Authorization`, `X-Api-Key`).
   */
  readonly headerNames?: readonly string[];
  /** How long to wait for a target that went away to come back (default 15 s). */
  readonly restartPatienceMs?: number;
  /** Called after every response (passive checks read these). */
  readonly onResponse?: (req: ScanRequest, res: ScanResponse) => void;
}

export interface SendOptions {
  readonly session?: Session | undefined;
  readonly signal?: AbortSignal;
  /** Skip the rate limit (the one API4 burst); the concurrency bound still applies. */
  readonly burst?: boolean;
  /**
   * The answer is wanted as the target gives it, 429 included: the request probes the target's limits (API2's
   * login attempts, API4). Without it, a request answered 429 is sent once more after the wait the target asks
   * for (see `retryAfterMs`), when that wait is short.
   */
  readonly seeLimits?: boolean;
  readonly timeoutMs?: number;
  /**
   * The answer's Set-Cookie does not go into the session's jar: a request that may sign someone else in (a
   * sign-up that signs the new account in, a login, a password change) must not replace the session's cookies.
   */
  readonly keepCookies?: boolean;
}

export interface ScanClient {
  send(req: ScanRequest, options?: SendOptions): Promise<ScanResponse>;
  /** Like send, but a network error or timeout resolves to undefined. */
  trySend(req: ScanRequest, options?: SendOptions): Promise<ScanResponse | undefined>;
  readonly requests: () => number;
  /** Requests whose connection the target refused after it had answered: it went away (and maybe came back). */
  readonly refusedAfterAnswering: () => number;
  /** Times the target stopped answering: a refusal after it had answered, counted once until it answers again. */
  readonly outages: () => number;
  /** Answers 429 (or 503 with Retry-After) the pace was slowed for, and those of them sent again. */
  readonly limitedAnswers: () => { readonly answers: number; readonly retried: number };
  /** Whether the target refuses connections now (after it had answered) and has not answered since. */
  readonly isDown: () => boolean;
  close(): Promise<void>;
}

/** A refused connection: nothing listens (the server is down or restarting), so the request never reached it. */
function refused(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0; e && i < 4; i++) {
    if (e.code === 'ECONNREFUSED') return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** Characters of an answer the client keeps: the rest is counted, not kept. */
export const MAX_BODY_CHARS = 256 * 1024;
/** Bytes of an answer counted past what is kept before the client stops reading it. */
export const MAX_COUNTED_BYTES = 16 * 1024 * 1024;
/**
 * A request whose connection the target refused after it had answered before is sent again every half second:
 * a server that crashed on an earlier request and is being restarted (a service manager, a container policy).
 * The scan waits for it up to 15 s from the first refusal; past that the target counts as gone, and requests
 * fail at once until one connects. Only refused connections are retried: the request never reached the
 * server, so sending it again is safe. A request on a connection the server cut is not: it may be what
 * crashed it.
 */
const RESTART_WAIT_MS = 500;
/**
 * The longest wait a 429 (or a 503 with Retry-After) makes the scan take. A longer one (a login lockout's 900 s) is
 * not waited for: the answer stands, and the scan goes on with its other requests instead of stalling.
 */
export const MAX_BACKOFF_MS = 5000;
/** Routes remembered as locked (still 429 after the wait asked): their 429s no longer pause the scan. */
const MAX_LOCKED_ROUTES = 500;
/** Answers without a limit after which the pace, slowed by a 429, speeds up again by a step. */
const RECOVER_AFTER = 20;
/** Time after the last limit after which a slowed pace speeds up a step, however few answers came. */
const RECOVER_MS = 2000;

/**
 * The wait a Retry-After value asks for, in ms (RFC 9110 section 10.2.3: delay-seconds or an HTTP-date);
 * undefined when it is neither.
 */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) || !/[a-z]/i.test(v) ? undefined : Math.max(0, at - now);
}
const RESTART_PATIENCE_MS = 15_000;
const MAX_COOKIES = 50;

/** `x-api-key` → `X-Api-Key`: the canonical spelling of a header name that comes with none of its own. */
export function titleCase(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/**
 * Header names as the scan's configuration and the document spell them, where the spelling holds a capital
 * (`X-API-Key`, `Authorization`): the configured shared headers, each identity's headers and its login's token
 * header, the document's header parameters and API-key schemes in a header. The first spelling of a name wins.
 * Targets that look a header up by its exact spelling (PHP's `getallheaders()['Authorization']`, a raw header
 * list) read it only when it goes out as their author wrote it, like curl and browsers send it.
 */
export function headerSpellings(
  spec: Pick<ApiDocument, 'operations' | 'securitySchemes'> | undefined,
  options: {
    readonly headers?: Readonly<Record<string, string>>;
    readonly identities?: readonly ScanIdentity[];
    readonly admin?: ScanIdentity;
  },
): string[] {
  const out = new Map<string, string>();
  const add = (name: unknown) => {
    if (typeof name !== 'string' || !/[A-Z]/.test(name) || !/^[!#$%&'*+.^\w`|~-]+$/.test(name)) return;
    if (!out.has(name.toLowerCase())) out.set(name.toLowerCase(), name);
  };
  for (const k of Object.keys(options.headers ?? {})) add(k);
  for (const i of [...(options.identities ?? []), ...(options.admin ? [options.admin] : [])]) {
    for (const k of Object.keys(i.headers ?? {})) add(k);
    add(i.login?.header);
  }
  for (const scheme of Object.values(spec?.securitySchemes ?? {})) {
    if (scheme.type === 'apiKey' && scheme.raw.in === 'header') add(scheme.raw.name);
  }
  for (const op of spec?.operations ?? []) {
    for (const p of op.parameters) if (p.in === 'header') add(p.name);
  }
  return [...out.values()].slice(0, 200);
}

/** Longest stretch of leading PHP notices looked through for the JSON after them. */
const MAX_NOTICE_CHARS = 64 * 1024;
/** A PHP notice's head, HTML (`<b>Warning</b>:`) or plain (`Warning: `), of the kinds that let the script go on. */
const NOTICE_KIND =
  '(?:PHP )?(?:Deprecated|Notice|Warning|Strict Standards|User (?:Deprecated|Notice|Warning))';
const HTML_NOTICE = new RegExp(`<br\\s*/?>\\s*<b>${NOTICE_KIND}</b>:`, 'y');
const PLAIN_NOTICE = new RegExp(`${NOTICE_KIND}: `, 'y');
/** How a notice line ends: `on line <b>12</b><br />`, `on line 12`. */
const NOTICE_END = / on line (?:<b>)?\d+(?:<\/b>)?(?:<br ?\/?>)?\s*$/;
const XDEBUG_NOTICE = /<br\s*\/?>\s*<font size=['"]1['"]><table class=['"]xdebug-error/y;

/**
 * The text after the PHP notices or warnings an answer starts with (`<br />\n<b>Deprecated</b>:  ... on line
 * <b>12</b><br />`, the plain `\nWarning: ... on line 12`, an Xdebug table), trimmed; undefined when it starts
 * with none. Each notice is one line ending in its line number (an Xdebug table: up to its end), 20 at most,
 * within the first 64 KiB.
 */
export function afterPhpNotices(text: string): string | undefined {
  let p = 0;
  let seen = 0;
  for (; seen < 20; seen++) {
    while (p < text.length && p < MAX_NOTICE_CHARS && /\s/.test(text[p])) p++;
    if (p >= MAX_NOTICE_CHARS) return undefined;
    let end: number;
    XDEBUG_NOTICE.lastIndex = p;
    HTML_NOTICE.lastIndex = p;
    PLAIN_NOTICE.lastIndex = p;
    if (XDEBUG_NOTICE.test(text)) {
      const close = text.indexOf('</table></font>', p);
      if (close < 0 || close > MAX_NOTICE_CHARS) return undefined;
      end = close + '</table></font>'.length;
    } else {
      const head = HTML_NOTICE.test(text)
        ? HTML_NOTICE.lastIndex
        : PLAIN_NOTICE.test(text)
          ? PLAIN_NOTICE.lastIndex
          : -1;
      if (head < 0) break;
      const nl = text.indexOf('\n', head);
      end = nl < 0 ? text.length : nl;
      if (!NOTICE_END.test(text.slice(Math.max(head, end - 60), end))) return undefined;
    }
    p = end;
  }
  return seen === 0 ? undefined : text.slice(p).trim();
}

/** What may stand before a JSON body: byte-order marks (PHP files saved with one), an XSSI guard (`)]}',`). */
const JSON_PREFIX = /^[\uFEFF\s]*(?:\)\]\}',?\s*|while\s?\(1\);\s*|for\s?\(;;\);\s*)?/;

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The body as JSON, whatever the content type says (PHP without `header()` answers `text/html`): the text, after
 * byte-order marks or an XSSI guard, when it parses whole and the content type says JSON or it is an object or
 * an array; else the object or array after the PHP notices or warnings the text starts with (`afterPhpNotices`:
 * printed before the script's JSON, often with a `text/html` type as the headers went out with them), or before
 * a PHP notice, warning or fatal error printed after it (`jsonBefore`).
 * Undefined otherwise. The text itself stays as it came, for evidence.
 */
export function jsonBody(text: string, contentType: string): unknown {
  if (text === '') return undefined;
  const body = text.slice(JSON_PREFIX.exec(text)?.[0].length ?? 0);
  if (/json/i.test(contentType) || /^[[{]/.test(body)) {
    const value = jsonBefore(body);
    if (value !== undefined) return value;
  }
  const rest = afterPhpNotices(text);
  if (rest === undefined) return undefined;
  const after = rest.slice(JSON_PREFIX.exec(rest)?.[0].length ?? 0);
  return /^[[{]/.test(after) ? jsonBefore(after) : undefined;
}

/** Where a PHP message printed after the script's output starts (a notice, a warning, a fatal error). */
const TRAILING_NOTICE = new RegExp(
  `<br ?/?>\\s{0,4}(?:<b>(?:${NOTICE_KIND}|Fatal error)</b>:|<font size=['"]1['"]><table class=['"]xdebug-error)|\\n(?:${NOTICE_KIND}|(?:PHP )?Fatal error): `,
);

/**
 * The text as JSON; else, for an object or array followed by a PHP notice, warning or fatal error printed after
 * it (`{"id": 1}<br />\n<b>Warning</b>: ...`), the JSON before that message. Undefined when neither parses.
 */
function jsonBefore(text: string): unknown {
  const whole = parsed(text);
  if (whole !== undefined || !/^[[{]/.test(text)) return whole;
  const at = TRAILING_NOTICE.exec(text)?.index;
  return at === undefined || at === 0 ? undefined : parsed(text.slice(0, at));
}

/** Joins the target's base path and an operation path: `http://h/api` + `/v2/x` → `http://h/api/v2/x`. */
export function joinUrl(target: string, path: string): string {
  const base = target.endsWith('/') ? target.slice(0, -1) : target;
  return base + (path.startsWith('/') ? path : `/${path}`);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Creates the client; one per scan, closed at its end. */
export function createScanClient(options: ClientOptions): ScanClient {
  const agent = new Agent({
    connections: options.concurrency,
    pipelining: 1,
    connect: { ...(options.ca ? { ca: options.ca } : {}), rejectUnauthorized: options.insecureTls !== true },
  });
  const baseInterval = 1000 / options.ratePerSecond;
  /** The shortest interval the pace may reach (the configured one unless a faster ceiling is given). */
  const fastest = 1000 / Math.max(options.ratePerSecond, options.maxRatePerSecond ?? options.ratePerSecond);
  /**
   * The pace now: doubled by each 429; every RECOVER_AFTER answers without a limit it shortens by a step toward
   * `fastest`, while the answers of that stretch came no slower than twice the quickest stretch seen (a target that
   * slows down under the scan is not pushed harder).
   */
  let interval = baseInterval;
  let stretchMs = 0;
  let quickestStretch = Number.POSITIVE_INFINITY;
  /** No paced request starts before this (a 429's Retry-After). */
  let pausedUntil = 0;
  let sinceLimited = 0;
  let limitedCount = 0;
  let retriedCount = 0;
  /** `METHOD path` of requests still refused after the wait their 429 asked (bounded). */
  const lockedRoutes = new Set<string>();
  /** `METHOD path` of requests answered a 429 that named no wait (a second one there locks the route). */
  const unnamedRoutes = new Set<string>();
  /** When the last short limit was met (performance.now()). */
  let limitedAt = 0;
  const shared: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.sharedHeaders ?? {})) shared[k.toLowerCase()] = v;
  // Shared headers that may hold a secret are masked in curl lines like an identity's own.
  const sharedSecrets = Object.keys(shared).filter((k) => secretHeader(k, shared[k]));
  const spelled = new Map<string, string>();
  for (const name of options.headerNames ?? []) {
    if (/[A-Z]/.test(name) && !spelled.has(name.toLowerCase())) spelled.set(name.toLowerCase(), name);
  }
  let nextSlot = 0;
  let inFlight = 0;
  let count = 0;
  let answered = false;
  let refusals = 0;
  let outages = 0;
  /** When the target started refusing connections (undefined while it answers). */
  let downSince: number | undefined;
  const waiting: (() => void)[] = [];

  async function acquire(burst: boolean, signal?: AbortSignal): Promise<void> {
    if (!burst) {
      const now = performance.now();
      const slot = Math.max(now, nextSlot, pausedUntil);
      nextSlot = slot + interval;
      if (slot > now) await sleep(slot - now, signal);
    }
    if (inFlight >= options.concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    inFlight++;
  }

  function release(): void {
    inFlight--;
    waiting.shift()?.();
  }

  /**
   * A 429 (or a 503 that names a Retry-After): the target limits this client. Paced requests wait what it asks
   * (up to MAX_BACKOFF_MS) and go at half the pace until answers come without a limit again; a burst's answers
   * change nothing (they are API4's probe of the limit). Returns the wait when it is short enough to retry after.
   */
  function limited(res: ScanResponse, burst: boolean, route: string): number | undefined {
    const asked = retryAfterMs(res.headers['retry-after']);
    const limit = res.status === 429 || (res.status === 503 && asked !== undefined);
    // A long wait (a login lockout's 900 s) locks one account or route out, not this client's pace, and so does a
    // route that still refused after the wait it asked (lockedRoutes): nothing changes.
    if (!limit || (asked ?? 0) > MAX_BACKOFF_MS || lockedRoutes.has(route)) {
      if (burst || res.status >= 500) return undefined;
      stretchMs += res.durationMs;
      sinceLimited++;
      // A step faster after RECOVER_AFTER answers without a limit, or RECOVER_MS after the last one (a slow pace
      // alone would take long to gather them): back to the configured pace, and past it toward `fastest` only
      // while the answers come no slower than twice the quickest stretch seen.
      if (
        sinceLimited >= RECOVER_AFTER ||
        (interval > baseInterval && performance.now() - limitedAt >= RECOVER_MS)
      ) {
        const mean = stretchMs / sinceLimited;
        quickestStretch = Math.min(quickestStretch, mean);
        if (interval > fastest && (interval > baseInterval || mean <= 2 * quickestStretch + 20))
          interval = Math.max(fastest, interval / 1.25);
        sinceLimited = 0;
        stretchMs = 0;
        limitedAt = performance.now();
      }
      return undefined;
    }
    if (burst) return undefined;
    // A second 429 naming no wait at the same route: that route is locked, not the client's pace.
    if (asked === undefined) {
      if (unnamedRoutes.has(route)) {
        if (lockedRoutes.size < MAX_LOCKED_ROUTES) lockedRoutes.add(route);
        return undefined;
      }
      if (unnamedRoutes.size < MAX_LOCKED_ROUTES) unnamedRoutes.add(route);
    }
    limitedCount++;
    sinceLimited = 0;
    stretchMs = 0;
    limitedAt = performance.now();
    // Half the pace, never slower than a quarter of the configured one.
    interval = Math.min(interval * 2, baseInterval * 4);
    // Without a Retry-After the limit may be one route's lock as well as the client's: the slower pace only, no
    // pause of every request and no second try.
    if (asked === undefined) return undefined;
    pausedUntil = Math.max(pausedUntil, performance.now() + asked);
    nextSlot = Math.max(nextSlot, pausedUntil);
    return asked;
  }

  async function send(req: ScanRequest, opts: SendOptions = {}): Promise<ScanResponse> {
    const route = `${req.method} ${req.path.split('?')[0]}`;
    const res = await sendOnce(req, opts);
    const wait = limited(res, opts.burst === true, route);
    // Sent once more, after the wait (acquire honours it): a 429 says the request was not acted on (RFC 6585 4).
    if (wait === undefined || opts.seeLimits === true || opts.burst === true || opts.signal?.aborted)
      return res;
    retriedCount++;
    const again = await sendOnce(req, opts);
    // Still refused after the wait it asked: that route is locked, and its later 429s make no one wait.
    if ((again.status === 429 || again.status === 503) && lockedRoutes.size < MAX_LOCKED_ROUTES)
      lockedRoutes.add(route);
    return again;
  }

  async function sendOnce(req: ScanRequest, opts: SendOptions): Promise<ScanResponse> {
    const url = joinUrl(options.target, req.path);
    const headers: Record<string, string> = {
      'user-agent': 'portcullis-scan',
      ...shared,
      ...opts.session?.headers,
    };
    const ownSpelling = new Map<string, string>();
    for (const [k, v] of Object.entries(req.headers ?? {})) {
      headers[k.toLowerCase()] = v;
      if (/[A-Z]/.test(k)) ownSpelling.set(k.toLowerCase(), k);
    }
    if (opts.session && opts.session.cookies.size > 0 && !headers.cookie) {
      headers.cookie = [...opts.session.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    let body: string | Uint8Array | undefined;
    let shownBody: string | undefined;
    if (req.body !== undefined) {
      const encoded = encodeBody(req.body, headers['content-type']);
      body = encoded.bytes;
      shownBody = encoded.shown;
      headers['content-type'] = encoded.contentType;
    }
    // On the wire (and in the curl line) each name as the request, the identities or the document spell it, else
    // Title-Case, as curl and browsers send them: some targets look names up case-sensitively.
    const wire: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers))
      wire[ownSpelling.get(k) ?? spelled.get(k) ?? titleCase(k)] = v;
    await acquire(opts.burst === true, opts.signal);
    count++;
    try {
      let res: Awaited<ReturnType<typeof request>>;
      let started: number;
      // Each attempt has the whole request timeout: the waits for a restarting target come on top of it.
      for (let attempt = 0; ; attempt++) {
        const timeout = AbortSignal.timeout(opts.timeoutMs ?? options.timeoutMs);
        const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
        started = performance.now();
        try {
          res = await request(url, {
            method: req.method as 'GET',
            headers: wire,
            body,
            dispatcher: agent,
            signal,
          });
          break;
        } catch (err) {
          if (!answered || !refused(err) || signal.aborted) throw err;
          if (attempt === 0) refusals++;
          if (downSince === undefined) {
            outages++;
            downSince = performance.now();
          }
          if (performance.now() - downSince >= (options.restartPatienceMs ?? RESTART_PATIENCE_MS)) throw err;
          await sleep(RESTART_WAIT_MS, opts.signal);
        }
      }
      answered = true;
      downSince = undefined;
      // The kept text is cut at exactly MAX_BODY_CHARS (a multi-byte character split between chunks decoded
      // whole), so what a check sees does not depend on how the network split the answer.
      let text = '';
      let size = 0;
      let truncated = false;
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (!truncated) {
          text += decoder.decode(chunk as Buffer, { stream: true });
          if (text.length > MAX_BODY_CHARS) {
            text = text.slice(0, MAX_BODY_CHARS);
            truncated = true;
          }
        }
        if (size >= MAX_COUNTED_BYTES) {
          truncated = true;
          break;
        }
      }
      if (!truncated) {
        text += decoder.decode();
        if (text.length > MAX_BODY_CHARS) {
          text = text.slice(0, MAX_BODY_CHARS);
          truncated = true;
        }
      }
      const durationMs = performance.now() - started;
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v === undefined) continue;
        flat[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      }
      const setCookie = res.headers['set-cookie'];
      if (opts.session && setCookie && opts.keepCookies !== true) {
        for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
          const pair = line.split(';', 1)[0];
          const eq = pair.indexOf('=');
          if (eq <= 0) continue;
          if (opts.session.cookies.size < MAX_COOKIES || opts.session.cookies.has(pair.slice(0, eq).trim())) {
            opts.session.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
          }
        }
      }
      const json = truncated ? undefined : jsonBody(text, flat['content-type'] ?? '');
      const response: ScanResponse = {
        status: res.statusCode,
        headers: flat,
        text,
        json,
        ...(truncated ? { truncated } : {}),
        size,
        durationMs,
        sent: {
          method: req.method,
          url,
          headers: wire,
          credentials: [
            ...Object.keys(opts.session?.headers ?? {}),
            ...(opts.session && opts.session.cookies.size > 0 ? ['cookie'] : []),
            ...sharedSecrets,
          ],
          ...(shownBody !== undefined ? { body: shownBody.slice(0, 4096) } : {}),
        },
      };
      options.onResponse?.(req, response);
      return response;
    } finally {
      release();
    }
  }

  return {
    send,
    async trySend(req, opts) {
      try {
        return await send(req, opts);
      } catch (err) {
        if (opts?.signal?.aborted) throw err;
        return undefined;
      }
    },
    requests: () => count,
    refusedAfterAnswering: () => refusals,
    outages: () => outages,
    limitedAnswers: () => ({ answers: limitedCount, retried: retriedCount }),
    isDown: () => downSince !== undefined,
    close: () => agent.close(),
  };
}
