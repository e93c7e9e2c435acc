/**
 * Host-header injection (API8): an API that builds the links of its answers and mails from the request's `Host`
 * or `X-Forwarded-Host` (a password-reset link, an invitation, a verification link, a `next` page) hands them to
 * whoever sends the request: a reset asked for a victim's address with `Host: attacker.example` mails the victim a
 * link to the attacker's host, carrying the reset token (reset-link poisoning).
 *
 * Probed where a mail or link is made (a reset, forgot-password, verification, invitation or magic-link operation,
 * by its path or its words; medium), each sent once with a made-up host in `Host` and once in `X-Forwarded-Host`;
 * and on the GETs whose answers already held a link to the target's own host (up to six; low: it harms where a
 * cache keeps the answer), with `X-Forwarded-Host` only (a cache keys by Host). Reported when that host comes back
 * in a link of an answer below 400 (a `Link` header, an `href`/`src`/`action` or `//host` in the text, a member
 * named like a URL). A mail is never asked for a given identity's address: the scan's own account's (one it
 * already has), or one nobody has; one that mails its sender or invites goes only as the scan's own account.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject, Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { setsPassword } from '../discover.ts';
import {
  isExcluded,
  isLoginOperation,
  operationWords,
  type PlannedRequest,
  planRequest,
  requiresAuth,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { reuseThrowaway, type Throwaway } from './throwaway.ts';

/** Words of an operation that mails a link or a code (reset, forgot, verification, invitation, magic link). */
const MAIL_FLOW =
  /reset|forgot|recover|invit|verif|confirm|activat|magic|resend|send[\s_-]?(a[\s_-]?)?(link|mail|e-?mail)|one[\s_-]?time[\s_-]?link/i;
const INVITE = /invit/i;
/** Members that carry an address or a person's login: never a given identity's. */
const MAIL_NAME = /e-?mail|mail_?address|^to$|recipient/i;
const USER_NAME = /^(user(_?name)?|login|handle|account|name)$/i;
/** JSON members whose value is a link. */
const LINK_MEMBER = /url|uri|link|href|redirect|callback|location|next|prev/i;
/**
 * Headers of an answer whose links are data (`Link: <http://host/issues?page=2>; rel="next"`). Not `Location`: a
 * redirect built from Host sends only its own sender there (an old Werkzeug's absolute redirects), no one else.
 */
const LINK_HEADERS = ['link'];
const MAX_MAIL_OPS = 6;
const MAX_READS = 6;
const HOST_HEADERS = ['Host', 'X-Forwarded-Host'] as const;

/** A host nobody has (`.example` is reserved, RFC 2606), new in each scan. */
function canaryHost(): string {
  return `ph${randomBytes(5).toString('hex')}.example`;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The text around the first link to `host` in an answer, or undefined when none points there. */
export function linkTo(res: ScanResponse, host: string): string | undefined {
  for (const h of LINK_HEADERS) {
    const v = res.headers[h];
    if (typeof v === 'string' && v.toLowerCase().includes(host)) return `${h}: ${v.slice(0, 200)}`;
  }
  const text = res.text.slice(0, 200_000);
  const lower = text.toLowerCase();
  if (!lower.includes(host)) return undefined;
  // A link in markup or a URL: a fixed prefix before the literal host (linear).
  const at = new RegExp(
    `(?://|(?:href|src|action)\\s*=\\s*["']?|url\\(\\s*["']?)(?:[\\w.-]+@)?${escapeRegExp(host)}`,
    'i',
  ).exec(text);
  if (at) return text.slice(Math.max(0, at.index - 40), at.index + at[0].length + 40);
  // A JSON member named like a link that holds the host (`"reset_url": "ph1.example/reset?t=..."`).
  let seen = 0;
  const walk = (v: unknown, key: string, depth: number): string | undefined => {
    if (++seen > 2000 || depth > 6) return undefined;
    if (typeof v === 'string')
      return LINK_MEMBER.test(key) && v.toLowerCase().includes(host)
        ? `${key}: ${v.slice(0, 200)}`
        : undefined;
    if (v === null || typeof v !== 'object') return undefined;
    // A list's items are named by the list's member (`"links": ["//ph1.example/..."]`).
    const entries = Array.isArray(v) ? v.map((x) => [key, x] as const) : Object.entries(v as JsonObject);
    for (const [k, x] of entries) {
      const hit = walk(x, k, depth + 1);
      if (hit) return hit;
    }
    return undefined;
  };
  return walk(res.json, '', 0);
}

/** The given identities' login values that name them (e-mails, user names; not passwords), lower case. */
function givenValues(ctx: ScanContext): string[] {
  const out = new Set<string>();
  for (const as of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])])
    for (const [k, v] of Object.entries(as.login?.body ?? {}))
      if (typeof v === 'string' && v.length >= 3 && !/pass|secret|pin|grant|client|scope/i.test(k))
        out.add(v.toLowerCase());
  return [...out];
}

/** An operation that mails a link or code: a POST or PUT whose path or words say so, and that sets no password. */
export function mailsLink(ctx: ScanContext, op: Operation): boolean {
  if ((op.method !== 'POST' && op.method !== 'PUT') || isExcluded(op)) return false;
  if (setsPassword(ctx.spec, op) || isLoginOperation(ctx.spec, op)) return false;
  return MAIL_FLOW.test(`${op.path} ${operationWords(ctx.spec, op)}`);
}

/**
 * The request of a mail operation with every address and login member set to `address` and `name` (the scan's
 * own account's, or ones nobody has); undefined when a given identity's value would still go out.
 */
function mailRequest(
  ctx: ScanContext,
  op: Operation,
  as: Identity | null,
  address: string,
  name: string,
): PlannedRequest | undefined {
  const params: Record<string, string> = {};
  for (const p of op.parameters)
    if (p.in === 'query' || p.in === 'path')
      if (MAIL_NAME.test(p.name)) params[p.name] = address;
      else if (USER_NAME.test(p.name)) params[p.name] = name;
  const req = planRequest(ctx.spec, op, ctx.objects, { ...(as ? { owner: as.name } : {}), params });
  const fill = (v: unknown, depth: number): unknown => {
    if (depth > 3 || v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>))
      out[k] =
        typeof x === 'string' && MAIL_NAME.test(k)
          ? address
          : typeof x === 'string' && USER_NAME.test(k)
            ? name
            : fill(x, depth + 1);
    return out;
  };
  const body = fill(req.body, 0);
  const sent = `${req.path} ${JSON.stringify(body) ?? ''}`.toLowerCase();
  if (givenValues(ctx).some((v) => sent.includes(v))) return undefined;
  return { ...req, ...(body !== undefined ? { body } : {}) };
}

/**
 * Sends `send` once per header of HOST_HEADERS, each with a made-up host of its own, and reports, once, the headers
 * whose host came back in a link of the answer (both: a proxy that sets Host still lets X-Forwarded-Host through).
 */
async function probe(
  ctx: ScanContext,
  op: Operation,
  send: (headers: Record<string, string>) => Promise<ScanResponse | undefined>,
  what: string,
  severity: 'medium' | 'low',
  headers: readonly string[] = HOST_HEADERS,
): Promise<boolean> {
  const hits: { header: string; host: string; link: string; res: ScanResponse }[] = [];
  for (const header of headers) {
    if (ctx.signal.aborted) break;
    const host = canaryHost();
    const res = await send({ [header]: host });
    // Only an answer the API meant: an error page echoes the request's URL (Django's DEBUG page for a host not in
    // ALLOWED_HOSTS shows `http://<Host>/path`), which is no link the API built.
    if (!res || res.status >= 400) continue;
    const found = linkTo(res, host);
    if (found === undefined) continue;
    // A reset link's code is shown masked: it is the scan's own account's (or nobody's), but a code all the same.
    hits.push({ header, host, link: found.replace(/([?&][^=&\s"'<>]{1,40}=)[^&\s"'<>]+/g, '$1***'), res });
  }
  if (hits.length === 0) return false;
  const [first] = hits;
  const named = hits.map((h) => h.header);
  ctx.report(SCAN_RULES.hostHeaderInjection, {
    operation: op,
    severity,
    message: `${op.method} ${op.path} built a link from the request's ${named.join(' and ')} header${named.length === 1 ? '' : 's'}: sent ${first.header}: ${first.host}, its answer (${first.res.status}) points there (${first.link.replace(/\s+/g, ' ').slice(0, 160)}). ${what}`,
    evidence: evidenceOf(first.res, {
      header: first.header,
      headers: named,
      host: first.host,
      link: first.link.slice(0, 300),
    }),
  });
  return true;
}

export async function hostHeaderInjection(ctx: ScanContext): Promise<void> {
  const done = new Set<string>();
  // Operations that mail a link: with the scan's own account's address, else one nobody has.
  const mailers = ctx.spec.operations.filter((op) => mailsLink(ctx, op)).slice(0, MAX_MAIL_OPS);
  let own: Throwaway | undefined | null = null;
  for (const op of mailers) {
    if (ctx.signal.aborted) return;
    const needsOwn = requiresAuth(op) || INVITE.test(`${op.path} ${operationWords(ctx.spec, op)}`);
    if (own === null) own = await reuseThrowaway(ctx);
    if (needsOwn && own === undefined) {
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.hostHeaderInjection,
        reason:
          'not sent: it mails as its sender or invites someone, and the scan has no account of its own to send it as (a given identity would be mailed; safety rule)',
      });
      continue;
    }
    const as = needsOwn && own ? own.identity : null;
    const tag = randomBytes(4).toString('hex');
    const address = own ? own.email : `pc-nobody-${tag}@example.com`;
    const name = own ? own.name : `pc-nobody-${tag}`;
    const req = mailRequest(ctx, op, as, address, name);
    if (!req) {
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.hostHeaderInjection,
        reason: 'not sent: its request would name a given identity (safety rule)',
      });
      continue;
    }
    done.add(op.id);
    await probe(
      ctx,
      op,
      (headers) => ctx.send({ ...req, headers: { ...req.headers, ...headers } }, as),
      'A reset, verification or invitation mail asked this way for a victim would carry its secret link to that host.',
      'medium',
    );
  }
  // Reads whose answers held a link to the target's own host (a next page, a resource URL): the same GET again,
  // with X-Forwarded-Host only. A cache keys its entries by Host (a link built from it reaches only its sender),
  // not by X-Forwarded-Host: a link built from that one poisons what the cache hands every reader.
  const ownHost = new URL(ctx.target).host.toLowerCase();
  const ids = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  let reads = 0;
  for (const o of [...ctx.observations]) {
    if (reads >= MAX_READS || ctx.signal.aborted) break;
    const op = o.operation;
    if (op?.method !== 'GET' || o.request.method !== 'GET' || done.has(op.id) || isExcluded(op)) continue;
    if (!isSuccess(o.response) || linkTo(o.response, ownHost) === undefined) continue;
    const as = o.identity === undefined ? null : ids.find((i) => i.name === o.identity);
    if (as === undefined) continue;
    done.add(op.id);
    reads++;
    await probe(
      ctx,
      op,
      (headers) => ctx.send({ method: 'GET', path: o.request.path, headers, operation: op }, as),
      'Where a cache keeps such an answer (it keys entries by Host, not X-Forwarded-Host), its links lead every reader to that host.',
      'low',
      ['X-Forwarded-Host'],
    );
  }
}
