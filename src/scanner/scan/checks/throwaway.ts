/**
 * Throwaway accounts: an account the scan registers itself through the document's sign-up (unique name, strong
 * random password) and logs in as, so that checks that change or end an account's password or session never
 * touch a given identity. Shared by API1 (the victim of another user's changes) and API2 (sessions, password
 * changes).
 */
import { randomBytes } from 'node:crypto';
import type { ApiDocument, JsonSchema, Operation } from '../../../core/api-document.ts';
import type { ScanRequest, ScanResponse } from '../client.ts';
import { type Identity, isSuccess, type ScanContext } from '../context.ts';
import { loginRequest, sessionIdentity, signedIn } from '../login.ts';
import type { LoginFlow } from '../options.ts';
import {
  bodySchema,
  isExcluded,
  isLoginOperation,
  loginByWords,
  type PlannedRequest,
  pathActs,
  pathValues,
  planRequest,
} from '../planner.ts';
import {
  fieldsAt,
  propertiesOf,
  recordProperties,
  resolveSchema,
  sampleValue,
  schemaEnvelope,
  withFields,
} from '../schema.ts';
import { accountParam, selfIds } from '../self.ts';
import {
  NOT_ACCOUNT_PASSWORD,
  NOT_SIGNUP_PATH,
  refusedIn200,
  registration,
} from './api5-function-authorization.ts';

export const PASSWORD = /pass(word)?|passwd|pwd|secret/i;
export const NAME_FIELD = /^(user_?name|login|handle|name)$/i;
export const MAIL_FIELD = /mail/i;
export const ID_KEYS = ['id', 'user_id', 'userId', 'uid', '_id', 'uuid'];

/** Where the scan logs in (the shape of API2's login target). */
export interface ThrowawayLogin {
  readonly flow: LoginFlow;
  readonly op?: Operation;
  readonly userField: string;
  readonly passwordField: string;
}

export interface Throwaway {
  /** Its session (the registration's login, or a later one). */
  identity: Identity;
  /** The login it signs in through, and the value it gives there as its user (its name or its e-mail). */
  readonly via: ThrowawayLogin;
  readonly loginName: string;
  readonly name: string;
  readonly email: string;
  /** Its account ids: from the registration answer, its token's claims, its login answer (unchecked). */
  readonly ids: readonly string[];
  /**
   * The ids proved to name its own account (`checkIds`): read as it at an account item route, that record shows
   * its name. Only these may go in a path or body that changes an account.
   */
  readonly checked: Set<string>;
  /**
   * The collections where a checked id was read as V's own record (`users`, `members`: the literal segment before the
   * id), so a write names V's account only there (the same number under `/profiles/` is another record).
   */
  readonly checkedUnder?: Set<string>;
  /** The password it has now (a check that changed it and proved so sets the new one). */
  password: string;
  /**
   * A fresh login (with the current password unless one is given), sent through the running check's context
   * (each check has its own time budget: a later check reusing the account passes its own): its identity.
   */
  login(ctx: ScanContext, password?: string): Promise<{ identity?: Identity; res?: ScanResponse }>;
  /** The sign-up sent again, anonymously, with the same name and e-mail and another password. */
  register(ctx: ScanContext, password: string): Promise<ScanResponse | undefined>;
  /** The sign-up operation. */
  readonly signup: Operation;
  /** The identity that made the account where only an admin makes accounts (its name), else absent. */
  readonly madeBy?: string;
  /** What the sign-up answered (its JSON), when it answered JSON: the account's own values (`account_no`). */
  readonly registration?: unknown;
}

/** A strong random password of the scan's own. */
export function freshPassword(): string {
  return `Pc-${randomBytes(12).toString('base64url')}-9a`;
}

/** The record in an answer that carries a value (top level, under `user`/`data`, or one level down). */
export function recordWith(view: unknown, value: string): Record<string, unknown> | undefined {
  if (view === null || typeof view !== 'object' || Array.isArray(view)) return undefined;
  const r = view as Record<string, unknown>;
  if (Object.values(r).some((v) => v === value)) return r;
  for (const v of Object.values(r)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const hit = recordWith(v, value);
      if (hit) return hit;
    }
  }
  return undefined;
}

/**
 * The identity a login answer signed in (its token in the flow's header, or the cookies it set), named `name`;
 * `body` is what it records as its login fields (never the password). Undefined when it signed no one in.
 */
export function sessionOf(
  flow: LoginFlow,
  res: ScanResponse,
  name: string,
  body: Readonly<Record<string, unknown>>,
): Identity | undefined {
  // A refusal is no sign-in, whatever cookie came with it (an API may set a fresh session cookie on every
  // answer: a failed login answered 200 {status: 'fail'} or 401 would otherwise count as signed in).
  if (res.status >= 400 || refusedIn200(res) || !signedIn(flow, res)) return undefined;
  return { ...sessionIdentity(flow, res, name), login: { path: flow.path, flow, body, answer: res.json } };
}

/** The throwaway accounts of a scan that still exist (keyed by the scan's object registry), for reuse. */
const pools = new WeakMap<object, Throwaway[]>();

/** The account is gone (deleted by a check): it is no longer offered for reuse. */
export function retireThrowaway(ctx: ScanContext, account: Throwaway): void {
  const pool = pools.get(ctx.objects);
  if (pool?.includes(account)) pool.splice(pool.indexOf(account), 1);
}

/**
 * A throwaway account an earlier check registered and left in place, signed in afresh (an API may allow one
 * sign-up an hour: the next check reuses what the first one got). Undefined when none still logs in. With `at`,
 * only an account that signs in through that login.
 */
export async function reuseThrowaway(ctx: ScanContext, at?: ThrowawayLogin): Promise<Throwaway | undefined> {
  for (const account of [...(pools.get(ctx.objects) ?? [])].reverse()) {
    // Only one that signs in through the given login, when one is given.
    if (at && (account.via.flow.path !== at.flow.path || account.via.flow.method !== at.flow.method))
      continue;
    const fresh = await account.login(ctx);
    if (fresh.identity) {
      account.identity = fresh.identity;
      return account;
    }
    retireThrowaway(ctx, account);
  }
  return undefined;
}

/** A sign-up's account inputs (`user`, `email`, `pwd`), wherever the operation takes them. */
export interface SignupInputs {
  readonly op: Operation;
  /** Its body fields, or its query parameters when it takes its inputs in the URL. */
  readonly fields: readonly string[];
  readonly location: 'body' | 'query';
}

const SIGNUP_USER = /^(user_?name|login|handle|name|user|e_?mail|email_?address|mail)$/i;

/**
 * The document's sign-up: a POST without path parameters whose body has a user name and a password
 * (`registration`, JSON or form fields), or that takes them as query parameters (`POST
 * /auth/register?username=&password=&email=`), on a path that names no login, reset or change.
 */
export function signup(ctx: ScanContext): SignupInputs | undefined {
  const op = registration(ctx);
  // A reset or a change (`POST /password/reset {email, new_password}`) is no sign-up, whatever its fields; nor is
  // a creation of privileged accounts (`POST /admin/create_admin`): the scan's accounts are ordinary users'.
  if (op && !NOT_SIGNUP_PATH.test(op.path) && !makesPrivileged(op))
    return { op, fields: Object.keys(recordProperties(ctx.spec, bodySchema(op))), location: 'body' };
  for (const candidate of ctx.spec.operations) {
    if (candidate.method !== 'POST' || isExcluded(candidate) || candidate.path.includes('{')) continue;
    if (isLoginOperation(ctx.spec, candidate) || NOT_SIGNUP_PATH.test(candidate.path)) continue;
    if (makesPrivileged(candidate)) continue;
    const body = bodySchema(candidate);
    // A record envelope's fields (JSON:API `data.attributes`, Rails' `{user: {...}}`): the account's inputs.
    const fields =
      body !== undefined
        ? Object.keys(recordProperties(ctx.spec, body))
        : candidate.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    const password = fields.filter((k) => PASSWORD.test(k));
    if (password.length === 0 || password.some((k) => NOT_ACCOUNT_PASSWORD.test(k))) continue;
    if (!fields.some((k) => SIGNUP_USER.test(k))) continue;
    return { op: candidate, fields, location: body !== undefined ? 'body' : 'query' };
  }
  return undefined;
}

/**
 * A creation whose last path segment names a privileged kind of account (`/admin/create_admin`, `/admins`,
 * `/staff`, `/api/superusers`): what it makes is no ordinary user. `/admin/users` names users.
 */
export function makesPrivileged(op: Operation): boolean {
  const last =
    op.path
      .split('/')
      .filter((seg) => seg !== '' && !seg.includes('{'))
      .pop() ?? '';
  return last
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .some((w) => /^(admins?|administrators?|superusers?|staff|moderators?|root|operators?)$/.test(w));
}

/**
 * The sign-up request with `values` for its account inputs (user name, e-mail, password), in its body or its
 * query string. Other inputs keep their sampled values; in the query, any other input that names a person
 * (`phone`, `nickname`) gets its schema's sample, never a value harvested from another account.
 */
export function signupRequest(
  ctx: ScanContext,
  s: SignupInputs,
  values: Readonly<Record<string, unknown>>,
): PlannedRequest {
  if (s.location === 'body') {
    const schema = bodySchema(s.op);
    const sample = sampleValue(ctx.spec, schema);
    const record =
      sample !== null && typeof sample === 'object' && !Array.isArray(sample)
        ? (sample as Record<string, unknown>)
        : {};
    // The values go where the document keeps the record (its envelope; at the top without one).
    const envelope = schemaEnvelope(ctx.spec, schema);
    const body = withFields(record, envelope, { ...fieldsAt(record, envelope), ...values });
    return planRequest(ctx.spec, s.op, ctx.objects, { body });
  }
  const params: Record<string, string> = {};
  for (const p of s.op.parameters) {
    if (p.in !== 'query') continue;
    const given = values[p.name];
    if (given !== undefined) params[p.name] = String(given);
    else if (/user|mail|login|name|account|phone|mobile/i.test(p.name))
      params[p.name] = String(sampleValue(ctx.spec, p.schema, p.name));
  }
  return planRequest(ctx.spec, s.op, ctx.objects, { params });
}

/** The values a sign-up gets for an account of the scan's own: `name`, `email` and `password` in each input. */
export function accountValues(
  s: SignupInputs,
  name: string,
  email: string,
  password: string,
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const k of s.fields) {
    if (PASSWORD.test(k)) values[k] = password;
    else if (MAIL_FIELD.test(k)) values[k] = email;
    else if (NAME_FIELD.test(k) || /^(user|nick_?name)$/i.test(k)) values[k] = name;
  }
  return values;
}

/** The given identities' user values that already had their one failed login of the scan (keyed by the registry). */
const givenFailures = new WeakMap<object, Set<string>>();

/**
 * May a login with a wrong password (or any probe that may fail) go to the given identity whose user value is
 * `user`? True once per scan and user value, false after: an API that locks an account after a few failures
 * must not lock a given identity because several checks each sent it one.
 */
export function spendGivenFailure(ctx: ScanContext, user: unknown): boolean {
  const spent = givenFailures.get(ctx.objects) ?? new Set<string>();
  givenFailures.set(ctx.objects, spent);
  const key = typeof user === 'string' ? user : JSON.stringify(user);
  if (spent.has(key)) return false;
  spent.add(key);
  return true;
}

/** The probe that spent `user`'s failed login signed it in (a wrong password let in): no failed login after all. */
export function refundGivenFailure(ctx: ScanContext, user: unknown): void {
  givenFailures.get(ctx.objects)?.delete(typeof user === 'string' ? user : JSON.stringify(user));
}

/** Names of left-over accounts a warning gives (the rest are counted there and named in the notes). */
const MAX_WARNED_NAMES = 20;

/**
 * What the accounts the scan registered and could not delete made as themselves (review R2 SAFETY-2): the 2xx
 * creations (POST, no sign-up or login) their sessions sent, per account, and the 2xx DELETEs they sent, so a
 * person knows what else to remove. Read from the scan's requests. Undefined when they made nothing.
 */
function objectsOfLeft(ctx: ScanContext, accounts: readonly Throwaway[]): string | undefined {
  const parts: string[] = [];
  for (const v of accounts) {
    const names = new Set([v.name, v.identity.name]);
    const made = new Map<string, number>();
    let deleted = 0;
    for (const o of ctx.observations) {
      if (o.identity === undefined || !names.has(o.identity) || !o.operation) continue;
      if (!isSuccess(o.response) || refusedIn200(o.response)) continue;
      if (o.request.method === 'DELETE') deleted++;
      // A logout or any other acting POST (`/auth/logout`, `/orders/{id}/cancel`) makes nothing (review R1-10).
      if (
        o.request.method !== 'POST' ||
        isLoginOperation(ctx.spec, o.operation) ||
        makesAccount(ctx, o.operation) ||
        pathActs(o.operation.path) ||
        /log_?out|sign_?out|log_?off/i.test(o.operation.path)
      )
        continue;
      const key = `${o.operation.method} ${o.operation.path}`;
      made.set(key, (made.get(key) ?? 0) + 1);
    }
    if (made.size === 0) continue;
    // As many of its own DELETEs succeeded as it made objects (the injection probes' sweep deletes what the
    // account made, each read back as gone): nothing is known to stay.
    if (deleted >= [...made.values()].reduce((a, b) => a + b, 0)) continue;
    const what = [...made].map(([k, n]) => `${n} by ${k}`).join(', ');
    parts.push(
      `${v.name}: ${what}${deleted > 0 ? ` (its session's DELETEs answered 2xx ${deleted} time${deleted === 1 ? '' : 's'})` : ''}`,
    );
  }
  if (parts.length === 0) return undefined;
  return `the accounts the scan registered and left in place made objects as themselves, which stay with them unless the API removes an account's data with it: ${parts.slice(0, 8).join('; ')}${parts.length > 8 ? `; and ${parts.length - 8} more accounts` : ''}`;
}

/** Accounts a probe made exist without the scan keeping their sign-in (a login that creates the account). */
const madeByProbes = new WeakMap<object, Map<string, string>>();

/** Records an account a probe made exist and that the clean-up cannot delete: named in the report's notes. */
export function noteLeftAccount(ctx: ScanContext, name: string, why: string): void {
  const made = madeByProbes.get(ctx.objects) ?? new Map<string, string>();
  madeByProbes.set(ctx.objects, made);
  if (made.size < 100 && !made.has(name)) made.set(name, why);
}

/** Accounts the scan registered and can sign in to, for the deletion at the end (keyed by the object registry). */
const registered = new WeakMap<object, Throwaway[]>();
const MAX_REGISTERED = 24;

/** Records an account the scan registered, for `deleteThrowaways` at the end of the scan. */
export function rememberAccount(ctx: ScanContext, account: Throwaway): void {
  const list = registered.get(ctx.objects) ?? [];
  if (list.length < MAX_REGISTERED && !list.includes(account)) list.push(account);
  registered.set(ctx.objects, list);
}

/**
 * The values an account registered with `name` and `email` may give at a login's user field, most likely first:
 * only those the sign-up took (at most two).
 */
export function loginValues(s: SignupInputs, loginField: string, name: string, email: string): string[] {
  const taken = new Set(Object.values(accountValues(s, name, email, '')));
  const order = MAIL_FIELD.test(loginField) ? [email, name] : [name, email];
  const out = order.filter((v) => taken.has(v));
  return out.length > 0 ? out : [name];
}

/**
 * Whether the sign-up had to be the admin's (keyed by the object registry): true once an anonymous sign-up was
 * refused and the admin's worked (later accounts go straight to the admin), false when the admin's failed too.
 */
const adminMade = new WeakMap<object, boolean>();

/** Inputs of an account that set what it may do (`role`, `is_admin`, `user_type`, `permissions`). */
const PRIVILEGE_FIELD =
  /^(role|roles|user_?type|account_?type|type|group|groups|level|tier|is_?admin|admin|is_?staff|staff|is_?superuser|superuser|permissions?|scopes?|privileges?|access_?level)$/i;
const ORDINARY =
  /^(user|users|member|customer|client|basic|standard|regular|default|guest|viewer|reader|normal)$/i;
const PRIVILEGED =
  /admin|root|super|staff|owner|manager|moderator|teller|employee|operator|editor|support|agent/i;

/**
 * The values an admin's creation of an account of the scan's own gets for its privilege inputs: the lowest
 * (`false`; an ordinary role of a declared list, `user`, `customer`; `user` for a role the document does not
 * list), never a privileged one, so the account is an ordinary user's. A listed role with no ordinary value is
 * left out (`undefined`: not sent).
 */
export function ordinaryValues(ctx: Pick<ScanContext, 'spec'>, s: SignupInputs): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const schemas: Record<string, JsonSchemaLike | undefined> =
    s.location === 'body'
      ? (recordProperties(ctx.spec, bodySchema(s.op)) as Record<string, JsonSchemaLike>)
      : Object.fromEntries(
          s.op.parameters
            .filter((p) => p.in === 'query')
            .map((p) => [p.name, resolveSchema(ctx.spec, p.schema) as JsonSchemaLike]),
        );
  for (const k of s.fields) {
    if (!PRIVILEGE_FIELD.test(k)) continue;
    const schema = schemas[k] ?? {};
    const item = (
      schema.type === 'array' ? resolveSchema(ctx.spec, (schema.items ?? {}) as JsonSchema) : schema
    ) as JsonSchemaLike;
    const listed = Array.isArray(item.enum) ? item.enum : undefined;
    let value: unknown;
    if (item.type === 'boolean') value = false;
    else if (listed)
      value =
        listed.find((v) => typeof v === 'string' && ORDINARY.test(v)) ??
        listed.find((v) => typeof v === 'string' && !PRIVILEGED.test(v));
    else if (item.type === 'integer' || item.type === 'number') value = undefined;
    else value = 'user';
    out[k] = value !== undefined && schema.type === 'array' ? [value] : value;
  }
  return out;
}

interface JsonSchemaLike {
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly items?: JsonSchemaLike;
}

/** Words of a redirect's target that say the sign-up failed (`register.php?error=weak+password`). */
const FAILED_TARGET = /error|fail|invalid|taken|exists|weak|denied|refused|alert/i;

/**
 * A sign-up the API took: a 2xx that refuses nothing, or a redirect (a plain PHP or server-rendered site answers
 * `302 Location: login.php?registered=1`) whose target says no failure. Either way the account's login confirms it
 * (and a wrong password's control), so a redirect taken wrongly costs one login, no more.
 */
function signedUp(reg: ScanResponse | undefined): reg is ScanResponse {
  if (reg === undefined) return false;
  if (reg.status >= 300 && reg.status < 400) return !FAILED_TARGET.test(reg.headers.location ?? '');
  return isSuccess(reg) && !refusedIn200(reg);
}

/**
 * Registers an account named `<prefix><random>` (with a strong random password, or `first`, another account's of
 * the scan's own) and logs in as it; undefined when either does not work.
 */
export async function registerThrowaway(
  ctx: ScanContext,
  t: ThrowawayLogin | undefined,
  prefix: string,
  first = freshPassword(),
): Promise<Throwaway | undefined> {
  const s = signup(ctx);
  if (!s || !t || s.op === t.op) return undefined;
  const tag = randomBytes(5).toString('hex');
  const name = `${prefix}${tag}`;
  const email = `${prefix}${tag}@example.com`;
  const register = (via: ScanContext, password: string) =>
    via.send(signupRequest(ctx, s, accountValues(s, name, email, password)), null);
  const loginField = t.userField;
  let loginValue = name;
  const made = adminMade.get(ctx.objects);
  let reg = made === true ? undefined : await register(ctx, first);
  let madeBy: string | undefined;
  // No public sign-up (the creation answers an anonymous caller 401/403, or refuses it in a 200): the admin makes
  // the account, an ordinary one (`ordinaryValues`), as the document says accounts are made.
  const refused =
    made === true || (reg !== undefined && (reg.status === 401 || reg.status === 403 || refusedIn200(reg)));
  if (refused && ctx.admin && made !== false && (reg === undefined || !isSuccess(reg) || refusedIn200(reg))) {
    const values = { ...accountValues(s, name, email, first), ...ordinaryValues(ctx, s) };
    reg = await ctx.send(signupRequest(ctx, s, values), ctx.admin);
    const ok = isSuccess(reg) && !refusedIn200(reg);
    if (made === undefined) adminMade.set(ctx.objects, ok);
    if (ok) madeBy = ctx.admin.name;
  }
  if (!signedUp(reg)) return undefined;
  const login = async (via: ScanContext, password: string, value = loginValue) => {
    const res = await via.send(
      {
        ...loginRequest(t.flow, { [loginField]: value, [t.passwordField]: password }),
        ...(t.op ? { operation: t.op } : {}),
      },
      null,
    );
    const identity = res ? sessionOf(t.flow, res, name, { [loginField]: value }) : undefined;
    return { ...(identity ? { identity } : {}), ...(res ? { res } : {}) };
  };
  // The login's user value: the e-mail for an e-mail field (`POST /session {email, password}` beside a sign-up
  // that also takes a user name), else the name; the other one registered when the first does not sign in (a
  // `login` field that takes an e-mail, an `email` field that takes a user name).
  let signed: Awaited<ReturnType<typeof login>> = {};
  for (const value of loginValues(s, loginField, name, email)) {
    signed = await login(ctx, first, value);
    loginValue = value;
    if (signed.identity) break;
  }
  if (!signed.identity) return undefined;
  // The control: a wrong password must not sign in too, else a "login" proves nothing (every later proof of a
  // changed password would be one).
  if ((await login(ctx, `pc-wrong-${randomBytes(6).toString('hex')}`)).identity) return undefined;
  const ids = new Set<string>();
  const fromAnswer = recordWith(reg.json, name) ?? recordWith(reg.json, email);
  for (const key of ID_KEYS) {
    const v = fromAnswer?.[key];
    if (typeof v === 'string' || typeof v === 'number') ids.add(String(v));
  }
  for (const id of selfIds(signed.identity)) if (id !== name && id !== email) ids.add(id);
  const account: Throwaway = {
    identity: signed.identity,
    via: t,
    loginName: loginValue,
    name,
    email,
    ids: [...ids],
    checked: new Set<string>(),
    checkedUnder: new Set<string>(),
    password: first,
    login: (via: ScanContext, password?: string) => login(via, password ?? account.password),
    register,
    signup: s.op,
    ...(madeBy !== undefined ? { madeBy } : {}),
    ...(reg.json !== undefined ? { registration: reg.json } : {}),
  };
  const pool = pools.get(ctx.objects) ?? [];
  if (pool.length < 8) pool.push(account);
  pools.set(ctx.objects, pool);
  rememberAccount(ctx, account);
  return account;
}

const OLD_PASSWORD = /old|current|previous|existing/i;
const REPEAT_PASSWORD = /confirm|repeat|again|verif|^re_?pass|2$/i;
const NOT_PASSWORD = /secret|hint|question|token|otp|code/i;
export const ACCOUNT_FIELD =
  /^(user_?name|login|handle|e_?mail|email_?address|user_?id|userid|account_?id|uid)$/i;

/** Body or query inputs that carry a password, by role: the new one, its repetition, the current one. */
export function passwordInputs(
  ctx: Pick<ScanContext, 'spec'>,
  op: Operation,
): { body: string[]; query: string[]; old: string[]; repeat: string[] } {
  const props = Object.keys(propertiesOf(ctx.spec, bodySchema(op)));
  const query = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
  const pw = (k: string) => PASSWORD.test(k) && !NOT_PASSWORD.test(k.replace(/pass(word)?/i, ''));
  const fresh = (k: string) => pw(k) && !OLD_PASSWORD.test(k) && !REPEAT_PASSWORD.test(k);
  return {
    body: props.filter(fresh),
    query: query.filter(fresh),
    old: [...props, ...query].filter((k) => pw(k) && OLD_PASSWORD.test(k)),
    repeat: [...props, ...query].filter((k) => pw(k) && REPEAT_PASSWORD.test(k) && !OLD_PASSWORD.test(k)),
  };
}

/**
 * Operations that set a password (not the sign-up, not the login): `PUT /users/{username}/password`,
 * `POST /change-password {username, new_password}`, `PUT /users/{id} {email, password}`.
 */
export function passwordChanges(ctx: ScanContext, loginOp: Operation | undefined): Operation[] {
  const signupOp = signup(ctx)?.op;
  return ctx.spec.operations.filter((op) => {
    if (!['POST', 'PUT', 'PATCH'].includes(op.method) || isExcluded(op) || op === signupOp || op === loginOp)
      return false;
    if (isLoginOperation(ctx.spec, op) || /regist|sign_?up|log_?in|sign_?in/i.test(op.path)) return false;
    const inputs = passwordInputs(ctx, op);
    return inputs.body.length + inputs.query.length > 0;
  });
}

/** The request that sets `password` as the new password of the account `v` (named in its path or body). */
export function passwordRequest(
  ctx: ScanContext,
  op: Operation,
  v: Throwaway,
  password: string,
  opts: { readonly old?: string; readonly param?: string; readonly value?: string } = {},
): PlannedRequest {
  const inputs = passwordInputs(ctx, op);
  const schema = bodySchema(op);
  const props = propertiesOf(ctx.spec, schema);
  const sample = sampleValue(ctx.spec, schema);
  const body: Record<string, unknown> =
    sample !== null && typeof sample === 'object' && !Array.isArray(sample)
      ? { ...(sample as Record<string, unknown>) }
      : {};
  for (const k of Object.keys(props)) {
    if (inputs.body.includes(k) || inputs.repeat.includes(k)) body[k] = password;
    else if (inputs.old.includes(k)) {
      if (opts.old === undefined) delete body[k];
      else body[k] = opts.old;
    } else if (ACCOUNT_FIELD.test(k)) {
      const id = [...v.checked][0];
      body[k] = MAIL_FIELD.test(k)
        ? v.email
        : /id$/i.test(k)
          ? props[k].type === 'integer' && id !== undefined && /^\d+$/.test(id)
            ? Number(id)
            : id
          : v.name;
    } else if (MAIL_FIELD.test(k)) body[k] = v.email;
    else if (NAME_FIELD.test(k)) body[k] = v.name;
  }
  const params: Record<string, string> = {};
  if (opts.param !== undefined && opts.value !== undefined) params[opts.param] = opts.value;
  for (const q of [...inputs.query, ...inputs.repeat.filter((k) => !(k in props))]) params[q] = password;
  if (opts.old !== undefined) for (const q of inputs.old.filter((k) => !(k in props))) params[q] = opts.old;
  // Query inputs that name the account (`?username=`): V's.
  for (const p of op.parameters) {
    if (p.in !== 'query' || !ACCOUNT_FIELD.test(p.name) || p.name in props) continue;
    const id = [...v.checked][0];
    const value = MAIL_FIELD.test(p.name) ? v.email : /id$/i.test(p.name) ? id : v.name;
    if (value !== undefined) params[p.name] = value;
  }
  return planRequest(ctx.spec, op, ctx.objects, {
    params,
    ...(schema !== undefined ? { body } : {}),
  });
}

const IDENTIFIER = /^(user|account|member|customer|target|.*_?(id|name|email))$/i;

/**
 * Does a password request name no one but V? Deny by default: a path parameter other than the account one
 * (`/students/{student_id}/password`, filled from the harvest: someone else's id) or a body or query member
 * that looks like an identifier (`user`, `target_id`, `username`) holding anything but V's own name, e-mail or
 * a checked id (a sampled `"user": "carol"`) and the request is not sent.
 */
export function namesOnly(
  op: Operation,
  req: PlannedRequest,
  v: Pick<Throwaway, 'name' | 'email' | 'checked'>,
  param: string | undefined,
): boolean {
  if (op.parameters.some((p) => p.in === 'path' && p.name !== param)) return false;
  const own = new Set([v.name, v.email, ...v.checked]);
  const fine = (k: string, value: unknown) =>
    !IDENTIFIER.test(k) ||
    ((typeof value === 'string' || typeof value === 'number') && own.has(String(value)));
  const walk = (view: unknown, depth: number): boolean => {
    if (view === null || typeof view !== 'object') return true;
    if (depth > 4) return false;
    if (Array.isArray(view)) return view.every((item) => walk(item, depth + 1));
    return Object.entries(view as Record<string, unknown>).every(([k, value]) =>
      value !== null && typeof value === 'object' ? walk(value, depth + 1) : fine(k, value),
    );
  };
  if (!walk(req.body, 0)) return false;
  const query = req.path.indexOf('?');
  if (query >= 0)
    for (const [k, value] of new URLSearchParams(req.path.slice(query + 1)))
      if (!fine(k, value)) return false;
  return true;
}

/**
 * Does a GET that sets a password (`/auth/reset-password?username=&new_password=`) name an account the scan
 * registered, and no one else? Deny by default: no body, no path parameter but the account one holding that
 * account's name, e-mail or checked id, and every query input but the new password holding one of those too (a
 * reset token, a sampled `lang`, another name: not sent). The runner lets such a GET through only with this.
 */
export function namesOnlyScanAccount(
  spec: ApiDocument,
  objects: object,
  op: Operation,
  req: ScanRequest,
): boolean {
  if (req.method !== 'GET' || req.body !== undefined) return false;
  const inputs = passwordInputs({ spec }, op);
  const fresh = new Set([...inputs.body, ...inputs.query, ...inputs.repeat]);
  const param = accountParam(op.path);
  const q = req.path.indexOf('?');
  const query = q >= 0 ? [...new URLSearchParams(req.path.slice(q + 1))] : [];
  const path = pathValues(op.path, req.path);
  for (const v of registered.get(objects) ?? []) {
    const own = new Set([v.name, v.email, ...v.checked]);
    if (path.some((p) => p.name !== param || !own.has(p.value))) continue;
    const named = query.filter(([k]) => !fresh.has(k));
    if (!named.every(([, value]) => own.has(value)) || named.length + path.length === 0) continue;
    return true;
  }
  return false;
}

/**
 * Checks V's ids (at most 3): an id is V's own when V's read at an account item route with it (`GET
 * /users/{id}`, at most 2 routes) shows V's name, the same read at an id nobody has does not, and no given
 * identity was told that id is its own (a token's `account_id` may be the tenant every user shares). The ids
 * that pass go in `v.checked`; an account-changing request uses no other id.
 */
export async function checkIds(ctx: ScanContext, v: Throwaway): Promise<void> {
  const given = new Set<string>();
  for (const who of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])])
    for (const id of selfIds(who)) given.add(id);
  const routes = ctx.spec.operations
    .filter((op) => {
      if (op.method !== 'GET' || isExcluded(op)) return false;
      const param = accountParam(op.path);
      if (param === undefined || /name|mail/i.test(param)) return false;
      if (!op.path.replace(/\/$/, '').endsWith(`{${param}}`)) return false;
      return !op.parameters.some((p) => p.in === 'path' && p.name !== param);
    })
    .slice(0, 2);
  const shows = (res: ScanResponse | undefined) =>
    res !== undefined && isSuccess(res) && !refusedIn200(res) && res.text.includes(v.name);
  for (const id of v.ids.slice(0, 3)) {
    if (v.checked.has(id) || given.has(id)) continue;
    for (const op of routes) {
      const param = accountParam(op.path)!;
      const mine = await ctx.send(
        planRequest(ctx.spec, op, ctx.objects, { params: { [param]: id } }),
        v.identity,
      );
      if (!shows(mine)) continue;
      const other = /^\d+$/.test(id)
        ? String(900_000_000 + Number.parseInt(randomBytes(3).toString('hex'), 16))
        : `pcnone${randomBytes(5).toString('hex')}`;
      const bogus = await ctx.send(
        planRequest(ctx.spec, op, ctx.objects, { params: { [param]: other } }),
        v.identity,
      );
      if (bogus === undefined || shows(bogus)) continue;
      v.checked.add(id);
      v.checkedUnder?.add(collectionOf(op.path, param));
      break;
    }
  }
}

/** The literal segment before an account parameter (`members` in `/v2/members/{memberId}`), in lower case. */
function collectionOf(path: string, param: string): string {
  const segments = path.split('/');
  return (segments[segments.indexOf(`{${param}}`) - 1] ?? '').toLowerCase();
}

/**
 * Records the concrete path of a request naming V's account as V's (scan-created), so the safety rule lets a
 * PUT or PATCH through: V's name and e-mail are the scan's own; V's id is V's account only under a collection of
 * accounts (users, members, customers...; the same number elsewhere is another object).
 */
export function claimAccountPath(
  ctx: ScanContext,
  op: Operation,
  req: PlannedRequest,
  v: Throwaway,
  param: string | undefined,
  value: string | undefined,
): void {
  if (param === undefined || value === undefined) return;
  // An id is the account's only once read there as the account (a token's `account_id` may be a tenant's).
  if (!/name|mail/i.test(param) && !v.checked.has(value)) return;
  const bare = req.path.split('?')[0];
  const segments = op.path.split('/');
  const parent = segments[segments.indexOf(`{${param}}`) - 1] ?? '';
  // A collection of accounts by its name (`/users/{id}`, `/members/{memberId}`: accountParam's) where the id was read
  // as V's own record (checkIds): it names V's account there, and only there.
  if (
    !/name|mail/i.test(param) &&
    (!/^(users?|accounts?|members?|customers?|profiles?)$/i.test(parent) ||
      (v.checkedUnder !== undefined && !v.checkedUnder.has(parent.toLowerCase())))
  )
    return;
  if (ctx.objects.isScanCreated(bare)) return;
  ctx.objects.add({
    collection: bare.slice(0, bare.lastIndexOf('/')),
    path: bare,
    id: value,
    owner: v.name,
    body: null,
    createdBy: op,
  });
}

/** A delete of one's own account: no path parameter, the path ends at the caller (`DELETE /me`, `/users/me`). */
const OWN_ACCOUNT_PATH = /(^|\/)(me|self|profile|my_?profile|current_?user|whoami)\/?$/i;
/** At most this many deletes are tried per account (own routes, then item routes, as itself then the admin). */
const MAX_DELETES = 4;

/**
 * Deletes the accounts the scan registered (best effort, at the end of the scan, after every check): with a
 * documented delete of one's own account (`DELETE /me`), sent with the account's own session; else at an account
 * item route (`DELETE /users/{username}`, `/users/{id}` with an id read back as its own: `checkIds`), as the
 * account itself, then as the admin. A delete counts when the account signed in before and no longer does.
 * Nothing else is deleted: no given identity's session sends a delete here, and no id but a checked one is used.
 * Returns one line per account for the report's notes.
 */
export async function deleteThrowaways(
  ctx: ScanContext,
  gone: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const lines = await deleteRegistered(ctx);
  // The accounts a probe made privileged (API3's sign-up with `role: admin` honoured) are the dangerous ones to
  // leave: each is signed in with the password its sign-up set and deleted as itself or by the admin.
  const deleted = new Set(gone);
  const privileged = await deletePrivilegedLeft(ctx, leftAccounts(ctx, gone), deleted);
  return [...lines, ...privileged, ...leftAccountLines(ctx, deleted)];
}

/** The account inputs of a request's body (JSON object, JSON text or a form) and query string. */
function requestFields(request: ScanRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const q = request.path.indexOf('?');
  if (q >= 0) for (const [k, v] of new URLSearchParams(request.path.slice(q + 1))) out[k] = v;
  let body: unknown = request.body;
  if (typeof request.body === 'string') {
    const text = request.body;
    try {
      body = JSON.parse(text);
    } catch {
      body = Object.fromEntries(new URLSearchParams(text));
    }
  }
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    Object.assign(out, body);
    // A record in an envelope (`{"user": {"username", "email", "password"}}`, RealWorld's sign-up): its fields too.
    for (const v of Object.values(body))
      if (v !== null && typeof v === 'object' && !Array.isArray(v))
        for (const [k, x] of Object.entries(v)) if (!(k in out)) out[k] = x;
  }
  return out;
}

/** A POST that makes an account: no path parameter, a password and a user name or e-mail among its inputs. */
function makesAccount(ctx: ScanContext, op: Operation): boolean {
  if (op.method !== 'POST' || op.path.includes('{') || isLoginOperation(ctx.spec, op)) return false;
  // A login its words name (`{username, password}`, "login using creds") makes no account.
  if (loginByWords(ctx.spec, op)) return false;
  if (NOT_SIGNUP_PATH.test(op.path) && !/regist|sign_?up/i.test(op.path)) return false;
  const body = bodySchema(op);
  // The record's fields where the body wraps it in an envelope (`{"user": {...}}`), as the sign-up sends them.
  const fields =
    body !== undefined
      ? [...Object.keys(propertiesOf(ctx.spec, body)), ...Object.keys(recordProperties(ctx.spec, body))]
      : op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
  return fields.some((k) => PASSWORD.test(k)) && fields.some((k) => SIGNUP_USER.test(k));
}

/** Members of a sign-up that make the account privileged when the API honours them (API3's probe sends them). */
const PRIVILEGE_MEMBER =
  /^(roles?|is_?admin|admin|is_?super_?user|super_?user|is_?staff|staff|permissions?|scopes?|groups?|user_?type|account_?type)$/i;
const PRIVILEGE_VALUE = /admin|super|root|owner|staff|manager|^\*$/i;

/** The privileged members a request sent (`role="admin"`, `is_admin=true`). */
export function privilegedSent(fields: Readonly<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (!PRIVILEGE_MEMBER.test(k)) continue;
    const values = Array.isArray(v) ? v : [v];
    if (values.some((x) => x === true || (typeof x === 'string' && PRIVILEGE_VALUE.test(x))))
      out.push(`${k}=${JSON.stringify(v)}`.slice(0, 60));
  }
  return out;
}

/** An account a check's sign-up made that the clean-up does not handle. */
interface LeftAccount {
  /**
   * How it signs in: the value of the login's user member where the scan knows it (its e-mail where it signs in
   * with one), else its user name, else its e-mail.
   */
  readonly shown: string;
  /** Its other names (an e-mail beside a user name), shown after it. */
  readonly also: readonly string[];
  /** What made it (`POST /v1/auth/signup`). */
  readonly how: string;
  /** The sign-up's fields as sent, and its answer; absent for an account a login made exist. */
  readonly fields?: Readonly<Record<string, unknown>>;
  readonly answer?: ScanResponse;
  /** The privileged members its sign-up sent (`role="admin"`). */
  readonly privileged: readonly string[];
}

/**
 * The accounts the scan made exist but does not delete: sign-ups any check sent that the API accepted (an account
 * under test, an injection or ReDoS value as a user name) whose names are not among the accounts the clean-up
 * handles, and accounts a login created on first use. Read from the scan's requests, so no check can leave one
 * unnamed. One entry per account (its sign-up's names together), shown by the member the login takes (review R1-2:
 * six accounts under one display name were named once).
 */
function leftAccounts(ctx: ScanContext, gone: ReadonlySet<string>): LeftAccount[] {
  // `gone`: names of accounts deleted elsewhere (the runner's clean-up of what a given identity or the admin made).
  const handled = new Set<string>(gone);
  for (const v of registered.get(ctx.objects) ?? [])
    for (const x of [v.name, v.email, v.loginName]) handled.add(x);
  const loginField = registered.get(ctx.objects)?.[0]?.via.userField;
  const left = new Map<string, LeftAccount>();
  const creations = new Set(ctx.spec.operations.filter((op) => makesAccount(ctx, op)));
  // Paths a DELETE answered 2xx at (a check's own sweep: API3 deletes the accounts its probes of an admin's
  // creation made, at `/admin/users/{id}` below that creation).
  const deletedPaths = new Set(
    ctx.observations
      .filter((o) => o.request.method === 'DELETE' && isSuccess(o.response))
      .map((o) => o.request.path.split('?')[0].replace(/\/+$/, '')),
  );
  for (const o of ctx.observations) {
    if (!o.operation || !creations.has(o.operation) || !isSuccess(o.response) || refusedIn200(o.response))
      continue;
    const fields = requestFields(o.request);
    const values = Object.entries(fields).filter(([k, v]) => typeof v === 'string' && SIGNUP_USER.test(k));
    if (values.some(([, v]) => handled.has(v as string))) continue;
    const rec = values.map(([, v]) => recordWith(o.response.json, v as string)).find((r) => r !== undefined);
    const at = o.request.path.split('?')[0].replace(/\/+$/, '');
    if (
      ID_KEYS.some(
        (k) =>
          (typeof rec?.[k] === 'string' || typeof rec?.[k] === 'number') &&
          deletedPaths.has(`${at}/${encodeURIComponent(String(rec[k]))}`),
      )
    )
      continue;
    const named =
      values.find(([k]) => k === loginField) ?? values.find(([k]) => !MAIL_FIELD.test(k)) ?? values[0];
    if (!named || left.size >= 200) continue;
    const key = JSON.stringify(values.map(([k, v]) => `${k}=${v}`).sort());
    left.set(key, {
      shown: named[1] as string,
      also: values.filter((x) => x !== named && x[1] !== named[1]).map(([, v]) => (v as string).slice(0, 60)),
      how: `${o.operation.method} ${o.operation.path}`,
      fields,
      answer: o.response,
      privileged: privilegedSent(fields),
    });
  }
  for (const [name, how] of madeByProbes.get(ctx.objects) ?? [])
    if (!handled.has(name)) left.set(JSON.stringify([name]), { shown: name, also: [], how, privileged: [] });
  return [...left.values()];
}

/** At most this many privileged accounts a probe left are signed in to and deleted. */
const MAX_PRIVILEGED_DELETES = 6;

/**
 * Deletes the accounts in `left` whose sign-up sent privileged members: signed in with the password that sign-up
 * set, through the login the scan's own accounts use, then deleted as deleteAccount does (its own delete, else an
 * account item route as itself, then as the admin). Their names go in `deleted`; one line each.
 */
async function deletePrivilegedLeft(
  ctx: ScanContext,
  left: readonly LeftAccount[],
  deleted: Set<string>,
): Promise<string[]> {
  const via = registered.get(ctx.objects)?.[0]?.via;
  const s = signup(ctx);
  const { own, items } = deleteRoutes(ctx);
  const lines: string[] = [];
  for (const a of left.filter((x) => x.privileged.length > 0 && x.fields).slice(0, MAX_PRIVILEGED_DELETES)) {
    if (own.length + items.length === 0 || ctx.signal.aborted) break;
    const fields = a.fields!;
    const text = (re: RegExp) =>
      Object.entries(fields).find(
        ([k, v]) => typeof v === 'string' && re.test(k) && SIGNUP_USER.test(k),
      )?.[1] as string | undefined;
    const password = Object.entries(fields).find(
      ([k, v]) => typeof v === 'string' && PASSWORD.test(k) && !/confirm|repeat|again|old|current/i.test(k),
    )?.[1] as string | undefined;
    const email = text(MAIL_FIELD) ?? '';
    const name = text(/^(?!.*mail)/i) ?? a.shown;
    const value = via
      ? ((fields[via.userField] as string | undefined) ?? (MAIL_FIELD.test(via.userField) ? email : name))
      : '';
    const login = async (
      at: ScanContext,
      pw: string,
    ): Promise<{ identity?: Identity; res?: ScanResponse }> => {
      if (!via || !value) return {};
      const res = await at.send(
        {
          ...loginRequest(via.flow, { [via.userField]: value, [via.passwordField]: pw }),
          ...(via.op ? { operation: via.op } : {}),
        },
        null,
      );
      const identity = res ? sessionOf(via.flow, res, name, { [via.userField]: value }) : undefined;
      return { ...(identity ? { identity } : {}), ...(res ? { res } : {}) };
    };
    const first = password !== undefined ? await login(ctx, password) : {};
    const rec = recordWith(a.answer?.json, name) ?? (email ? recordWith(a.answer?.json, email) : undefined);
    if (!first.identity || !via || !s || password === undefined) {
      // One that does not sign in (not yet verified, made by the admin): the admin deletes it at an item route, by
      // the id its sign-up answered, once the admin's read there shows it (its unique e-mail or name).
      const by = await adminDelete(ctx, rec, email || name, items);
      if (by !== undefined) for (const x of [name, email, value, a.shown]) deleted.add(x);
      lines.push(
        `${a.shown} (sent ${a.privileged.join(', ')}): ${by ?? 'not deleted (it does not sign in with the password its sign-up set, and no admin read at an item route showed it)'}`,
      );
      continue;
    }
    const ids = new Set<string>();
    for (const key of ID_KEYS) {
      const x = rec?.[key];
      if (typeof x === 'string' || typeof x === 'number') ids.add(String(x));
    }
    for (const id of selfIds(first.identity)) if (id !== name && id !== email) ids.add(id);
    const account: Throwaway = {
      identity: first.identity,
      via,
      loginName: value,
      name,
      email,
      ids: [...ids],
      checked: new Set<string>(),
      checkedUnder: new Set<string>(),
      password,
      login: (at: ScanContext, pw?: string) => login(at, pw ?? account.password),
      register: () => Promise.resolve(undefined),
      signup: s.op,
    };
    const line = await deleteAccount(ctx, account, own, items);
    lines.push(`${a.shown} (sent ${a.privileged.join(', ')}): ${line.slice(name.length + 2)}`);
    if (line.startsWith(`${name}: deleted with`))
      for (const x of [name, email, value, a.shown]) deleted.add(x);
  }
  return lines;
}

/**
 * Deletes, as the admin, the account whose sign-up answered `rec`: at an account item route, by an id of that record,
 * only where the admin's read at the same route (the document's GET there) shows `shown` (the account's own
 * e-mail or name, the scan's), and confirmed by a read after. The line to report, or undefined.
 */
async function adminDelete(
  ctx: ScanContext,
  rec: Record<string, unknown> | undefined,
  shown: string,
  items: readonly Operation[],
): Promise<string | undefined> {
  const admin = ctx.admin;
  if (!admin || !rec || shown.length < 6) return undefined;
  const ids = ID_KEYS.map((k) => rec[k]).filter(
    (x): x is string | number => (typeof x === 'string' && x !== '') || typeof x === 'number',
  );
  const bare = (p: string) =>
    p.replace(/\/$/, '').replace(/\/(delete|remove|destroy|deactivate|close)$/i, '');
  for (const op of items) {
    const param = accountParam(op.path)!;
    if (/name|mail/i.test(param)) continue;
    const read = ctx.spec.operations.find(
      (r) => r.method === 'GET' && !isExcluded(r) && bare(r.path) === bare(op.path),
    );
    if (!read) continue;
    const shows = (res: ScanResponse | undefined) =>
      res !== undefined && isSuccess(res) && !refusedIn200(res) && res.text.includes(shown);
    for (const id of ids.slice(0, 2).map(String)) {
      const at = planRequest(ctx.spec, read, ctx.objects, { params: { [param]: id } });
      const before = await ctx.send(at, admin);
      // Gone already (a check's own sweep deleted it: API3 deletes what its probes of an admin creation made).
      if (
        before !== undefined &&
        (before.status === 404 || before.status === 410) &&
        ctx.objects.deletedAt(at.path)
      )
        return `deleted already (the admin's GET ${at.path.split('?')[0]} answers ${before.status})`;
      if (!shows(before)) continue;
      const req = planRequest(ctx.spec, op, ctx.objects, { params: { [param]: id } });
      const path = req.path.split('?')[0];
      // The account is the scan's own (its sign-up's answer, read back as it): the write guard lets its delete go.
      if (!ctx.objects.isScanCreated(path))
        ctx.objects.add({
          collection: path.slice(0, path.lastIndexOf('/')),
          path,
          id,
          owner: shown,
          body: null,
          createdBy: op,
        });
      const res = await ctx.send(req, admin, { registeredAccount: true });
      if (!isSuccess(res) || refusedIn200(res)) return undefined;
      if (shows(await ctx.send(at, admin)))
        return `${op.method} ${path} answered ${res!.status} as ${admin.name}, but the admin still reads it`;
      return `deleted with ${op.method} ${path} (${res!.status}, as ${admin.name})`;
    }
  }
  return undefined;
}

/**
 * The accounts the scan made exist but does not delete, one note and a warning (leftAccounts), each named by how
 * it signs in; those whose sign-up sent privileged members said so first.
 */
function leftAccountLines(ctx: ScanContext, gone: ReadonlySet<string>): string[] {
  const accounts = leftAccounts(ctx, gone).sort((a, b) => b.privileged.length - a.privileged.length);
  if (accounts.length === 0) return [];
  const label = (a: LeftAccount) =>
    `${JSON.stringify(a.shown.slice(0, 60))}${a.also.length > 0 ? ` (${a.also.join(', ')})` : ''}${a.privileged.length > 0 ? ` (sent ${a.privileged.join(', ')})` : ''}`;
  // Grouped by what made them, in lines short enough for the text report (200 characters a note), at most 8.
  const byHow = new Map<string, string[]>();
  for (const a of accounts) byHow.set(a.how, [...(byHow.get(a.how) ?? []), label(a)]);
  const named: { text: string; count: number }[] = [];
  for (const [how, names] of byHow) {
    let line = { text: `left in place, made by ${how}:`, count: 0 };
    for (const name of names) {
      if (line.count > 0 && line.text.length + name.length > 185) {
        named.push(line);
        line = { text: `left in place, made by ${how} (more):`, count: 0 };
      }
      line = { text: `${line.text} ${name}`, count: line.count + 1 };
    }
    named.push(line);
  }
  const kept = named.slice(0, 8);
  const unnamed = named.slice(8).reduce((n, l) => n + l.count, 0);
  // Loud as well (review R2 REPORT-1): every one stays on the target, and a person must remove it; a privileged
  // one first (review R1-2).
  const first = accounts.slice(0, MAX_WARNED_NAMES).map(label);
  const privileged = accounts.filter((a) => a.privileged.length > 0).length;
  ctx.warn?.(
    `${accounts.length} other account${accounts.length === 1 ? '' : 's'} the scan's probes registered ${accounts.length === 1 ? 'was' : 'were'} left in place${privileged > 0 ? `, ${privileged} of them sent privileged members` : ''} (${first.join(', ')}${accounts.length > first.length ? ` and ${accounts.length - first.length} more, named in the notes` : ''}): remove ${accounts.length === 1 ? 'it' : 'them'} on the target by hand`,
  );
  return [
    `${accounts.length} other account${accounts.length === 1 ? ' was' : 's were'} made by the scan's probes and left in place (the clean-up deletes only accounts whose sign-in it kept, and those made privileged):`,
    ...kept.map((l) => l.text),
    ...(unnamed > 0 ? [`left in place: ${unnamed} more not named here`] : []),
  ];
}

async function deleteRegistered(ctx: ScanContext): Promise<string[]> {
  const accounts = registered.get(ctx.objects) ?? [];
  if (accounts.length === 0) return [];
  const { own, items } = deleteRoutes(ctx);
  const names = accounts.map((v) => v.name).join(', ');
  if (own.length + items.length === 0) {
    const line = `${accounts.length} account${accounts.length === 1 ? '' : 's'} the scan registered ${accounts.length === 1 ? 'was' : 'were'} left in place (${names}): the document has no delete of one's own account or of a user`;
    // Loud as well: they stay on the target, and a person must remove them.
    ctx.warn?.(`${line}; remove ${accounts.length === 1 ? 'it' : 'them'} on the target by hand`);
    const theirs = objectsOfLeft(ctx, accounts);
    if (theirs !== undefined) ctx.warn?.(theirs);
    return theirs !== undefined ? [line, theirs] : [line];
  }
  const lines: string[] = [];
  const left: string[] = [];
  const leftAccounts: Throwaway[] = [];
  for (const v of accounts) {
    if (ctx.signal.aborted) {
      lines.push(`${v.name}: not deleted (the clean-up ran out of time)`);
      left.push(v.name);
      leftAccounts.push(v);
      continue;
    }
    const line = await deleteAccount(ctx, v, own, items);
    lines.push(line);
    if (!line.startsWith(`${v.name}: deleted with`)) {
      left.push(v.name);
      leftAccounts.push(v);
    }
  }
  const theirs = objectsOfLeft(ctx, leftAccounts);
  if (theirs !== undefined) {
    ctx.warn?.(theirs);
    lines.push(theirs);
  }
  if (left.length > 0)
    ctx.warn?.(
      `${left.length} of the ${accounts.length} account${accounts.length === 1 ? '' : 's'} the scan registered ${left.length === 1 ? 'was' : 'were'} not deleted (${left.join(', ')}; the notes say why): remove ${left.length === 1 ? 'it' : 'them'} on the target by hand`,
    );
  return lines;
}

/** A delete verb after an account item route (`DELETE /users/{id}/delete/`, Django REST's action routes). */
const DELETE_VERB = /^(delete|remove|destroy|deactivate|close)$/i;

/**
 * The document's deletes of an account: one's own (`DELETE /me`), and the account item routes (`/users/{id}`, or
 * with one delete verb after it: `/users/{id}/delete/`, review R2-S3) with no other path parameter.
 */
function deleteRoutes(ctx: ScanContext): { own: Operation[]; items: Operation[] } {
  const deletes = ctx.spec.operations.filter((op) => op.method === 'DELETE' && !isExcluded(op));
  const own = deletes.filter((op) => !op.path.includes('{') && OWN_ACCOUNT_PATH.test(op.path));
  const items = deletes.filter((op) => {
    const param = accountParam(op.path);
    if (param === undefined) return false;
    const segments = op.path.replace(/\/$/, '').split('/');
    const at = segments.lastIndexOf(`{${param}}`);
    if (
      at < 0 ||
      (at !== segments.length - 1 && !(at === segments.length - 2 && DELETE_VERB.test(segments[at + 1])))
    )
      return false;
    return !op.parameters.some((p) => p.in === 'path' && p.name !== param);
  });
  return { own, items };
}

async function deleteAccount(
  ctx: ScanContext,
  v: Throwaway,
  own: readonly Operation[],
  items: readonly Operation[],
): Promise<string> {
  // A fresh session when the account still signs in (its last one may have ended); else its last session.
  const fresh = await v.login(ctx);
  const signsIn = fresh.identity !== undefined;
  if (fresh.identity) v.identity = fresh.identity;
  const tries: { op: Operation; req: PlannedRequest; as: Identity; param?: string; value?: string }[] = [];
  for (const op of own) tries.push({ op, req: planRequest(ctx.spec, op, ctx.objects, {}), as: v.identity });
  if (items.length > 0 && signsIn) await checkIds(ctx, v);
  for (const op of items) {
    const param = accountParam(op.path)!;
    const values = MAIL_FIELD.test(param) ? [v.email] : /name/i.test(param) ? [v.name] : [...v.checked];
    for (const value of values.slice(0, 1)) {
      const req = planRequest(ctx.spec, op, ctx.objects, { params: { [param]: value } });
      tries.push({ op, req, as: v.identity, param, value });
      if (ctx.admin) tries.push({ op, req, as: ctx.admin, param, value });
    }
  }
  if (tries.length === 0)
    return `${v.name}: not deleted (${signsIn ? 'no delete route names it: its id was not read back as its own' : 'it no longer signs in: deleted by a check, or locked'})`;
  for (const t of tries.slice(0, MAX_DELETES)) {
    if (t.param !== undefined) claimAccountPath(ctx, t.op, t.req, v, t.param, t.value);
    const res = await ctx.send(t.req, t.as, { registeredAccount: true });
    if (!isSuccess(res) || refusedIn200(res)) continue;
    retireThrowaway(ctx, v);
    const by = t.as === v.identity ? 'itself' : t.as.name;
    const where = `${t.op.method} ${t.req.path.split('?')[0]} (${res.status}, as ${by})`;
    if (!signsIn) return `${v.name}: deleted with ${where}; not confirmed (it no longer signed in before)`;
    if ((await v.login(ctx)).identity) return `${v.name}: ${where} answered, but it still signs in`;
    return `${v.name}: deleted with ${where}`;
  }
  return `${v.name}: not deleted (${signsIn ? '' : 'it no longer signs in; '}${tries
    .slice(0, MAX_DELETES)
    .map((t) => `${t.op.method} ${t.op.path}`)
    .join(', ')} refused)`;
}
