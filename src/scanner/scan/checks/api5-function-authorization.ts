/**
 * API5 Broken Function Level Authorization: what the admin can do, replayed as each ordinary identity and
 * judged by comparing the answers.
 *
 * - Reads without path parameters: an ordinary identity that gets what the admin gets (same content, not just
 *   the same shape), where anonymous callers are refused, is a finding when the operation looks privileged
 *   (`x-portcullis-admin`, an admin path segment, tag, scope or summary) or when the answer holds other
 *   identities' data (their user names, e-mails, ids): a directory of users is an admin function.
 * - Privileged operations that change state (POST, PUT, PATCH, DELETE): sent as the first ordinary identity
 *   against an account the scan registered for the purpose (never someone else's data unless
 *   `allowDestructive`); a finding when the change shows (the account is gone from the admin's view, or carries
 *   the new value). A 200 whose body says "forbidden" or `status: fail` is a refusal, not a success.
 * - The admin's login name with another case (`Admin`), registered by the scan and replayed on the admin-only
 *   reads (admin-variant.ts).
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { singular } from '../harvest.ts';
import { fieldProblems, kindOfName, valueOfKind } from '../infer-body.ts';
import {
  bodySchema,
  captureId,
  creationCollection,
  idInput,
  isAdminOperation,
  isExcluded,
  isLoginOperation,
  itemRouteBeside,
  listedValue,
  madeUpId,
  operationDescription,
  type PlannedRequest,
  pathActs,
  pathValues,
  planRequest,
  requiresAuth,
  withForeignKeys,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, quietChoice, resolveSchema, sampleValue } from '../schema.ts';
import { selfIds } from '../self.ts';
import { similarity } from '../similarity.ts';
import { adminNameVariant } from './admin-variant.ts';
import {
  base64Input,
  namesPerson,
  type ObjectInput,
  objectInputs,
  objectLevelFound,
  readsByInput,
} from './object-inputs.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const ADMIN_WORDS = /\b(admins?|administrators?|staff only|superusers?|privileged)\b/i;
const REFUSAL =
  /forbidden|not allowed|not permitted|permission|unauthori[sz]ed|access denied|admins? only|administrators? only|insufficient|not an admin/i;
const PASSWORD = /pass(word)?$/i;
const USER_FIELD = /^(user_?name|login|email|e_?mail|handle)$/i;
const SAME_CONTENT = 0.9;
const PRIVILEGED_VALUE = /admin|super|root|owner|staff|manager/i;

/**
 * Privileged by its description: marker, path, tag, scope, or a summary that says admin; with the document,
 * also the operation's description ("Deletes a product. Admins only.").
 */
export function looksPrivileged(op: Operation, spec?: ScanContext['spec']): boolean {
  if (isAdminOperation(op)) return true;
  if (ADMIN_WORDS.test(op.summary ?? '')) return true;
  return spec !== undefined && ADMIN_WORDS.test(operationDescription(spec, op));
}

/** Path segments that name a role (`/admin/...`, `/staff/...`), not only an audience (`/internal/...`). */
const ROLE_SEGMENT = /(^|[/_-])(admins?|administrators?|staff|superusers?|root)($|[/_-])/i;

/**
 * Whether something beyond an `internal` or `management` path says the operation is meant for a role: the
 * `x-portcullis-admin` marker, an admin scope in its security or an admin tag, a path segment or a summary or
 * description naming an admin role, or a 401/403 the scan got there as some identity.
 */
export function meantForRole(ctx: Pick<ScanContext, 'spec' | 'observations'>, op: Operation): boolean {
  if (markedForRole(op)) return true;
  const prose = { ...op, path: '/', tags: [], security: undefined, extensions: {} } as Operation;
  if (looksPrivileged(prose, ctx.spec)) return true;
  return ctx.observations.some(
    (o) =>
      o.operation === op &&
      o.identity !== undefined &&
      (o.response.status === 401 || o.response.status === 403),
  );
}

/**
 * Marked for a role by the document's structure, not its prose: the `x-portcullis-admin` marker, an admin tag, an
 * admin scope in its security, a path segment naming a role (`/admin/`, `/staff/`).
 */
function markedForRole(op: Operation): boolean {
  if (op.extensions['x-portcullis-admin'] === true) return true;
  if (op.tags.some((t) => ROLE_SEGMENT.test(t) || /admin/i.test(t))) return true;
  if (
    (op.security ?? []).some((r) => Object.values(r).some((scopes) => scopes.some((x) => /admin/i.test(x))))
  )
    return true;
  return ROLE_SEGMENT.test(op.path.replace(/\{[^}]*\}/g, ''));
}

/**
 * Meant for a role by its tags alone (`vulnerable-admin`, `Admin tools`): a tag groups operations (often those of
 * one source file), so an open read filed there beside the admin's is no sign of a role. Nothing else says so: no
 * marker, admin scope, role path segment or prose, and no identity was refused there.
 */
function roleByTagOnly(ctx: Pick<ScanContext, 'spec' | 'observations'>, op: Operation): boolean {
  if (!op.tags.some((t) => ROLE_SEGMENT.test(t) || /admin/i.test(t))) return false;
  return (
    !meantForRole(ctx, { ...op, tags: [] } as Operation) &&
    !isAdminOperation({ ...op, tags: [] } as Operation)
  );
}

/**
 * A change that grants something by its nature: a path that names a role, permission or privilege
 * (`/users/{id}/role`, `/promote`), or a body with a privileged value among its listed ones (`role: admin`).
 */
function grantsPrivilege(ctx: ScanContext, op: Operation): boolean {
  if (/role|permission|privilege|grant|promote|demote|scope|admin/i.test(op.path.replace(/\{[^}]*\}/g, '')))
    return true;
  return Object.values(propertiesOf(ctx.spec, bodySchema(op))).some((prop) => {
    const values = resolveSchema(ctx.spec, prop).enum;
    return Array.isArray(values) && values.some((v) => typeof v === 'string' && PRIVILEGED_VALUE.test(v));
  });
}

/** A 2xx that refuses all the same (`{"status": "fail", "message": "Admins only"}`). */
export function refusedIn200(res: ScanResponse): boolean {
  const body = res.json;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const r = body as Record<string, unknown>;
    if (r.success === false || r.ok === false) return true;
    if (typeof r.status === 'string' && /^(fail|failed|failure|error|denied)$/i.test(r.status)) return true;
    const text = [r.error, r.message, r.detail, r.msg].filter((v) => typeof v === 'string').join(' ');
    if (text !== '' && Object.keys(r).length <= 4 && REFUSAL.test(text)) return true;
    return false;
  }
  return body === undefined && res.text.length < 200 && REFUSAL.test(res.text);
}

/** Values that identify the other identities (user names, e-mails, ids they alone have seen). */
function othersValues(ctx: ScanContext, caller: Identity): string[] {
  const out = new Set<string>();
  for (const other of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    if (other.name === caller.name) continue;
    for (const [key, value] of Object.entries(other.login?.body ?? {})) {
      if (!PASSWORD.test(key) && typeof value === 'string' && value.length >= 3) out.add(value);
    }
  }
  return [...out];
}

function holdsAny(res: ScanResponse, values: readonly string[]): boolean {
  return values.some((v) => res.text.includes(JSON.stringify(v)));
}

/** Members of a person's that are private to them (contact data, secrets), by name. */
const PRIVATE_MEMBER =
  /e_?mail|phone|mobile|address|birth|^dob$|ssn|passport|national_?id|salary|iban|card|token|secret|password/i;

/**
 * More than other users' names: one of their e-mails (a login value with an `@`), or any private member (an
 * e-mail, a phone, an address...) with a value in the answer.
 */
function holdsPrivate(res: ScanResponse, values: readonly string[]): boolean {
  if (values.some((v) => v.includes('@') && res.text.includes(JSON.stringify(v)))) return true;
  let found = false;
  const walk = (value: unknown, depth: number) => {
    if (found || depth > 6 || value === null || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (PRIVATE_MEMBER.test(k) && ((typeof v === 'string' && v !== '') || typeof v === 'number')) {
        found = true;
        return;
      }
      walk(v, depth + 1);
    }
  };
  walk(res.json, 0);
  return found;
}

async function replayReads(ctx: ScanContext): Promise<void> {
  const admin = ctx.admin;
  for (const op of ctx.spec.operations) {
    if (!SAFE.has(op.method) || op.method !== 'GET' || isExcluded(op)) continue;
    if (isLoginOperation(ctx.spec, op)) continue;
    const named = looksPrivileged(op, ctx.spec);
    // Data-based candidates: function-level reads (no object in the path) only.
    if (!named && op.path.includes('{')) continue;
    for (const user of ctx.identities) {
      const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
      const mine = await ctx.send(req, user);
      if (!isSuccess(mine) || refusedIn200(mine)) continue;
      let asAdmin: ScanResponse | undefined;
      /** What changes between two reads by the same caller (an uptime, a clock, a request id): not compared. */
      let volatile = new Set<string>();
      if (admin) {
        asAdmin = await ctx.send(req, admin);
        if (!isSuccess(asAdmin) || refusedIn200(asAdmin)) continue;
        let score = alike(asAdmin, mine);
        if (score < SAME_CONTENT) {
          const again = await ctx.send(req, admin);
          if (isSuccess(again)) {
            volatile = volatileOf(asAdmin, again);
            score = alike(asAdmin, mine, volatile);
          }
        }
        if (score < SAME_CONTENT) continue; // the user gets its own view, not the admin's
        if (asAdmin.json === undefined && (await catchAll(ctx, req, admin, asAdmin))) {
          ctx.note?.({
            operation: op,
            rule: SCAN_RULES.bfla,
            reason: `${admin.name} gets the same page at a made-up path beside ${req.path.split('?')[0]}: a page served for every path (a single-page app's shell), not a function of the admin`,
          });
          break;
        }
      }
      // A role's route at a path the other identities plan alike (`/orgs/{the org both belong to}/admin/audit`)
      // names a space they share, not the caller's own record: judged as any privileged read below.
      const sharedPath =
        markedForRole(op) &&
        ctx.identities.some(
          (o) =>
            o.name !== user.name &&
            planRequest(ctx.spec, op, ctx.objects, { owner: o.name }).path === req.path,
        );
      if (named && !sharedPath && namesObject(ctx, req) && ownData(ctx, req, user, mine)) {
        // Whose data it is decides: the caller's own record, which the admin reads too, is no function of the
        // admin. A route marked for a role (`/admin/patients/{no}`) is tried on another's object instead.
        const others = markedForRole(op) ? await othersThrough(ctx, op, req, user) : undefined;
        if (others === undefined) {
          ctx.note?.({
            operation: op,
            rule: SCAN_RULES.bfla,
            reason: `${user.name}'s answer is its own record (${req.path}), which ${admin?.name ?? 'the admin'} reads too${markedForRole(op) ? ", and another's object was refused or not known" : ''}: no function of the admin, not reported as API5`,
          });
          continue;
        }
        ctx.report(SCAN_RULES.bfla, {
          operation: op,
          message: `${user.name} (an ordinary identity) called the privileged operation ${op.method} ${op.path} on ${others.owner}'s object at ${others.path} and got ${others.owner}'s data.`,
          evidence: evidenceOf(others.res, { identity: user.name, owner: others.owner }),
        });
        break;
      }
      if (!named) {
        if (!holdsAny(mine, othersValues(ctx, user))) continue;
        if (!holdsPrivate(mine, othersValues(ctx, user))) {
          // Other users' names alone (a directory of who shares their data, a comment's author in a shared
          // project) are what collaboration shows: nothing says the read is privileged (review R2-F2).
          ctx.note?.({
            operation: op,
            rule: SCAN_RULES.bfla,
            reason: `${user.name}'s answer names other users but holds none of their private members (e-mail, phone, address...), and nothing says the read is privileged: a directory or a shared list, not reported as API5`,
          });
          continue;
        }
        if (!requiresAuth(op)) continue; // a public directory is a design choice, not a privilege
        const selector = await objectSelector(ctx, req, user, mine);
        if (selector !== undefined) {
          // Which object an input names decides what the caller gets: another's object read through a function
          // every user may call is an object-level flaw (API1 replays it), not a function of the admin.
          ctx.note?.({
            operation: op,
            rule: SCAN_RULES.bfla,
            reason: `${user.name}'s answer holds other users' data because its ${selector} names their object: an object-level read, judged by API1 (scan/api1-bola-read), not reported as API5`,
          });
          break;
        }
      }
      // A directory anyone reads is public by design; a privileged operation anyone calls is broken all the same
      // when something says it is meant for a role (see meantForRole), unless only its prose says admin and it
      // reads one object: then what anyone reads is that object (an object-level or authentication flaw, reported
      // by API1 and API2), not a function of the admin. Named only by its path as internal or management, and
      // answered alike to everyone, anonymous callers included, it is no function of a role: what it shows is
      // judged by API8 (a configuration dump) and API9.
      const objectRead = op.path.includes('{') && !isAdminOperation(op);
      const role = named && meantForRole(ctx, op);
      // Only a tag says so: an anonymous caller getting the same answer makes it a public read filed in that group.
      const tagOnly = role && roleByTagOnly(ctx, op);
      const anonymous = role && !objectRead && !tagOnly ? undefined : await ctx.send(req, null);
      if (
        anonymous !== undefined &&
        isSuccess(anonymous) &&
        !refusedIn200(anonymous) &&
        alike(anonymous, mine, volatile) >= SAME_CONTENT
      ) {
        if (named && (!role || tagOnly))
          ctx.note?.({
            operation: op,
            rule: SCAN_RULES.bfla,
            reason: tagOnly
              ? `every identity and anonymous callers get the same answer, and only its tag (${op.tags.join(', ')}: a group of operations) says it is privileged: a public read, not reported as API5`
              : `every identity and anonymous callers get the same answer, and nothing but its path (internal, management) says it is privileged: not reported as API5`,
          });
        continue; // anyone gets it: public, not a function of the admin
      }
      if (
        !named &&
        anonymous !== undefined &&
        isSuccess(anonymous) &&
        !refusedIn200(anonymous) &&
        holdsAny(anonymous, othersValues(ctx, user))
      ) {
        // Nothing names it privileged, and a caller without credentials gets others' data there too (however
        // else its answer differs): a public read, not a function of the admin.
        ctx.note?.({
          operation: op,
          rule: SCAN_RULES.bfla,
          reason: `a caller without credentials gets other users' data there too (${anonymous.status}), and nothing says it is privileged: a public read, not reported as API5`,
        });
        continue;
      }
      ctx.report(SCAN_RULES.bfla, {
        operation: op,
        message: `${user.name} (an ordinary identity) called the privileged operation ${op.method} ${op.path}${
          admin ? ` and got what ${admin.name} gets` : ' (not confirmed with an admin identity)'
        }${named ? '' : ", other users' data included"}.`,
        evidence: evidenceOf(mine, { identity: user.name }),
      });
      break;
    }
  }
}

/**
 * What an answer says, for comparing two callers' answers: a JSON body's `pointer=value` pairs (as `similarity`
 * flattens them), else the words of its text (an HTML page: a greeting with the caller's name changes one word).
 */
function features(res: ScanResponse): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (value: unknown, pointer: string, depth: number) => {
    if (out.size > 5000 || depth > 8) return;
    if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value as Record<string, unknown>))
        walk(v, `${pointer}/${k}`, depth + 1);
    } else out.set(pointer, JSON.stringify(value));
  };
  if (res.json !== undefined) walk(res.json, '', 0);
  else
    for (const w of res.text
      .slice(0, 50_000)
      .toLowerCase()
      .split(/[^a-z0-9]+/))
      if (w.length > 1) out.set(w, '');
  return out;
}

/** The members (or words) that differ between two answers to the same caller: a clock, an uptime, a nonce. */
function volatileOf(a: ScanResponse, b: ScanResponse): Set<string> {
  const fa = features(a);
  const fb = features(b);
  const out = new Set<string>();
  for (const [k, v] of fa) if (fb.get(k) !== v) out.add(k);
  for (const k of fb.keys()) if (!fa.has(k)) out.add(k);
  return out;
}

/**
 * How alike two answers are (Jaccard over `features`), members in `volatile` left out, unless they are most of the
 * answer (a list in a random order changes everywhere: compared whole then).
 */
function alike(a: ScanResponse, b: ScanResponse, volatile: ReadonlySet<string> = new Set()): number {
  const fa = features(a);
  const fb = features(b);
  const skip = volatile.size * 2 <= fa.size ? volatile : new Set<string>();
  const pairs = (f: Map<string, string>) => {
    const out = new Set<string>();
    for (const [k, v] of f) if (!skip.has(k)) out.add(`${k}=${v}`);
    return out;
  };
  const sa = pairs(fa);
  const sb = pairs(fb);
  if (sa.size === 0 && sb.size === 0) return 1;
  let common = 0;
  for (const x of sa) if (sb.has(x)) common++;
  return common / (sa.size + sb.size - common);
}

/** The same page at a made-up path beside the read's (`/admin/pcx…`): a page served for any path. */
async function catchAll(
  ctx: ScanContext,
  req: PlannedRequest,
  admin: Identity,
  page: ScanResponse,
): Promise<boolean> {
  const path = req.path.split('?')[0].replace(/\/+$/, '');
  const made = `${path.slice(0, path.lastIndexOf('/'))}/pcx${randomBytes(4).toString('hex')}`;
  ownMadeUpPath(ctx, req.operation, made, made.split('/').pop() ?? '');
  const res = await ctx.send({ ...req, path: made, body: undefined }, admin);
  return isSuccess(res) && alike(res, page) >= SAME_CONTENT;
}

/** The request names an object: a path parameter, or an object input (`?user_id=`) it carries. */
function namesObject(ctx: ScanContext, req: PlannedRequest): boolean {
  const op = req.operation;
  if (op.parameters.some((p) => p.in === 'path' && listedValue(ctx.spec, p.schema) === undefined))
    return true;
  const url = new URL(req.path, 'http://x');
  return objectInputs(ctx.spec, op).some((i) => i.in === 'query' && url.searchParams.has(i.name));
}

/** The values that name the caller itself: its login fields (no password) and the ids it was told are its own. */
function ownValues(user: Identity): string[] {
  const out = new Set<string>(selfIds(user));
  for (const [key, value] of Object.entries(user.login?.body ?? {})) {
    if (!PASSWORD.test(key) && typeof value === 'string' && value.length >= 3) out.add(value);
  }
  return [...out];
}

/** A member of the answer (three levels, 200 members each) whose value is one of `values`. */
function showsValue(json: unknown, values: ReadonlySet<string>, depth = 0): boolean {
  if (depth > 3 || json === null || typeof json !== 'object') return false;
  const members = Array.isArray(json) ? json : Object.values(json as Record<string, unknown>);
  return members
    .slice(0, 200)
    .some((v) =>
      typeof v === 'string' || typeof v === 'number'
        ? values.has(String(v))
        : showsValue(v, values, depth + 1),
    );
}

/**
 * The caller's own data: no other identity's values in the answer, and the path was planned from the caller's own
 * objects and given values, or the answer shows a value naming the caller (its login name, its own id).
 */
function ownData(ctx: ScanContext, req: PlannedRequest, user: Identity, mine: ScanResponse): boolean {
  if (holdsAny(mine, othersValues(ctx, user))) return false;
  return req.ownedPath || showsValue(mine.json, new Set(ownValues(user)));
}

/**
 * The same read sent by `user` on another identity's object (each other identity's, then the admin's own plan of
 * it): the first that answers with that identity's values, whose answer `user` got.
 */
async function othersThrough(
  ctx: ScanContext,
  op: Operation,
  req: PlannedRequest,
  user: Identity,
): Promise<{ owner: string; path: string; res: ScanResponse } | undefined> {
  const people = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])].filter((p) => p.name !== user.name);
  for (const other of people) {
    const theirs = planRequest(ctx.spec, op, ctx.objects, { owner: other.name });
    if (theirs.path === req.path || !theirs.ownedPath) continue;
    const res = await ctx.send(theirs, user);
    if (!isSuccess(res) || refusedIn200(res)) continue;
    if (showsValue(res.json, new Set(ownValues(other)))) return { owner: other.name, path: theirs.path, res };
  }
  return undefined;
}

/**
 * What the caller knows names its own object for an input: a value it was configured with under that name
 * (`params: {user_id: '2'}`), or, for an input that names a person or an account, an id its token or login
 * answer gave it (a number input), else a login name of its own (an e-mail for an e-mail input).
 */
function ownValueFor(ctx: ScanContext, user: Identity, input: ObjectInput, path: string, numeric: boolean) {
  const name = input.name;
  const given = ctx.objects.param(user.name, name);
  if (given !== undefined) return given;
  if (!namesPerson(name, path)) return undefined;
  const mail = /mail/i.test(name);
  const byId = numeric || /(id|Id|ID|uuid|Uuid)$/.test(name);
  if (!mail && byId) {
    const id = [...selfIds(user)].find((v) => !numeric || /^\d+$/.test(v));
    // An id that the input takes encoded (`?id=Mg==`) is sent as the API takes it.
    if (id !== undefined) return base64Input(ctx.spec, input) ? Buffer.from(id).toString('base64') : id;
  }
  // An id input takes no login name: `?id=bob` names nobody, and would pass for the caller's own.
  if (byId) return undefined;
  return Object.entries(user.login?.body ?? {})
    .filter(
      ([k, v]) =>
        /user|login|mail|name|handle|account/i.test(k) && !PASSWORD.test(k) && typeof v === 'string',
    )
    .map(([, v]) => String(v))
    .find((v) => v.includes('@') === mail);
}

/**
 * The input of a read that names which object it returns (`?user_id=3`, `?account=bob`), when that, and not the
 * function, is what gave the caller others' data: the same request with the caller's own value there (see
 * `ownValueFor`) answers without others' data (so the function is the caller's to use, on its own object), or,
 * where the caller has no value of its own, a made-up value answers otherwise (not 90% alike). Undefined when no
 * such input is in the request, or the caller's own value gets others' data too (a tenant's directory).
 */
async function objectSelector(
  ctx: ScanContext,
  req: PlannedRequest,
  user: Identity,
  mine: ScanResponse,
): Promise<string | undefined> {
  const op = req.operation;
  if (!readsByInput(ctx.spec, op)) return undefined;
  const url = new URL(req.path, 'http://x');
  const body =
    req.body !== null && typeof req.body === 'object' && !Array.isArray(req.body)
      ? (req.body as Record<string, unknown>)
      : undefined;
  const others = othersValues(ctx, user);
  for (const input of objectInputs(ctx.spec, op).slice(0, 3)) {
    const value = input.in === 'query' ? url.searchParams.get(input.name) : body?.[input.name];
    if (value === null || value === undefined) continue;
    const s = resolveSchema(ctx.spec, input.schema);
    const numeric = s.type === 'integer' || s.type === 'number';
    const own = ownValueFor(ctx, user, input, op.path, numeric);
    if (own !== undefined && own === String(value)) continue; // its own value got others' data: no object's
    const made = own ?? madeUpIdFor(s, String(value));
    if (made === undefined) continue;
    let other: PlannedRequest;
    if (input.in === 'query') {
      const u = new URL(req.path, 'http://x');
      u.searchParams.set(input.name, made);
      other = { ...req, path: `${u.pathname}${u.search}` };
    } else {
      other = { ...req, body: { ...body, [input.name]: typeof value === 'number' ? Number(made) : made } };
    }
    const res = await ctx.send(other, user);
    if (res === undefined) continue;
    const where = `${input.in === 'query' ? 'query' : 'body'} input ${input.name}`;
    if (own !== undefined) {
      if (isSuccess(res) && !refusedIn200(res) && !holdsAny(res, others))
        return `${where} (its own ${input.name} shows no one else's)`;
      continue;
    }
    if (!isSuccess(res) || similarity(res.json ?? res.text, mine.json ?? mine.text) < SAME_CONTENT)
      return `${where} (a made-up ${input.name} answers otherwise)`;
  }
  return undefined;
}

/**
 * Paths that name a sign-in, a reset or a change, never a sign-up, whatever their fields (`POST /password/reset
 * {email, new_password}`, `POST /auth/token`, `POST /users/change-password`).
 */
export const NOT_SIGNUP_PATH =
  /log_?in|sign_?in|token|session|reset|forgot|recover|change|update|password|verify/i;
/** A password input that sets or confirms another password than a new account's own (`new_password`, `old_pw`). */
export const NOT_ACCOUNT_PASSWORD = /new|old|current|confirm|repeat|again|2$/i;

/**
 * A registration: a POST without path parameters, not the login, on a path that names no sign-in, reset or
 * change, with a user name field and a password field of the new account's own (`password` beside
 * `password_confirmation` counts; `new_password` alone does not).
 */
export function registration(ctx: ScanContext): Operation | undefined {
  return ctx.spec.operations.find((op) => {
    if (op.method !== 'POST' || isExcluded(op) || isLoginOperation(ctx.spec, op) || op.path.includes('{')) {
      return false;
    }
    if (NOT_SIGNUP_PATH.test(op.path)) return false;
    const props = Object.keys(propertiesOf(ctx.spec, bodySchema(op)));
    return (
      props.some((k) => PASSWORD.test(k) && !NOT_ACCOUNT_PASSWORD.test(k)) &&
      props.some((k) => USER_FIELD.test(k))
    );
  });
}

/** Admin reads without parameters, for finding the registered account and seeing changes to it. */
async function adminViews(ctx: ScanContext): Promise<ScanResponse[]> {
  const admin = ctx.admin;
  if (!admin) return [];
  const out: ScanResponse[] = [];
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || op.path.includes('{') || isExcluded(op)) continue;
    if (op.parameters.some((p) => p.required && p.in === 'query')) continue;
    const res = await ctx.send(planRequest(ctx.spec, op, ctx.objects, { owner: admin.name }), admin);
    if (isSuccess(res) && res.json !== undefined) out.push(res);
  }
  return out;
}

/** The record that carries a value, anywhere in a view. */
function recordWith(view: unknown, value: string, depth = 0): Record<string, unknown> | undefined {
  if (depth > 5 || view === null || typeof view !== 'object') return undefined;
  if (Array.isArray(view)) {
    for (const item of view.slice(0, 500)) {
      const hit = recordWith(item, value, depth + 1);
      if (hit) return hit;
    }
    return undefined;
  }
  const record = view as Record<string, unknown>;
  if (Object.values(record).some((v) => v === value)) return record;
  for (const v of Object.values(record)) {
    const hit = recordWith(v, value, depth + 1);
    if (hit) return hit;
  }
  return undefined;
}

function idIn(record: Record<string, unknown> | undefined, param: string): string | undefined {
  if (!record) return undefined;
  for (const key of [param, 'id', '_id', 'uuid', 'user_id', 'userId']) {
    const v = record[key];
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  return undefined;
}

interface Account {
  readonly name: string;
  readonly id?: string;
}

/** Registers a throwaway account for the state-changing replays: the scan's own, so it may be changed. */
async function registerAccount(ctx: ScanContext): Promise<Account | undefined> {
  const op = registration(ctx);
  if (!op) return undefined;
  const schema = bodySchema(op);
  const body = { ...(sampleValue(ctx.spec, schema) as Record<string, unknown>) };
  const nameKey = Object.keys(body).find((k) => USER_FIELD.test(k) && typeof body[k] === 'string');
  if (!nameKey) return undefined;
  withOwnNames(body);
  const name = String(body[nameKey]);
  const res = await ctx.send(planRequest(ctx.spec, op, ctx.objects, { body }), null);
  if (!isSuccess(res) || refusedIn200(res)) return undefined;
  const fromAnswer = idIn(recordWith(res.json, name), 'id');
  if (fromAnswer !== undefined) return { name, id: fromAnswer };
  for (const view of await adminViews(ctx)) {
    const id = idIn(recordWith(view.json, name), 'id');
    if (id !== undefined) return { name, id };
  }
  return { name };
}

/** The parameter of a path that designates a user (`/users/{user_id}/role` → `user_id`). */
function userParam(op: Operation): string | undefined {
  const segments = op.path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const m = /^\{([^}]+)\}$/.exec(segments[i]);
    if (!m) continue;
    const context = singular(segments[i - 1]);
    if (/^(user|account|member|customer|profile)$/.test(context) || /^user(_?id|name)?$/i.test(m[1]))
      return m[1];
  }
  return undefined;
}

/** A body that exercises the operation: privileged enum values where the schema has them. */
/**
 * Gives an account's fields (user name, e-mail, password) values of the scan's own, never a sampled or
 * documented one: it may be a given identity's name or the admin's e-mail, and a sign-up or user creation that
 * updates an existing account would hand it a password the scan chose. Changes `body`; returns it.
 */
function withOwnNames(body: Record<string, unknown>): Record<string, unknown> {
  const props = Object.keys(body);
  if (!props.some((k) => PASSWORD.test(k) || USER_FIELD.test(k))) return body;
  const tag = `pcf${randomBytes(5).toString('hex')}`;
  const password = `Pc-${randomBytes(12).toString('base64url')}-9q`;
  for (const k of props) {
    if (typeof body[k] !== 'string') continue;
    if (/mail/i.test(k)) body[k] = `${tag}@example.com`;
    else if (USER_FIELD.test(k)) body[k] = tag;
    else if (PASSWORD.test(k)) body[k] = password;
  }
  return body;
}

function privilegedBody(ctx: ScanContext, op: Operation): unknown {
  const schema = bodySchema(op);
  if (!schema) return undefined;
  const body = withForeignKeys(
    ctx.spec,
    schema,
    sampleValue(ctx.spec, schema),
    ctx.objects,
    undefined,
    op.path,
  );
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const out = withOwnNames({ ...(body as Record<string, unknown>) });
  for (const [name, prop] of Object.entries(propertiesOf(ctx.spec, schema))) {
    const values = Array.isArray(resolveSchema(ctx.spec, prop).enum) ? (prop.enum as unknown[]) : [];
    const hit = values.find((v) => typeof v === 'string' && PRIVILEGED_VALUE.test(v));
    if (hit !== undefined) out[name] = hit;
  }
  return out;
}

/**
 * A change to a member of a collection whose creation is privileged (`PUT /products/{id}/stock` beside an
 * admin-only `POST /products`): who may not add to a catalogue may not change or remove what is in it either.
 * Not below a user or an account (`/users/{id}/...` is that user's own data).
 */
export function managesPrivilegedCollection(spec: ScanContext['spec'], op: Operation): boolean {
  if (SAFE.has(op.method) || op.method === 'POST' || userParam(op) !== undefined) return false;
  return spec.operations.some((create) => {
    if (create.method !== 'POST' || isExcluded(create) || !looksPrivileged(create, spec)) return false;
    const collection = creationCollection(spec, create);
    return (
      collection !== undefined &&
      !collection.includes('{') &&
      /^\{[^}]+\}(\/|$)/.test(op.path.slice(collection.length + 1)) &&
      op.path.startsWith(`${collection}/`)
    );
  });
}

/**
 * A body the API's 400/422 answer says lacks fields the document does not list (`{"error": "reason is required"}`
 * on a promotion): the same request once more with those fields (an allowed value the answer lists, a privileged
 * one first; else a value of the kind its name says). Undefined when the answer names no missing field the body
 * lacks, or the request has no JSON object body.
 */
async function withNamedFields(
  ctx: ScanContext,
  sent: PlannedRequest,
  res: ScanResponse | undefined,
  user: Identity,
): Promise<{ sent: PlannedRequest; res: ScanResponse | undefined; said: string } | undefined> {
  if (res === undefined || (res.status !== 400 && res.status !== 422)) return undefined;
  const body = sent.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  const added: string[] = [];
  for (const p of fieldProblems(res.json, res.text)) {
    if (!p.missing || p.extra || (p.at?.length ?? 0) > 0 || p.name in out || added.length >= 4) continue;
    const allowed = p.allowed?.map(String);
    out[p.name] =
      allowed !== undefined && allowed.length > 0
        ? (allowed.find((v) => PRIVILEGED_VALUE.test(v)) ?? quietChoice(allowed))
        : valueOfKind(p.kind ?? kindOfName(p.name), p.minLength);
    added.push(p.name);
  }
  if (added.length === 0) return undefined;
  const again = { ...sent, body: out };
  return {
    sent: again,
    res: await ctx.send(again, user),
    said: ` (with ${added.join(', ')}, which the document does not list and the API's ${res.status} answer asked for)`,
  };
}

/**
 * Sends the privileged changes; returns the destructive or acting ones it did not send (no object of the scan's
 * own to send them to, or the runner refused them), for the probe of an id that does not exist.
 */
async function replayChanges(ctx: ScanContext): Promise<Operation[]> {
  const unsent: Operation[] = [];
  const user = ctx.identities[0];
  const ops = ctx.spec.operations.filter(
    (op) =>
      !SAFE.has(op.method) &&
      !isExcluded(op) &&
      !isLoginOperation(ctx.spec, op) &&
      (looksPrivileged(op, ctx.spec) || managesPrivilegedCollection(ctx.spec, op)),
  );
  if (!user || ops.length === 0) return unsent;
  // Deletes last: the account must live through the other changes.
  ops.sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
  let account: Account | undefined;
  for (const op of ops) {
    const param = userParam(op);
    const params: Record<string, string> = {};
    if (param !== undefined) {
      account ??= await registerAccount(ctx);
      const value = /name/i.test(param) ? account?.name : account?.id;
      if (value === undefined) {
        unsent.push(op);
        continue;
      }
      params[param] = value;
    }
    const plan = (owner: string) =>
      planRequest(ctx.spec, op, ctx.objects, {
        owner,
        params,
        ...(bodySchema(op) ? { body: privilegedBody(ctx, op) } : {}),
      });
    // An object of the path: the admin's own scan-created one first, else the user's.
    let req = plan(user.name);
    if (param === undefined && op.path.includes('{') && ctx.admin) {
      const asAdmin = plan(ctx.admin.name);
      if (asAdmin.object) req = asAdmin;
    }
    if (req.invented.length > 0) {
      unsent.push(op);
      continue;
    }
    const path = req.path.split('?')[0];
    if (param !== undefined && account) {
      // The account is the scan's own: register it so the one safety rule lets the request through.
      const collection = path.slice(0, path.indexOf(`/${encodeURIComponent(params[param])}`));
      ctx.objects.add({
        collection: op.path.slice(0, op.path.indexOf(`/{${param}}`)),
        path: `${collection}/${encodeURIComponent(params[param])}`,
        id: params[param],
        owner: `${user.name}:api5`,
        body: undefined,
        createdBy: op,
      });
    } else if (!ctx.allowDestructive && op.method !== 'POST' && !ctx.objects.isScanCreated(path)) {
      unsent.push(op);
      continue; // nothing of ours to change
    }
    const before = account && op.method === 'DELETE' ? await adminViews(ctx) : [];
    let sent = req;
    let res = await ctx.send(sent, user);
    if (res === undefined) unsent.push(op); // the runner's safety rule refused it
    let served = '';
    const beside = itemRouteBeside(ctx.spec, op);
    if ((res?.status === 404 || res?.status === 405) && beside !== undefined && req.object) {
      // The documented route is not served (404/405 on an object the scan created): the same method on the
      // item route the document names beside it, which a drifted document may have meant.
      const item = path.split('/').slice(0, beside.split('/').length).join('/');
      sent = { ...req, path: `${item}${req.path.slice(path.length)}` };
      res = await ctx.send(sent, user);
      served = ` (served at ${op.method} ${beside}, the item route beside the documented one)`;
    }
    const learnt = await withNamedFields(ctx, sent, res, user);
    if (learnt !== undefined) ({ sent, res } = learnt);
    let caller = `${user.name} (an ordinary identity)`;
    let identity = user.name;
    // API1 already sent this operation without credentials and judged it (api5-anonymous-write): not twice.
    const judged = ctx.observations.some(
      (o) => o.operation === op && o.identity === undefined && o.check === 'API1' && isSuccess(o.response),
    );
    if (
      !judged &&
      res !== undefined &&
      (res.status === 401 || res.status === 403 || (isSuccess(res) && refusedIn200(res)))
    ) {
      // Refused to the ordinary identity: the same request without any credentials (a role checked only when
      // a token is sent lets anyone through who sends none). A page of HTML (a login form) is no success.
      const anonymous = await ctx.send(sent, null);
      if (
        isSuccess(anonymous) &&
        !refusedIn200(anonymous) &&
        !/<html|<!doctype/i.test(anonymous.text.slice(0, 500))
      ) {
        caller = `a caller without credentials (${user.name} was refused with ${res.status})`;
        identity = 'anonymous';
        res = anonymous;
      }
    }
    if (!isSuccess(res) || refusedIn200(res)) {
      // Refused: the admin creates one instead, so the changes of the collection's members that follow
      // have an object of the scan's own to be tried on.
      if (op.method === 'POST') await adminCreates(ctx, op, req);
      continue;
    }
    let confirmed = true;
    if (account && op.method === 'DELETE') {
      const after = await adminViews(ctx);
      const had = before.some((v) => recordWith(v.json, account!.name) !== undefined);
      confirmed = !had || !after.some((v) => recordWith(v.json, account!.name) !== undefined);
    }
    if (!confirmed) continue;
    // What a privileged creation made is the scan's own: a privileged delete of it may follow.
    const collection = op.method === 'POST' ? creationCollection(ctx.spec, op) : undefined;
    const id = collection !== undefined ? captureId(ctx.spec, op, res) : undefined;
    if (op.method === 'POST')
      warnUndeletable(ctx, op, user.name, collection, id ?? captureId(ctx.spec, op, res));
    if (collection !== undefined && id !== undefined && !collection.includes('{')) {
      ctx.objects.add({
        collection,
        path: `${collection}/${encodeURIComponent(id)}`,
        id,
        owner: user.name,
        body: res.json,
        createdBy: op,
      });
      rememberPrivileged(ctx, `${collection}/${encodeURIComponent(id)}`);
    }
    if (
      identity !== 'anonymous' &&
      objectLevelFound(ctx.objects, op) &&
      !markedForRole(op) &&
      !isAdminOperation(op) &&
      !managesPrivilegedCollection(ctx.spec, op) &&
      !grantsPrivilege(ctx, op)
    ) {
      // Only its prose says admin, it grants nothing, and API1 found another user's object changed through it:
      // an ordinary user may call it on its own object, so what is broken is which object, not who calls.
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.bfla,
        reason: `${user.name}'s ${op.method} succeeded, but only the operation's prose says it is privileged, it grants nothing, and API1 reported it as an object-level flaw (another user's object changed or read through it): not reported again as API5`,
      });
      continue;
    }
    ctx.report(SCAN_RULES.bfla, {
      operation: op,
      message: `${caller} called the privileged operation ${op.method} ${op.path}${learnt?.said ?? ''}${
        account && param !== undefined ? ` on an account the scan registered (${account.name})` : ''
      }${served} and it succeeded.`,
      evidence: evidenceOf(res, { identity }),
    });
  }
  return unsent;
}

/** An answer that says the object named is not there (`User not found`, `no such user`, `does not exist`). */
const NOT_FOUND_TEXT =
  /\bnot[ _-]?found\b|\bno such\b|\bdoes ?n[o']?t exist|\bnot exist|\bnon-?existent\b|\bunknown (user|account|member|id|item|object|record|group)\b/i;
/** Members of an answer that change from one request to the next (a time, a trace id, the path asked). */
const VOLATILE_MEMBER = /time|date|stamp|trace|request_?id|correlation|^path$|^instance$|^url$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Privileged operations probed with an id that does not exist, at most. */
const MAX_MISSING = 6;

/** The words of a short answer: its top-level strings (a JSON object), or its text when short. */
function messageOf(res: ScanResponse): string {
  const body = res.json;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const r = body as Record<string, unknown>;
    if (Object.keys(r).length > 8) return '';
    const nested = r.error !== null && typeof r.error === 'object' ? Object.values(r.error as object) : [];
    return [...Object.values(r), ...nested].filter((v) => typeof v === 'string').join(' ');
  }
  return body === undefined && res.text.length < 500 ? res.text : '';
}

/**
 * The app's "no such object": a 404 (one whose words only refuse is a refusal), or a 2xx or 4xx whose message
 * says not found.
 */
export function notFoundAnswer(res: ScanResponse): boolean {
  const words = messageOf(res);
  if (res.status === 404) return NOT_FOUND_TEXT.test(words) || !REFUSAL.test(words);
  if (res.status === 401 || res.status === 403 || res.status < 200 || res.status >= 500) return false;
  if (res.status >= 300 && res.status < 400) return false;
  return NOT_FOUND_TEXT.test(words);
}

function withoutVolatile(value: unknown, depth = 0): unknown {
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => withoutVolatile(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([k]) => !VOLATILE_MEMBER.test(k))
      .map(([k, v]) => [k, withoutVolatile(v, depth + 1)]),
  );
}

/** An answer with the values the scan put in the request taken out (and its volatile members, for JSON). */
function shapeOf(res: ScanResponse, strip: readonly string[]): unknown {
  let text = res.text;
  for (const s of strip) {
    if (s.length < 3) continue;
    text = text.split(s).join('<x>');
    const encoded = encodeURIComponent(s);
    if (encoded !== s) text = text.split(encoded).join('<x>');
  }
  if (res.json !== undefined) {
    try {
      return withoutVolatile(JSON.parse(text));
    } catch {
      // a value split a JSON escape: compare the texts
    }
  }
  return text;
}

/** The same answer: the same status and the same words, the values the requests carried aside. */
export function sameAnswer(a: ScanResponse, b: ScanResponse, strip: readonly string[]): boolean {
  return a.status === b.status && similarity(shapeOf(a, strip), shapeOf(b, strip)) >= SAME_CONTENT;
}

/** Whether a value fits a string schema's lengths and pattern. */
function fits(s: Record<string, unknown>, value: string): boolean {
  if (typeof s.minLength === 'number' && value.length < s.minLength) return false;
  if (typeof s.maxLength === 'number' && value.length > s.maxLength) return false;
  if (typeof s.pattern === 'string' && s.pattern.length <= 500) {
    try {
      // The document's pattern on a short value of the scan's own (not client input).
      if (!new RegExp(s.pattern, 'u').test(value)) return false;
    } catch {
      // a pattern JavaScript cannot read: the lengths decide
    }
  }
  return true;
}

/**
 * An id that names nothing, well-formed for the parameter: a number near the top of 32 bits, a fresh random UUID,
 * or a name of the scan's own (`pcx<hex>`), as its schema (and the kind of value the planner found for it) asks.
 * Undefined when the schema admits none (a `maximum` below it, a pattern none fits).
 */
export function madeUpIdFor(s: Record<string, unknown>, planned?: string): string | undefined {
  const types = [s.type].flat();
  const big = String(1_900_000_000 + randomInt(0, 99_999_999));
  if (types.includes('integer') || types.includes('number')) {
    const max =
      typeof s.maximum === 'number'
        ? s.maximum
        : typeof s.exclusiveMaximum === 'number'
          ? s.exclusiveMaximum - 1
          : Number.POSITIVE_INFINITY;
    return Number(big) <= max ? big : undefined;
  }
  const candidates: string[] = [];
  if (s.format === 'uuid' || UUID.test(planned ?? '')) candidates.push(randomUUID());
  else if (/^\d+$/.test(planned ?? '')) candidates.push(big);
  candidates.push(`pcx${randomBytes(5).toString('hex')}`, randomUUID(), big, randomBytes(12).toString('hex'));
  return candidates.find((c) => fits(s, c));
}

/**
 * A concrete path of the scan's own that names nothing: the safety rule lets the scan send it (registered as
 * created and at once as deleted, so no check is ever offered it as an object).
 */
function ownMadeUpPath(ctx: ScanContext, op: Operation, path: string, id: string): void {
  ctx.objects.add({ collection: op.path, path, id, owner: 'api5:made-up', body: undefined, createdBy: op });
  ctx.objects.markDeleted(path);
}

/**
 * Documented GETs of the same item: at the same path, without its verbs of change (`/admin/users/{id}/ban` →
 * `/admin/users/{id}`), with a verb's object as the collection (`/admin/delete-user/{id}` → `/admin/users/{id}`,
 * `/admin/user/{id}`), or the item route beside.
 */
function itemReads(ctx: ScanContext, op: Operation): Operation[] {
  const acting =
    /^(delete|remove|destroy|purge|erase|ban|block|kick|suspend|disable|deactivate|reset)([-_](.*))?$/i;
  const segs = op.path.split('/');
  const without = (noun: (m: RegExpExecArray) => string | undefined) =>
    segs
      .flatMap((seg) => {
        const m = seg.includes('{') ? null : acting.exec(seg);
        return m ? [noun(m) ?? ''] : [seg];
      })
      .filter((seg, i) => i === 0 || seg !== '')
      .join('/');
  const templates = new Set([
    op.path,
    without(() => undefined),
    without((m) => m[3]),
    without((m) => (m[3] ? `${m[3]}s` : undefined)),
  ]);
  const beside = itemRouteBeside(ctx.spec, op);
  if (beside !== undefined) templates.add(beside);
  return ctx.spec.operations.filter((o) => o.method === 'GET' && templates.has(o.path) && !isExcluded(o));
}

/** The template with the values given by name; undefined when one of its parameters has none. */
function fillTemplate(template: string, values: Readonly<Record<string, string>>): string | undefined {
  let missing = false;
  const path = template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const v = values[name];
    if (v === undefined) missing = true;
    return encodeURIComponent(v ?? '');
  });
  return missing ? undefined : path;
}

/** An id-named query or body input whose value the scan did not make up (`?transfer_to=5`): not sent. */
function namesOtherIds(req: PlannedRequest, ours: readonly string[]): boolean {
  const named = (name: string, v: unknown) =>
    idInput(name) &&
    (typeof v === 'string' || typeof v === 'number') &&
    !ours.includes(String(v)) &&
    !madeUpId(String(v));
  const q = req.path.indexOf('?');
  if (q >= 0 && [...new URLSearchParams(req.path.slice(q + 1))].some(([k, v]) => named(k, v))) return true;
  const body = req.body;
  return (
    body !== null &&
    typeof body === 'object' &&
    !Array.isArray(body) &&
    Object.entries(body as Record<string, unknown>).some(([k, v]) => named(k, v))
  );
}

/**
 * Privileged destructive or acting operations the scan could not send (no object of its own to send them to),
 * probed without destroying anything: the same operation with an id that certainly does not exist (the admin's
 * GET of that item, where one is documented, says so first), sent as the admin, each ordinary identity and
 * anonymously. The admin gets the app's "not found"; an ordinary identity that gets the SAME answer (not a 401
 * or 403) while an anonymous caller is refused went past the function's authorization to the lookup: the role is
 * checked after it or not at all, and the same request on a real id would act. When anonymous callers get that
 * answer too, the API looks the object up before any authorization: nothing to tell, a note says so.
 */
async function probeMissing(ctx: ScanContext, unsent: readonly Operation[]): Promise<void> {
  const admin = ctx.admin;
  if (!admin || ctx.identities.length === 0) return;
  const ops = [...new Set(unsent)].filter(
    (op) => (op.method === 'DELETE' || pathActs(op.path)) && op.path.includes('{'),
  );
  for (const op of ops.slice(0, MAX_MISSING)) {
    const note = (reason: string) => ctx.note?.({ operation: op, rule: SCAN_RULES.bfla, reason });
    // The object the path ends at is made up; those above it stay as the planner fills them for the admin
    // (a real group of `/groups/{gid}/members/{uid}`), unless it had to invent them too.
    const first = planRequest(ctx.spec, op, ctx.objects, { owner: admin.name });
    const filled = Object.fromEntries(
      pathValues(op.path, first.path).map(({ name, value }) => [name, value]),
    );
    const names = op.parameters
      .filter((p) => p.in === 'path' && listedValue(ctx.spec, p.schema) === undefined)
      .map((p) => p.name)
      .filter((n) => op.path.includes(`{${n}}`));
    if (names.length === 0) continue;
    const last = names.reduce((a, b) => (op.path.indexOf(`{${a}}`) > op.path.indexOf(`{${b}}`) ? a : b));
    const params: Record<string, string> = {};
    const unfit = names.filter((name) => {
      if (name !== last && !first.invented.includes(name)) return false;
      const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
      const value = madeUpIdFor(resolveSchema(ctx.spec, param?.schema), filled[name]);
      if (value !== undefined) params[name] = value;
      return value === undefined;
    });
    if (unfit.length > 0) {
      note(`not probed with an id that does not exist: the schema of {${unfit[0]}} admits no made-up value`);
      continue;
    }
    const made = Object.values(params);
    const req = planRequest(ctx.spec, op, ctx.objects, {
      owner: admin.name,
      params,
      ...(bodySchema(op) ? { body: privilegedBody(ctx, op) } : {}),
    });
    if (namesOtherIds(req, made)) {
      note('not probed with an id that does not exist: its query or body names ids the scan did not make up');
      continue;
    }
    const bare = req.path.split('?')[0];
    const values = { ...filled, ...params };
    // The admin's read of that very item first: it must not exist.
    let confirmed = false;
    let exists = false;
    for (const read of itemReads(ctx, op)) {
      const path = fillTemplate(read.path, values);
      if (path === undefined) continue;
      const seen = await ctx.send({ method: 'GET', path, headers: {}, operation: read }, admin);
      if (seen === undefined) continue;
      if (notFoundAnswer(seen)) confirmed = true;
      else if (isSuccess(seen) && !refusedIn200(seen)) exists = true;
      break;
    }
    if (exists) {
      note(`not probed: the admin's read of the made-up ${made.join(', ')} answered as if it existed`);
      continue;
    }
    ownMadeUpPath(ctx, op, bare, params[last]);
    const asAdmin = await ctx.send(req, admin);
    if (asAdmin === undefined) continue;
    if (!notFoundAnswer(asAdmin)) {
      if (!isSuccess(asAdmin) || refusedIn200(asAdmin)) {
        if (confirmed)
          note(
            `probed with an id that does not exist (${made.join(', ')}): the admin's answer (${asAdmin.status}) is no "not found", nothing to compare`,
          );
        continue;
      }
      // The admin's success for an id nothing has (a DELETE that answers 200 whatever it finds): no contrast from a
      // made-up id, and the scan names no real one. What the ordinary identity and an anonymous caller get there is
      // said, as evidence for a person to weigh; --allow-destructive tries it on a real object.
      const user = ctx.identities[0];
      const theirs = user ? await ctx.send(req, user) : undefined;
      const anonymous = theirs !== undefined && isSuccess(theirs) ? await ctx.send(req, null) : undefined;
      const said =
        theirs === undefined
          ? ''
          : isSuccess(theirs) && !refusedIn200(theirs)
            ? ` ${user!.name} (an ordinary identity) got a success too (${theirs.status}${sameAnswer(asAdmin, theirs, [bare, ...made]) ? ', the same answer' : ''})${anonymous ? ` and a caller without credentials ${anonymous.status}` : ''}: the route lets ${user!.name} past its checks for this id, which suggests no role check (not proof: nothing exists there to act on).`
            : ` ${user!.name} (an ordinary identity) was refused (${theirs.status}).`;
      note(
        `not tested on a real object: no object of the scan's own to send it to (no account or object it could make), and the admin's answer to an id that does not exist (${made.join(', ')}) is a success (${asAdmin.status}), not a "not found", so the made-up id gives no contrast.${said} --allow-destructive sends it on a real object.`,
      );
      continue;
    }
    // A not-found that is only the server's answer to a path it does not serve tells nothing: a route hidden
    // from ordinary users (a 404 instead of a 403) answers the same.
    const tag = `pcx${randomBytes(5).toString('hex')}`;
    const nowhere = `/${tag}/${tag}`;
    ownMadeUpPath(ctx, op, nowhere, tag);
    const unrouted = await ctx.send({ method: op.method, path: nowhere, headers: {} }, admin);
    const strip = [bare, nowhere, ...made, tag];
    if (unrouted !== undefined && sameAnswer(asAdmin, unrouted, strip)) {
      note(
        `probed with an id that does not exist: the admin's not-found (${asAdmin.status}) is the server's answer to any path it does not serve, which cannot tell a lookup from a hidden route`,
      );
      continue;
    }
    let through: { identity: Identity; res: ScanResponse } | undefined;
    for (const user of ctx.identities) {
      const res = await ctx.send(req, user);
      if (res !== undefined && sameAnswer(asAdmin, res, strip)) {
        through = { identity: user, res };
        break;
      }
    }
    if (!through) continue;
    const anonymous = await ctx.send(req, null);
    if (anonymous === undefined) continue;
    if (sameAnswer(asAdmin, anonymous, strip)) {
      note(
        `probed with an id that does not exist (${made.join(', ')}): the admin, ordinary identities and anonymous callers all get the same not-found (${asAdmin.status}): the API looks the object up before any authorization, so the answer tells nothing of the role check`,
      );
      continue;
    }
    const anonymousRefused =
      anonymous.status === 401 ||
      anonymous.status === 403 ||
      (!notFoundAnswer(anonymous) && refusedIn200(anonymous));
    if (!anonymousRefused) {
      note(
        `probed with an id that does not exist: an ordinary identity got the admin's not-found, but a caller without credentials got ${anonymous.status} (not a refusal): not judged`,
      );
      continue;
    }
    ctx.report(SCAN_RULES.bfla, {
      operation: op,
      severity: 'medium',
      key: 'not-found-past-authorization',
      message: `${through.identity.name} (an ordinary identity) got the same not-found answer (${asAdmin.status}) as ${admin.name} from the privileged operation ${op.method} ${op.path} for an id that does not exist (${made.join(', ')}), while a caller without credentials was refused (${anonymous.status}): the function's authorization lets ordinary users through to the lookup, so the same request on a real id would most likely act. Medium confidence: the evidence is a not-found answer past the authorization step; nothing was deleted or changed.`,
      evidence: evidenceOf(through.res, {
        identity: through.identity.name,
        adminStatus: asAdmin.status,
        anonymousStatus: anonymous.status,
        madeUpIds: made,
        ...(confirmed ? { adminReadNotFound: true } : {}),
      }),
    });
  }
}

/** The admin sends a privileged creation; what it made is the scan's own (the admin's). */
async function adminCreates(ctx: ScanContext, op: Operation, req: PlannedRequest): Promise<void> {
  const admin = ctx.admin;
  const collection = creationCollection(ctx.spec, op);
  if (!admin || collection === undefined || collection.includes('{')) return;
  const res = await ctx.send(req, admin);
  if (!isSuccess(res) || refusedIn200(res)) return;
  const id = captureId(ctx.spec, op, res);
  warnUndeletable(ctx, op, admin.name, collection, id);
  if (id === undefined) return;
  ctx.objects.add({
    collection,
    path: `${collection}/${encodeURIComponent(id)}`,
    id,
    owner: admin.name,
    body: res.json,
    createdBy: op,
  });
  rememberPrivileged(ctx, `${collection}/${encodeURIComponent(id)}`);
}

/**
 * A privileged creation that succeeded made something live (a coupon, a product, a user) that no documented DELETE of
 * the item removes: the report's warnings name it at once (the runner's clean-up deletes the others).
 */
function warnUndeletable(
  ctx: ScanContext,
  op: Operation,
  maker: string,
  collection: string | undefined,
  id: string | undefined,
): void {
  const base = (collection ?? op.path).replace(/\/+$/, '');
  const deletable =
    collection !== undefined &&
    id !== undefined &&
    ctx.spec.operations.some(
      (d) =>
        d.method === 'DELETE' &&
        d.path.startsWith(`${base}/{`) &&
        /^\/\{[^{}/]+\}\/?$/.test(d.path.slice(base.length)),
    );
  if (deletable) return;
  ctx.warn?.(
    `${maker}'s privileged ${op.method} ${op.path} made ${id !== undefined ? `${base}/${id}` : 'an object'}, which was left in place (the document has no DELETE of it): remove it on the target by hand`,
  );
}

/** Paths of the objects API5's privileged creations made (the admin's confirmation, an ordinary user's probe). */
const privilegedMade = new WeakMap<object, Set<string>>();

function rememberPrivileged(ctx: ScanContext, path: string): void {
  const made = privilegedMade.get(ctx.objects) ?? new Set<string>();
  if (made.size < 500) made.add(path);
  privilegedMade.set(ctx.objects, made);
}

/**
 * Whether an object the scan created was made by a privileged creation of API5 (`POST /v1/coupons` as the admin,
 * or as an ordinary user when that succeeded): a live coupon, product or user the runner's clean-up deletes, or
 * names as left in place.
 */
export function madeByPrivilegedCreation(objects: object, path: string): boolean {
  return privilegedMade.get(objects)?.has(path) === true;
}

export const api5: Check = {
  id: 'API5',
  title: 'Broken function level authorization',
  rules: [SCAN_RULES.bfla],
  async run(ctx) {
    if (!ctx.identities[0]) return;
    await replayReads(ctx);
    if (ctx.admin || ctx.allowDestructive) {
      const unsent = await replayChanges(ctx);
      await probeMissing(ctx, unsent);
    }
    await adminNameVariant(ctx, { signup: registration(ctx), refused: refusedIn200 });
  },
};
