/**
 * What an identity was told about itself: its own account id (from its token's claims and its login answer,
 * never a login field), the path parameter that names an account, and whether a path is its own account
 * record. Shared by the safety rule (runner) and the checks.
 */
import type { Operation } from '../../core/api-document.ts';
import type { Identity, ScanContext } from './context.ts';
import { configuredIds, Harvest, singular } from './harvest.ts';
import { resolveSchema } from './schema.ts';

/** The path parameter that designates a user or an account (`/users/{userId}/addresses` → `userId`). */
export function accountParam(path: string): string | undefined {
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const m = /^\{([^}]+)\}$/.exec(segments[i]);
    if (!m) continue;
    if (
      /^(user|account|member|customer|profile)$/.test(singular(segments[i - 1])) ||
      /^user(_?id|name)?$/i.test(m[1])
    )
      return m[1];
  }
  return undefined;
}

/**
 * The identity's own account id for the account parameter of a path (`/users/{userId}/orders` → its
 * `user_id`), as it knows itself: from its login answer or its token's claims, never a login field (a user
 * name is how public profiles are named). An API that files what a caller creates under the caller's account,
 * whatever account the path names, keeps the caller's objects there.
 */
export function selfAccount(
  ctx: ScanContext,
  op: Operation,
  who: Identity,
): Readonly<Record<string, string>> | undefined {
  const name = accountParam(op.path);
  if (name === undefined) return undefined;
  const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
  const segments = op.path.split('/');
  const context = segments[segments.indexOf(`{${name}}`) - 1] ?? '';
  // Only what the identity was told about itself: the shared harvest keeps one record per value, and a
  // directory listing the same id would hide where it came from.
  const self = new Harvest();
  const claims = tokenClaims(who.token);
  for (const [key, value] of Object.entries(claims ?? {})) {
    if (typeof value === 'string' || typeof value === 'number')
      self.add({ key, value, entity: 'user', source: 'login', identity: who.name });
  }
  if (who.login?.answer !== undefined) self.record(who.name, 'login', who.login.answer);
  const login = new Set(Object.values(who.login?.body ?? {}).map(String));
  const found = self
    .candidates({ name, context, schema: resolveSchema(ctx.spec, param?.schema) }, who.name, 2)
    .find((c) => !login.has(String(c.value)));
  return found === undefined ? undefined : { [name]: String(found.value) };
}

/** The claims of a JWT, unverified (the identity's own token: what the API says about it). */
function tokenClaims(token: string | undefined): Record<string, unknown> | undefined {
  const part = token?.split('.')[1];
  if (token?.split('.').length !== 3 || part === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? claims : undefined;
  } catch {
    return undefined;
  }
}

const SELF_KEY = /^(sub|id|uid|user_?id|userid|account_?id|accountid)$/i;
/** The keys that name the user itself: an `account_id` may be the tenant or organisation every member shares. */
const USER_KEY = /^(sub|id|uid|user_?id|userid)$/i;
const USERS_SEGMENT = /^users?$/i;
/** A configured id header that names the caller as a person (not an account, which may be the tenant). */
const CALLER_KEY = /^(usr|member|customer|owner|person|employee|profile|player|patient|student)_/;

/** The ids an identity was told are its own: its token's claims and its login answer (top level, or `user`/`data`). */
export function selfIds(identity: Identity, keys: RegExp = SELF_KEY): Set<string> {
  const out = new Set<string>();
  const take = (record: unknown) => {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) return;
    for (const [k, v] of Object.entries(record as Record<string, unknown>)) {
      if (keys.test(k) && (typeof v === 'string' || typeof v === 'number') && String(v) !== '')
        out.add(String(v));
    }
  };
  const part = identity.token?.split('.')[1];
  if (identity.token?.split('.').length === 3 && part !== undefined) {
    try {
      take(JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
    } catch {
      // not a JWT after all
    }
  }
  // The ids it was configured with (`X-User-ID: 2`): an API that trusts the header takes them as the caller.
  const session = identity.session as Identity['session'] | undefined;
  for (const c of configuredIds(session?.headers ?? {}, session?.cookies)) {
    if (keys.test(c.key) || (keys === SELF_KEY && CALLER_KEY.test(c.key))) out.add(c.value);
  }
  const answer = identity.login?.answer;
  take(answer);
  if (answer !== null && typeof answer === 'object') {
    const r = answer as Record<string, unknown>;
    take(r.user);
    take(r.data);
  }
  return out;
}

/**
 * The caller's own account record named by its id: `/users/6` for the identity whose token or login answer says
 * it is user 6 (nothing below it: `/users/6/orders/1` is an order).
 */
export function isOwnAccount(path: string, identity: Identity): boolean {
  const segments = path.split('?')[0].replace(/\/$/, '').split('/');
  const last = segments.pop();
  const parent = segments.pop();
  // Only a users collection: the same number may name the caller's customer, profile or bank account record
  // in another collection, which is someone else's object there.
  if (last === undefined || parent === undefined || !USERS_SEGMENT.test(parent)) return false;
  let id = last;
  try {
    id = decodeURIComponent(last);
  } catch {
    return false;
  }
  // A user id only: a token's `account_id: 1` may be the tenant of every member, and /users/1 its first member.
  return selfIds(identity, USER_KEY).has(id);
}
