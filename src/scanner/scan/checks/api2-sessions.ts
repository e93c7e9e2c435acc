/**
 * API2 on a throwaway account of the scan's own (S, `pcs<random>`), never a given identity:
 *
 * - Password reset without proof: anonymously, an operation that sets a password names S by its user name or
 *   e-mail, with no reset token or current password; S logging in with the new password is the proof.
 * - Password change without the current password: S sets a new password on its own account (`/me/password`,
 *   or an operation naming S) without the current one (then with a wrong one); S logging in with the new
 *   password is the proof.
 * - Session not ended by logout: S logs in afresh, reads its own record (2xx showing S; an anonymous caller is
 *   refused there: the control), logs out (or revokes) with that session, and reads again with it; a 2xx that
 *   still shows S is the finding.
 * - Tokens without expiry: a JWT a login gave (an identity's or S's) without `exp`, or with `exp` more than 30
 *   days away (low).
 * - Cookie sessions (cookies.ts, on the given identities, reads only): A's readable cookie with B's name or id, or
 *   a raised role, in its place.
 */
import { randomBytes } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { setsPasswordByUrl } from '../discover.ts';
import { loginFields, loginRequest, sessionIdentity, setCookies } from '../login.ts';
import { bodySchema, isExcluded, type PlannedRequest, planRequest, requiresAuth } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf } from '../schema.ts';
import { accountParam, selfIds } from '../self.ts';
import { refusedIn200 } from './api5-function-authorization.ts';
import { cookieTampering } from './cookies.ts';
import {
  checkIds,
  claimAccountPath,
  freshPassword,
  MAIL_FIELD,
  namesOnly,
  PASSWORD,
  passwordChanges,
  passwordInputs,
  passwordRequest,
  registerThrowaway,
  reuseThrowaway,
  sessionOf,
  type Throwaway,
  type ThrowawayLogin,
} from './throwaway.ts';

const LOGOUT = /log_?out|sign_?out|revoke/i;
/**
 * The caller's own session as a resource (`/session`, `/api/v1/sessions/current`, `/auth/token`, `/users/sign_in`):
 * its DELETE is a logout (Rails' `DELETE /users/sign_out` and `DELETE /session` alike).
 */
const SESSION_RESOURCE = /\/(sessions?|tokens?|sign_?in|login|auth)(\/(current|me|mine|self))?\/?$/i;

/** Whether a DELETE on this path ends the caller's own session (see SESSION_RESOURCE). */
export function sessionResource(path: string): boolean {
  return SESSION_RESOURCE.test(path.split('?')[0]);
}
const ALL_SESSIONS = /all|other|every/i;
/**
 * An access token living longer than this is a finding; beyond LONG_LIFETIME_DAYS, a medium one. A day or a week
 * is a common, deliberate choice of sound APIs (a fixed twin issuing 30-day tokens is no flaw we can show), so
 * only lifetimes past a month are reported.
 */
const MAX_LIFETIME_HOURS = 30 * 24;
const LONG_LIFETIME_DAYS = 365;

/** The claims of a JWT, unverified; undefined for anything else. */
function claimsOf(token: string | undefined): Record<string, unknown> | undefined {
  const parts = token?.split('.');
  if (parts?.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (header === null || typeof header !== 'object' || typeof header.alg !== 'string') return undefined;
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Tokens that a login gave: a JWT without `exp` (key `no-exp`, low), and one whose lifetime is more than 30 days
 * (key `long-lived`: `exp` minus `iat`, else minus now; medium beyond a year, low up to it) are findings of their
 * own, once each (the first token that shows it).
 */
function tokenLifetime(ctx: ScanContext, t: ThrowawayLogin | undefined, s: Throwaway | undefined): void {
  const holders = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : []), ...(s ? [s.identity] : [])].filter(
    (i) => i.login !== undefined && i.token !== undefined,
  );
  const jwts = holders.filter((i) => claimsOf(i.token) !== undefined);
  if (jwts.length === 0) {
    ctx.note?.({
      rule: SCAN_RULES.tokenWithoutExpiry,
      reason: 'no login gave a JWT (opaque tokens and cookies: their lifetime is not visible)',
    });
    return;
  }
  const now = Date.now() / 1000;
  const done = new Set<string>();
  for (const who of jwts) {
    const claims = claimsOf(who.token)!;
    const exp = typeof claims.exp === 'number' ? claims.exp : undefined;
    const iat = typeof claims.iat === 'number' && claims.iat <= now + 300 ? claims.iat : undefined;
    const hours = exp === undefined ? undefined : (exp - (iat ?? now)) / 3600;
    const kind = hours === undefined ? 'no-exp' : hours > MAX_LIFETIME_HOURS ? 'long-lived' : undefined;
    if (kind === undefined || done.has(kind)) continue;
    done.add(kind);
    const days = hours === undefined ? undefined : hours / 24;
    const span =
      days === undefined ? '' : days >= 2 ? `${Math.round(days)} days` : `${Math.round(hours ?? 0)} hours`;
    ctx.report(SCAN_RULES.tokenWithoutExpiry, {
      ...(t?.op ? { operation: t.op } : {}),
      key: kind,
      ...(days !== undefined && days > LONG_LIFETIME_DAYS ? { severity: 'medium' as const } : {}),
      message:
        days === undefined
          ? `The token the login gave ${who.name} is a JWT without an exp claim: it never expires, so a stolen token works until the signing key changes.`
          : `The token the login gave ${who.name} lives ${span} (exp ${iat !== undefined ? 'minus iat' : 'from now'}; an access token should live minutes to hours; this one outlives a month): a stolen token stays usable that long.`,
      evidence: {
        claims: Object.keys(claims),
        ...(days !== undefined ? { lifetimeHours: Math.round(hours ?? 0) } : {}),
        identity: who.name,
      },
    });
  }
}

/** Who logs out in the session probe: the throwaway account, else B on a second session of its own. */
interface Signed {
  readonly name: string;
  readonly email: string;
  readonly ids: readonly string[];
  readonly identity: Identity;
  /** A new session (a fresh login). */
  login(): Promise<{ identity?: Identity }>;
  /** The given identity whose own session must survive the probe (B), if it is one. */
  readonly given?: Identity;
  readonly label: string;
}

function throwawaySigned(ctx: ScanContext, s: Throwaway): Signed {
  return {
    name: s.name,
    email: s.email,
    ids: s.ids,
    identity: s.identity,
    login: () => s.login(ctx),
    label: `${s.name}, registered by the scan`,
  };
}

/** B on a second session of its own: a fresh login with its own login flow (no throwaway account could be made). */
function identitySigned(ctx: ScanContext, b: Identity | undefined): Signed | undefined {
  const flow = b?.login?.flow;
  if (!b || !flow) return undefined;
  const user = Object.entries(loginFields(flow)).find(
    ([k, v]) => typeof v === 'string' && v.length >= 3 && !PASSWORD.test(k) && !/grant|client|scope/i.test(k),
  );
  if (!user) return undefined;
  const name = String(user[1]);
  const login = async () => {
    const res = await ctx.send(loginRequest(flow), null);
    // The same person on a fresh login: not named like a session made from B's (`bob (altered token)`), which the
    // other checks take for someone else reading B's record.
    const label = `${b.name}, second session`;
    let identity = res ? sessionOf(flow, res, label, { [user[0]]: name }) : undefined;
    // A cookie session under a name no session cookie usually has (`guild=...`): B's own login set the same
    // cookies when it signed B in, and B's right password is no failed login.
    if (!identity && res && res.status < 400 && !refusedIn200(res)) {
      const set = setCookies(res);
      if (set.size > 0 && [...set.keys()].every((k) => b.session.cookies.has(k)))
        identity = {
          ...sessionIdentity(flow, res, label),
          login: { path: flow.path, flow, body: { [user[0]]: name }, answer: res.json },
        };
    }
    return identity ? { identity } : {};
  };
  return {
    name,
    email: name.includes('@') ? name : '',
    ids: [...selfIds(b)].filter((id) => id !== name),
    identity: b,
    login,
    given: b,
    label: `identity ${b.name}, on a second session of its own`,
  };
}

/** A read that shows the account its session belongs to: its answer holds S's name, an anonymous one is refused. */
async function ownRead(ctx: ScanContext, s: Signed): Promise<Operation | undefined> {
  const candidates = ctx.spec.operations
    .filter((op) => {
      if (op.method !== 'GET' || isExcluded(op)) return false;
      if (op.parameters.some((p) => p.required && p.in === 'query')) return false;
      const param = accountParam(op.path);
      const path = op.parameters.filter((p) => p.in === 'path' && p.name !== param);
      if (path.length > 0) return false;
      // The account parameter, if any, must be the path's last one (`/users/{id}`, not `/users/{id}/orders`).
      if (param !== undefined && !op.path.replace(/\/$/, '').endsWith(`{${param}}`)) return false;
      // A value of the account's own for the account parameter (no slot spent on a read it cannot name).
      return readRequest(ctx, op, s) !== undefined;
    })
    .sort((a, b) => rank(a) - rank(b))
    .slice(0, 3);
  for (const op of candidates) {
    const req = readRequest(ctx, op, s);
    if (!req) continue;
    const mine = await ctx.send(req, s.identity);
    if (!isSuccess(mine) || !mine.text.includes(s.name)) continue;
    const anonymous = await ctx.send(req, null);
    if (anonymous && isSuccess(anonymous) && anonymous.text.includes(s.name) && !refusedIn200(anonymous))
      continue;
    return op;
  }
  return undefined;
}

/** Profile-like reads first: `/me`, `/profile`, `/account`, `/users/{id}`. */
function rank(op: Operation): number {
  if (/\/(me|self|current|whoami)(\/|$)/i.test(op.path)) return 0;
  if (/profile|account/i.test(op.path)) return 1;
  if (accountParam(op.path) !== undefined) return 2;
  return requiresAuth(op) ? 3 : 4;
}

function readRequest(ctx: ScanContext, op: Operation, s: Signed | Throwaway) {
  const param = accountParam(op.path);
  if (param === undefined) return planRequest(ctx.spec, op, ctx.objects, {});
  const value = MAIL_FIELD.test(param) ? s.email : /name/i.test(param) ? s.name : s.ids[0];
  if (value === undefined || value === '') return undefined;
  return planRequest(ctx.spec, op, ctx.objects, { params: { [param]: value } });
}

/** S changes its own password without the current one, then with a wrong one; the new password working is the finding. */
async function changeWithoutCurrent(
  ctx: ScanContext,
  s: Throwaway,
  ops: readonly Operation[],
): Promise<void> {
  // The self-service change first: one that declares a current password, then one that names no account.
  const score = (op: Operation) =>
    (passwordInputs(ctx, op).old.length > 0 ? 0 : 2) + (accountParam(op.path) === undefined ? 0 : 1);
  // Only an id read back as S's own names S in a path or body (a token's account_id may be the tenant's).
  await checkIds(ctx, s);
  for (const op of [...ops].sort((a, b) => score(a) - score(b)).slice(0, 2)) {
    const param = accountParam(op.path);
    const value =
      param === undefined
        ? undefined
        : MAIL_FIELD.test(param)
          ? s.email
          : /name/i.test(param)
            ? s.name
            : [...s.checked][0];
    if (param !== undefined && value === undefined) continue;
    const declaresCurrent = passwordInputs(ctx, op).old.length > 0;
    for (const old of declaresCurrent
      ? [undefined, `pc-wrong-${randomBytes(4).toString('hex')}`]
      : [undefined]) {
      const password = freshPassword();
      const req = passwordRequest(ctx, op, s, password, {
        ...(old !== undefined ? { old } : {}),
        ...(param !== undefined && value !== undefined ? { param, value } : {}),
      });
      // Nothing in the request may name anyone but S (a harvested id in another path parameter, a sampled
      // `user: "carol"` in the body): a stranger's password is never set.
      if (!namesOnly(op, req, s, param)) continue;
      claimAccountPath(ctx, op, req, s, param, value);
      const res = await ctx.send(req, s.identity);
      // Held back by the runner's write guard (nothing was sent): said, not passed over (review R1-7).
      if (res === undefined && !ctx.signal.aborted)
        ctx.note?.({
          rule: SCAN_RULES.passwordChangeWithoutCurrent,
          operation: op,
          reason: `not tested: the request for the scan's own account ${s.name} was not sent (the write guard held it back: see the operation's notes)`,
        });
      if (!isSuccess(res) || refusedIn200(res)) continue;
      const after = await s.login(ctx, password);
      if (!after.identity) continue;
      s.password = password;
      s.identity = after.identity;
      const how = !declaresCurrent
        ? 'it asks for no current password'
        : old === undefined
          ? 'without the current password it declares'
          : 'with a wrong current password';
      ctx.report(SCAN_RULES.passwordChangeWithoutCurrent, {
        operation: op,
        message: `${op.method} ${op.path} changed the password of an account the scan registered (${s.name}) ${how}, and the new password then signed in: whoever holds a session (a stolen token, an unlocked device) takes the account over for good.`,
        evidence: evidenceOf(res, {
          account: s.name,
          currentPassword: old === undefined ? 'absent' : 'wrong',
        }),
      });
      break;
    }
  }
}

/** Inputs that prove the right to set a password: a reset token or code, the current password. */
const PROOF_INPUT = /token|code|otp|pin|nonce|key|hash|secret|signature|old|current|previous|existing/i;
const RESET_NAMES = /^(user_?name|login|handle|user|e_?mail|email_?address|mail)$/i;

/**
 * Password reset without proof: anonymously (no session at all), an operation that sets a password names S by
 * its user name or e-mail (body, form, query or a `{username}`/`{email}` path parameter) with a new password and
 * no reset token, code or current password (such inputs are left out); S then signing in with the new password
 * is the finding. Only S is ever named; a GET that sets a password goes once, anonymously, and only when it names
 * S alone (the runner checks it again: `namesOnlyScanAccount`). At most three operations. Returns the operations
 * that were proven.
 */
async function resetWithoutProof(
  ctx: ScanContext,
  s: Throwaway,
  ops: readonly Operation[],
): Promise<Set<Operation>> {
  const proven = new Set<Operation>();
  const candidates = ops.filter((op) => {
    const param = accountParam(op.path);
    if (param !== undefined && !/name|mail/i.test(param)) return false;
    const props = Object.keys(propertiesOf(ctx.spec, bodySchema(op)));
    const query = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    return param !== undefined || [...props, ...query].some((k) => RESET_NAMES.test(k));
  });
  for (const op of candidates.slice(0, 3)) {
    const param = accountParam(op.path);
    const value = param === undefined ? undefined : MAIL_FIELD.test(param) ? s.email : s.name;
    const password = freshPassword();
    const planned = passwordRequest(ctx, op, s, password, {
      ...(param !== undefined && value !== undefined ? { param, value } : {}),
    });
    const req = withoutProof(planned, passwordInputs(ctx, op));
    // Nothing in the request may name anyone but S.
    if (!namesOnly(op, req, s, param)) {
      ctx.note?.({
        rule: SCAN_RULES.passwordResetWithoutProof,
        operation: op,
        reason: `not sent: an input names an account other than ${s.name}, the scan's own (safety rule)`,
      });
      continue;
    }
    claimAccountPath(ctx, op, req, s, param, value);
    // A GET that sets a password goes only this once, naming S alone (the runner checks it again).
    const res = await ctx.send(req, null, op.method === 'GET' ? { registeredAccount: true } : undefined);
    if (op.method === 'GET' && res === undefined)
      ctx.note?.({
        rule: SCAN_RULES.passwordResetWithoutProof,
        operation: op,
        reason: `not sent: a GET that sets a password goes only naming an account of the scan's own and no one else (safety rule)`,
      });
    if (!isSuccess(res) || refusedIn200(res)) continue;
    const after = await s.login(ctx, password);
    if (!after.identity) continue;
    s.password = password;
    s.identity = after.identity;
    proven.add(op);
    ctx.report(SCAN_RULES.passwordResetWithoutProof, {
      operation: op,
      message: `${op.method} ${op.path}, sent without any session, set a new password on an account the scan registered (${s.name}) from its ${param ?? 'user name or e-mail'} alone, with no reset token or current password, and the new password then signed in: anyone can take over any account whose name or e-mail they know.`,
      evidence: evidenceOf(res, { account: s.name }),
    });
  }
  return proven;
}

/** The request without inputs that would prove a right to the account (a reset token, a code, the old password). */
function withoutProof(req: PlannedRequest, inputs: ReturnType<typeof passwordInputs>): PlannedRequest {
  const keep = (k: string) =>
    !PROOF_INPUT.test(k.replace(/pass(word)?/i, '')) ||
    [...inputs.body, ...inputs.query, ...inputs.repeat].includes(k);
  let body = req.body;
  if (body !== null && typeof body === 'object' && !Array.isArray(body))
    body = Object.fromEntries(Object.entries(body as Record<string, unknown>).filter(([k]) => keep(k)));
  const q = req.path.indexOf('?');
  let path = req.path;
  if (q >= 0) {
    const params = new URLSearchParams(req.path.slice(q + 1));
    for (const k of [...params.keys()]) if (!keep(k)) params.delete(k);
    const rest = params.toString();
    path = `${req.path.slice(0, q)}${rest ? `?${rest}` : ''}`;
  }
  return { ...req, path, ...(req.body !== undefined ? { body } : {}) };
}

/** S logs in afresh, logs out with that session, and reads its own record with it again. */
async function logoutKeepsSession(
  ctx: ScanContext,
  s: Signed,
  read: Operation,
  logout: Operation,
): Promise<void> {
  const fresh = await s.login();
  const who = fresh.identity;
  const req = readRequest(ctx, read, s);
  if (!who || !req) {
    ctx.note?.({
      rule: SCAN_RULES.sessionNotEnded,
      reason: `${s.label}: ${who ? `no request reads ${read.method} ${read.path} as it` : 'a fresh login gave no session'}`,
    });
    return;
  }
  // A copy of the session as it is now: a logout answer that clears the cookie must not clear what we replay.
  const old: Identity = {
    ...who,
    session: { ...who.session, headers: { ...who.session.headers }, cookies: new Map(who.session.cookies) },
  };
  const before = await ctx.send(req, who);
  if (!isSuccess(before) || !before.text.includes(s.name)) return;
  // A revoke that takes the token in its body (`{"token": ...}`) gets this session's.
  const tokenFields = Object.keys(propertiesOf(ctx.spec, bodySchema(logout))).filter((k) => /token/i.test(k));
  const out = await ctx.send(
    planRequest(ctx.spec, logout, ctx.objects, {
      ...(tokenFields.length > 0 && who.token !== undefined
        ? { body: Object.fromEntries(tokenFields.map((k) => [k, who.token])) }
        : {}),
    }),
    who,
  );
  const ended = isSuccess(out) && !refusedIn200(out);
  const after = ended ? await ctx.send(req, old) : undefined;
  if (s.given) await keepSession(ctx, s, s.given, req);
  if (!ended) {
    ctx.note?.({
      rule: SCAN_RULES.sessionNotEnded,
      operation: logout,
      reason: `the logout answered ${out?.status ?? 'nothing'}`,
    });
    return;
  }
  if (!isSuccess(after) || !after.text.includes(s.name) || refusedIn200(after)) return;
  ctx.report(SCAN_RULES.sessionNotEnded, {
    operation: logout,
    message: `After ${logout.method} ${logout.path} answered ${out?.status}, the same session still read its account (${s.label}) at ${read.method} ${read.path} (${after.status}): logging out does not end the session, so a stolen token outlives it.`,
    evidence: evidenceOf(after, { account: s.name, logoutStatus: out?.status }),
  });
}

/**
 * B's own session must outlive the probe: an API whose logout ends every session of the account ended it too.
 * Then B logs in again and its session takes the new credentials, in place (later checks hold that object).
 */
async function keepSession(ctx: ScanContext, s: Signed, b: Identity, req: PlannedRequest): Promise<void> {
  const still = await ctx.send(req, b);
  if (isSuccess(still) && still.text.includes(s.name)) return;
  const again = (await s.login()).identity;
  if (!again) {
    ctx.note?.({
      rule: SCAN_RULES.sessionNotEnded,
      reason: `${b.name}'s session ended with the probe's logout, and a new login failed`,
    });
    return;
  }
  for (const k of Object.keys(b.session.headers)) delete b.session.headers[k];
  Object.assign(b.session.headers, again.session.headers);
  b.session.cookies.clear();
  for (const [k, v] of again.session.cookies) b.session.cookies.set(k, v);
}

/** The API2 checks on a throwaway account of the scan's own. */
export async function sessionChecks(ctx: ScanContext, t: ThrowawayLogin | undefined): Promise<void> {
  const changes = passwordChanges(ctx, t?.op);
  // GETs that set a password (`/auth/reset-password?username=&new_password=`): the reset probe only.
  const getResets = ctx.spec.operations.filter(
    (op) => op.method === 'GET' && !isExcluded(op) && setsPasswordByUrl(ctx.spec, op),
  );
  const logouts = ctx.spec.operations.filter(
    (op) =>
      !isExcluded(op) &&
      !op.path.includes('{') &&
      (((op.method === 'POST' || op.method === 'GET') && (LOGOUT.test(op.path) || LOGOUT.test(op.id))) ||
        (op.method === 'DELETE' && sessionResource(op.path))),
  );
  // An account an earlier check registered and left (API1's attacker W, or V when its delete failed) first.
  const s =
    changes.length + getResets.length > 0 || logouts.length > 0
      ? ((await reuseThrowaway(ctx)) ?? (await registerThrowaway(ctx, t, 'pcs')))
      : undefined;
  tokenLifetime(ctx, t, s);
  // Cookie sessions: A's readable cookie with B's name or id, or a raised role, in its place.
  await cookieTampering(ctx);
  const unregistered =
    'no account could be registered and signed in (a sign-up with a user name and a password, and a login)';
  if (changes.length + getResets.length === 0)
    for (const rule of [SCAN_RULES.passwordChangeWithoutCurrent, SCAN_RULES.passwordResetWithoutProof])
      ctx.note?.({ rule, reason: 'no operation sets a password' });
  else if (!s) {
    ctx.note?.({ rule: SCAN_RULES.passwordChangeWithoutCurrent, reason: unregistered });
    ctx.note?.({ rule: SCAN_RULES.passwordResetWithoutProof, reason: unregistered });
    for (const op of getResets)
      ctx.note?.({
        rule: SCAN_RULES.passwordResetWithoutProof,
        operation: op,
        reason: `not sent: a GET that sets a password goes only naming an account of the scan's own (${unregistered})`,
      });
  } else {
    // Anonymous resets first; an operation proven there is not tried again as a change with S's session.
    const proven = await resetWithoutProof(ctx, s, [...changes, ...getResets]);
    await changeWithoutCurrent(
      ctx,
      s,
      changes.filter((op) => !proven.has(op)),
    );
  }
  if (logouts.length === 0) {
    ctx.note?.({ rule: SCAN_RULES.sessionNotEnded, reason: 'no logout or revoke operation' });
    return;
  }
  // Without a throwaway account, B logs out a second session of its own (its first one is kept, or renewed).
  const signed = s ? throwawaySigned(ctx, s) : identitySigned(ctx, ctx.identities[1]);
  if (!signed) {
    ctx.note?.({
      rule: SCAN_RULES.sessionNotEnded,
      reason: `${unregistered}; no second identity logs in through the API`,
    });
    return;
  }
  const read = await ownRead(ctx, signed);
  if (!read) {
    ctx.note?.({
      rule: SCAN_RULES.sessionNotEnded,
      reason: 'no read shows the signed-in account to its session only (the control)',
    });
    return;
  }
  // A given identity's second session never goes through a logout that ends every session of the account
  // (`/auth/logoutAll`, `revoke-all`): its first session, which later checks hold, would end with it.
  const logout = signed.given ? logouts.find((op) => !ALL_SESSIONS.test(`${op.path} ${op.id}`)) : logouts[0];
  if (!logout) {
    ctx.note?.({
      rule: SCAN_RULES.sessionNotEnded,
      reason: `every logout ends all sessions of the account: not sent with ${signed.label}`,
    });
    return;
  }
  await logoutKeepsSession(ctx, signed, read, logout);
}
