/**
 * Discovery: before any attack, every identity (the ordinary ones, the admin and an anonymous caller) calls
 * the documented operations with values the API itself gave out, so that the checks have objects to test,
 * foreign keys that exist and responses to read:
 *
 * 1. reads without path parameters (lists, profiles, lookups), for every identity and anonymously;
 * 2. creations (`POST /things` beside `/things/{id}`), once per ordinary identity, parents before children; the
 *    new object's id comes from the answer, the `Location` header, or — when the answer is only a message —
 *    from the collection's list, where the new item is the one that carries the values just sent;
 * 3. reads with path parameters, filled from each identity's own objects and harvested values (two rounds,
 *    so that an object found in round one feeds round two);
 * 4. other POSTs (actions) as the first identity, and anonymously when they declare no security; updates
 *    (PUT, PATCH) by each identity of its own scan-created objects only. DELETE is left to API1, which needs
 *    the objects alive first; privileged-looking operations other than reads are left to API5.
 *
 * Every answer feeds the harvest (runner.ts records them), so each step fills the next one's parameters.
 */
import { randomBytes } from 'node:crypto';
import type { ApiDocument, Operation, Parameter } from '../../core/api-document.ts';
import type { ScanResponse } from './client.ts';
import { type Identity, isSuccess, type ScanContext } from './context.ts';
import { CONFIRMED, configuredIds, entityOfPath, fits, normalise, OWNED, singular } from './harvest.ts';
import {
  adoptBody,
  answerSchema,
  type FieldProblem,
  FORM,
  fieldProblems,
  freeText,
  type InferredField,
  inferredFrom,
  inferredSchema,
  kindOfName,
  mendNested,
  recordOf,
  sampledRecord,
  schemaFields,
  shapeFields,
  valueFits,
  valueOfKind,
} from './infer-body.ts';
import type { ObjectRegistry } from './objects.ts';
import {
  actingGet,
  bodySchema,
  creationCollection,
  isAdminOperation,
  isBusinessFlow,
  isCreationOperation,
  isExcluded,
  isLinkedCreation,
  isLoginOperation,
  linkedItemRoute,
  listedValue,
  madeUpUuid,
  memberParam,
  movesMoney,
  noteConfirmedReader,
  type PlannedRequest,
  planRequest,
  purchases,
  readLikePost,
  requestBody,
  requiresAuth,
} from './planner.ts';
import {
  fieldsAt,
  propertiesOf,
  quietChoice,
  recordProperties,
  resolveSchema,
  schemaEnvelope,
  schemaType,
  withFields,
} from './schema.ts';
import { accountParam, selfIds } from './self.ts';
import { similarity } from './similarity.ts';

export interface DiscoveryStats {
  /** Objects created (or found through a list after a create that returned no id). */
  readonly objectsCreated: number;
  /** Distinct (identity, method, path) requests sent. */
  readonly requests: number;
  /** Creations that succeeded but whose object could not be found. */
  readonly objectsLost: number;
}

const ID_KEYS = ['id', '_id', 'uuid', 'key', 'slug'];
const PASSWORDISH = /pass|secret|otp|pin|code|grant|client/i;

/**
 * A field that holds a password: `password`, `new_password`, `userPassword`, `passwd`, `pwd`, `pass`,
 * `passphrase`, `confirmPass`; not a word that only starts like one (`passport_no`, `passenger`, `passage`,
 * `compass`, `bypass`): a public form with a passport number sets no password.
 */
export function passwordName(name: string): boolean {
  if (/password|passwd|passphrase/i.test(name)) return true;
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .some((w) => /^(new|old|current|confirm|user)?(pass|pwd|pw|pword|passw|passcode)\d?$/.test(w));
}

/**
 * An action that sets a password: a change, a reset, or a sign-up (not the login). Sign-ups are left to the
 * checks that register accounts of their own: an API may allow one sign-up an hour, which discovery would spend.
 */
export function setsPassword(spec: ApiDocument, op: Operation): boolean {
  if (isLoginOperation(spec, op) || /log_?in|sign_?in/i.test(op.path)) return false;
  return (
    bodyFields(spec, op).some((k) => passwordName(k)) ||
    op.parameters.some((p) => p.in === 'query' && passwordName(p.name))
  );
}

/**
 * The names of an operation's body fields: its top-level members and those of the record it holds in an envelope
 * (JSON:API `data.attributes`, Rails-style `{user: {...}}`: schema.ts's recordProperties).
 */
function bodyFields(spec: ApiDocument, op: Operation): string[] {
  const schema = bodySchema(op);
  return [
    ...new Set([...Object.keys(propertiesOf(spec, schema)), ...Object.keys(recordProperties(spec, schema))]),
  ];
}

/**
 * A GET that sets a password rather than checks one (`/auth/reset-password?username=&new_password=`): a new
 * password in its query, or a reset path. No check sends one (the runner refuses it): the account its query names
 * would take whatever password the check sampled.
 */
export function setsPasswordByUrl(spec: ApiDocument, op: Operation): boolean {
  return (
    setsPassword(spec, op) &&
    (/reset|change|forgot|recover|update|set[-_]?pass|new[-_]?pass/i.test(op.path) ||
      op.parameters.some((p) => p.in === 'query' && /new|confirm|repeat|again/i.test(p.name)))
  );
}

/**
 * A write of the sender's own profile by a path with no parameter: `/me`, `/profile`, `/account`, `/users/me`,
 * alone or with an update verb after it (`/profile/update`). Whoever sends it changes its own record, whatever the
 * method: a POST there is no creation.
 */
const OWN_PROFILE_WRITE =
  /(^|\/)(me|self|profile|my_?profile|current_?user|whoami|account)(\/(update|edit|save|change|settings|preferences|details|info))?\/?$/i;

/** The update verb an own-profile write may end in (`/profile/update`): its record is read at the path without it. */
export const UPDATE_VERB = /\/(update|edit|save|change|settings|preferences|details|info)$/i;

/** The path (query left out) writes its sender's own profile (OWN_PROFILE_WRITE): it names no object. */
export function ownProfileWritePath(path: string): boolean {
  const bare = path.split('?')[0];
  return !bare.includes('{') && OWN_PROFILE_WRITE.test(bare);
}

/**
 * Path segments that mean whoever sends the request, wherever they stand (`/api/me/avatar`, `/orgs/{org}/me/
 * settings`, `/my/settings`, `/current_user/theme`).
 */
const CALLER_SEGMENT = /^(me|self|my|mine|my[-_]?profile|current[-_]?user|whoami)$/i;
/** Segments that mean the sender's own record only before any path parameter (`/users/{id}/profile` is user id's). */
const OWN_RECORD_SEGMENT = /^(profile|account)$/i;
const OWNER_COLLECTION = /^(users?|accounts?)$/i;

/**
 * The path (query left out) is its sender's own record or under it, followed by anything (`/me`, `/api/me/avatar`,
 * `/account/bio`, `/users/me/notifications`, `/users/current/theme`): a caller segment (CALLER_SEGMENT; `current`
 * after `user(s)` or `account(s)`), or `profile`/`account` with no path parameter before it; and no path parameter
 * right after it (`/profile/{username}/follow`, `/account/{account_id}/close` name someone else's). The own-profile
 * paths (ownProfileWritePath) are among them.
 */
export function ownRecordPath(path: string): boolean {
  const segments = path
    .split('?')[0]
    .split('/')
    .filter((s) => s !== '');
  let parameterSeen = false;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (seg.includes('{')) {
      parameterSeen = true;
      continue;
    }
    const own =
      CALLER_SEGMENT.test(seg) ||
      (!parameterSeen && OWN_RECORD_SEGMENT.test(seg)) ||
      (/^current$/i.test(seg) && OWNER_COLLECTION.test(segments[i - 1] ?? ''));
    if (own && !(segments[i + 1] ?? '').includes('{')) return true;
  }
  return false;
}

/**
 * A write discovery does not send as a given identity: a POST under the sender's own record (ownRecordPath) that
 * is no creation in a documented sub-collection. `POST /api/me/avatar {url}`, `POST /account/bio {bio}` would
 * replace what the identity's record holds with sampled values; `POST /me/addresses` beside `/me/addresses/{id}`
 * adds a record of its own, which the scan registers as its object (and may later delete), so it goes.
 */
export function ownRecordWrite(spec: ApiDocument, op: Operation): boolean {
  if (op.method !== 'POST' || !ownRecordPath(op.path)) return false;
  if (readLikePost(op.path)) return false;
  return ownProfileWritePath(op.path) || !isCreationOperation(spec, op);
}

export { readLikePost } from './planner.ts';

/** Last path segments of a list of who has access to its parent (members, collaborators, grants, shares...). */
const ACCESS_LIST =
  /^(members?|memberships?|collaborators?|participants?|attendees?|team|assignees?|watchers?|subscribers?|delegates?|permissions?|acls?|access|roles?|grants?|shares?|invit\w*)$/i;

/** Whether the last literal segment of a path names a list of who has access (`/orgs/{id}/members`). */
export function accessListPath(path: string): boolean {
  return ACCESS_LIST.test(
    path
      .split('?')[0]
      .split('/')
      .filter((seg) => seg !== '' && !seg.includes('{'))
      .pop() ?? '',
  );
}

/** Member names that name a person (`user_id`, `member`, `username`, `email`, `owner`, `invitee`; not `qty`). */
const PERSON_MEMBER =
  /(^|_)(users?|members?|person|people|accounts?|owners?|invitees?|collaborators?|assignees?|principals?|grantees?|email|e_mail|mail|login|handle|username|user_name|uid|sub)(_|$)/;

/** Whether a body member's name names a person: only such members are compared with the given people (R1-C1). */
export function personMember(name: string): boolean {
  return PERSON_MEMBER.test(name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase());
}

/**
 * Who the given identities and the admin are, as values a body may name them by: their person ids (their tokens'
 * claims, their login answers, a level down too: `{accessToken, account: {id}}`) and their login names and e-mails
 * (the harvest's login values).
 */
export function givenPeople(
  ctx: Pick<ScanContext, 'identities' | 'admin' | 'objects'>,
): (v: string | number) => boolean {
  const given = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  const personIds = new Set(given.flatMap((i) => [...selfIds(i)]));
  const idsIn = (record: unknown, depth = 0): void => {
    if (record === null || typeof record !== 'object' || Array.isArray(record) || depth > 1) return;
    for (const [k, v] of Object.entries(record as Record<string, unknown>)) {
      if (
        (typeof v === 'string' || typeof v === 'number') &&
        /^(id|uid|sub|(user|account|member|person)_?id)$/i.test(k)
      )
        personIds.add(String(v));
      else idsIn(v, depth + 1);
    }
  };
  for (const i of given) idsIn(i.login?.answer);
  return (v) => personIds.has(String(v)) || given.some((i) => ctx.objects.harvest.ownLoginValue(i.name, v));
}

/** Whether a body names one of `people` under a person member (`{"username": "alice"}`, `{"user_id": 1}`), 3 deep. */
export function namesPersonIn(body: unknown, people: (v: string | number) => boolean, depth = 0): boolean {
  if (body === null || typeof body !== 'object' || depth > 2) return false;
  return Object.entries(body as Record<string, unknown>).some(([k, v]) =>
    typeof v === 'string' || typeof v === 'number'
      ? personMember(k) && people(v)
      : Array.isArray(v)
        ? personMember(k) && v.some((x) => (typeof x === 'string' || typeof x === 'number') && people(x))
        : namesPersonIn(v, people, depth + 1),
  );
}

/** Fields that name an account a body creates: they get names of the scan's own in a creation that sets a password. */
const NEW_ACCOUNT_NAME = /^(user_?name|login|handle|nick_?(name)?|e-?mail|email_?address|name)$/i;

/**
 * A creation that sets a password (a sign-up, `POST /users`) gets names, an e-mail and a password of the scan's
 * own: the sampled or documented ones may be a given identity's name or the admin's e-mail, and a creation that
 * updates the account whose name exists would hand it a password the scan chose.
 */
export function withOwnAccount(spec: ApiDocument, op: Operation, req: PlannedRequest): PlannedRequest {
  const body = req.body;
  if (!setsPassword(spec, op) || body === null || typeof body !== 'object' || Array.isArray(body)) return req;
  const tag = `pcd${randomBytes(5).toString('hex')}`;
  const password = `Pc-${randomBytes(12).toString('base64url')}-3k`;
  const own = (fields: Record<string, unknown>, names: readonly string[]) => {
    for (const k of names) {
      if (passwordName(k)) fields[k] = password;
      else if (NEW_ACCOUNT_NAME.test(k)) fields[k] = /mail/i.test(k) ? `${tag}@example.com` : tag;
    }
    return fields;
  };
  const schema = bodySchema(op);
  const top = own({ ...(body as Record<string, unknown>) }, Object.keys(propertiesOf(spec, schema)));
  // The record in its envelope (`data.attributes`, `{user: {...}}`) gets the same names and password.
  const envelope = schemaEnvelope(spec, schema);
  const out =
    envelope.length === 0
      ? top
      : withFields(
          top,
          envelope,
          own({ ...fieldsAt(top, envelope) }, Object.keys(recordProperties(spec, schema))),
        );
  return { ...req, body: out };
}

/** Words after an account in a path that change it (`/users/{id}/change-email`, `/users/{id}/promote`). */
const ACCOUNT_CHANGE =
  /e-?mail|pass(word)?|passwd|pwd|reset|promote|demote|role|admin|ban|block|suspend|activate|disable|enable|verif|upgrade|permission|grant|revoke|user_?name|phone|delete|remove|lock/i;
/** Body fields that change an account, and fields that name the account a body is about. */
const ACCOUNT_FIELD = /^(new_?)?(e-?mail|role|roles|is_?admin|admin|user_?name|phone|password)$/i;
const NAMES_ACCOUNT = /^(user_?name|user_?id|userId|account_?id|accountId|e-?mail|login|uid)$/i;
/** Words of a field name that hold an account's own details (`new_email`, `userName`, `phone_number`). */
const ACCOUNT_WORD = /e-?mail|role|user_?name|phone|is_?admin/i;

/**
 * A POST that changes an account: the path names a user or an account and then a verb that changes it
 * (`/users/{id}/change-email`), or a body with account fields (e-mail, role) of an account the path names;
 * or an RPC-style POST whose last segment is such a verb and whose body names the account
 * (`POST /promote {username, role}`). Discovery sends none of these, as anyone: the account could be a given
 * identity's (the scan would change its e-mail or role) or a stranger's. The checks that try them use
 * accounts the scan registered.
 */
export function changesAccount(spec: ApiDocument, op: Operation): boolean {
  if (op.method !== 'POST') return false;
  const fields = bodyFields(spec, op);
  const param = accountParam(op.path);
  if (param !== undefined) {
    const after = op.path.slice(op.path.indexOf(`{${param}}`) + param.length + 2);
    return ACCOUNT_CHANGE.test(after) || fields.some((k) => ACCOUNT_FIELD.test(k));
  }
  const last = op.path.replace(/\/$/, '').split('/').pop() ?? '';
  return (
    !last.startsWith('{') &&
    ACCOUNT_CHANGE.test(last) &&
    fields.some((k) => NAMES_ACCOUNT.test(k)) &&
    fields.some((k) => ACCOUNT_FIELD.test(k) && !NAMES_ACCOUNT.test(k))
  );
}

/** Fields of an account's own details, new or confirmed (`new_email`, `phone_number`, `confirm_password`). */
const OWN_ACCOUNT_FIELD =
  /^(new_?|current_?|old_?|confirm_?)?(e-?mail(_?address)?|roles?|is_?admin|admin|user_?name|phone(_?number)?|mobile|password|passwd|pwd)$/i;

/** Paths that take account fields without changing the account: logins, look-ups, password reminders. */
const NOT_OWN_CHANGE =
  /log_?-?in|sign_?-?in|token|session|forgot|recover|look_?-?up|search|find|check|exist|availab|resend|verif|subscribe|newsletter|invite/i;

/**
 * A POST that changes its sender's own account: no path parameter and a body of account fields only
 * (`POST /api/user/email {email}`). Sent with a given identity's session it changes that identity's e-mail or
 * role, whatever the path says. Not a login, a look-up or a password reminder (`/forgot-password {email}`).
 */
export function changesOwnAccount(spec: ApiDocument, op: Operation): boolean {
  if (op.method !== 'POST' || op.path.includes('{') || NOT_OWN_CHANGE.test(op.path)) return false;
  if (isLoginOperation(spec, op)) return false;
  // The record's fields when the body keeps them in an envelope (`{user: {email}}`).
  const schema = bodySchema(op);
  const record = Object.keys(recordProperties(spec, schema));
  const fields = record.length > 0 ? record : Object.keys(propertiesOf(spec, schema));
  return fields.length > 0 && fields.every((k) => OWN_ACCOUNT_FIELD.test(k));
}

/** Answers that say the request needed a body it did not get. */
const BODY_WANTED = new Set([400, 415, 422, 500]);
/** Requests one inference may send, and identities that may try it for one operation. */
const MAX_INFER_SENDS = 6;
const MAX_INFER_TRIES = 2;
const inferTries = new WeakMap<Operation, number>();
/** Why an operation's body could not be inferred, for the coverage matrix. */
const inferFailures = new WeakMap<Operation, string>();
/** Fields never guessed: a secret, a one-time code, a privilege. */
const NEVER_GUESSED =
  /secret|token|otp|(^|_)pin$|pin_?code|api_?key|^(new_|confirm_)?(role|roles|user_?role|is_?admin|admin|is_?staff|is_?superuser|superuser|permissions?|privileges?|scopes?|access_?level)$/i;
/** Never guessed either: a password (passwordName); and in an action that is no creation, a code of any kind. */
const neverGuessed = (name: string) => NEVER_GUESSED.test(name) || passwordName(name);
const SECRETISH = /secret|otp|grant|client|(^|_)pin($|_)|pincode|(^|_)code$|^code/i;
/** A user-name field: the sender's own name where its login gave one. */
const USER_NAME_FIELD = /^(user_?name|login|handle|user)$/i;

/** The login field of the identity that a body field names (`user_name` for a `username` login), if any. */
function ownLoginKey(as: Identity | null, name: string): string | undefined {
  const loose = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  return Object.keys(as?.login?.body ?? {}).find(
    (k) => loose(k) === loose(name) && !PASSWORDISH.test(k) && USER_NAME_FIELD.test(k.replace(/-/g, '_')),
  );
}

/** A record of the same resource (the scan's own object, an answer seen, the document's answer schema). */
function shapeFor(
  ctx: ScanContext,
  op: Operation,
  as: Identity | null,
): { fields: Map<string, InferredField>; allowed: Map<string, readonly (string | number)[]>; from: string } {
  const { spec, objects } = ctx;
  const bare = op.path.replace(/\/$/, '');
  const collection =
    op.method === 'POST' ? (creationCollection(spec, op) ?? bare) : bare.replace(/\/\{[^}]+\}$/, '');
  const param = memberParam(spec, collection);
  const item = param === undefined ? undefined : `${collection}/{${param}}`;
  // An update of an item: the body of the creation in its collection, documented or inferred, first, with the
  // other members of a record of the resource.
  let known: ReturnType<typeof schemaFields> & { from: string } = {
    fields: new Map(),
    allowed: new Map(),
    from: '',
  };
  if (op.method !== 'POST') {
    const creation = spec.operations.find(
      (o) =>
        o !== op &&
        isCreationOperation(spec, o) &&
        creationCollection(spec, o) === collection &&
        bodySchema(o),
    );
    if (creation !== undefined)
      known = {
        ...schemaFields(spec, bodySchema(creation)),
        from: `the body of ${creation.method} ${creation.path}`,
      };
  }
  const sources: { record: unknown; from: string }[] = [];
  const own = [...(as ? objects.of(as.name) : []), ...objects.all()].find((o) => o.collection === collection);
  if (own !== undefined)
    sources.push({ record: recordOf(own.body), from: `the ${collection} object the scan created` });
  const seen = [...ctx.observations]
    .reverse()
    .find(
      (o) =>
        o.operation?.method === 'GET' &&
        (o.operation.path.replace(/\/$/, '') === item ||
          o.operation.path.replace(/\/$/, '') === collection) &&
        isSuccess(o.response) &&
        recordOf(o.response.json) !== undefined,
    );
  if (seen?.operation)
    sources.push({ record: recordOf(seen.response.json), from: `the records of GET ${seen.operation.path}` });
  for (const o of spec.operations) {
    const path = o.path.replace(/\/$/, '');
    if (o.method === 'GET' && (path === item || path === collection))
      sources.push({
        record: sampledRecord(spec, answerSchema(o)),
        from: `the document's answer of GET ${o.path}`,
      });
  }
  if (isCreationOperation(spec, op))
    sources.push({
      record: sampledRecord(spec, answerSchema(op)),
      from: `the document's answer of ${op.method} ${op.path}`,
    });
  for (const s of sources) {
    const fields = shapeFields(s.record);
    if (param !== undefined) fields.delete(param);
    for (const name of known.fields.keys()) fields.delete(name);
    if (fields.size === 0) continue;
    return {
      fields: new Map([...known.fields, ...fields]),
      allowed: known.allowed,
      from: known.from === '' ? s.from : `${known.from} and ${s.from}`,
    };
  }
  return known;
}

/**
 * An operation that documents no body but was refused without one (400/415/422/500, or a 2xx whose message
 * names a missing field): its body inferred from the API's own answers and the records it shows for the same
 * resource (infer-body.ts). Sends `{}` (or the fields the first answer named), then fills what each answer names
 * (missing fields, a kind, the allowed values, fields it does not want) with values of the right kind: the
 * value a record of the resource holds, an id the API gave out for a foreign key, the sender's own user name,
 * else a fresh one; members of a nested object or list item where the answer points below a field (pydantic's
 * longer `loc`), and empty items for a list that needs some; when an answer names nothing new, the record's other
 * fields once; form-encoded when the API does not see a JSON body. At most 6 requests, and by at most 2 identities
 * per operation. Never guessed: a password, secret, code or privilege (the inference
 * stops); an e-mail or phone only in a creation or an update of the scan's own object (a made-up one), a user
 * name only as the sender's own. A body answered 2xx is adopted as if documented (`adoptBody`): every later
 * request and check of the scan sends and probes it, and the coverage matrix says it was inferred.
 */
export async function learnBody(
  ctx: ScanContext,
  req: PlannedRequest,
  res: ScanResponse | undefined,
  as: Identity | null,
): Promise<ScanResponse | undefined> {
  const { spec, objects } = ctx;
  const op = req.operation;
  const open = openBody(spec, op);
  const empty = req.body === undefined || (open && isEmptyObject(req.body));
  if ((op.requestBody !== undefined && !open) || !empty || !/^(POST|PUT|PATCH)$/.test(op.method)) return res;
  if (res === undefined || ctx.signal.aborted) return res;
  const first = fieldProblems(res.json, res.text);
  if (!BODY_WANTED.has(res.status) && !(twoHundred(res) && first.some((p) => p.missing))) return res;
  const tries = inferTries.get(op) ?? 0;
  if (tries >= MAX_INFER_TRIES) return res;
  inferTries.set(op, tries + 1);
  const target = req.path.split('?')[0];
  // Made-up contact details are the new object's own in a creation or an update of the scan's own object.
  const free =
    !accountFlow(op) &&
    ((isCreationOperation(spec, op) && !ownRecordWrite(spec, op)) ||
      (op.method !== 'POST' && as !== null && objects.of(as.name).some((o) => o.path === target)));
  const shape = shapeFor(ctx, op, as);
  const body = new Map<string, InferredField>();
  const allowed = new Map<string, readonly (string | number)[]>();
  const own = new Map<string, string>();
  const from = new Set<string>();
  /** A value for a field, or `null` when it must not be guessed (the inference stops), `undefined` to leave it. */
  const valueFor = (p: FieldProblem, had: InferredField | undefined): InferredField | null | undefined => {
    if (neverGuessed(p.name) || (!free && SECRETISH.test(p.name))) return null;
    if (USER_NAME_FIELD.test(p.name) || /user_?name/i.test(p.name)) {
      const key = ownLoginKey(as, p.name);
      if (key === undefined || accountFlow(op)) return null;
      own.set(p.name, key);
      return { value: as?.login?.body[key], kept: true };
    }
    if (ACCOUNT_WORD.test(p.name) && !free) return null;
    if (p.allowed !== undefined && p.allowed.length > 0) {
      const next = quietChoice(p.allowed.filter((v) => v !== had?.value)) ?? p.allowed[0];
      allowed.set(p.name, p.allowed);
      return { value: next, kept: true };
    }
    const fromShape = shape.fields.get(p.name);
    const kind = p.kind ?? (had !== undefined ? undefined : fromShape ? undefined : kindOfName(p.name));
    if (p.kind === undefined && had !== undefined && p.minLength === undefined) return undefined;
    if (
      fromShape !== undefined &&
      (kind === undefined || valueFits(fromShape.value, kind)) &&
      fromShape !== had
    )
      return fromShape;
    if (kind === undefined) return undefined;
    // A foreign key: an id the API gave out for its entity.
    if (/(_id|Id|_ids|Ids)$/.test(p.name)) {
      const found = objects.harvest.best({ name: p.name.replace(/s$/, ''), context: '' }, as?.name, 3);
      if (found !== undefined) {
        const v = kind === 'integer' && /^\d+$/.test(String(found.value)) ? Number(found.value) : found.value;
        return { value: kind === 'array' ? [v] : v, kept: true };
      }
    }
    // A code the API gave out under the same name elsewhere (`currency: "EUR"`, `plan: "basic"`), not free text.
    if (kind === 'string' && !freeText(p.name)) {
      const found = objects.harvest.best({ name: p.name, context: '' }, as?.name, 2);
      if (found !== undefined && normalise(found.record.key) === normalise(p.name))
        return { value: found.value, kept: true };
    }
    return { value: valueOfKind(kind, p.minLength), kept: kind !== 'string' };
  };
  const failed = (why: string) => {
    inferFailures.set(op, why);
    return res;
  };
  let problems = first;
  let shapeUsed = false;
  let last = res;
  // An API that reads form fields only (PHP's `$_POST`, Flask's `request.form`) names again as missing a field
  // the JSON body held: the same fields go once more form-encoded, and stay so.
  let form = false;
  for (let sent = 0; sent < MAX_INFER_SENDS && !ctx.signal.aborted; sent++) {
    let changed = false;
    if (!form && sent > 0 && problems.some((p) => p.missing && p.at === undefined && body.has(p.name))) {
      form = true;
      changed = true;
    }
    for (const p of problems) {
      // Below a field: a member of a nested object or an item of a list (pydantic's longer `loc`).
      const leaf = p.at?.[p.at.length - 1];
      if (typeof leaf === 'string' || typeof leaf === 'number') {
        const leafName = typeof leaf === 'string' ? leaf : '';
        if (
          neverGuessed(leafName) ||
          (!free && SECRETISH.test(leafName)) ||
          (ACCOUNT_WORD.test(leafName) && !free)
        )
          return failed(`the API asks for ${p.name}.${leafName}, which the scan never guesses`);
        const fk =
          p.missing && /(_id|Id)$/.test(leafName)
            ? objects.harvest.best({ name: leafName, context: '' }, as?.name, 3)
            : undefined;
        const given =
          fk === undefined ? undefined : /^\d+$/.test(String(fk.value)) ? Number(fk.value) : fk.value;
        const next = mendNested(body.get(p.name)?.value, p, given);
        if (next !== undefined) {
          body.set(p.name, { value: next, kept: false });
          from.add("the API's error answers");
          changed = true;
        }
        continue;
      }
      if (p.minItems !== undefined) {
        // A list that needs items: empty records, whose members the next answer names.
        const had = body.get(p.name)?.value;
        const list = Array.isArray(had) ? [...had] : [];
        if (list.length < Math.min(p.minItems, 5)) {
          while (list.length < Math.min(p.minItems, 5)) list.push({});
          body.set(p.name, { value: list, kept: false });
          from.add("the API's error answers");
          changed = true;
        }
        continue;
      }
      if (p.extra) {
        if (body.delete(p.name)) changed = true;
        continue;
      }
      const had = body.get(p.name);
      const v = valueFor(p, had);
      if (v === null) return failed(`the API asks for ${p.name}, which the scan never guesses`);
      if (v === undefined || (had !== undefined && JSON.stringify(had.value) === JSON.stringify(v.value)))
        continue;
      body.set(p.name, v);
      from.add("the API's error answers");
      changed = true;
    }
    if (!changed && !shapeUsed && shape.fields.size > 0) {
      // Nothing new named: the fields a record of the resource shows, those that may be guessed.
      shapeUsed = true;
      for (const [name, f] of shape.fields) {
        if (body.has(name) || neverGuessed(name) || SECRETISH.test(name) || ACCOUNT_WORD.test(name)) continue;
        body.set(name, f);
        const list = shape.allowed.get(name);
        if (list !== undefined) allowed.set(name, list);
        from.add(shape.from);
        changed = true;
      }
    }
    if (!changed && sent > 0) break;
    const payload = Object.fromEntries([...body].map(([k, f]) => [k, f.value]));
    const again: ScanResponse | undefined = await ctx.send(
      form
        ? { ...req, body: payload, headers: { ...req.headers, 'content-type': FORM } }
        : { ...req, body: payload },
      as,
    );
    if (again === undefined) break;
    last = again;
    problems = fieldProblems(again.json, again.text);
    // A 2xx answer that said which member it missed (`Invalid URL`, `Unknown debug command: undefined`) and no
    // longer does took the body, whatever else it says (a URL that could not be fetched, a command it does not know).
    const understood = twoHundred(res) && first.some((p) => p.missing) && body.size > 0;
    if (
      isSuccess(again) &&
      !problems.some((p) => p.missing) &&
      (!refusalWorded(again.json) || (understood && again.text !== res.text))
    ) {
      if (body.size > 0 || !twoHundred(res)) {
        const source = [...from].join(' and ') || 'an empty JSON object';
        const schema = inferredSchema(body, allowed, form ? `${source} (form-encoded)` : source, own);
        if (open) schema['x-portcullis-open'] = true;
        adoptBody(op, schema, form);
        objects.learnBody(op, payload);
      }
      return again;
    }
    if (!BODY_WANTED.has(again.status) && !twoHundred(again)) break;
  }
  const tried = [...body.keys()];
  return failed(
    `the last try (${tried.length > 0 ? tried.join(', ') : '{}'}) was answered ${last.status}${problems.length > 0 ? `, naming ${problems.map((p) => p.name).join(', ')}` : ''}`,
  );
}

/**
 * A JSON body the document declares without any member (FastAPI's `body: dict = Body(...)`, `type: object` alone,
 * no example): as good as undeclared, so it is inferred like one.
 */
export function openBody(spec: ApiDocument, op: Operation): boolean {
  const rb = requestBody(op);
  if (
    rb === undefined ||
    rb.encoding !== 'json' ||
    rb.media.example !== undefined ||
    rb.media.examples !== undefined
  )
    return false;
  const s = resolveSchema(spec, rb.schema);
  if (s.example !== undefined || s.examples !== undefined || s['x-portcullis-inferred'] !== undefined)
    return false;
  const type = schemaType(s);
  return (type === undefined || type === 'object') && Object.keys(propertiesOf(spec, s)).length === 0;
}

const isEmptyObject = (v: unknown) =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0;

/** A 2xx status, whatever the body says (a refusal in a 200 names the fields it wants too). */
const twoHundred = (res: ScanResponse) => res.status >= 200 && res.status < 300;

/** A 2xx that says it failed (`{success: false}`, `{status: "error"}`, a lone `error` message). */
function refusalWorded(json: unknown): boolean {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return false;
  const r = json as Record<string, unknown>;
  if (r.success === false || r.ok === false) return true;
  if (typeof r.status === 'string' && /^(fail|failed|failure|error)$/i.test(r.status)) return true;
  return typeof r.error === 'string' && Object.keys(r).length <= 3;
}

/** The body was declared without members and the scan inferred them (`x-portcullis-open`). */
function openDeclared(op: Operation): boolean {
  return Object.values(op.requestBody?.content ?? {}).some(
    (m) => m.schema !== undefined && typeof m.schema !== 'boolean' && m.schema['x-portcullis-open'] === true,
  );
}

/** The identity's own user name in a body field the inference filled with it (`x-portcullis-own`). */
export function withOwnInferred(spec: ApiDocument, req: PlannedRequest, as: Identity | null): PlannedRequest {
  const body = req.body;
  if (as?.login === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) return req;
  if (inferredFrom(req.operation) === undefined) return req;
  let out: Record<string, unknown> | undefined;
  for (const [name, p] of Object.entries(propertiesOf(spec, bodySchema(req.operation)))) {
    const key = p['x-portcullis-own'];
    if (typeof key !== 'string' || !(name in body) || as.login.body[key] === undefined) continue;
    out ??= { ...(body as Record<string, unknown>) };
    out[name] = as.login.body[key];
  }
  return out === undefined ? req : { ...req, body: out };
}

/** The id of a record, by the item parameter's name, the usual id keys or `<entity>_id`. */
export function idOf(record: unknown, param: string | undefined, entity: string): string | undefined {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return undefined;
  const r = record as Record<string, unknown>;
  const keys = [param, ...ID_KEYS, `${entity}_id`, `${entity}Id`].filter((k): k is string => k !== undefined);
  for (const key of keys) {
    const v = r[key];
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  // The same names in another spelling: `{cardId}` for `card_id`, a `credit-cards` entity for `credit_card_id`.
  const loose = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  const wanted = new Set([param, `${entity}_id`].filter((k): k is string => k !== undefined).map(loose));
  for (const [key, v] of Object.entries(r)) {
    if (wanted.has(loose(key)) && (typeof v === 'string' || typeof v === 'number')) return String(v);
  }
  return undefined;
}

const PRIVILEGED_INPUT = /admin|role|permission|scope|verified|staff|superuser|owner/i;

/** A creation that takes its inputs from the query, planned with its optional ones too (not privileged names). */
function withOptionalQuery(
  spec: ApiDocument,
  op: Operation,
  objects: ObjectRegistry,
  as: Identity,
): ReturnType<typeof planRequest> | undefined {
  if (bodySchema(op) !== undefined || !op.parameters.some((p) => p.in === 'query' && !p.required)) {
    return undefined;
  }
  const req = planRequest(spec, op, objects, { owner: as.name, allQuery: true });
  const url = new URL(req.path, 'http://x');
  for (const p of op.parameters) {
    if (p.in === 'query' && !p.required && PRIVILEGED_INPUT.test(p.name)) url.searchParams.delete(p.name);
  }
  return { ...req, path: `${url.pathname}${url.search}` };
}

/**
 * The planned creation with its first optional query input that takes a harvested value (`product_id_1`) set,
 * with its numbered siblings (`product_id_2`), to values the API gave out that are not objects the scan created:
 * at most two requests.
 */
function apiOwnChoices(
  spec: ApiDocument,
  op: Operation,
  objects: ObjectRegistry,
  planned: ReturnType<typeof planRequest>,
): ReturnType<typeof planRequest>[] {
  const url = new URL(planned.path, 'http://x');
  const base = (name: string) => name.replace(/[_-]\d{1,2}$/, '');
  for (const p of op.parameters) {
    if (p.in !== 'query' || p.required || PRIVILEGED_INPUT.test(p.name)) continue;
    const current = url.searchParams.get(p.name);
    const values = objects.harvest
      .candidates({ name: p.name, schema: resolveSchema(spec, p.schema) }, undefined, 3)
      .map((c) => String(c.value))
      .filter((v) => v !== current && !objects.isCreatedId(v));
    if (values.length === 0) continue;
    return values.slice(0, 2).map((v) => {
      const next = new URL(url);
      for (const sibling of op.parameters) {
        if (sibling.in === 'query' && !sibling.required && base(sibling.name) === base(p.name)) {
          next.searchParams.set(sibling.name, v);
        }
      }
      return { ...planned, path: `${next.pathname}${next.search}` };
    });
  }
  return [];
}

/** The id in a create answer: top level, under `data`, or in a single nested object (`{message, note: {...}}`). */
export function createdId(res: ScanResponse, param: string | undefined, entity: string): string | undefined {
  const body = res.json;
  const direct = idOf(body, param, entity);
  if (direct !== undefined) return direct;
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) {
    for (const v of Object.values(body as Record<string, unknown>)) {
      const nested = idOf(v, param, entity);
      if (nested !== undefined) return nested;
    }
  }
  const location = res.headers.location;
  return location
    ? decodeURIComponent(location.split('?')[0].split('/').filter(Boolean).pop() ?? '')
    : undefined;
}

/** Items of a list answer: the array itself or the first array under a wrapper. */
export function itemsOf(json: unknown): unknown[] {
  if (Array.isArray(json)) return json;
  if (json !== null && typeof json === 'object') {
    for (const v of Object.values(json as Record<string, unknown>)) if (Array.isArray(v)) return v;
  }
  return [];
}

/** String leaves of a body we sent (the sampled values are unique: `portcullis-1a2b3c4d`, `pc1a2b3c4d`). */
function markers(body: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 4) return out;
  if (typeof body === 'string' && /^(portcullis-|pc)[0-9a-f]{8}/.test(body)) out.push(body);
  else if (Array.isArray(body)) for (const v of body) markers(v, out, depth + 1);
  else if (body !== null && typeof body === 'object') {
    for (const v of Object.values(body)) markers(v, out, depth + 1);
  }
  return out;
}

/**
 * Finds the object a create made when its answer carried no id: in the collection's list after the create,
 * the item carrying a value we sent, or else the one item that was not there before.
 */
export function findCreated(
  before: unknown,
  after: unknown,
  sent: unknown,
  param: string | undefined,
  entity: string,
): { id: string; item: unknown } | undefined {
  const items = itemsOf(after);
  const wanted = markers(sent);
  for (const item of items) {
    const text = JSON.stringify(item);
    if (wanted.length > 0 && wanted.some((m) => text.includes(m))) {
      const id = idOf(item, param, entity);
      if (id !== undefined) return { id, item };
    }
  }
  const old = new Set(itemsOf(before).map((i) => idOf(i, param, entity)));
  const fresh = items.filter((i) => {
    const id = idOf(i, param, entity);
    return id !== undefined && !old.has(id);
  });
  if (fresh.length === 1) return { id: idOf(fresh[0], param, entity)!, item: fresh[0] };
  return undefined;
}

/** Claims of a JWT payload (no verification: this is our own identity's token). */
function jwtClaims(token: string | undefined): Record<string, unknown> | undefined {
  const part = token?.split('.')[1];
  if (!part) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return claims !== null && typeof claims === 'object' ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** What each identity says about itself: its login fields (not the password) and its token's claims. */
export function seedIdentity(ctx: ScanContext, identity: Identity): void {
  const add = (key: string, value: unknown) => {
    if (typeof value !== 'string' && typeof value !== 'number') return;
    ctx.objects.harvest.add({ key, value, entity: 'user', source: 'login', identity: identity.name });
  };
  for (const [key, value] of Object.entries(identity.login?.body ?? {})) {
    if (!PASSWORDISH.test(key)) add(key, value);
  }
  // The login's answer describes the identity (its account number, its id): its own values.
  if (identity.login?.answer !== undefined)
    ctx.objects.harvest.record(identity.name, 'login', identity.login.answer);
  // The ids it was configured with (`X-User-ID: 2`): what an API that trusts the header takes it for.
  for (const c of configuredIds(identity.session.headers, identity.session.cookies)) {
    const entity =
      c.key === 'username' || c.key === 'uid' ? 'user' : c.key.replace(/_(id|no|number|key)$/, '');
    ctx.objects.harvest.add({ key: c.key, value: c.value, entity, source: 'login', identity: identity.name });
  }
  const claims = jwtClaims(identity.token);
  for (const [key, value] of Object.entries(claims ?? {})) {
    if (!/^(iat|exp|nbf|iss|aud|jti|typ|type|scope|scopes|role|roles|fresh)$/i.test(key)) add(key, value);
  }
}

/** Small ids a seeded API often starts from: tried for a path parameter nothing gave a value for. */
const SMALL_IDS = ['1', '2', '3', '1001', '100', '1000'];
/** Bounds of the tries: routes, requests in all, requests per route, values confirmed per route. */
const MAX_TRIED_ROUTES = 12;
const MAX_TRIES = 90;
const MAX_TRIES_PER_ROUTE = 16;
const MAX_CONFIRMED = 3;

/** Values the document gives for a parameter: its examples, its schema's `example`, `examples` and `default`. */
export function documentedValues(spec: ApiDocument, param: Parameter | undefined): string[] {
  if (param === undefined) return [];
  const out: unknown[] = [];
  const examples = param.raw.examples;
  if (examples !== null && typeof examples === 'object') {
    for (const e of Object.values(examples as Record<string, unknown>)) {
      if (e !== null && typeof e === 'object' && 'value' in e) out.push((e as { value: unknown }).value);
    }
  }
  const s = resolveSchema(spec, param.schema);
  out.push(s.example, ...(Array.isArray(s.examples) ? s.examples : []), s.default);
  return [
    ...new Set(out.filter((v) => typeof v === 'string' || typeof v === 'number').map((v) => String(v))),
  ];
}

/** A 2xx whose body is a record (an object with members), not a refusal worded as a success. */
export function holdsRecord(res: ScanResponse | undefined): boolean {
  if (!isSuccess(res)) return false;
  const body = res.json;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const r = body as Record<string, unknown>;
  if (Object.keys(r).length === 0 || r.success === false || r.ok === false) return false;
  if (typeof r.status === 'string' && /^(fail|failed|failure|error)$/i.test(r.status)) return false;
  return !(typeof r.error === 'string' && Object.keys(r).length <= 3);
}

/** Members that name the person a record belongs to (`user_id`, `owner`, `patient_id`, `created_by`). */
const OWNER_MEMBER =
  /^(owner|user|seller|author|customer|member|buyer|reporter|patient|client|holder|employee|student|player|creator|created_?by)([-_]?(id|no|number))?$/i;

/**
 * Whose record this is, by an owner member (`user_id: 2`, `owner: {id: 2}`) naming one of the ids an identity
 * was told or configured as its own (top level, or under `data`). Only one identity may match.
 */
export function ownerOfRecord(
  json: unknown,
  people: readonly { readonly name: string; readonly ids: ReadonlySet<string> }[],
): string | undefined {
  const records: Record<string, unknown>[] = [];
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const r = json as Record<string, unknown>;
    records.push(r);
    if (r.data !== null && typeof r.data === 'object' && !Array.isArray(r.data))
      records.push(r.data as Record<string, unknown>);
  }
  const owners = new Set<string>();
  for (const r of records) {
    for (const [k, v] of Object.entries(r)) {
      if (!OWNER_MEMBER.test(k)) continue;
      const named =
        typeof v === 'string' || typeof v === 'number'
          ? [String(v)]
          : v !== null && typeof v === 'object' && !Array.isArray(v)
            ? ['id', '_id', 'uuid']
                .map((i) => (v as Record<string, unknown>)[i])
                .filter((i) => i !== undefined)
                .map(String)
            : [];
      for (const p of people) if (named.some((n) => p.ids.has(n))) owners.add(p.name);
    }
  }
  return owners.size === 1 ? [...owners][0] : undefined;
}

/** The entity a path parameter names: the literal segment before it (`/shops/{shop_id}`: shop). */
function entityBefore(path: string, name: string): string {
  const before = path.slice(0, path.indexOf(`{${name}}`));
  const previous =
    before
      .split('/')
      .filter((seg) => seg !== '')
      .pop() ?? '';
  return previous.startsWith('{') || previous === '' ? entityOfPath(before) : singular(previous);
}

/** Routes with two parameters nothing filled: at most this many requests each, over the outer values. */
const MAX_TRIES_NESTED_ROUTE = 24;
/** Outer values a nested route is tried under. */
const MAX_OUTER_VALUES = 2;

/**
 * Values for the outer of two unfilled path parameters (`shop_id` of `/shops/{shop_id}/orders/{order_no}`):
 * those the API gave out or discovery confirmed that the planner would take for it, else weaker matches of the
 * same entity; never a guess. At most two, values tried and confirmed last (the ones the API gave out first).
 */
export function outerValues(
  spec: ApiDocument,
  objects: ObjectRegistry,
  op: Operation,
  name: string,
): string[] {
  const segments = op.path.split('/');
  const at = segments.findIndex((seg) => seg.includes(`{${name}}`));
  const previous = segments[at - 1] ?? '';
  const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
  const wanted = {
    name,
    context: previous.includes('{') ? '' : previous,
    schema: resolveSchema(spec, param?.schema),
  };
  const entity = entityBefore(op.path, name);
  let found = objects.harvest.candidates(wanted, undefined, 2);
  if (found.length === 0)
    found = objects.harvest.candidates(wanted, undefined, 1).filter((c) => c.record.entity === entity);
  const given = found.filter((c) => c.record.source !== CONFIRMED && c.record.source !== OWNED);
  const tried = found.filter((c) => c.record.source === CONFIRMED || c.record.source === OWNED);
  return [...given, ...tried].slice(0, MAX_OUTER_VALUES).map((c) => String(c.value));
}

/** A value of the parameter's type that no seeded API holds: the control of a route that may ignore its id. */
function unlikelyValue(schema: Record<string, unknown>): string {
  if (schema.format === 'uuid') return madeUpUuid();
  return schema.type === 'integer' || schema.type === 'number'
    ? '987654321'
    : `pcnone${randomBytes(4).toString('hex')}`;
}

/**
 * Path parameters nothing gave a value for (no object the scan created, nothing harvested: an API whose
 * creations answer no id, or that has none): the document's own values for the parameter, then a few small ids,
 * each CONFIRMED before anything uses it: a GET of the route with it answered 2xx with a record for some
 * identity (A, B, the admin, then anonymously when the route declares no security). A confirmed value is
 * harvested for the parameter's entity, as the identity's own (source `owned`) only when the record's owner
 * member names that identity's own id, else as nobody's (source `confirmed`), so the checks read it but no check
 * takes it for anyone's object. A route whose control (a value that cannot exist) answers the same record
 * ignores its id: nothing from it is kept. Reads only: the safety rule keeps changes to the scan's own objects.
 * Returns, per operation tried without a value confirmed, why; `confirmedIds` gets, per `entity\0value`, how
 * the value was confirmed (for the coverage matrix).
 */
export async function confirmIds(
  ctx: ScanContext,
  usable: readonly Operation[],
  confirmedIds: Map<string, string> = new Map(),
): Promise<Map<string, string>> {
  const { spec, objects } = ctx;
  const ordinary = ctx.identities;
  const first = ordinary[0];
  const sources = new Map<string, string>();
  if (first === undefined) return sources;
  const people = [...ordinary, ...(ctx.admin ? [ctx.admin] : [])].map((i) => ({
    name: i.name,
    ids: selfIds(i),
  }));
  let tries = 0;
  let routes = 0;
  const triersOf = (op: Operation): (Identity | null)[] => [
    ...ordinary,
    ...(ctx.admin ? [ctx.admin] : []),
    ...(requiresAuth(op) ? [] : [null]),
  ];
  /**
   * Tries the candidates of path parameter `name` (the others filled by the planner, or `pinned`) as each
   * identity until one answers a record; keeps what is confirmed. Stops at `budget` requests.
   */
  const tryRoute = async (op: Operation, name: string, pinned: Record<string, string>, budget: number) => {
    const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
    const schema = resolveSchema(spec, param?.schema);
    const candidates = [
      ...documentedValues(spec, param).map((value) => ({ value, how: 'a documented value' })),
      ...SMALL_IDS.map((value) => ({ value, how: 'a small id tried' })),
    ].filter((c, i, all) => all.findIndex((x) => x.value === c.value) === i && fits(c.value, schema));
    const entity = entityBefore(op.path, name);
    const found: string[] = [];
    const owners = new Set<string>();
    let spent = 0;
    let controlled = false;
    let ignored = false;
    for (const c of candidates) {
      if (found.length >= MAX_CONFIRMED || spent >= budget || ignored) break;
      if (ordinary.every((i) => owners.has(i.name))) break;
      for (const as of triersOf(op)) {
        if (spent >= budget || ctx.signal.aborted) break;
        const req = planRequest(spec, op, objects, {
          ...(as ? { owner: as.name } : {}),
          params: { ...pinned, [name]: c.value },
        });
        if (req.invented.length > 0) break;
        const res = await ctx.send(req, as);
        spent++;
        if (!holdsRecord(res) || res === undefined) continue;
        if (!controlled) {
          // A route that answers the same record whatever the id (the caller's own, a default) confirms nothing.
          controlled = true;
          const none = unlikelyValue(schema);
          if (fits(none, schema)) {
            const control = await ctx.send(
              planRequest(spec, op, objects, {
                ...(as ? { owner: as.name } : {}),
                params: { ...pinned, [name]: none },
              }),
              as,
            );
            spent++;
            if (holdsRecord(control) && similarity(control?.json, res.json) >= 0.9) {
              ignored = true;
              break;
            }
          }
        }
        const owner = ownerOfRecord(res.json, people);
        objects.harvest.add({
          key: name,
          value: c.value,
          entity,
          source: owner === undefined ? CONFIRMED : OWNED,
          identity: owner ?? '',
        });
        if (owner !== undefined) owners.add(owner);
        found.push(c.value);
        const under = Object.entries(pinned)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ');
        confirmedIds.set(
          `${entity}\0${c.value}`,
          `confirmed in discovery (${c.how}${under ? ` under ${under}` : ''}: ${as?.name ?? 'an anonymous caller'} got a record, ${res.status}; ${owner === undefined ? 'no owner shown' : `${owner}'s by its owner member`})`,
        );
        // Who got the record: a write as X goes only under a confirmed id X itself read (planner).
        if (as) noteConfirmedReader(objects, entity, c.value, as.name);
        break;
      }
    }
    return { found, spent, ignored, tried: candidates.length > 0 };
  };
  const why = (name: string, r: { spent: number; ignored: boolean }, under = '') =>
    r.ignored
      ? `${name} not confirmed: the route answered a value that cannot exist with the same record (it ignores the id)`
      : `no value for ${name} was confirmed (${r.spent} tries: the document's values and small ids${under})`;
  const readable = (op: Operation) =>
    op.method === 'GET' && op.path.includes('{') && !setsPasswordByUrl(spec, op) && !actingGet(op);
  // Routes with two parameters nothing filled (`/shops/{shop_id}/orders/{order_no}`): after the others, whose
  // confirmed values may fill the first.
  const nested: { op: Operation; outer: string; inner: string }[] = [];
  for (const op of usable) {
    if (routes >= MAX_TRIED_ROUTES || tries >= MAX_TRIES || ctx.signal.aborted) break;
    // A GET that acts (`/users/{id}/delete`, `/cards/{id}/freeze`) is no read: no id it names is tried.
    if (!readable(op)) continue;
    const planned = planRequest(spec, op, objects, { owner: first.name });
    if (planned.invented.length === 2)
      nested.push({ op, outer: planned.invented[0], inner: planned.invented[1] });
    if (planned.invented.length !== 1) continue;
    const name = planned.invented[0];
    const r = await tryRoute(op, name, {}, MAX_TRIES_PER_ROUTE);
    if (!r.tried) continue;
    routes++;
    tries += r.spent;
    if (r.ignored || r.found.length === 0)
      sources.set(`${op.method} ${op.path}`, `${why(name, r)}${noOwnObject(ctx, op, name)}`);
  }
  // The first of the two from values the API gave out or discovery confirmed for it (at most 2), the second
  // tried under each as above; a first nothing gave a value for is not guessed.
  for (const { op, outer, inner } of nested) {
    if (routes >= MAX_TRIED_ROUTES || tries >= MAX_TRIES || ctx.signal.aborted) break;
    const values = outerValues(spec, objects, op, outer);
    if (values.length === 0) {
      sources.set(
        `${op.method} ${op.path}`,
        `no value for ${outer} was given out or confirmed: ${inner} was not tried under one`,
      );
      continue;
    }
    routes++;
    let spent = 0;
    let last = { spent: 0, ignored: false };
    let confirmed = false;
    for (const value of values) {
      if (spent >= MAX_TRIES_NESTED_ROUTE || tries + spent >= MAX_TRIES) break;
      const r = await tryRoute(op, inner, { [outer]: value }, MAX_TRIES_NESTED_ROUTE - spent);
      spent += r.spent;
      last = r;
      if (r.found.length > 0) {
        confirmed = true;
        break;
      }
    }
    tries += spent;
    if (!confirmed)
      sources.set(
        `${op.method} ${op.path}`,
        why(inner, { ...last, spent }, ` under ${outer}=${values.join(' and ')}`),
      );
  }
  return sources;
}

/** Inputs of a sign-up: a password (not a reset's or a change's) beside a user name or e-mail. */
const SIGNUP_PASSWORD = /^(password|passwd|pwd|pass|secret|passphrase)$/i;
const SIGNUP_USER = /^(user_?name|login|handle|name|user|e_?mail|email_?address|mail)$/i;

/** Whether the document has a sign-up: a POST without path parameters (no login) taking a user and a password. */
function hasSignup(spec: ApiDocument): boolean {
  return spec.operations.some((o) => {
    if (o.method !== 'POST' || o.path.includes('{') || isExcluded(o) || isLoginOperation(spec, o))
      return false;
    if (/reset|forgot|change|password/i.test(o.path)) return false;
    const fields = Object.keys(propertiesOf(spec, bodySchema(o)));
    return fields.some((f) => SIGNUP_PASSWORD.test(f)) && fields.some((f) => SIGNUP_USER.test(f));
  });
}

/**
 * Why the scan has no object of its own at an item route discovery could not fill (`/orders/{order_id}`), for the
 * coverage: the document has no creation of that collection, or its creation is a purchase, which no given identity
 * makes in a plain scan; and whether an account of the scan's own could make one (a sign-up). Empty when a creation
 * was there to be sent (its own notes say how it went) or the scan made an object there.
 */
export function noOwnObject(
  ctx: Pick<ScanContext, 'spec' | 'objects' | 'allowDestructive'>,
  op: Operation,
  name: string,
): string {
  const at = op.path.indexOf(`{${name}}`);
  if (at <= 0) return '';
  const base = op.path.slice(0, at).replace(/\/+$/, '');
  if (base.includes('{')) return '';
  const made = ctx.objects.all().some((o) => o.collection.replace(/\/+$/, '') === base);
  if (made) return '';
  const creations = ctx.spec.operations.filter(
    (o) => o.method === 'POST' && !isExcluded(o) && creationCollection(ctx.spec, o) === base,
  );
  const signup = hasSignup(ctx.spec);
  if (creations.length === 0)
    return `; nor has the scan one of its own: the document has no creation there (POST ${base})${signup ? '' : ' and no sign-up'}`;
  const bought = creations.filter((o) => purchases(ctx.spec, o, { path: o.path }));
  if (bought.length < creations.length || ctx.allowDestructive) return '';
  return `; nor has the scan one of its own: ${bought.map((o) => `${o.method} ${o.path}`).join(', ')} is a purchase, never sent as a given identity in a plain scan (--allow-destructive sends it once), and ${signup ? 'only an account the scan registers buys one' : "the document has no sign-up for an account of the scan's own to buy one"}`;
}

/** At most this many other listed values of a path's enum parameters are called in discovery. */
const MAX_LISTED_VARIANTS = 4;

/** The other values the document lists for the path's enum parameters, one parameter changed at a time. */
export function listedVariants(spec: ApiDocument, op: Operation): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const p of op.parameters) {
    if (p.in !== 'path') continue;
    const s = resolveSchema(spec, p.schema);
    const first = listedValue(spec, p.schema);
    if (first === undefined || !Array.isArray(s.enum)) continue;
    for (const v of s.enum) {
      if (String(v) !== first && out.length < MAX_LISTED_VARIANTS) out.push({ [p.name]: String(v) });
    }
  }
  return out;
}

/**
 * Operations about an account's sign-in, by path, summary or declared id: a login, a sign-up, a reset or its
 * request, a verification, a code, an invitation, a mail. A given identity's name in one mails that person a
 * reset code, fails its login or changes its account.
 */
const ACCOUNT_FLOW =
  /log-?_?in|sign-?_?(in|up)|regist|token|passw|auth|session|reset|forgot|recover|verif|otp|2fa|mfa|magic|invit|unlock|activat|confirm|mail/i;
export function accountFlow(op: Operation): boolean {
  return ACCOUNT_FLOW.test(`${op.path} ${op.summary ?? ''} ${op.hasDeclaredId ? op.id : ''}`);
}

/**
 * The request with the identity's own login fields (its user name, not its password) where the body has them.
 * Not in a body that sets a password (a sign-up): A's own name there would register A again, and a sign-up
 * that updates an existing name would set A's password to the sampled one. Not in an account flow
 * (accountFlow): `POST /auth/forgot-password {email}` with A's e-mail mails A a reset code; such a request
 * keeps its sampled (made-up) values.
 */
export function ownFields(spec: ApiDocument, req: PlannedRequest, as: Identity): PlannedRequest {
  if (accountFlow(req.operation)) return req;
  const schema = bodySchema(req.operation);
  const body = req.body;
  if (!as.login || schema === undefined || body === null || typeof body !== 'object' || Array.isArray(body))
    return req;
  if (bodyFields(spec, req.operation).some((k) => passwordName(k))) return req;
  // The identity's names go where the body keeps its record (`data.attributes`, `{user: {...}}`).
  const envelope = schemaEnvelope(spec, schema);
  const props = recordProperties(spec, schema);
  const own = Object.entries(as.login.body).filter(([k]) => k in props && !PASSWORDISH.test(k));
  if (own.length === 0) return req;
  const fields = { ...fieldsAt(body, envelope), ...Object.fromEntries(own) };
  return { ...req, body: withFields(body as Record<string, unknown>, envelope, fields) };
}

/**
 * Where an object a linked creation made lives (`POST /v1/posts` answered id 17 → `/v1/post/17`): the item route's
 * read, as its maker, with the id the creation answered, must answer a record that is the one made: carrying a
 * unique value the creation sent (`portcullis-<hex>`), or, when it sent none, much like the creation's answer
 * (similarity 0.5). An id of another space (a job number that is also someone's report number) names another
 * record there. Else why not (a string), also when the item route has no GET.
 */
async function linkedObject(
  ctx: ScanContext,
  op: Operation,
  linked: { readonly collection: string; readonly param: string },
  id: string,
  as: Identity,
  made: { readonly sent: unknown; readonly answer: unknown },
): Promise<{ collection: string; path: string } | string> {
  const { spec, objects } = ctx;
  const item = `${linked.collection}/{${linked.param}}`;
  const read = spec.operations.find(
    (o) => o.method === 'GET' && o.path.replace(/\/$/, '') === item && !isExcluded(o),
  );
  // Without a read nothing shows the id names the object made: updates and deletes there could reach another.
  if (read === undefined)
    return `${op.method} ${op.path} made ${id.slice(0, 40)}, but ${item} has no GET to show it: not taken for an object of the scan's there`;
  const req = planRequest(spec, read, objects, { owner: as.name, params: { [linked.param]: id } });
  if (req.invented.length > 0)
    return `${op.method} ${op.path} made ${id.slice(0, 40)}, but ${item} needs ${req.invented.join(', ')}`;
  const res = await ctx.send(req, as);
  const sent = markers(made.sent);
  const same =
    res !== undefined &&
    holdsRecord(res) &&
    (sent.length > 0 ? sent.some((m) => res.text.includes(m)) : similarity(res.json, made.answer) >= 0.5);
  if (!same)
    return `${op.method} ${op.path} made ${id.slice(0, 40)}, but GET ${item} did not show it (${res?.status ?? 'no answer'}${holdsRecord(res) ? ': another record' : ''}): not taken for an object of the scan's at ${linked.collection}`;
  return { collection: linked.collection, path: req.path.split('?')[0] };
}

/** Runs the discovery phase; the checks run after it on what it found. */
export async function discover(ctx: ScanContext): Promise<DiscoveryStats> {
  const { spec, objects } = ctx;
  const ordinary = ctx.identities;
  objects.harvest.setOrdinary(ordinary.map((i) => i.name));
  for (const i of [...ordinary, ...(ctx.admin ? [ctx.admin] : [])]) seedIdentity(ctx, i);
  const actors: (Identity | null)[] = [...ordinary, ...(ctx.admin ? [ctx.admin] : []), null];
  const sent = new Set<string>();
  let objectsCreated = 0;
  let objectsLost = 0;
  const usable = spec.operations.filter((op) => !isExcluded(op) && !isLoginOperation(spec, op));

  const call = async (req: PlannedRequest, as: Identity | null): Promise<ScanResponse | undefined> => {
    const key = `${as?.name ?? ''}\0${req.method}\0${req.path}`;
    if (sent.has(key) || ctx.signal.aborted) return undefined;
    sent.add(key);
    const out = withOwnInferred(spec, req, as);
    return learnBody(ctx, out, await ctx.send(out, as), as);
  };
  const plan = (op: Operation, as: Identity | null) =>
    planRequest(spec, op, objects, as ? { owner: as.name } : {});

  const readsWithoutParams = async (who: readonly (Identity | null)[]) => {
    for (const op of usable) {
      if (op.method !== 'GET' || op.path.includes('{')) continue;
      for (const as of who) await call(plan(op, as), as);
    }
  };

  // A POST to the sender's own record (`POST /api/profile {display_name, bio}`, `POST /api/me/avatar {url}`,
  // `POST /account/bio {bio}`) is no creation: sent as a given identity it would leave sampled values on that
  // identity's own record. Discovery sends none (anonymously neither: an API may take an unsigned caller for a
  // default user), but an account flow the document asks no sign-in for (`POST /account/forgot-password`, made-up
  // values only) anonymously; the checks that probe one read the record first and set it back, or use an account
  // of the scan's own. A creation in a documented sub-collection of one's own (`POST /me/addresses` beside
  // `/me/addresses/{id}`) adds a record the scan registers as its object, and goes.
  const anonymousFlow = (op: Operation) =>
    accountFlow(op) && !requiresAuth(op) && !ownProfileWritePath(op.path) && !changesAccount(spec, op);
  const ownProfileWrites = usable.filter((op) => ownRecordWrite(spec, op) && !anonymousFlow(op));
  if (ownProfileWrites.length > 0 && ordinary.length > 0)
    ctx.note?.({
      reason: `not sent in discovery, as it writes the sender's own record (sampled values would stay on a given identity's record): ${ownProfileWrites
        .slice(0, 5)
        .map((op) => `${op.method} ${op.path}`)
        .join(', ')}${ownProfileWrites.length > 5 ? ` and ${ownProfileWrites.length - 5} more` : ''}`,
    });
  const created = new Set<string>();
  // A creation that moves money (`POST /tips {to_user, amount}`, `POST /payments`) would move a given identity's.
  const creators = usable
    .filter(
      (op) =>
        (isCreationOperation(spec, op) || isLinkedCreation(spec, op)) &&
        !ownProfileWrites.includes(op) &&
        !movesMoney(spec, op),
    )
    .sort((a, b) => a.path.split('/').length - b.path.split('/').length);
  // The given identities and the admin by their person ids, login names and e-mails, under person members only.
  const people = givenPeople(ctx);
  const namesGivenPerson = (body: unknown): boolean => namesPersonIn(body, people);
  const creations = async () => {
    for (const as of ordinary) {
      for (const op of creators) {
        const key = `${as.name}\0${op.path}`;
        if (created.has(key) || ctx.signal.aborted) continue;
        const req = withOwnInferred(spec, withOwnAccount(spec, op, plan(op, as)), as);
        if (req.invented.length > 0) continue; // its parent does not exist yet
        created.add(key);
        // Items that live under another path (`POST /v1/drafts/create` → `/v1/draft/{draftId}`): the POST's own
        // resource path (`/v1/drafts`) stands for its collection until the item route's read shows the object.
        const linked = linkedItemRoute(spec, op);
        const collection = linked?.base ?? creationCollection(spec, op) ?? op.path.replace(/\/$/, '');
        // `/cards/create` creates in `/cards`: the concrete collection drops the verb.
        const depth = collection.split('/').length;
        const collectionPath = req.path.split('?')[0].replace(/\/$/, '').split('/').slice(0, depth).join('/');
        // A creation inside a parent the scan did not make (`POST /v1/orgs/<alice's workspace>/members`) whose
        // body names a given identity's person id (`{"user_id": <alice's id>, "role": "member"}`) is no new
        // object: it adds, or with an upsert changes, that person's standing in real data (alice demoted from
        // owner to member of her own workspace). Not sent.
        // In a list of who has access (`/members`, `/collaborators`: ACCESS_LIST) such a body changes someone's
        // standing even inside a parent the scan made: the caller's own id there demotes the workspace's creator
        // from owner to member (an upsert), another identity's makes it a member of the caller's workspace.
        const parent = collectionPath.split('/').slice(0, -1).join('/');
        const accessList = accessListPath(collection);
        if (
          collection.includes('{') &&
          (!objects.isScanCreated(parent) || accessList) &&
          namesGivenPerson(req.body)
        ) {
          ctx.note?.({
            operation: op,
            reason: accessList
              ? `not sent in discovery as ${as.name}: it names a given identity's person id in a list of who has access (${collection}), which would add that person or change their role`
              : `not sent in discovery as ${as.name}: it names a given identity's person id inside ${parent}, which the scan did not create (it would add or change that person's membership in real data)`,
          });
          continue;
        }
        const list = spec.operations.find(
          (o) =>
            o.method === 'GET' &&
            (o.path.replace(/\/$/, '') === collection || o.path.replace(/\/$/, '') === linked?.collection) &&
            !isExcluded(o),
        );
        const listReq = list ? planRequest(spec, list, objects, { owner: as.name }) : undefined;
        const before = listReq ? await ctx.send(listReq, as) : undefined;
        let res = await learnBody(ctx, req, await ctx.send(req, as), as);
        const refused = (res?.status ?? 0) >= 400 && (res?.status ?? 0) < 500;
        if (refused) {
          // Refused as planned: once more with the optional query inputs too (`product_id_1=` from a
          // product the API listed), never the privileged ones.
          const optional = withOptionalQuery(spec, op, objects, as);
          const fuller = optional === undefined ? undefined : withOwnAccount(spec, op, optional);
          if (fuller !== undefined && fuller.path !== req.path) {
            const again = await ctx.send(fuller, as);
            if (isSuccess(again)) res = again;
            // Still refused: the same with the API's own objects instead of the scan's (a product the
            // scan created may have no stock; one from the catalogue has), at most two.
            for (const other of isSuccess(res) ? [] : apiOwnChoices(spec, op, objects, fuller)) {
              const third = await ctx.send(withOwnAccount(spec, op, other), as);
              if (isSuccess(third)) {
                res = third;
                break;
              }
            }
          }
        }
        if (!isSuccess(res)) continue;
        const param = linked?.param ?? memberParam(spec, collection);
        const entity = entityOfPath(linked?.collection ?? collection);
        let id = createdId(res, param, entity);
        let body: unknown = res.json;
        if (id === undefined && listReq) {
          const after = await ctx.send(listReq, as);
          const found = isSuccess(after)
            ? findCreated(before?.json, after.json, req.body, param, entity)
            : undefined;
          if (found) {
            id = found.id;
            body = found.item;
          }
        }
        if (id === undefined || id === '') {
          objectsLost++;
          continue;
        }
        // An id the list showed just before the POST is a record that existed (an upsert answered it): not the
        // scan's object, so no later check may change or delete it as one.
        if (
          before !== undefined &&
          isSuccess(before) &&
          itemsOf(before.json).some((i) => idOf(i, param, entity) === id)
        ) {
          ctx.note?.({
            operation: op,
            reason: `discovery: the creation answered ${id.slice(0, 40)}, which the list showed before it was sent: an existing record, not taken for an object of the scan's`,
          });
          continue;
        }
        let at = { collection, path: `${collectionPath}/${encodeURIComponent(id)}` };
        if (linked !== undefined) {
          const shown = await linkedObject(ctx, op, linked, id, as, { sent: req.body, answer: res.json });
          if (typeof shown === 'string') {
            objectsLost++;
            ctx.note?.({ operation: op, reason: `discovery: ${shown}` });
            continue;
          }
          at = shown;
        }
        objectsCreated++;
        objects.add({ ...at, id, owner: as.name, body, createdBy: op, setup: true });
        objects.harvest.add({ key: 'id', value: id, entity, source: at.collection, identity: as.name });
      }
    }
  };

  const readsWithParams = async () => {
    for (const op of usable) {
      if (op.method !== 'GET' || !op.path.includes('{')) continue;
      for (const as of actors) {
        const req = plan(op, as);
        if (req.invented.length === 0) await call(req, as);
      }
    }
  };

  await readsWithoutParams(actors);
  await creations();
  await readsWithoutParams(ordinary);
  await readsWithParams();
  await creations(); // children whose parents were found in the reads
  await readsWithParams();
  // Parameters nothing filled: the document's values and small ids, confirmed first; then the reads they open.
  const confirmed = new Map<string, string>();
  const unconfirmed = await confirmIds(ctx, usable, confirmed);
  await readsWithParams();

  // Actions and updates of our own objects.
  for (const op of usable) {
    if (
      op.method === 'POST' &&
      !isCreationOperation(spec, op) &&
      !isBusinessFlow(spec, op) &&
      !creators.includes(op)
    ) {
      // A password change sent as A with a sampled password would lock A out (or, anonymously, reset a
      // seeded account's): API1 and API2 try those on accounts the scan registered itself, and register them.
      if (isAdminOperation(op) || setsPassword(spec, op) || changesAccount(spec, op)) continue;
      if (ownProfileWrites.includes(op)) continue;
      // One that changes its sender's own account, or an account flow at its own record, is sent anonymously at most.
      // So is one that moves money (`POST /wallet/topup`): a given identity's real money, never set back.
      const first =
        changesOwnAccount(spec, op) || ownRecordWrite(spec, op) || movesMoney(spec, op)
          ? undefined
          : ordinary[0];
      // Every version or kind the document lists for the path (`/api/v{version}/...`: 1, 2, 3).
      // An addition to a list of who has access (`POST /teams/{id}/members {accountId, level}`) that names a given
      // identity adds that person or, with an upsert, changes their role (the caller's own id demotes the owner).
      const addsPerson = (req: PlannedRequest) => accessListPath(op.path) && namesGivenPerson(req.body);
      for (const params of [undefined, ...listedVariants(spec, op)]) {
        if (first) {
          const req = ownFields(spec, planRequest(spec, op, objects, { owner: first.name, params }), first);
          if (req.invented.length === 0 && !addsPerson(req)) await call(req, first);
          else if (addsPerson(req))
            ctx.note?.({
              operation: op,
              reason: `not sent in discovery: it names a given identity's person id in a list of who has access (${op.path}), which would add that person or change their role`,
            });
        }
        if (!requiresAuth(op)) {
          const req = planRequest(spec, op, objects, params ? { params } : {});
          if (req.invented.length === 0 && !addsPerson(req)) await call(req, null);
        }
      }
    } else if (op.method === 'PUT' || op.method === 'PATCH') {
      for (const as of ordinary) {
        const req = plan(op, as);
        const target = req.path.split('?')[0];
        if (req.invented.length === 0 && objects.of(as.name).some((o) => o.path === target)) {
          await call(req, as);
        }
      }
    }
  }
  // Business flows that document no body (API6 runs them): whether they need one, learnt once by the first
  // identity (or anonymously when open), so API6 has a 2xx to start from.
  for (const op of usable) {
    if (!isBusinessFlow(spec, op) || op.requestBody !== undefined || isAdminOperation(op)) continue;
    if (changesAccount(spec, op) || setsPassword(spec, op) || objects.learnedBody(op) !== undefined) continue;
    if (ownProfileWrites.includes(op)) continue;
    // One that moves money is learnt anonymously at most (never with a given identity's money).
    const as = (movesMoney(spec, op) ? undefined : ordinary[0]) ?? (requiresAuth(op) ? undefined : null);
    if (as === undefined) continue;
    const req = planRequest(spec, op, objects, as ? { owner: as.name } : {});
    if (req.invented.length === 0) await call(req, as);
  }
  noteIdSources(ctx, usable, confirmed, unconfirmed);
  return { objectsCreated, requests: sent.size, objectsLost };
}

/**
 * Tells the coverage matrix where the ids of each operation came from when they were no object of the scan's
 * and nothing the API listed: an identity's configured id header, or a value discovery confirmed (or could not);
 * and that its request body was inferred, from what, with which fields, when the document declared none.
 */
function noteIdSources(
  ctx: ScanContext,
  usable: readonly Operation[],
  confirmed: ReadonlyMap<string, string>,
  unconfirmed: ReadonlyMap<string, string>,
): void {
  const configured = new Map<string, string>();
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    for (const c of configuredIds(i.session.headers, i.session.cookies)) {
      configured.set(`${i.name}\0${c.value}`, `${i.name}'s own, from ${c.from}`);
    }
  }
  for (const op of usable) {
    const lines = new Set<string>();
    const inferred = inferredFrom(op);
    const failure = inferred === undefined ? inferFailures.get(op) : undefined;
    if (failure !== undefined)
      lines.add(
        `${op.requestBody === undefined ? 'request body not in the document' : 'request body declared without members'} and not inferred: ${failure}`,
      );
    if (inferred !== undefined)
      lines.add(
        `${openDeclared(op) ? 'request body declared without members' : 'request body not in the document'}, inferred from ${inferred}: ${Object.keys(propertiesOf(ctx.spec, bodySchema(op))).join(', ') || '{}'}`,
      );
    for (const as of op.path.includes('{') ? ctx.identities : []) {
      for (const h of planRequest(ctx.spec, op, ctx.objects, { owner: as.name }).harvested ?? []) {
        const r = h.record;
        const how =
          r.source === 'login'
            ? configured.get(`${r.identity}\0${h.value}`)
            : r.source === OWNED || r.source === CONFIRMED
              ? confirmed.get(`${r.entity}\0${h.value}`)
              : undefined;
        if (how !== undefined) lines.add(`${h.name}=${h.value} ${how}`);
      }
    }
    const missing = unconfirmed.get(`${op.method} ${op.path}`);
    if (missing !== undefined) lines.add(missing);
    if (lines.size > 0) ctx.note?.({ operation: op, reason: [...lines].join('; ') });
  }
  // The report's notes say it once for the scan: which bodies were the scan's own guess.
  const inferred = usable.filter((op) => inferredFrom(op) !== undefined);
  const notInferred = usable.filter((op) => inferredFrom(op) === undefined && inferFailures.has(op));
  const list = (ops: Operation[]) =>
    `${ops
      .slice(0, 5)
      .map((op) => `${op.method} ${op.path}`)
      .join(', ')}${ops.length > 5 ? ` and ${ops.length - 5} more` : ''}`;
  if (inferred.length > 0)
    ctx.note?.({
      reason: `request bodies the document does not declare, inferred from the API's answers and used by every check: ${list(inferred)}`,
    });
  if (notInferred.length > 0)
    ctx.note?.({
      reason: `request bodies the document does not declare and the scan could not infer (their checks test little): ${list(notInferred)}`,
    });
}
