/**
 * API1 on user accounts: many user-centric APIs let an ordinary user make no object but its own account
 * (`POST /register`), so the only victim the scan may touch is an account it registers itself. The scan
 * registers a throwaway account V (unique name, strong random password), logs in as V to learn V's id (its
 * token's claims, its login answer, or the registration answer), records V as a scan-created object, and then
 * an ordinary identity B changes V's account (a marker in a free-text field, never the password, user name or
 * a privileged field) and finally deletes it through the documented item operations (`/users/{id}`,
 * `/users/{username}`). Reported only when confirmed: the marker is read back on V's record (as V, else the
 * admin), or V's record is gone after the delete (404 or empty; or V's own read refused AND V can no longer log
 * in). V reading its own record first is the control (the item operation works at all). B writes or deletes at
 * a route only when the route honours the id it names (B's read there shows V, or does not show B while V's
 * read at an id nobody has does not show V): an API acting on the caller would otherwise change B itself.
 * Never the given identities' accounts.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { bodySchema, isExcluded, type PlannedRequest, planRequest, requiresAuth } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, sampleValue } from '../schema.ts';
import { accountParam, selfIds } from '../self.ts';
import { findLoginTarget } from './api2-authentication.ts';
import { refusedIn200 } from './api5-function-authorization.ts';
import {
  ACCOUNT_FIELD,
  checkIds,
  claimAccountPath,
  freshPassword,
  ID_KEYS,
  MAIL_FIELD,
  NAME_FIELD,
  namesOnly,
  PASSWORD,
  passwordChanges,
  passwordRequest,
  recordWith,
  registerThrowaway,
  retireThrowaway,
  type Throwaway,
} from './throwaway.ts';

const PRIVILEGED =
  /admin|role|permission|scope|verified|staff|superuser|active|enabled|api_?key|token|group/i;

/**
 * Operations already sent without credentials on an identity's object or the scan's account (true: the change
 * showed, and was reported as API5). Each is tried anonymously once per scan, before the other identity; that
 * identity's replay then skips those anyone may call: the flaw is the open function, not the object's owner.
 */
export type AnonymousTries = Map<Operation, boolean>;

/** A marker for the anonymous tries, never equal to the other identity's. */
export const anonymousMarker = () => `pcanon${randomBytes(4).toString('hex')}`;

/** What the document says about the operation, for the message of an anonymous change. */
export function anonymousContext(op: Operation): string {
  return requiresAuth(op)
    ? ' (the operation declares security)'
    : ' (the document declares no security for it)';
}

/** A 2xx that is no refusal in its body either. */
export function accepted(res: ScanResponse | undefined): res is ScanResponse {
  return isSuccess(res) && !refusedIn200(res);
}

/**
 * Records an anonymous try: shown (true), or refused for want of credentials (401, 403, a refusal in a 200:
 * false). Anything else (accepted but not shown on this object, a 404 or 422) says nothing yet: the operation is
 * tried again on the next object of the scan's own.
 */
export function recordAnonymous(
  tries: AnonymousTries,
  op: Operation,
  res: ScanResponse | undefined,
  shown: boolean,
): void {
  if (shown) tries.set(op, true);
  else if (
    res !== undefined &&
    (res.status === 401 || res.status === 403 || (isSuccess(res) && refusedIn200(res)))
  )
    tries.set(op, false);
}

/** A 2xx answer that shows no object: no body, `null`, `{}` or `[]`. */
function isEmpty(res: ScanResponse): boolean {
  const text = res.text.trim();
  if (text === '' || text === 'null') return true;
  const body = res.json;
  if (Array.isArray(body)) return body.length === 0;
  return body !== null && typeof body === 'object' && Object.keys(body).length === 0;
}

/** The item operations of an account: the account parameter is the path's last segment (`/users/{user_id}`). */
function accountItems(ctx: ScanContext): Operation[] {
  return ctx.spec.operations.filter((op) => {
    if (isExcluded(op) || !['GET', 'PUT', 'PATCH', 'DELETE'].includes(op.method)) return false;
    const param = accountParam(op.path);
    return param !== undefined && op.path.replace(/\/$/, '').endsWith(`/{${param}}`);
  });
}

/** Does an answer show the identity's own record: its login name (or e-mail), or its own id as the record's id? */
function showsIdentity(res: ScanResponse, who: Identity): boolean {
  if (!isSuccess(res)) return false;
  for (const [k, value] of Object.entries(who.login?.body ?? {})) {
    if (PASSWORD.test(k) || typeof value !== 'string' || value.length < 3) continue;
    if (res.text.includes(value)) return true;
  }
  const ids = selfIds(who);
  const idOf = (view: unknown, depth: number): boolean => {
    if (depth > 2 || view === null || typeof view !== 'object' || Array.isArray(view)) return false;
    const r = view as Record<string, unknown>;
    if (ID_KEYS.some((k) => (typeof r[k] === 'string' || typeof r[k] === 'number') && ids.has(String(r[k]))))
      return true;
    return Object.values(r).some((child) => idOf(child, depth + 1));
  };
  return idOf(res.json, 0);
}

/** A value of the same shape as an account's that names nobody (numbers stay numbers). */
function nobody(value: string): string {
  if (/^\d+$/.test(value)) return String(900_000_000 + randomInt(0, 99_999_999));
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(value)) return randomUUID();
  return `pcnone${randomBytes(5).toString('hex')}`;
}

/**
 * Changes below an account's item path (`POST /users/{id}/change-email`, `PUT /users/{id}/profile`) with no
 * other path parameter, that do not set a password (the takeover tries those): at most three.
 */
function accountActions(ctx: ScanContext, passwords: readonly Operation[]): Operation[] {
  return ctx.spec.operations
    .filter((op) => {
      if (!['POST', 'PUT', 'PATCH'].includes(op.method) || isExcluded(op) || passwords.includes(op))
        return false;
      const param = accountParam(op.path);
      if (param === undefined) return false;
      const tail = op.path.slice(op.path.indexOf(`{${param}}`) + param.length + 2);
      return /^\/[^{}]+$/.test(tail);
    })
    .slice(0, 3);
}

/** The concrete request of an item operation on V's account. */
function itemRequest(ctx: ScanContext, op: Operation, value: string, body?: unknown): PlannedRequest {
  const param = accountParam(op.path)!;
  return planRequest(ctx.spec, op, ctx.objects, {
    params: { [param]: value },
    ...(body !== undefined ? { body } : {}),
  });
}

/** Names of free-text fields of an account: a marker there changes nothing that matters. */
const FREE_TEXT =
  /^(bio|about(_?me)?|description|summary|note|notes|comment|headline|tagline|status_?message|signature|motto|interests|hobbies|website_?title|display_?name|nick_?name|full_?name|first_?name|last_?name|title|location|city)$/i;
/** Bookkeeping a write does not send back: ids, timestamps, versions. */
const KEPT = /(^id$|_id$|[a-z]Id$|^uuid$|_at$|[a-z]At$|date|time|^created|^updated|^version$)/i;

/**
 * The body of an update whose schema names no field (`type: object`, the fields only in its description),
 * built from V's record as V read it at the item route: V's own values (a handler may need them all, `UPDATE
 * ... SET username=?, email=?, bio=?`) with the marker in one free-text field (`bio`, `about`, `display_name`:
 * empty or text). Never a password, a privilege, an id or a timestamp; undefined without a free-text field.
 */
function recordBody(record: Readonly<Record<string, unknown>>, marker: string): unknown {
  const out: Record<string, unknown> = {};
  let marked: string | undefined;
  for (const [k, v] of Object.entries(record)) {
    if (PASSWORD.test(k) || PRIVILEGED.test(k) || KEPT.test(k)) continue;
    if (v !== null && typeof v === 'object') continue;
    if (marked === undefined && FREE_TEXT.test(k) && (v === null || typeof v === 'string')) {
      out[k] = marker;
      marked = k;
    } else if (v !== null) out[k] = v;
  }
  return marked === undefined ? undefined : out;
}

/** The body of an update: a marker in free text; no password, user name, e-mail or privileged field. */
function updateBody(
  ctx: ScanContext,
  op: Operation,
  marker: string,
  record?: Readonly<Record<string, unknown>>,
): unknown {
  const schema = bodySchema(op);
  if (!schema) return undefined;
  const props = propertiesOf(ctx.spec, schema);
  // A schema that names no field: the body is V's record with the marker in a free-text field.
  if (Object.keys(props).length === 0 && record !== undefined) return recordBody(record, marker);
  const sample = sampleValue(ctx.spec, schema);
  const out: Record<string, unknown> = {};
  let marked = false;
  const base = sample !== null && typeof sample === 'object' ? (sample as Record<string, unknown>) : {};
  for (const [k, value] of Object.entries(base)) {
    if (PASSWORD.test(k) || PRIVILEGED.test(k) || NAME_FIELD.test(k)) continue;
    if (MAIL_FIELD.test(k)) continue;
    if (
      typeof value === 'string' &&
      props[k] &&
      props[k].enum === undefined &&
      props[k].format === undefined
    ) {
      out[k] = marker;
      marked = true;
    } else out[k] = value;
  }
  if (!marked) {
    // No free-text field: the marker as an e-mail address of V's.
    const mail = Object.keys(props).find((k) => MAIL_FIELD.test(k));
    if (mail === undefined) return undefined;
    out[mail] = `${marker}@example.com`;
  }
  return out;
}

/** A documented way to set an account's password, naming the account in its path or its body. */
interface PasswordChange {
  readonly op: Operation;
  /** The path parameter that names the account, if any. */
  readonly param?: string;
  /** Body fields that name the account. */
  readonly accountFields: readonly string[];
}

function accountNamed(ctx: ScanContext, op: Operation): PasswordChange | undefined {
  const param = accountParam(op.path);
  const props = Object.keys(propertiesOf(ctx.spec, bodySchema(op)));
  const query = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
  const accountFields = [...props, ...query].filter((k) => ACCOUNT_FIELD.test(k));
  if (param === undefined && accountFields.length === 0) return undefined;
  return { op, ...(param !== undefined ? { param } : {}), accountFields };
}

/**
 * The sign-up sent again for V's name and e-mail with another password: an API that accepts it and then signs
 * V in with the new password lets anyone take over an account by registering its name (an upsert).
 */
async function reRegistration(ctx: ScanContext, v: Throwaway): Promise<void> {
  const password = freshPassword();
  const res = await v.register(ctx, password);
  if (!isSuccess(res) || refusedIn200(res)) return;
  const after = await v.login(ctx, password);
  if (!after.identity) return;
  v.password = password;
  v.identity = after.identity;
  ctx.report(SCAN_RULES.accountTakeover, {
    operation: v.signup,
    key: 're-registration',
    message: `${v.signup.method} ${v.signup.path} registered an existing account's name again (${v.name}, registered by the scan) with another password (${res.status}), and ${v.name} then logged in with that password: anyone takes over an account by signing up with its name.`,
    evidence: evidenceOf(res, { account: v.name, loginStatus: after.res?.status }),
  });
}

/**
 * Account takeover: another ordinary user — a second throwaway account W, so that an API which ignores the
 * named account and changes the caller's own password changes nobody's that matters — sets a new random
 * password on V through each operation that names the account (path or body). Proof: V logs in with it.
 */
async function takeover(ctx: ScanContext, v: Throwaway, loginOp: Operation | undefined): Promise<void> {
  await reRegistration(ctx, v);
  const t = findLoginTarget(ctx);
  const changes = passwordChanges(ctx, loginOp)
    .map((op) => accountNamed(ctx, op))
    .filter((c): c is PasswordChange => c !== undefined)
    .slice(0, 4);
  if (changes.length === 0) {
    ctx.note?.({
      rule: SCAN_RULES.accountTakeover,
      reason: 'no operation that sets a password names the account (path or body)',
    });
    return;
  }
  const w = await registerThrowaway(ctx, t, 'pca');
  if (!w) {
    ctx.note?.({
      rule: SCAN_RULES.accountTakeover,
      reason: 'a second throwaway account could not be registered',
    });
    return;
  }
  // Only ids read back as V's own go in a path or body (S1: a token's account_id named the tenant's first user).
  await checkIds(ctx, v);
  for (const { op, param } of changes) {
    const values =
      param === undefined
        ? [undefined]
        : MAIL_FIELD.test(param)
          ? [v.email]
          : /name/i.test(param)
            ? [v.name]
            : [...v.checked].slice(0, 2);
    for (const value of values) {
      if (param !== undefined && value === undefined) continue;
      const password = freshPassword();
      const req = passwordRequest(ctx, op, v, password, {
        old: `pc-wrong-${randomBytes(4).toString('hex')}`,
        ...(param !== undefined && value !== undefined ? { param, value } : {}),
      });
      // Nothing in the request may name anyone but V (S2: a harvested id in another path parameter, a sampled
      // user name in the body).
      if (!namesOnly(op, req, v, param)) continue;
      claimAccountPath(ctx, op, req, v, param, value);
      const res = await ctx.send(req, w.identity);
      if (!isSuccess(res) || refusedIn200(res)) continue;
      const after = await v.login(ctx, password);
      if (!after.identity) continue;
      v.password = password;
      v.identity = after.identity;
      ctx.report(SCAN_RULES.accountTakeover, {
        operation: op,
        message: `${w.name}, an ordinary user registered by the scan, set a new password on another account (${v.name}, also the scan's) with ${op.method} ${op.path}, and ${v.name} then logged in with it: anyone can take over any account.`,
        evidence: evidenceOf(res, { owner: v.name, attacker: w.name, loginStatus: after.res?.status }),
      });
      break;
    }
  }
}

/**
 * B reads, changes and finally deletes V's account. Called at the end of API1 (the delete is the scan's last
 * use of V).
 */
export async function replayAccounts(
  ctx: ScanContext,
  attacker: Identity,
  anonymous: AnonymousTries = new Map(),
): Promise<void> {
  const items = accountItems(ctx);
  const t = findLoginTarget(ctx);
  const changes = passwordChanges(ctx, t?.op);
  const actions = accountActions(ctx, changes);
  if (!items.some((op) => op.method !== 'GET') && changes.length === 0 && actions.length === 0) return;
  const v = await registerThrowaway(ctx, t, 'pcv');
  if (!v) return;
  const reads = items.filter((op) => op.method === 'GET');
  // V's item paths: each item template with each of V's ids (or its name for `{username}`), kept only when V
  // can read itself there (the control); recorded as scan-created objects so the safety rule lets B touch them.
  const paths = new Map<
    string,
    { value: string; read?: PlannedRequest; record?: Readonly<Record<string, unknown>> }
  >();
  // V's ids, checked (V's read shows V, an unknown id's does not, no given identity has it): an API whose read
  // ignores the id would otherwise make `/users/1` (a tenant's account_id in V's token, alice's user id) V's
  // scan-created object, open to every check's PUT and DELETE.
  await checkIds(ctx, v);
  for (const op of items) {
    const param = accountParam(op.path)!;
    const values = /name/i.test(param) ? [v.name] : [...v.checked];
    for (const value of values) {
      const read = reads.find((r) => r.path === op.path);
      const key = `${op.path}\u0000${value}`;
      if (paths.has(key)) continue;
      // No read of V at this very route, no write there: an id of V's may name someone else's object on a
      // route V cannot see (its user id on `/profiles/{id}`).
      const readReq = read ? itemRequest(ctx, read, value) : undefined;
      if (!readReq) continue;
      const mine = await ctx.send(readReq, v.identity);
      if (!isSuccess(mine) || isEmpty(mine) || !mine.text.includes(v.name)) continue;
      const record = recordWith(mine.json, v.name);
      paths.set(key, { value, read: readReq, ...(record ? { record } : {}) });
      const concrete = itemRequest(ctx, op, value).path.split('?')[0];
      const collection = op.path.slice(0, op.path.lastIndexOf('/'));
      ctx.objects.add({
        collection,
        path: concrete,
        id: value,
        owner: v.name,
        body: null,
        createdBy: op,
      });
    }
  }
  // Safety: an API that ignores the path id and acts on the caller would turn B's write or delete "at V's
  // path" into one on B's own account. B writes only where the route honours the id: B's read there shows V's
  // record, or (B refused) B's read does not show B and V's read at an id nobody has does not show V either.
  const honoured = new Map<string, boolean>();
  const addressed = async (key: string, value: string, read: PlannedRequest): Promise<boolean> => {
    const known = honoured.get(key);
    if (known !== undefined) return known;
    let ok = false;
    const theirs = await ctx.send(read, attacker);
    if (theirs !== undefined && !showsIdentity(theirs, attacker)) {
      if (isSuccess(theirs) && theirs.text.includes(v.name)) ok = true;
      else {
        const op = reads.find((r) => r.path === key.split('\u0000')[0]);
        const bogus = op ? await ctx.send(itemRequest(ctx, op, nobody(value)), v.identity) : undefined;
        ok = bogus !== undefined && !(isSuccess(bogus) && bogus.text.includes(v.name));
      }
    }
    if (!ok)
      ctx.note?.({
        rule: SCAN_RULES.bolaWrite,
        reason: `${key.split('\u0000')[0]} may act on the caller whatever id it names (${attacker.name}'s read there showed ${attacker.name}, or ${v.name}'s read at an unknown id showed ${v.name}): not written`,
      });
    honoured.set(key, ok);
    return ok;
  };
  const readBack = async (req: PlannedRequest | undefined): Promise<ScanResponse | undefined> => {
    if (!req) return undefined;
    const mine = await ctx.send(req, v.identity);
    if (isSuccess(mine)) return mine;
    return ctx.admin ? ctx.send(req, ctx.admin) : undefined;
  };
  /**
   * Safety for the anonymous tries: a route that answers an anonymous read with someone other than V (a default
   * user it acts on whatever id it names) gets no anonymous write or delete.
   */
  const openTo = new Map<string, boolean>();
  const anonymousAddressed = async (read: PlannedRequest): Promise<boolean> => {
    const known = openTo.get(read.path);
    if (known !== undefined) return known;
    const seen = await ctx.send(read, null);
    const ok = seen !== undefined && !(isSuccess(seen) && !seen.text.includes(v.name));
    openTo.set(read.path, ok);
    return ok;
  };
  /**
   * The change sent without credentials first (once per operation): a marker that reads back on V's record is
   * an open function (API5), and B's replay of it is skipped.
   */
  const anonymousChange = async (
    op: Operation,
    value: string,
    read: PlannedRequest,
    build: (marker: string) => unknown,
  ) => {
    if (anonymous.has(op)) return anonymous.get(op) === true;
    const marker = anonymousMarker();
    const marked = build(marker);
    if (marked === undefined || !JSON.stringify(marked).includes(marker)) return false;
    if (!(await anonymousAddressed(read))) return false;
    const req = itemRequest(ctx, op, value, marked);
    const res = await ctx.send(req, null);
    const after = accepted(res) ? await readBack(read) : undefined;
    const changed = accepted(res) && isSuccess(after) && after.text.includes(marker);
    recordAnonymous(anonymous, op, res, changed);
    if (changed)
      ctx.report(SCAN_RULES.anonymousWrite, {
        operation: op,
        message: `A request without credentials changed a user's account (${v.name}, registered by the scan) with ${op.method} ${req.path}, and the change reads back on that account${anonymousContext(op)}.`,
        evidence: evidenceOf(res, { owner: v.name, attacker: 'anonymous' }),
      });
    return changed;
  };
  for (const op of items) {
    if (op.method !== 'PUT' && op.method !== 'PATCH') continue;
    for (const [key, { value, read, record }] of paths) {
      if (!key.startsWith(`${op.path}\u0000`) || !read) continue;
      // V's record as V read it at this item route (its GET at the same path), for a body the schema does not
      // describe.
      const build = (m: string) => updateBody(ctx, op, m, record);
      if (await anonymousChange(op, value, read, build)) break;
      if (!(await addressed(key, value, read))) continue;
      const marker = `pcbola${randomBytes(4).toString('hex')}`;
      const body = build(marker);
      if (body === undefined) continue;
      const req = itemRequest(ctx, op, value, body);
      const res = await ctx.send(req, attacker);
      if (!isSuccess(res)) continue;
      const after = await readBack(read);
      if (!isSuccess(after) || !after.text.includes(marker)) continue;
      ctx.report(SCAN_RULES.bolaWrite, {
        operation: op,
        message: `${attacker.name} changed another user's account (${v.name}, registered by the scan) at ${req.path}, and the change reads back on that account.`,
        evidence: evidenceOf(res, { owner: v.name, attacker: attacker.name }),
      });
      break;
    }
  }
  // Actions below V's account (`POST /users/{id}/change-email`): a marker (an e-mail of the scan's, or free
  // text) sent by B must not read back on V's record.
  for (const op of actions) {
    const param = accountParam(op.path)!;
    const prefix = op.path.slice(0, op.path.indexOf(`{${param}}`) + param.length + 2);
    const tail = op.path.slice(prefix.length);
    const actionBody = (marker: string) =>
      updateBody(ctx, op, marker) ??
      (bodySchema(op) === undefined && /mail/i.test(tail) ? { email: `${marker}@example.com` } : undefined);
    for (const [key, { value, read }] of paths) {
      if (!key.startsWith(`${prefix}\u0000`) || !read) continue;
      if (await anonymousChange(op, value, read, actionBody)) break;
      if (!(await addressed(key, value, read))) continue;
      const marker = `pcbola${randomBytes(4).toString('hex')}`;
      const body = actionBody(marker);
      if (body === undefined) continue;
      const req = itemRequest(ctx, op, value, body);
      const res = await ctx.send(req, attacker);
      if (!isSuccess(res) || refusedIn200(res)) continue;
      const after = await readBack(read);
      if (!isSuccess(after) || !after.text.includes(marker)) continue;
      ctx.report(SCAN_RULES.bolaWrite, {
        operation: op,
        message: `${attacker.name} changed another user's account (${v.name}, registered by the scan) with ${op.method} ${req.path}, and the change reads back on that account.`,
        evidence: evidenceOf(res, { owner: v.name, attacker: attacker.name }),
      });
      break;
    }
  }
  await takeover(ctx, v, t?.op);
  // Gone: the record reads as missing; or V's own read is now refused AND V can no longer log in (a failed
  // login alone may have another cause: a lockout, a login quota).
  const goneAfter = async (after: ScanResponse | undefined) => {
    const missing =
      after !== undefined &&
      (after.status === 404 || after.status === 410 || (isSuccess(after) && isEmpty(after)));
    const refused = after !== undefined && !ctx.admin && (after.status === 401 || after.status === 403);
    return missing || (refused && (await v.login(ctx)).identity === undefined);
  };
  for (const op of items) {
    if (op.method !== 'DELETE') continue;
    for (const [key, { value, read }] of paths) {
      if (!key.startsWith(`${op.path}\u0000`) || !read) continue;
      const req = itemRequest(ctx, op, value);
      if (!anonymous.has(op) && (await anonymousAddressed(read))) {
        // Without credentials first: anyone deleting the account is an open function (API5).
        const res = await ctx.send(req, null);
        const after = accepted(res) ? await ctx.send(read, ctx.admin ?? v.identity) : undefined;
        const gone = accepted(res) && (await goneAfter(after));
        recordAnonymous(anonymous, op, res, gone);
        if (gone) {
          ctx.objects.markDeleted(req.path.split('?')[0]);
          retireThrowaway(ctx, v);
          ctx.report(SCAN_RULES.anonymousWrite, {
            operation: op,
            key: 'delete',
            message: `A request without credentials deleted a user's account (${v.name}, registered by the scan) at ${req.path}${anonymousContext(op)}.`,
            evidence: evidenceOf(res, {
              owner: v.name,
              attacker: 'anonymous',
              ownerReadAfter: after?.status,
            }),
          });
          return;
        }
      }
      if (anonymous.get(op) === true || !(await addressed(key, value, read))) continue;
      const res = await ctx.send(req, attacker);
      if (!isSuccess(res)) continue;
      const after = await ctx.send(read, ctx.admin ?? v.identity);
      if (!(await goneAfter(after))) continue;
      ctx.objects.markDeleted(req.path.split('?')[0]);
      retireThrowaway(ctx, v);
      ctx.report(SCAN_RULES.bolaDelete, {
        operation: op,
        message: `${attacker.name} deleted another user's account (${v.name}, registered by the scan) at ${req.path}.`,
        evidence: evidenceOf(res, { owner: v.name, attacker: attacker.name, ownerReadAfter: after?.status }),
      });
      return;
    }
  }
}
