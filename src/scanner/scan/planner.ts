/**
 * Plans requests from the spec: fills parameters and bodies with valid values and chains operations through
 * ids captured from responses (POST /things → id → GET /things/{id}).
 */
import { randomBytes } from 'node:crypto';
import type { ApiDocument, JsonObject, JsonSchema, MediaType, Operation } from '../../core/api-document.ts';
import { FilePart, type ScanRequest, type ScanResponse } from './client.ts';
import { CONFIRMED, entityOfPath, fits, type Harvested, OWNED, singular } from './harvest.ts';
import type { CreatedObject, ObjectRegistry } from './objects.ts';
import {
  ACTING,
  fieldsAt,
  grantsState,
  namesChange,
  propertiesOf,
  quietChoice,
  recordFields,
  recordProperties,
  resolveSchema,
  sampleValue,
  schemaEnvelope,
  schemaType,
  withFields,
} from './schema.ts';

export { type CreatedObject, ObjectRegistry } from './objects.ts';

const LOGIN = /(^|[/_-])(log_?in|sign_?in|auth(enticate)?|token|session)s?($|[/_-])/i;
const PASSWORD_FIELD = /pass(word)?|secret|pin$/i;
const NOT_LOGIN = /regist|sign_?up|join|forgot|reset|change|update|verify|logout|refresh|invite/i;
const BUSINESS =
  /coupon|voucher|promo(?!t)|referral|redeem|invite|order|checkout|purchase|transfer|vote|like|reward|gift/i;
const ADMIN = /(^|[/_-])(admin|administrator|internal|manage(ment)?|staff|superuser)($|[/_-])/i;
/**
 * Words that name a privileged area only as the API's first segment, after prefixes such as `/api` or `/api/v1`,
 * with more below it (`/api/manager/reports`, `/backoffice/orders`, `/ops/jobs`); below an object they name
 * something of it (`/users/{id}/manager`: someone's manager).
 */
const LEAD_PRIVILEGED = /^(manager|back[-_]?office|ops)$/i;
/** Segments that only prefix an API's routes: `api`, `rest`, a version (`v1`, `v2.1`, `api-v1`). */
const ROUTE_PREFIX = /^(api|rest|v\d+(\.\d+)?|api[-_]?v\d+(\.\d+)?)$/i;

/** Whether the path's first segment after its prefixes names a privileged area (LEAD_PRIVILEGED). */
export function privilegedArea(path: string): boolean {
  const segs = path
    .split('?')[0]
    .split('/')
    .filter((s) => s !== '');
  let i = 0;
  while (i < segs.length && ROUTE_PREFIX.test(segs[i])) i++;
  return i < segs.length - 1 && LEAD_PRIVILEGED.test(segs[i]);
}

export function jsonBodySchema(op: Operation): JsonSchema | undefined {
  if (!op.requestBody) return undefined;
  for (const [type, media] of Object.entries(op.requestBody.content)) {
    if (/^application\/([\w.+-]*\+)?json/i.test(type)) return media.schema ?? {};
  }
  return undefined;
}

/** How the scan sends an operation's body: JSON, form-encoded or multipart (files included). */
export type BodyEncoding = 'json' | 'form' | 'multipart';

/**
 * The body the scan fills as an object, and how it is sent: JSON when the document offers it, else a
 * form-encoded body, else multipart. `undefined` when the body is none of these (XML, plain text, bytes).
 */
export function requestBody(
  op: Operation,
): { schema: JsonSchema; encoding: BodyEncoding; media: MediaType; type: string } | undefined {
  const content = Object.entries(op.requestBody?.content ?? {});
  const jsons = content.filter(([type]) => /^application\/([\w.+-]*\+)?json/i.test(type));
  // Plain JSON when the document offers it; else the first JSON-family type an object body fits as declared
  // (`merge-patch+json`, `vnd.api+json`); a JSON Patch type (which wants a patch document) last.
  const json =
    jsons.find(([type]) => mediaEssence(type) === 'application/json') ??
    jsons.find(([type]) => !/json-patch\+json/i.test(type)) ??
    jsons[0];
  if (json) return { schema: json[1].schema ?? {}, encoding: 'json', media: json[1], type: json[0] };
  const form = content.find(([type]) => /^application\/x-www-form-urlencoded/i.test(type));
  if (form) return { schema: form[1].schema ?? {}, encoding: 'form', media: form[1], type: form[0] };
  const multipart = content.find(([type]) => /^multipart\/form-data/i.test(type));
  if (multipart)
    return {
      schema: multipart[1].schema ?? {},
      encoding: 'multipart',
      media: multipart[1],
      type: multipart[0],
    };
  return undefined;
}

/** A media type without its parameters, lower-cased: `application/json; charset=utf-8` → `application/json`. */
function mediaEssence(type: string): string {
  return type.split(';')[0].trim().toLowerCase();
}

/**
 * The content type the scan sends an object body with, when it is not the client's default `application/json`:
 * form and multipart as their encoding, a JSON-family type as the document declares it (a strict server answers
 * 415 to `application/json` where only `application/merge-patch+json` is declared). A JSON Patch type is not
 * sent for an object body (it wants a patch document): such a body goes as plain JSON.
 */
export function declaredContentType(
  rb: { encoding: BodyEncoding; type: string } | undefined,
): string | undefined {
  if (rb === undefined) return undefined;
  if (rb.encoding !== 'json') return CONTENT_TYPE[rb.encoding];
  const essence = mediaEssence(rb.type);
  if (essence === 'application/json' || /json-patch\+json/.test(essence)) return undefined;
  return essence;
}

/** The schema of the body the scan fills as an object, whatever its encoding (see `requestBody`). */
export function bodySchema(op: Operation): JsonSchema | undefined {
  return requestBody(op)?.schema;
}

const CONTENT_TYPE: Readonly<Record<BodyEncoding, string>> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
  multipart: 'multipart/form-data',
};

/** A file input of a multipart body: `format: binary` (or `base64`), or a 3.1 `contentMediaType`. */
function isFileSchema(s: JsonObject): boolean {
  return s.format === 'binary' || s.format === 'base64' || typeof s.contentMediaType === 'string';
}

/** A 1×1 PNG: what an image upload gets, so a server that checks the bytes accepts it. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=',
  'base64',
);

/**
 * The harmless file the scan uploads for a file input: a 1×1 PNG for images, a tiny document of the declared
 * type otherwise (JSON, XML, CSV, text). Chosen by the part's declared content type, else by the input's name.
 */
export function sampleFile(name: string, s: JsonObject, declaredType?: string): FilePart {
  const type = (
    declaredType ?? (typeof s.contentMediaType === 'string' ? s.contentMediaType : '')
  ).toLowerCase();
  if (/image/.test(type) || (type === '' && /image|photo|picture|avatar|logo|icon|thumb/i.test(name))) {
    return new FilePart('portcullis-scan.png', 'image/png', PNG);
  }
  if (/json/.test(type))
    return new FilePart('portcullis-scan.json', 'application/json', '{"portcullis":"scan"}\n');
  if (/xml/.test(type) || (type === '' && /xml/i.test(name))) {
    return new FilePart(
      'portcullis-scan.xml',
      'application/xml',
      '<?xml version="1.0"?><portcullis>scan</portcullis>\n',
    );
  }
  if (/csv/.test(type) || (type === '' && /csv/i.test(name))) {
    return new FilePart('portcullis-scan.csv', 'text/csv', 'name,value\nportcullis,scan\n');
  }
  return new FilePart('portcullis-scan.txt', 'text/plain', 'portcullis scan test file\n');
}

/**
 * A request for an operation whose body is form-encoded or multipart, made ready to send: its content type
 * set (unless a check chose one) and, for multipart, its file inputs as files. Any other request is returned
 * as it is. The scan's single place for this, so every check's object body goes out in the declared encoding.
 */
export function inDeclaredEncoding<T extends ScanRequest>(
  spec: ApiDocument,
  req: T,
  op: Operation | undefined,
): T {
  if (op === undefined || req.body === null || typeof req.body !== 'object') return req;
  const rb = requestBody(op);
  const declared = declaredContentType(rb);
  if (declared === undefined) return req;
  const headers = { ...req.headers };
  if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) {
    headers['content-type'] = declared;
  }
  const explicit = Object.entries(headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  const body = /^multipart\//i.test(explicit) ? withFiles(spec, op, req.body) : req.body;
  return { ...req, headers, body };
}

/**
 * A multipart body with its file inputs as files: a sampled or missing file input (required or not) gets the
 * scan's harmless file; values a check set on purpose (not strings) stay.
 */
export function withFiles(spec: ApiDocument, op: Operation, body: unknown): unknown {
  const rb = requestBody(op);
  if (rb?.encoding !== 'multipart' || body === null || typeof body !== 'object' || Array.isArray(body))
    return body;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const [name, prop] of Object.entries(propertiesOf(spec, rb.schema))) {
    const encoding = rb.media.encoding?.[name] as JsonObject | undefined;
    const declared =
      typeof encoding?.contentType === 'string' ? encoding.contentType.split(',')[0].trim() : undefined;
    if (isFileSchema(prop)) {
      if (out[name] === undefined || typeof out[name] === 'string')
        out[name] = sampleFile(name, prop, declared);
    } else if (schemaType(prop) === 'array') {
      const items = resolveSchema(spec, prop.items as JsonSchema);
      if (isFileSchema(items) && (out[name] === undefined || Array.isArray(out[name]))) {
        out[name] = [sampleFile(name, items, declared)];
      }
    }
  }
  return out;
}

/** Operations marked `x-portcullis-scan: false` are never sent. */
export function isExcluded(op: Operation): boolean {
  return op.extensions['x-portcullis-scan'] === false;
}

export function isLoginOperation(spec: ApiDocument, op: Operation): boolean {
  if (op.method !== 'POST' || (!LOGIN.test(op.path) && !/log_?in|sign_?in/i.test(op.id))) return false;
  // `/auth/register`, `/auth/forgot-password`: beside the login, not the login.
  if (NOT_LOGIN.test(`${op.path} ${op.hasDeclaredId ? op.id : ''}`)) return false;
  // JSON or form-encoded (an OAuth2 password grant at `/token`).
  const body = bodySchema(op);
  if (body === undefined) return false;
  const sample = sampleValue(spec, body);
  if (sample === null || typeof sample !== 'object') return false;
  // Its top-level members, and those of a record in an envelope (`{"data": {"type": "sessions", "attributes":
  // {handle, password}}}`, `{"user": {email, password}}`).
  return [...Object.keys(sample), ...Object.keys(recordFields(sample))].some((k) => PASSWORD_FIELD.test(k));
}

/**
 * What the document says of an operation in its own words: its summary and description, its request body's
 * description and its answers' (at most ten), up to 500 characters each. Where a document names an operation by
 * nothing else (`POST /api/hhivuln`: "email reset", "this is the reset link").
 */
export function operationWords(spec: ApiDocument, op: Operation): string {
  const words = [op.summary ?? '', operationDescription(spec, op)];
  const text = (v: unknown) => {
    const x =
      v !== null && typeof v === 'object' && typeof (v as JsonObject).$ref === 'string'
        ? spec.resolve((v as JsonObject).$ref as string)
        : v;
    const d = x !== null && typeof x === 'object' ? (x as JsonObject).description : undefined;
    if (typeof d === 'string') words.push(d.slice(0, 500));
  };
  const raw = op.pointer !== '' ? spec.resolve(`#${op.pointer}`) : undefined;
  if (raw !== null && typeof raw === 'object') {
    text((raw as JsonObject).requestBody);
    const responses = (raw as JsonObject).responses;
    if (responses !== null && typeof responses === 'object')
      for (const r of Object.values(responses as JsonObject).slice(0, 10)) text(r);
  }
  return words.join(' ');
}

/** Words that say an operation signs someone in (`login using creds`, `Sign in`, `authenticates a user`). */
const LOGIN_PROSE =
  /\b(log[\s_-]?ins?|logs?[\s_-]?(in|on)|logging[\s_-]?in|sign(s|ing)?[\s_-]?in|authenticat\w*|creds|credentials?)\b/i;
/** Words of the flows beside a login that are none (a sign-up, a reset, a change of password). */
const NOT_LOGIN_PROSE =
  /regist|sign[\s_-]?up|\bjoin|forgot|\breset|recover|\bchange|\bupdate|verif|log[\s_-]?out|refresh|invit|\bcreat|\bnew\b|enrol/i;
const LOGIN_USER_FIELD = /^(user(_?name)?|login|e-?mail|email_?address|handle|account|phone|name)$/i;
const LOGIN_PASSWORD_FIELD = /^(pass(word)?|passwd|pwd|pass_?phrase)$/i;

/**
 * A login that its path and id do not name (`POST /api/sqlivuln {username, password}`, whose document says
 * "login using creds"): a POST with no path parameter whose JSON or form body is exactly a user name (or e-mail)
 * and a password, and whose words (summary, description, the request body's and the answers' descriptions) say it
 * signs in and nothing of a sign-up, reset or change beside it. Checks that would take its password for a new
 * one (a sign-up, an account change) probe it as a login instead: with a user nobody has.
 */
export function loginByWords(spec: ApiDocument, op: Operation): boolean {
  if (op.method !== 'POST' || op.path.includes('{')) return false;
  const schema = bodySchema(op);
  if (schema === undefined) return false;
  const fields = Object.keys(recordProperties(spec, schema));
  if (fields.length !== 2) return false;
  if (!fields.some((k) => LOGIN_PASSWORD_FIELD.test(k)) || !fields.some((k) => LOGIN_USER_FIELD.test(k)))
    return false;
  const prose = operationWords(spec, op);
  return LOGIN_PROSE.test(prose) && !NOT_LOGIN_PROSE.test(`${prose} ${op.path}`);
}

export function isAdminOperation(op: Operation): boolean {
  if (op.extensions['x-portcullis-admin'] === true) return true;
  if (ADMIN.test(op.path) || privilegedArea(op.path) || op.tags.some((t) => ADMIN.test(t))) return true;
  return (op.security ?? []).some((req) =>
    Object.values(req).some((scopes) => scopes.some((s) => /admin/i.test(s))),
  );
}

/**
 * A business action: marked `x-portcullis-business-flow: true`, or a POST whose path or id names one
 * (coupon, referral, checkout, ...) and that is not the plain creation of a resource (`POST /orders` beside
 * `/orders/{id}` is a resource, `POST /checkout` a flow). `POST /api/orders/create` beside `/api/order/{id}`
 * (linkedItemRoute) stays a flow: the runner knows a purchase by its last path word only, so it would neither
 * limit nor clean up orders placed there as a given identity.
 */
export function isBusinessFlow(spec: ApiDocument, op: Operation): boolean {
  const marker = op.extensions['x-portcullis-business-flow'];
  if (marker === true) return true;
  if (marker === false) return false;
  return (
    op.method === 'POST' &&
    BUSINESS.test(`${op.path} ${op.id}`) &&
    !/\{[^}]+\}$/.test(op.path) &&
    itemParam(spec, op.path) === undefined
  );
}

export function requiresAuth(op: Operation): boolean {
  return (
    op.security !== undefined &&
    op.security.length > 0 &&
    !op.security.some((r) => Object.keys(r).length === 0)
  );
}

/** Collection templates that have an item template below them (`/notes` → `/notes/{noteId}`): param name. */
export function itemParam(spec: ApiDocument, collection: string): string | undefined {
  const base = collection.replace(/\/$/, '');
  for (const op of spec.operations) {
    // `/tickets/{id}`, and Django's `/tickets/{id}/`.
    const m = /^(.*)\/\{([^}]+)\}\/?$/.exec(op.path);
    if (m && m[1] === base) return m[2];
  }
  return undefined;
}

/** The last segment of an RPC-style creation beside a collection: `POST /cards/create`, `/cards/new`. */
const CREATE_VERB = /^(create|new|add)$/i;

/**
 * The collection a POST creates in: its own path when items live below it (`POST /notes` beside
 * `/notes/{id}`), or the parent of a create verb (`POST /cards/create` beside `/cards/{card_id}/...`).
 */
export function creationCollection(spec: ApiDocument, op: Operation): string | undefined {
  const path = op.path.replace(/\/$/, '');
  // A collection with members: a read of them (`/cards/{id}`), or only actions below them (`/cards/{id}/freeze`).
  if (memberParam(spec, path) !== undefined) return path;
  const m = /^(.*)\/([^/{}]+)$/.exec(path);
  return m && CREATE_VERB.test(m[2]) && memberParam(spec, m[1]) !== undefined ? m[1] : undefined;
}

/** The parameter that names a member of a collection, with or without a read of the member itself
 * (`/cards/{card_id}`, or only actions below it: `/cards/{card_id}/freeze`). */
export function memberParam(spec: ApiDocument, collection: string): string | undefined {
  const item = itemParam(spec, collection);
  if (item !== undefined) return item;
  const base = `${collection.replace(/\/$/, '')}/`;
  for (const op of spec.operations) {
    if (!op.path.startsWith(base)) continue;
    const m = /^\{([^{}]+)\}(\/|$)/.exec(op.path.slice(base.length));
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The words of a path segment, camelCase split, lower case, its extension (`.php`, `.aspx`) left out:
 * `createOrder` → create, order; `updateProfile.php` → update, profile.
 */
export function segmentWords(seg: string): string[] {
  return seg
    .replace(/\.[A-Za-z0-9]{1,6}$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

/** A resource name without case, separators or a plural ending: `credit-cards`, `creditCard` → `creditcard`. */
function resourceName(words: readonly string[]): string {
  return singular(words.join(''));
}

/**
 * The resource a POST that creates names, and the path up to its noun: `POST /v1/posts` → post at `/v1/posts`;
 * `/api/orders/create` → order at `/api/orders`; `/notes/createNote`, `/notes/new-note`, `/note_add` → note.
 * Undefined for a path ending in a parameter, one that acts or only asks (`/orders/cancel`, `/orders/search`).
 */
function createdResource(path: string): { readonly name: string; readonly base: string } | undefined {
  const segs = path.split('?')[0].replace(/\/$/, '').split('/');
  const last = segs[segs.length - 1] ?? '';
  if (last === '' || last.includes('{') || pathActs(path) || readLikePost(path)) return undefined;
  const words = segmentWords(last);
  const noun = words.filter((w) => !CREATE_VERB.test(w));
  if (noun.length > 0) return { name: resourceName(noun), base: segs.join('/') };
  const previous = segs[segs.length - 2] ?? '';
  if (previous === '' || previous.includes('{')) return undefined;
  return { name: resourceName(segmentWords(previous)), base: segs.slice(0, -1).join('/') };
}

/**
 * Where the items a POST creates live when they live under another path than its own (and creationCollection
 * finds none): the item route `C/{param}` whose collection names the same resource, singular or plural, with a
 * create, new or add word dropped (`POST /v1/posts` → `/v1/post/{postId}`, `POST /api/orders/create` →
 * `/api/order/{id}`, `POST /users/{uid}/notes` → `/notes/{note_id}`), among item routes that have a GET; among
 * several, the one sharing the longest path prefix with the POST. Discovery links the two only when the item route's GET answers
 * the created id with a record (by the id value the creation answered).
 */
export function linkedItemRoute(
  spec: ApiDocument,
  op: Operation,
): { readonly base: string; readonly collection: string; readonly param: string } | undefined {
  if (op.method !== 'POST') return undefined;
  const known = linkedRoutes.get(op);
  if (known !== undefined) return known ?? undefined;
  const found = findLinkedItemRoute(spec, op);
  linkedRoutes.set(op, found ?? null);
  return found;
}

/** linkedItemRoute's answers by operation (a document does not change during a scan). */
const linkedRoutes = new WeakMap<Operation, ReturnType<typeof findLinkedItemRoute> | null>();

function findLinkedItemRoute(
  spec: ApiDocument,
  op: Operation,
): { readonly base: string; readonly collection: string; readonly param: string } | undefined {
  if (creationCollection(spec, op) !== undefined) return undefined;
  const made = createdResource(op.path);
  if (made === undefined || made.name.length < 3) return undefined;
  const opSegs = op.path.split('/');
  let best: { collection: string; param: string; shared: number } | undefined;
  // Item routes with a read only: nothing else can show that the id names the object made (discover.ts).
  for (const o of spec.operations) {
    if (o.method !== 'GET') continue;
    const m = /^(.*)\/\{([^}]+)\}\/?$/.exec(o.path);
    if (!m || m[1] === made.base) continue;
    const last = m[1].split('/').pop() ?? '';
    if (last === '' || last.includes('{') || resourceName(segmentWords(last)) !== made.name) continue;
    const segs = m[1].split('/');
    let shared = 0;
    while (shared < segs.length && shared < opSegs.length && segs[shared] === opSegs[shared]) shared++;
    if (best === undefined || shared > best.shared) best = { collection: m[1], param: m[2], shared };
  }
  return best === undefined ? undefined : { base: made.base, collection: best.collection, param: best.param };
}

/** POSTs on a collection that has items: the setup creates one object per identity with each. */
export function isCreationOperation(spec: ApiDocument, op: Operation): boolean {
  return (
    op.method === 'POST' &&
    !isExcluded(op) &&
    !isLoginOperation(spec, op) &&
    !isBusinessFlow(spec, op) &&
    !isAdminOperation(op) &&
    creationCollection(spec, op) !== undefined
  );
}

/**
 * A POST that creates items living under another path (linkedItemRoute: `POST /v1/posts` beside
 * `/v1/post/{postId}`): discovery creates one per identity and, once the item route's read shows it, takes it for
 * the scan's object at that route (for the checks' reads, updates and deletes). Not a business flow (an order,
 * a transfer, a gift: isBusinessFlow), which discovery does not send as a given identity.
 */
export function isLinkedCreation(spec: ApiDocument, op: Operation): boolean {
  return (
    op.method === 'POST' &&
    !isExcluded(op) &&
    !isLoginOperation(spec, op) &&
    !isAdminOperation(op) &&
    linkedItemRoute(spec, op) !== undefined &&
    !isBusinessFlow(spec, op)
  );
}

/** Reads the id of a created object from its response, by the item parameter's name or a usual id field. */
export function captureId(spec: ApiDocument, op: Operation, res: ScanResponse): string | undefined {
  const body = res.json;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    const loc = res.headers.location;
    return loc ? loc.split('/').pop() : undefined;
  }
  const param = memberParam(spec, creationCollection(spec, op) ?? op.path);
  const record = body as Record<string, unknown>;
  const data = (record.data ?? record) as Record<string, unknown>;
  for (const key of [param, 'id', '_id', 'uuid', 'key']) {
    if (key === undefined) continue;
    const v = data[key] ?? record[key];
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  // The item parameter spelt another way (`{cardId}` for a `card_id` member), or the entity's id
  // (`coupon_id` for a creation in `/coupons`).
  const collection = creationCollection(spec, op) ?? op.path;
  const last =
    collection
      .split('/')
      .filter((seg) => seg !== '' && !seg.startsWith('{'))
      .pop() ?? '';
  const wanted = new Set([
    ...(param !== undefined ? [looseName(param)] : []),
    ...(last !== '' ? [`${looseName(last).replace(/s$/, '')}id`] : []),
  ]);
  for (const source of [data, record]) {
    const key = Object.keys(source).find((k) => wanted.has(looseName(k)));
    const v = key === undefined ? undefined : source[key];
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  return undefined;
}

/** A member name without case, `_` or `-`: `cardId`, `card_id` and `card-id` are one name. */
function looseName(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '');
}

export interface PlannedRequest extends ScanRequest {
  readonly operation: Operation;
  /** True when the path has parameters and every one came from this identity (its objects or its params). */
  readonly ownedPath: boolean;
  /** The object the path points at, when there is one. */
  readonly object?: CreatedObject;
  /** Path parameters the planner had to invent (no object, identity param, harvested value or example). */
  readonly invented: readonly string[];
  /** Path parameters filled with harvested values, and the record each came from (where the id came from). */
  readonly harvested?: readonly {
    readonly name: string;
    readonly value: string;
    readonly record: Harvested;
  }[];
}

export interface PlanOptions {
  /** Whose objects fill the path parameters. */
  readonly owner?: string;
  /** Replacement values for parameters, by name. */
  readonly params?: Readonly<Record<string, string>>;
  /** Body to send instead of the sampled one. */
  readonly body?: unknown;
  /** Include every query parameter (not only the required ones and those with examples). */
  readonly allQuery?: boolean;
}

/**
 * The value of a parameter whose schema lists its values (an enum or a const): the default when listed, else the
 * first that names no change (quietChoice).
 */
export function listedValue(spec: ApiDocument, schema: JsonSchema | undefined): string | undefined {
  if (schema === undefined) return undefined;
  const s = resolveSchema(spec, schema);
  if (s.const !== undefined) return String(s.const);
  if (!Array.isArray(s.enum) || s.enum.length === 0) return undefined;
  return String(s.enum.includes(s.default as never) ? s.default : quietChoice(s.enum));
}

/** The values a concrete path puts where its template has parameters (`v{version}` → the version), by name. */
export function pathValues(template: string, concrete: string): { name: string; value: string }[] {
  const t = template.split('/');
  const c = concrete.split('?')[0].split('/');
  const out: { name: string; value: string }[] = [];
  for (let i = 0; i < t.length && i < c.length; i++) {
    const m = /^([^{}]*)\{([^{}]+)\}([^{}]*)$/.exec(t[i]);
    if (!m) continue;
    const raw = c[i].slice(m[1].length, c[i].length - m[3].length);
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // keep it as sent
    }
    out.push({ name: m[2], value });
  }
  return out;
}

/** Builds one concrete request for an operation. */
export function planRequest(
  spec: ApiDocument,
  op: Operation,
  objects: ObjectRegistry,
  options: PlanOptions = {},
): PlannedRequest {
  const segments = op.path.split('/');
  let ownedPath = true;
  let hasParams = false;
  /** Path parameters filled with a container discovery only confirmed (they neither make nor spoil ownership). */
  let containers = 0;
  let params = 0;
  let object: CreatedObject | undefined;
  const concrete: string[] = [];
  const invented: string[] = [];
  const harvestedFrom: { name: string; value: string; record: Harvested }[] = [];
  /** An account the scan made, named by a verb's path (`/admin/promote/{id}`): that path is the scan's too. */
  let claimed: CreatedObject | undefined;
  for (let i = 0; i < segments.length; i++) {
    // `{id}`, and a parameter inside a segment: `v{version}`, `{name}.json`.
    const m = /^([^{}]*)\{([^{}]+)\}([^{}]*)$/.exec(segments[i]);
    if (!m) {
      concrete.push(segments[i]);
      continue;
    }
    const [, prefix, name, suffix] = m;
    const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
    const listed = listedValue(spec, param?.schema);
    if (listed !== undefined && options.params?.[name] === undefined) {
      // A version or a kind from the document's own list: nobody's data, and not invented.
      concrete.push(prefix + encodeURIComponent(listed) + suffix);
      continue;
    }
    hasParams = true;
    params++;
    const collection = segments.slice(0, i).join('/');
    const owned =
      options.owner !== undefined ? objects.get(options.owner, collection, concrete.join('/')) : undefined;
    let value = options.params?.[name];
    let unread = false;
    // The identity's given value (`customerId: 1`) names its own data: it wins over an object the scan made as
    // that identity (a sign-up sent as alice made customer 4, which is not alice), except at the object a write
    // acts on (the item a PUT, PATCH, DELETE or POST ends at, `/customers/{id}`, or acts on by a verb after it,
    // `/orders/{id}/refund`), which goes to a scan-made object only. A creation under it (`POST
    // /customers/{id}/orders`) takes the given value.
    const given = options.owner !== undefined ? objects.param(options.owner, name) : undefined;
    const rest = segments.slice(i + 1).filter((seg) => seg !== '');
    const actsOn =
      writesBy(op.method) &&
      !rest.some((seg) => seg.includes('{')) &&
      (suffix !== '' || rest.length === 0 || pathActs(`/${rest.join('/')}`));
    if (value === undefined && given !== undefined && !(owned && actsOn)) value = given;
    if (value === undefined && owned) {
      value = owned.id;
      object = owned;
    }
    if (value === undefined) value = given;
    // After a verb (`/admin/promote/{id}`), the object is of the collection the verb acts on (`users`).
    const acted = value === undefined ? actedCollection(spec, segments, i) : undefined;
    if (value === undefined && actsOn && acted !== undefined) {
      // What a write acts on by a verb is first an object the scan made there (an account it registered):
      // a value the API gave out is someone else's, and the runner would not send it.
      const made = scanMade(objects, acted, options.owner);
      if (made !== undefined) {
        value = made.id;
        claimed = made;
        if (made.owner === options.owner) object = made;
        else ownedPath = false;
      }
    }
    if (value === undefined) {
      // A value the API itself gave out, matched by name, entity and schema (producer → consumer).
      const previous = segments[i - 1] ?? '';
      const context = acted?.noun ?? (previous.startsWith('{') ? '' : previous);
      const wanted = { name, context, schema: resolveSchema(spec, param?.schema) };
      let found = objects.harvest.best(wanted, options.owner);
      // An id only tried and confirmed serves reads: a GET that acts (`/appointments/{id}/cancel`) never gets
      // one (a seeded appointment is nobody's to cancel); the next value that was given out, else none.
      if (found && tried(found.record) && actingGet(op)) {
        found = objects.harvest.candidates(wanted, undefined, 2).find((c) => !tried(c.record));
      }
      // A write as X under an id discovery only confirmed (`POST /orgs/{orgId}/invoices`) goes under one X itself
      // read: org 2 that only bob got a record for is bob's tenant, never where alice's creations go.
      // None: a made-up id (not even the documented example, which may be another identity's tenant).
      const writer = options.owner;
      if (
        found &&
        writer !== undefined &&
        writesBy(op.method) &&
        !readableBy(objects, found.record, writer)
      ) {
        found = objects.harvest
          .candidates(wanted, undefined, 2)
          .find((c) => readableBy(objects, c.record, writer) && !(tried(c.record) && actingGet(op)));
        if (!found) unread = true;
      }
      if (found) {
        value = String(found.value);
        // A value tried and confirmed is the owner's only as its object (its owner member said so) or as an id
        // it was given about itself for that entity: small id 2 of a shop is not bob's because bob is user 2.
        const mine =
          options.owner !== undefined &&
          (tried(found.record)
            ? (found.record.source === OWNED && found.record.identity === options.owner) ||
              objects.harvest.ownLoginValue(options.owner, found.value, found.record.entity)
            : objects.harvest.exclusiveTo(options.owner, found.value) ||
              objects.harvest.ownValue(options.owner, found.value, found.record.entity));
        // A container discovery only confirmed (shop 2 of `/shops/{shop_id}/orders/{order_no}`) is nobody's
        // and makes no path someone else's: the path is the owner's when what it ends at is.
        const container =
          found.record.source === CONFIRMED && segments.slice(i + 1).some((seg) => seg.includes('{'));
        if (!mine && !container) ownedPath = false;
        if (!mine && container) containers++;
        harvestedFrom.push({ name, value, record: found.record });
      }
    }
    if (value === undefined) {
      ownedPath = false;
      if (param?.raw.example === undefined || unread) invented.push(name);
      const schema = resolveSchema(spec, param?.schema);
      value = unread
        ? (madeUpOfShape(undefined, schema) ?? `pcnone${randomBytes(4).toString('hex')}`)
        : String(param?.raw.example ?? sampleValue(spec, param?.schema, name));
    }
    concrete.push(prefix + encodeURIComponent(value) + suffix);
  }
  const query = new URLSearchParams();
  const headers: Record<string, string> = {};
  for (const p of op.parameters) {
    if (p.in === 'path') continue;
    const given = options.params?.[p.name];
    const hasExample = p.raw.example !== undefined || p.raw.examples !== undefined;
    if (given === undefined && !p.required && !hasExample && !options.allQuery) continue;
    // The document's example, unless it is a placeholder (`?account=string`): a value the API gave out first.
    const example =
      p.raw.example !== undefined && (SECRET_INPUT.test(p.name) || !placeholderExample(p.raw.example, p.name))
        ? String(p.raw.example)
        : undefined;
    const value =
      given ??
      example ??
      harvested(
        objects,
        p.name,
        resolveSchema(spec, p.schema),
        options.owner,
        example ? 3 : p.raw.example !== undefined ? 2 : 3,
      ) ??
      (p.raw.example !== undefined ? String(p.raw.example) : undefined) ??
      String(sampleValue(spec, p.schema, p.name));
    if (p.in === 'query') query.set(p.name, value);
    else if (p.in === 'header') headers[p.name.toLowerCase()] = value;
  }
  const rb = requestBody(op);
  const schema = rb?.schema;
  const planned =
    options.body !== undefined
      ? options.body
      : schema !== undefined
        ? withForeignKeys(
            spec,
            schema,
            withoutMadeUpCodes(spec, schema, sampleValue(spec, schema)),
            objects,
            options.owner,
            op.path,
          )
        : op.requestBody === undefined
          ? learned(objects, op)
          : undefined;
  const body = planned !== undefined ? withFiles(spec, op, planned) : undefined;
  // Form, multipart and declared JSON-family bodies say so (the client encodes an object body by its content type).
  const declared = declaredContentType(rb);
  if (declared !== undefined && body !== undefined && typeof body === 'object' && body !== null) {
    headers['content-type'] = declared;
  }
  const qs = query.toString();
  const bare = concrete.join('/');
  if (claimed !== undefined && !objects.isScanCreated(bare)) {
    // The verb's path names the scan's own account: recorded as such, as a creation's item path is, so the
    // runner's one safety rule lets the request through (and a given identity's account is never named here).
    objects.add({ ...claimed, collection: bare.slice(0, bare.lastIndexOf('/')), path: bare, createdBy: op });
  }
  return {
    method: op.method,
    path: concrete.join('/') + (qs ? `?${qs}` : ''),
    headers,
    body,
    operation: op,
    ownedPath: ownedPath && hasParams && params > containers,
    object,
    invented,
    harvested: harvestedFrom,
  };
}

/** Verbs that act on an account whatever the path calls it (`/admin/promote/{id}`, `/mod/ban/{uid}`). */
const ACCOUNT_VERB =
  /^(promote|demote|ban|unban|suspend|unsuspend|impersonate|block|unblock|kick|activate|deactivate|lock|unlock)$/i;

/**
 * The collection a verb before the i-th segment's parameter acts on (`/admin/promote/{id}` → `/admin/users`): the
 * one documented item route beside the verb (`/admin/users/{id}`), else `users` for a verb that acts on accounts.
 * Undefined when the segment before is no verb.
 */
function actedCollection(
  spec: ApiDocument,
  segments: readonly string[],
  i: number,
): { readonly noun: string; readonly entity: string } | undefined {
  const verb = segments[i - 1] ?? '';
  if (verb === '' || verb.includes('{') || !segmentActs(verb)) return undefined;
  const prefix = segments.slice(0, i - 1).join('/');
  const nouns = new Set<string>();
  for (const o of spec.operations) {
    const m = /^([^/{}]+)\/\{[^/{}]+\}\/?$/.exec(
      o.path.startsWith(`${prefix}/`) ? o.path.slice(prefix.length + 1) : '',
    );
    if (m && !segmentActs(m[1]) && nouns.size < 8) nouns.add(m[1]);
  }
  // Only a verb that acts on accounts: a lone sibling collection says too little of what `/admin/approve/{id}`
  // approves, and the scan's order 4 must not stand for someone's payment 4.
  const words = segmentPieces(verb).flatMap((p) => p.split(/[-_]+/));
  if (!words.some((w) => ACCOUNT_VERB.test(w))) return undefined;
  const noun =
    [...nouns].find((n) => /^(user|account|member|customer|profile)$/.test(singular(n))) ?? 'users';
  return { noun, entity: singular(noun) };
}

/**
 * An object the scan made of an entity (the owner's first, then any of the scan's), newest first: by its
 * collection's last word (`/admin/users`, `/users`, `/auth/register` answering a user are all users).
 */
function scanMade(
  objects: ObjectRegistry,
  acted: { readonly entity: string },
  owner: string | undefined,
): CreatedObject | undefined {
  // A made-up id names nothing: no account to act on.
  const all = objects.all().filter((o) => entityOfPath(o.collection) === acted.entity && !madeUpId(o.id));
  return all.filter((o) => o.owner === owner).pop() ?? all.pop();
}

/**
 * The literal pieces of a path segment as snake_case words, the parameters taken out and the pieces split at
 * `:`, `.`, `;`, `,`, `@`, `!`, `$` (`{order_id}:cancel` → `cancel`, `markAsPaid` → `mark_as_paid`).
 */
function segmentPieces(seg: string): string[] {
  return seg
    .replace(/\{[^{}]*\}/g, ':')
    .split(/[:.;,@!$]+/)
    .filter((p) => p !== '')
    .map((p) =>
      p
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
        .toLowerCase(),
    );
}

/**
 * A template or concrete segment that is a verb of change: any word of a literal piece of it is one, before or
 * after its noun (`delete_message`, `message_delete`, `messageDelete`, `message-delete.php`, `order_cancel`).
 */
function segmentActs(seg: string): boolean {
  return segmentPieces(seg).some((p) => p.split(/[-_]+/).some((w) => w !== '' && ACTING.test(w)));
}

/**
 * A path that says it acts rather than reads: a literal segment, or a literal piece beside a parameter
 * (`/orders/{id}:cancel`, `/users/{id}/resetPassword`), that is a verb of change (any method).
 */
export function pathActs(path: string): boolean {
  return path.split('?')[0].split('/').some(segmentActs);
}

/**
 * Verbs of change that are as often nouns in a read's path (`GET /candidates/{id}/resume`: a CV; `/power`,
 * `/sleep`, `/scale`): a GET named by such a word alone is a read, unless its summary or description says it acts.
 */
const NOUN_VERB = /^(resume|power|sleep|scale|empty|wake|trigger|replay|upgrade)$/;
const SAYS_IT_ACTS =
  /\b(resumes|resuming|powers|powering|sleeps|scales|scaling|empties|emptying|wakes|waking|triggers|replays|upgrades|restarts|reboots|stops|starts)\b/i;

/**
 * Whether an operation acts (pathActs), the method read too: a GET whose only acting words are nouns as often as
 * verbs (NOUN_VERB) acts only when its summary or description says so.
 */
export function opActs(spec: ApiDocument, op: Operation): boolean {
  if (!pathActs(op.path)) return false;
  if (op.method !== 'GET') return true;
  const words = op.path
    .split('?')[0]
    .split('/')
    .flatMap(segmentPieces)
    .flatMap((p) => p.split(/[-_]+/))
    .filter((w) => w !== '' && ACTING.test(w));
  if (!words.every((w) => NOUN_VERB.test(w))) return true;
  return SAYS_IT_ACTS.test(operationProse(spec, op));
}

/** Inputs whose value names what a request does (`{"action": "delete", "item_ids": [6]}`, `?op=remove`). */
const ACTION_INPUT =
  /^(action|actions|op|operation|command|cmd|verb|do|task)$|[-_](action|op|operation|command)$|[a-z0-9](Action|Op|Operation|Command)$/;

/**
 * Whether some query parameter or body member (three levels deep, at most 200 members) satisfies `test`, given its
 * name and value: what inputActs and stateActs ask of a request.
 */
function someInput(
  req: Pick<ScanRequest, 'path' | 'body'>,
  test: (name: string, value: unknown) => boolean,
): boolean {
  const q = req.path.indexOf('?');
  if (q >= 0)
    for (const [name, value] of new URLSearchParams(req.path.slice(q + 1)))
      if (test(name, value)) return true;
  let seen = 0;
  const walk = (value: unknown, depth: number): boolean => {
    if (value === null || typeof value !== 'object' || value instanceof FilePart || depth > 3) return false;
    if (Array.isArray(value)) return value.slice(0, MAX_ID_INPUTS).some((v) => walk(v, depth + 1));
    for (const [name, v] of Object.entries(value)) {
      if (++seen > 200) return false;
      if (test(name, v) || walk(v, depth + 1)) return true;
    }
    return false;
  };
  return walk(textBody(req.body), 0);
}

/**
 * A request whose query or body names a verb of change under an action input (`POST /bulk-action {"action":
 * "delete", "item_ids": [6]}`, `GET /items?op=remove&id=5`): it acts whatever its path says, so the runner's
 * acting-inputs rule holds it to objects the scan created. Values are read three levels deep, bounded; a value is
 * judged by its words (`soft_delete`, `markPaid`).
 */
export function inputActs(req: Pick<ScanRequest, 'path' | 'body'>): boolean {
  const acts = (name: string, value: unknown) =>
    ACTION_INPUT.test(name) &&
    typeof value === 'string' &&
    value.length <= 64 &&
    segmentPieces(value).some((p) => p.split(/[-_\s]+/).some((w) => w !== '' && ACTING.test(w)));
  return someInput(req, acts);
}

/** Inputs that carry an event's kind or the state a request moves an object to (`event`, `status`, `new_state`). */
const STATE_INPUT =
  /^(event|events|event_?type|eventType|type|kind|status|state|transition|new_?status|newStatus|new_?state|newState|to_?state|to_?status|target_?state|targetState)$|[-_](event|status|state|transition)$|[a-z0-9](Event|Status|State|Transition)$/;

/** Path words of an inbound webhook, what a third party posts its events to (`/hooks/moderation`, `/ipn`). */
const HOOK_WORD = /^(webhooks?|hooks?|callbacks?|ipn|notify)$/;
/** Path words that are a webhook when the operation is public, as a provider calls it (`POST /events`). */
const PUBLIC_HOOK_WORD = /^(events?|notifications?)$/;

/**
 * A request that is no creation (`POST /webhooks` beside `/webhooks/{id}` registers one) nor a read that only asks
 * (`POST /invoices/search {"status": "paid"}`) but moves an object to a
 * state or tells the API of an event (`POST
 * /api/hooks/moderation {"event": "listing.approved", "data": {"listing_id": 1}}`, `POST /orders/transition
 * {"order_id": 5, "state": "shipped"}`): a webhook path (any literal word of it: hooks, webhook, callback, ipn,
 * notify; events and notifications when the operation is public), or an event or state input (three levels deep)
 * whose value names a change, a state one leaves or one it grants (namesChange, grantsState). Such a request acts on the
 * objects it names, so actingInputs holds its id inputs to objects the scan created, as for an action input.
 */
export function stateActs(
  spec: ApiDocument,
  op: Operation,
  req: Pick<ScanRequest, 'path' | 'body'>,
): boolean {
  if (
    op.method === 'GET' ||
    op.method === 'HEAD' ||
    op.method === 'OPTIONS' ||
    isCreationOperation(spec, op) ||
    readLikePost(op.path)
  )
    return false;
  const words = op.path
    .split('?')[0]
    .split('/')
    .flatMap((seg) => segmentPieces(seg))
    .flatMap((p) => p.split(/[-_]+/));
  if (words.some((w) => HOOK_WORD.test(w))) return true;
  if (op.security !== undefined && op.security.length === 0 && words.some((w) => PUBLIC_HOOK_WORD.test(w)))
    return true;
  const acts = (name: string, value: unknown) =>
    STATE_INPUT.test(name) && (namesChange(value) || grantsState(value));
  return someInput(req, acts);
}

/**
 * A path's last literal segment, its extension dropped, camelCase as snake_case, in lower case
 * (`/api/{id}/placeOrder.php` → `place_order`); undefined when it has none.
 */
export function lastLiteralWords(path: string): string | undefined {
  return path
    .split('?')[0]
    .split('/')
    .filter((seg) => seg !== '' && !seg.includes('{'))
    .pop()
    ?.replace(/\.[A-Za-z0-9]{1,6}$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** Verbs of a POST that only asks (`/account/lookup`, `/me/search`, `/profile/check-iban`, `/account/getBalance`). */
const ASKING =
  /^(lookup|search|find|query|check|verify|validate|get|fetch|view|show|resolve|exists?|preview|inspect|count)$/;

/**
 * A POST whose last literal segment asks rather than writes: a verb of asking among its words (`lookup`, `look_up`,
 * `search`, `find`, `query`, `check`, `verify`, `validate`, `get`...), and no other verb of change (`/check-out`,
 * `/search/delete` still write). Its body names what it asks about: a read, not the sender's record written.
 */
export function readLikePost(path: string): boolean {
  const last = lastLiteralWords(path);
  if (last === undefined) return false;
  const words = last
    .replace(/look[-_]up/g, 'lookup')
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  if (!words.some((w) => ASKING.test(w))) return false;
  // `verify` is a verb of change to the planner (it may confirm an account); here only beside nothing else.
  return (
    words.every((w) => w === 'verify' || !pathActs(`/${w}`)) &&
    !/^(check_?out|check_?in)$/.test(words.join('_'))
  );
}

/**
 * Path words of a POST that moves money (`/wallet/topup`, `/tips`, `/transfer.php`, `/payouts`, `/sendMoney`), in
 * the singular and the plural of a collection (`/wallet/top-ups`, `/topups`, `/cards/{id}/recharges`,
 * `/withdrawals`, `/refunds`, `/deposits`, `/cash-outs`, `/add-funds`, `/disbursements`).
 */
const MONEY_MOVE =
  /^(top_?ups?|topups?|recharges?|deposits?|withdraw\w*|transfers?|pay|pays|payments?|payouts?|tips?|donat\w*|remit\w*|wires?|refunds?|cash_?outs?|send_?money|add_?funds?|disburse\w*|reimburse\w*)$/;
/** Inputs that carry a sum, and inputs that name where it goes. */
const SUM_INPUT = /^(amount|sum|amt)$|[-_](amount|sum)$|[a-z](Amount|Sum)$/;
const TO_INPUT = /^(to|recipient|payee|beneficiary|destination|dest)([-_A-Z]|$)/;

/** Whether a path (template or concrete) has a word of moving money among its literal segments (MONEY_MOVE). */
export function moneyPath(path: string): boolean {
  return moneyWord(path) !== undefined;
}

/** The path's word of moving money (`transfer` of `/accounts/{id}/transfer`), if any (MONEY_MOVE). */
export function moneyWord(path: string): string | undefined {
  return path
    .split('?')[0]
    .split('/')
    .filter((seg) => seg !== '' && !seg.includes('{'))
    .flatMap(segmentPieces)
    .flatMap((p) => [p.replace(/-/g, '_'), ...p.split(/[-_]+/)])
    .find((w) => MONEY_MOVE.test(w));
}

/**
 * Why a POST moves money (movesMoney), in words for the report: `its path says transfer`, `it takes a sum (amount)
 * and where it goes (to_account_id)`. Undefined when it does not.
 */
export function moneyMoveReason(spec: ApiDocument, op: Operation): string | undefined {
  if (op.method !== 'POST' || placedUnpaid(spec, op)) return undefined;
  const word = moneyWord(op.path);
  if (word !== undefined) return `its path says ${word}`;
  const fields = [
    ...Object.keys(propertiesOf(spec, bodySchema(op))),
    ...op.parameters.filter((p) => p.in === 'query').map((p) => p.name),
  ];
  const sum = fields.find((f) => SUM_INPUT.test(f));
  const to = fields.find((f) => TO_INPUT.test(f));
  return sum !== undefined && to !== undefined
    ? `it takes a sum (${sum}) and where it goes (${to})`
    : undefined;
}

/** Words of a document that is drafted, not paid: a draft, a quote, an estimate, a cart (`POST /quotes`). */
const DRAFT_WORD =
  /^(drafts?|quotes?|quotations?|estimates?|proformas?|pro_forma|carts?|baskets?|wishlists?)$/;

/**
 * A creation of a draft, a quote or a cart (`POST /quotes {client_id, amount}`, `POST /invoices {customer_id, amount,
 * status: "draft"}`, `POST /carts/{id}/items`): a document someone may pay later, no payment. The collection's path
 * names a draft, quote, estimate or cart, or the request as sent sets its status or state to such a word (or
 * `draft: true`); never a path of moving money, nor one that sends a sum to someone (`to_account`). What the word
 * decided, for the report, or undefined.
 */
export function draftCreation(spec: ApiDocument, op: Operation, body: unknown): string | undefined {
  if (op.method !== 'POST' || moneyWord(op.path) !== undefined) return undefined;
  const collection = creationCollection(spec, op) ?? (isCreationLike(op.path) ? op.path : undefined);
  if (collection === undefined) return undefined;
  const fields = Object.keys(propertiesOf(spec, bodySchema(op)));
  if (fields.some((f) => TO_INPUT.test(f))) return undefined;
  const said = collection
    .split('/')
    .filter((seg) => seg !== '' && !seg.includes('{'))
    .flatMap(segmentPieces)
    .flatMap((p) => p.split(/[-_]+/))
    .find((w) => DRAFT_WORD.test(w));
  if (said !== undefined) return `it creates a ${said.replace(/s$/, '')}, no payment`;
  // Its summary says so (`Create a draft invoice`, `Ask for a price quote`), and says nothing of paying (R1-C2).
  const summary = op.summary ?? '';
  const drafted = /\b(draft|quote|quotation|estimate|pro[- ]?forma)\b/i.exec(summary)?.[1];
  if (
    drafted !== undefined &&
    !PAYING_TEXT.test(summary) &&
    !/\b(pay|pays|paid|charge[sd]?)\b/i.test(summary)
  )
    return `it creates a ${drafted.toLowerCase()} (its summary says so), no payment`;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const key = k.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
    if ((key === 'draft' || key === 'is_draft') && v === true)
      return `it creates a draft (${k}: true), no payment`;
    if (
      /^(status|state|stage|kind|type)$/.test(key) &&
      typeof v === 'string' &&
      DRAFT_WORD.test(v.toLowerCase())
    )
      return `it creates a ${v.toLowerCase()} (${k}: ${JSON.stringify(v)}), no payment`;
  }
  return undefined;
}

/** A POST on a sub-collection of items (`POST /carts/{cart_id}/items`): its last segment is a literal plural. */
function isCreationLike(path: string): boolean {
  return /\/[a-z_-]+s\/?$/i.test(path);
}

/**
 * A POST that moves money: a path word of moving it (top-up, deposit, withdraw, transfer, pay, payment, payout,
 * tip, donate, remit, wire, refund, cash-out, send-money), or a sum beside where it goes (`POST /api/transactions
 * {to_account_id, amount}`). Sent as a given identity it moves that identity's real money, and nothing sets it back.
 */
export function movesMoney(spec: ApiDocument, op: Operation): boolean {
  return moneyMoveReason(spec, op) !== undefined;
}

/** A GET whose path says it acts rather than reads. */
export function actingGet(op: Operation): boolean {
  return op.method === 'GET' && pathActs(op.path);
}

/** Methods that change nothing (RFC 9110's safe methods): every other one is a write. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Whether a method may change something on the server (anything but GET, HEAD, OPTIONS and TRACE). */
export function writesBy(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

/** Whether a 2xx answer of a GET is documented as a list (an array, or an object with an array member). */
function listsItems(spec: ApiDocument, op: Operation): boolean {
  for (const [status, response] of Object.entries(op.responses)) {
    if (!/^2/.test(status)) continue;
    for (const media of Object.values(response.content)) {
      if (media.schema === undefined) continue;
      const s = resolveSchema(spec, media.schema);
      if (schemaType(s) === 'array') return true;
      if (Object.values(propertiesOf(spec, s)).some((p) => schemaType(p) === 'array')) return true;
    }
  }
  return false;
}

/**
 * A POST that creates an item in a documented sub-collection of an object (`POST /orders/{id}/comments` where
 * `GET /orders/{id}/comments` lists items, or items live below it: `/orders/{id}/comments/{comment_id}`; also
 * `POST /orders/{id}/comments/create`; or items of its name live under another path: `POST /users/{uid}/notes` beside
 * `/notes/{note_id}`): it adds beside the object, it does not change it. A final segment that
 * is a verb of change, or that nothing documents as a collection (`/orders/{id}/stornieren`,
 * `/invoices/{id}/settle`), is an action on the object instead.
 */
export function createsInSubCollection(spec: ApiDocument, op: Operation): boolean {
  if (op.method !== 'POST') return false;
  const path = op.path.replace(/\/$/, '');
  if (!path.includes('{')) return false;
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (last === '' || /[{}:]/.test(last) || segmentActs(last)) return false;
  const collection = creationCollection(spec, op);
  if (collection !== undefined) {
    const tail = collection.slice(collection.lastIndexOf('/') + 1);
    return !/[{}:]/.test(tail) && !segmentActs(tail);
  }
  // Items that live under another path (`POST /users/{uid}/notes` → `/notes/{note_id}`: isLinkedCreation; not a
  // business flow, `POST /users/{uid}/orders`, which stays a write to the user the runner holds).
  if (isLinkedCreation(spec, op)) return true;
  return spec.operations.some(
    (o) => o.method === 'GET' && o.path.replace(/\/$/, '') === path && listsItems(spec, o),
  );
}

/**
 * The values a concrete path puts where its template has parameters, the two aligned by their last segments:
 * an older version's path (`/api/v0/orders/1` for `/api/v1/orders/{id}`, `/api/orders/1`) gives the same.
 */
function alignedValues(template: string, concrete: string): { name: string; value: string; at: number }[] {
  const t = template.replace(/\/$/, '').split('/');
  const c = concrete.split('?')[0].replace(/\/$/, '').split('/');
  const offset = c.length - t.length;
  const out: { name: string; value: string; at: number }[] = [];
  for (let i = 0; i < t.length; i++) {
    const at = i + offset;
    const m = /^([^{}]*)\{([^{}]+)\}([^{}]*)$/.exec(t[i]);
    if (!m) continue;
    const seg = at >= 0 && at < c.length ? c[at] : '';
    const raw =
      seg.startsWith(m[1]) && seg.endsWith(m[3]) && seg.length >= m[1].length + m[3].length
        ? seg.slice(m[1].length, seg.length - m[3].length)
        : seg;
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // keep it as sent
    }
    out.push({ name: m[2], value, at });
  }
  return out;
}

/**
 * A request body as values: a string body parsed as JSON (an object or array) or as a form (`a=1&b=2`),
 * undefined when it is neither; any other body as it is.
 */
export function textBody(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  const text = body.trim();
  try {
    if (/^[[{]/.test(text)) return JSON.parse(text);
  } catch {
    // not JSON: perhaps a form
  }
  return /^[\w.[\]-]+=/.test(text) ? Object.fromEntries(new URLSearchParams(text)) : undefined;
}

/**
 * The head of the uuids the scan makes up: a well-formed version-4 uuid (its version and variant digits in place)
 * whose first 76 bits are fixed, so no generator gives one out by chance and the runner knows it as made up.
 */
const MADE_UP_UUID_HEAD = 'c0ffee00-5ca7-4d0e-8';
const MADE_UP_UUID = /^c0ffee00-5ca7-4d0e-8[0-9a-f]{3}-[0-9a-f]{12}$/;
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A uuid the scan makes up to name nothing, well-formed for an API that checks its ids are uuids. */
export function madeUpUuid(): string {
  const hex = randomBytes(8).toString('hex');
  return `${MADE_UP_UUID_HEAD}${hex.slice(0, 3)}-${hex.slice(3, 15)}`;
}

/** A uuid in its text form (`3f2b...-...`), any version. */
export function isUuid(value: unknown): boolean {
  return typeof value === 'string' && UUID_TEXT.test(value);
}

/**
 * A made-up value for an input that names an object, of the shape it takes: a made-up uuid where its schema says
 * `format: uuid` or the value it was given is a uuid, 987654321 for a number, else undefined (the caller's own).
 */
export function madeUpOfShape(seen: string | undefined, schema?: JsonObject): string | undefined {
  if (schema?.format === 'uuid' || isUuid(seen)) return madeUpUuid();
  const type = schema ? schemaType(schema) : undefined;
  if (type === 'integer' || type === 'number' || (seen !== undefined && /^\d{1,18}$/.test(seen)))
    return '987654321';
  return undefined;
}

/**
 * A value the scan made up to name nothing: its own tags (`pcv1a2b3c4d`, `portcullis-1a2b3c4d`, `portcullis-<uuid>`),
 * its made-up uuids (madeUpUuid) or 987654321.
 */
export function madeUpId(value: string): boolean {
  return (
    value === '987654321' ||
    MADE_UP_UUID.test(value) ||
    /^(pc[a-z]{0,6}|portcullis-)[0-9a-f]{6,32}$/.test(value) ||
    /^portcullis-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)
  );
}

/**
 * What a write names by its path (`POST /orders/3`, `POST /orders/3:cancel`, `POST /orders/3/markAsPaid`,
 * `PUT /api/v0/orders/3`): the values of its path parameters (not those the document lists: a version, a kind)
 * and the object the last one designates, the concrete path up to it with the text around it taken off
 * (`/orders/3`). Undefined for a safe method, a path without parameters, and a creation in a documented
 * sub-collection (`POST /orders/3/comments`, see `createsInSubCollection`). The runner lets such a write go
 * only to an object the scan created, a value it made up, or an account it registered.
 */
export function writeTarget(
  spec: ApiDocument,
  op: Operation,
  method: string,
  concrete: string,
): { readonly ids: readonly string[]; readonly object: string; readonly last: string } | undefined {
  if (!writesBy(method)) return undefined;
  if (method.toUpperCase() === 'POST' && createsInSubCollection(spec, op)) return undefined;
  const values = alignedValues(op.path, concrete).filter(({ name }) => {
    const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
    return listedValue(spec, param?.schema) === undefined;
  });
  if (values.length === 0) return undefined;
  const last = values[values.length - 1];
  const segs = concrete.split('?')[0].split('/');
  const upTo = segs.slice(0, Math.max(0, last.at));
  const object = [...upTo, encodeURIComponent(last.value)].join('/');
  return { ids: values.map((v) => v.value), object, last: last.value };
}

/**
 * What a request at a path that acts names by its path (`GET /appointments/7/cancel`: appointment 7): the values
 * of its path parameters, but those the document lists (an enum, a const: a version, a kind, not an object),
 * and the object they designate, the concrete path without its verbs of change (`/appointments/7`; `/users/7`
 * for `/users/delete/7`). Undefined when the path does not act or names nothing.
 */
export function actedOn(
  spec: ApiDocument,
  op: Operation,
  concrete: string,
): { readonly ids: readonly string[]; readonly object: string } | undefined {
  if (!opActs(spec, op)) return undefined;
  const ids = pathValues(op.path, concrete)
    .filter(({ name }) => {
      const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
      return listedValue(spec, param?.schema) === undefined;
    })
    .map((v) => v.value);
  if (ids.length === 0) return undefined;
  const template = op.path.split('/');
  const object = concrete
    .split('?')[0]
    .split('/')
    .filter((_seg, i) => {
      const t = template[i] ?? '';
      return t.includes('{') || !segmentActs(t);
    })
    .join('/');
  return { ids, object };
}

/** Input names that hold an id: `id`, `ids`, `uuid`, `order_id`, `orderId`, `item_ids`, `ticket_no`. */
const ID_INPUT =
  /^(id|ids|uuid|guid|pk)$|[-_](id|ids|uuid|guid|pk|no)$|[a-z0-9](Id|Ids|ID|IDs|Uuid|UUID|No)$/;
/** Whether an input's name says it holds an id (`id`, `order_id`, `orderId`, `item_ids`, `ticket_no`). */
export function idInput(name: string): boolean {
  return ID_INPUT.test(name);
}

/** At most this many id inputs are read from one request (a body is the client's, its size is not ours). */
const MAX_ID_INPUTS = 50;

/**
 * What a request at a path that acts names by its query or body (`GET /appointments/cancel?id=5`, `POST
 * /orders/cancel {"order_id": 5}`, `{"ids": [5, 6]}`, `{"order": {"id": 5}}`): the values of its id-like inputs
 * (numbers and strings, in arrays too, three levels deep), but those the document lists for a query parameter
 * (an enum, a const). A body sent as text is read as JSON or form-encoded when it is one. Undefined when neither
 * the path, an action input (inputActs) nor a webhook path or event or state input (stateActs) says the request
 * acts, or no input names an id.
 */
export function actingInputs(
  spec: ApiDocument,
  op: Operation,
  req: Pick<ScanRequest, 'path' | 'body'>,
): readonly { readonly name: string; readonly value: string }[] | undefined {
  if (!pathActs(op.path) && !inputActs(req) && !stateActs(spec, op, req)) return undefined;
  const out: { name: string; value: string }[] = [];
  const add = (name: string, value: unknown) => {
    if (out.length >= MAX_ID_INPUTS) return;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint')
      out.push({ name, value: String(value) });
    else if (Array.isArray(value)) for (const v of value.slice(0, MAX_ID_INPUTS)) add(name, v);
  };
  const q = req.path.indexOf('?');
  if (q >= 0) {
    for (const [name, value] of new URLSearchParams(req.path.slice(q + 1))) {
      if (!ID_INPUT.test(name)) continue;
      const param = op.parameters.find((p) => p.in === 'query' && p.name === name);
      if (param !== undefined && listedValue(spec, param.schema) === value) continue;
      add(name, value);
    }
  }
  let body = textBody(req.body);
  if (typeof req.body === 'string') {
    const text = req.body.trim();
    // An XML document (XXE's JSON body sent as XML): its leaf elements' text, by element name.
    if (body === undefined && text.startsWith('<')) body = xmlLeaves(text);
  }
  const walk = (value: unknown, depth: number) => {
    if (value === null || typeof value !== 'object' || value instanceof FilePart || depth > 3) return;
    if (Array.isArray(value)) {
      for (const v of value.slice(0, MAX_ID_INPUTS)) walk(v, depth + 1);
      return;
    }
    for (const [name, v] of Object.entries(value)) {
      if (ID_INPUT.test(name)) add(name, v);
      walk(v, depth + 1);
    }
  };
  walk(body, 0);
  return out.length > 0 ? out : undefined;
}

/** At most this much of an XML document is read for ids. */
const MAX_XML_READ = 64 * 1024;

/**
 * The text of an XML document's leaf elements by name (`<order_id>1</order_id>` → `{order_id: ['1']}`), its
 * attributes too (`<order id="1">`): the ids a document sent in place of a JSON body names. Bounded patterns on a
 * bounded prefix of the scan's own request.
 */
export function xmlLeaves(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const add = (name: string, value: string) => {
    const list = out[name] ?? [];
    if (list.length < MAX_ID_INPUTS) list.push(value.trim());
    out[name] = list;
  };
  const doc = text.slice(0, MAX_XML_READ);
  for (const m of doc.matchAll(/<([A-Za-z_][\w.-]{0,63})(?:\s[^<>]{0,500})?>([^<]{0,200})<\/\1\s*>/g))
    add(m[1], m[2]);
  for (const m of doc.matchAll(/\s([A-Za-z_][\w.-]{0,63})\s*=\s*["']([^"'<>]{0,200})["']/g)) add(m[1], m[2]);
  return out;
}

/**
 * Whether a value is the id of an object the scan created: its id, or another id of its own in the record its
 * creation answered (`id`, `uuid`, `order_no` in `/orders`; never `user_id`, its owner's).
 */
export function createdValue(objects: ObjectRegistry, value: string): boolean {
  if (objects.isCreatedId(value)) return true;
  return objects.all().some((o) => {
    const body = o.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
    const record = body as Record<string, unknown>;
    const data =
      record.data !== null && typeof record.data === 'object' && !Array.isArray(record.data)
        ? (record.data as Record<string, unknown>)
        : record;
    // The object's own ids only: `user_id` in an order names its owner, a given identity maybe.
    const last =
      o.collection
        .split('/')
        .filter((seg) => seg !== '' && !seg.includes('{'))
        .pop() ?? '';
    const entity = looseName(last)
      .replace(/[^a-z0-9]/g, '')
      .replace(/s$/, '');
    return Object.entries(data).some(([k, v]) => {
      const key = looseName(k);
      const own =
        /^(id|uuid|guid|pk)$/.test(key) ||
        (entity !== '' && new RegExp(`^${entity}(id|no|uuid|number)$`).test(key));
      return own && (typeof v === 'string' || typeof v === 'number') && String(v) === value;
    });
  });
}

/** Per registry, per `entity\0value` discovery confirmed: the identities that got a record with it. */
const CONFIRMED_READERS = new WeakMap<ObjectRegistry, Map<string, Set<string>>>();
const MAX_CONFIRMED_READERS = 1000;

/** Discovery got a record for `value` of `entity` as `identity` (a confirmed id read by that identity). */
export function noteConfirmedReader(
  objects: ObjectRegistry,
  entity: string,
  value: string | number,
  identity: string,
): void {
  let map = CONFIRMED_READERS.get(objects);
  if (!map) {
    map = new Map();
    CONFIRMED_READERS.set(objects, map);
  }
  const key = `${entity}\0${String(value)}`;
  let readers = map.get(key);
  if (!readers) {
    if (map.size >= MAX_CONFIRMED_READERS) return;
    readers = new Set();
    map.set(key, readers);
  }
  readers.add(identity);
}

/**
 * May `identity` write under this value? Any value but one discovery only confirmed (no owner shown); that one
 * only when discovery got a record with it as `identity` itself.
 */
function readableBy(objects: ObjectRegistry, record: Harvested, identity: string): boolean {
  if (record.source !== CONFIRMED) return true;
  return (
    CONFIRMED_READERS.get(objects)
      ?.get(`${record.entity}\0${String(record.value)}`)
      ?.has(identity) === true
  );
}

/** A value discovery tried and confirmed (a small id, a documented value), not one the API gave out. */
function tried(record: Harvested): boolean {
  return record.source === OWNED || record.source === CONFIRMED;
}

/** The JSON body an operation that documents none was seen to need (a copy: checks may change it). */
function learned(objects: ObjectRegistry, op: Operation): Record<string, unknown> | undefined {
  const body = objects.learnedBody(op);
  return body === undefined ? undefined : { ...body };
}

const FIELD = /^[A-Za-z_][\w-]{0,40}$/;
const MISSING_MESSAGES = [
  /['"`]([A-Za-z_][\w-]{0,40})['"`] (?:is|are) (?:required|missing)/g,
  /missing (?:required )?(?:field|property|parameter|key)s?:? ['"`]?([A-Za-z_][\w-]{0,40})/gi,
  /field required:? ['"`]?([A-Za-z_][\w-]{0,40})/gi,
];

/**
 * The fields an error answer says are missing from the body: FastAPI/pydantic's 422 `detail[].loc`
 * (`["body", "product"]`), and messages such as `'product' is required`, ``missing field `product` ``,
 * `Field required: product`. At most 8 names.
 */
export function missingFields(json: unknown, text = ''): string[] {
  const out = new Set<string>();
  const add = (name: unknown) => {
    if (typeof name === 'string' && FIELD.test(name) && out.size < 8) out.add(name);
  };
  const detail =
    json !== null && typeof json === 'object' ? (json as Record<string, unknown>).detail : undefined;
  for (const d of Array.isArray(detail) ? detail.slice(0, 20) : []) {
    if (d === null || typeof d !== 'object') continue;
    const { loc, msg, type } = d as Record<string, unknown>;
    const missing = type === 'missing' || (typeof msg === 'string' && /required|missing/i.test(msg));
    if (missing && Array.isArray(loc) && loc[0] === 'body' && loc.length === 2) add(loc[1]);
  }
  const message = (json === undefined ? text : (JSON.stringify(json) ?? '')).slice(0, 2000);
  for (const re of MISSING_MESSAGES) for (const m of message.matchAll(re)) add(m[1]);
  return [...out];
}

/** A harvested value for a parameter or field, as a string (`undefined` when nothing fits well enough). */
function harvested(
  objects: ObjectRegistry,
  name: string,
  schema: JsonObject,
  owner: string | undefined,
  minScore: number,
  context = '',
): string | undefined {
  const found = objects.harvest.best({ name, context, schema }, owner, minScore);
  return found === undefined ? undefined : String(found.value);
}

/** A field that refers to another object: `product_id`, `ownerId`, `categoryIds`, `ProductId` (not its own `id`). */
const FOREIGN_KEY = /^(?!(?:id|Id|ID)$)[A-Za-z0-9]*?(?:_?id|Id|ID|_?ids|Ids)$/;

/**
 * Example values a document's author left as a placeholder (`string`, `any`, `example`, `test`, `<account>`,
 * `your_token`, `...`): they name nothing the API holds.
 */
const PLACEHOLDER =
  /^(any|string|str|text|integer|int|number|boolean|bool|object|uuid|example|examples?|sample|test|testing|foo|bar|baz|qux|value|placeholder|null|undefined|none|dummy|x+|abc|abc123|todo|tbd|changeme|lorem.*|\.{2,}|<[^<>]*>|\{\{?[^{}]*\}?\}|\[[^[\]]*\]|your[-_ ]\w+|[\w.+-]+@(example\.(com|org|net)|test\.com|domain\.com|email\.com))$/i;

/** A document's example value that is a placeholder (PLACEHOLDER), or the input's own name (`account_no: account_no`). */
export function placeholderExample(value: unknown, name = ''): boolean {
  if (typeof value !== 'string') return false;
  const v = value.trim();
  return v === '' || PLACEHOLDER.test(v) || (name !== '' && v.toLowerCase() === name.toLowerCase());
}

/** A read that finds what its inputs name (not one that checks or verifies them: that may mail or mark someone). */
const FINDS = /look_?-?up|search|find|query|get|fetch|view|show|resolve|preview|inspect/i;

/** Inputs that hold a secret: never filled with a value the API gave out. */
const SECRET_INPUT = /pass|secret|token|otp|pin$|code$|key$|answer|cvv|cvc/i;

/** An input that names an object by a number or a code (`account_no`, `invoiceNumber`, `iban`, `card`, `sku`). */
const NAMES_BY_NUMBER =
  /[-_](no|num|number|code|ref)$|[a-z0-9](No|Num|Number|Code|Ref)$|^(iban|account|card|sku|ref|reference|number|uuid|guid)$/i;

/**
 * Replaces sampled foreign keys in a body with ids the API gave out (the owner's first): a sampled `1` or a
 * random string names no object, so the request would fail for the wrong reason.
 */
export function withForeignKeys(
  spec: ApiDocument,
  schema: JsonSchema,
  body: unknown,
  objects: ObjectRegistry,
  owner: string | undefined,
  path: string,
): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const top = foreignKeysIn(
    spec,
    propertiesOf(spec, schema),
    body as Record<string, unknown>,
    objects,
    owner,
    path,
  );
  // The record in its envelope (`data.attributes` of a JSON:API document, `{order: {...}}`) too.
  const envelope = schemaEnvelope(spec, schema);
  if (envelope.length === 0) return top;
  return withFields(
    top,
    envelope,
    foreignKeysIn(spec, recordProperties(spec, schema), fieldsAt(top, envelope), objects, owner, path),
  );
}

/** withForeignKeys on one level of a body: `props` declared, `fields` the values there (a copy is returned). */
function foreignKeysIn(
  spec: ApiDocument,
  props: Record<string, JsonObject>,
  fields: Readonly<Record<string, unknown>>,
  objects: ObjectRegistry,
  owner: string | undefined,
  path: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...fields };
  const files = filesRecord(path);
  for (const [name, prop] of Object.entries(props)) {
    if (!(name in out)) continue;
    // An array of records (`items: [{productId, quantity}]`): each record's foreign keys from what the API gave out
    // too (review R1-4: a made-up productId 1 was refused where the store listed 101 and 102).
    const records = out[name];
    if (schemaType(prop) === 'array' && Array.isArray(records)) {
      const itemProps = propertiesOf(spec, resolveSchema(spec, prop.items as JsonSchema));
      if (Object.keys(itemProps).length > 0) {
        out[name] = records
          .slice(0, 5)
          .map((r) =>
            r !== null && typeof r === 'object' && !Array.isArray(r)
              ? foreignKeysIn(spec, itemProps, r as Record<string, unknown>, objects, owner, path)
              : r,
          );
        continue;
      }
    }
    if (files && OWNER_INPUT.test(name)) {
      // Who the new record is filed under: the caller itself, as it was told about itself (its login answer,
      // its token's claims), never an id the answers showed of someone else (seeded user 8 of a directory);
      // with no own id known the member is left out: the API may take the caller's, and names nobody else.
      const own = owner === undefined ? undefined : ownId(objects, name, prop, owner);
      if (own === undefined) delete out[name];
      else out[name] = /^(integer|number)$/.test(String(schemaType(prop))) ? Number(own) : own;
      continue;
    }
    // A value the API gave out beats a placeholder the document's author left (`account_no: "string"`).
    if (!FOREIGN_KEY.test(name)) {
      // An input that names an object, or in a read that finds (`POST /account/lookup`, `/users/search`) any input;
      // never a secret (a reset code the API leaked is someone's).
      const names =
        !SECRET_INPUT.test(name) &&
        (idInput(name) ||
          NAMES_BY_NUMBER.test(name) ||
          (readLikePost(path) && FINDS.test(path.split('/').pop() ?? '')));
      if (!placeholderExample(out[name], name) || !names) continue;
      // The same name given out anywhere will do (score 2): the placeholder names nothing at all.
      const value = harvested(objects, name, prop, owner, 2, entityHint(path));
      if (value !== undefined && !placeholderExample(value, name))
        out[name] = /^(integer|number)$/.test(String(schemaType(prop))) ? Number(value) : value;
      continue;
    }
    const type = schemaType(prop);
    const itemSchema = type === 'array' ? resolveSchema(spec, prop.items as JsonSchema) : prop;
    const value = harvested(objects, name.replace(/s$/, ''), itemSchema, owner, 3, entityHint(path));
    if (value === undefined) continue;
    const typed = /^(integer|number)$/.test(String(schemaType(itemSchema))) ? Number(value) : value;
    out[name] = type === 'array' ? [typed] : typed;
  }
  return out;
}

/**
 * A body member that says whose record it is: `userId`, `user_id`, `ownerId`, `customer_id`, `authorId`,
 * `createdBy`, `buyerId` (not a role in front of it, `target_user_id` or `recipientUserId`, which names another
 * on purpose: a transfer's payee).
 */
const OWNER_INPUT =
  /^((owner[-_]?)?(user|customer|member|buyer|client|person|author|creator|owner|created[-_]?by)[-_]?(id|uuid)|uid|created[-_]?by|owned[-_]?by)$/i;

/** A path a POST files a new record at (`/orders`, `/users/{id}/notes`): it ends at a collection, not an action. */
function filesRecord(path: string): boolean {
  const last =
    path
      .split('?')[0]
      .split('/')
      .filter((s) => s !== '')
      .pop() ?? '';
  return last !== '' && !last.includes('{') && !pathActs(path);
}

/**
 * The caller's own id for an owner member: a value it was given about itself (source `login`: its login answer,
 * its token's claims) in the member's entity, and given so to no other identity.
 */
function ownId(objects: ObjectRegistry, name: string, schema: JsonObject, owner: string): string | undefined {
  // By the member's name (`userId` ← a token's `userId`, a login answer's `user.id`), else the login answer's
  // own top-level `id` or the token's `sub`: the account the caller signed in as.
  const wanted = [
    { name, context: '', schema },
    { name: 'id', context: 'login', schema },
    { name: 'sub', context: '', schema },
  ];
  for (const w of wanted) {
    for (const c of objects.harvest.candidates(w, owner, 2)) {
      if (objects.harvest.ownLoginValue(owner, c.value, c.record.entity)) return String(c.value);
    }
  }
  // A read of the caller's own record (`GET /me`, `/auth/profile`): an identity given by an API key has no login
  // answer, but its own record says who it is. Only for a member that names a user (not a customer record).
  const self = /^(owner[-_]?)?(user|uid|owner|author|creator|created[-_]?by|member)/i.test(name)
    ? objects.harvest.selfReadId(owner)
    : undefined;
  return self !== undefined && fits(self, schema) ? String(self) : undefined;
}

function entityHint(path: string): string {
  return (
    path
      .split('/')
      .filter((s) => s !== '' && !s.startsWith('{'))
      .pop() ?? ''
  );
}

/**
 * The item path a documented sub-resource path stands beside (`/products/{id}/with-stock` →
 * `/products/{id}`), when the document names the item path for another method: the route a server may
 * serve when its document has drifted.
 */
export function itemRouteBeside(spec: ApiDocument, op: Operation): string | undefined {
  const m = /^(.*\/\{[^}]+\})\/[^/{}]+$/.exec(op.path);
  if (!m) return undefined;
  const item = m[1];
  const documented = spec.operations.filter((o) => o.path === item);
  return documented.length > 0 && !documented.some((o) => o.method === op.method) ? item : undefined;
}

/**
 * A member that carries value by itself (`coupon`, `voucherCode`, `promo_code`, `giftCard`, `referral`,
 * `discountCode`): a documented example of it may be a real code (`WELCOME10`), single use per customer.
 */
export function valueBearing(name: string): boolean {
  return /^(coupon|voucher|promo|promocode|promotioncode|giftcard|giftcode|giftcertificate|referral|referralcode|discountcode|redeemcode|redemptioncode)s?(code|id)?s?$/.test(
    name.replace(/[-_\s]/g, '').toLowerCase(),
  );
}

/** The documented codes of each document (documentedCodes), computed once. */
const codesOf = new WeakMap<object, Set<string>>();

/**
 * A sampled body without the optional value-bearing members (`couponCode`, `voucher`, `promo`) whose value is made
 * up: a shop refuses an unknown coupon ('Unknown coupon') where leaving it out succeeds (review R1-4). A documented
 * code stays (the runner leaves it out of a given identity's writes; API6 redeems it as the scan's own account).
 */
export function withoutMadeUpCodes(spec: ApiDocument, schema: JsonSchema, body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const resolved = resolveSchema(spec, schema);
  const required = new Set(Array.isArray(resolved?.required) ? (resolved.required as string[]) : []);
  const doc = spec.doc as object;
  let codes = codesOf.get(doc);
  if (codes === undefined) {
    codes = documentedCodes(spec.doc);
    codesOf.set(doc, codes);
  }
  const out = { ...(body as Record<string, unknown>) };
  for (const [k, v] of Object.entries(out))
    if (valueBearing(k) && !required.has(k) && !codes.has(String(v))) delete out[k];
  return out;
}

/**
 * The values the document gives for value-bearing members, wherever it gives them: a property's `example`,
 * `examples`, `default`, `const` or `enum`, and the member's value in an example payload. At most 500.
 */
export function documentedCodes(doc: unknown): Set<string> {
  const codes = new Set<string>();
  const take = (v: unknown) => {
    if (codes.size >= 500) return;
    if (typeof v === 'string' && v.length > 0 && v.length <= 200) codes.add(v);
    else if (typeof v === 'number') codes.add(String(v));
    else if (Array.isArray(v)) for (const x of v.slice(0, 50)) take(x);
  };
  const seen = new Set<unknown>();
  const walk = (node: unknown, depth: number) => {
    if (depth > 40 || node === null || typeof node !== 'object' || seen.has(node) || seen.size > 100_000)
      return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const x of node) walk(x, depth + 1);
      return;
    }
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (valueBearing(k)) {
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
          const o = v as Record<string, unknown>;
          for (const m of ['example', 'default', 'const', 'enum', 'x-example']) take(o[m]);
          // OpenAPI 3.1 `examples: [..]` of a schema, or a Parameter's `examples: {name: {value}}`.
          if (Array.isArray(o.examples)) take(o.examples);
          else if (o.examples !== null && typeof o.examples === 'object')
            for (const e of Object.values(o.examples as Record<string, unknown>))
              if (e !== null && typeof e === 'object') take((e as Record<string, unknown>).value);
        } else take(v);
      }
      walk(v, depth + 1);
    }
  };
  walk(doc, 0);
  return codes;
}

/**
 * `body` without the value-bearing members whose value is, or is made from, one the document gives (`{"coupon":
 * "WELCOME10"}`, a probe `WELCOME10'`), at any depth: sent as a given identity, it would redeem a real code in that
 * identity's name. The names dropped beside it.
 */
export function withoutDocumentedCodes(
  body: unknown,
  codes: ReadonlySet<string>,
): { body: unknown; dropped: string[] } {
  const dropped: string[] = [];
  const documented = (v: unknown): boolean =>
    typeof v === 'string' || typeof v === 'number'
      ? [...codes].some((c) => String(v) === c || (c.length >= 3 && String(v).includes(c)))
      : Array.isArray(v) && v.some(documented);
  const strip = (node: unknown, depth: number): unknown => {
    if (depth > 8 || node === null || typeof node !== 'object') return node;
    if (Array.isArray(node)) return node.map((x) => strip(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (valueBearing(k) && documented(v)) {
        if (dropped.length < 20) dropped.push(k);
        continue;
      }
      out[k] = strip(v, depth + 1);
    }
    return out;
  };
  if (codes.size === 0) return { body, dropped };
  if (typeof body === 'string') {
    // A form body (`coupon=WELCOME10&qty=1`).
    if (!/^[^=&\s]+=[^&]*(&[^=&\s]+=[^&]*)*$/.test(body.slice(0, 8192))) return { body, dropped };
    const form = new URLSearchParams(body);
    for (const k of [...new Set(form.keys())])
      if (valueBearing(k) && form.getAll(k).some(documented)) {
        form.delete(k);
        if (dropped.length < 20) dropped.push(k);
      }
    return dropped.length > 0 ? { body: form.toString(), dropped } : { body, dropped };
  }
  const stripped = strip(body, 0);
  return dropped.length > 0 ? { body: stripped, dropped } : { body, dropped };
}

/** Last path words of a purchase (`/orders`, `/purchases`, `/checkout`, `/buy`, `/placeOrder`). */
const PURCHASE_WORD = /^(orders?|purchases?|checkouts?|check_out|buy|place_order|placeorder)$/;
/** Inputs of what is bought and how much (`item`, `quantity`, `sku`, `product_id`, `price`, `total`). */
const PURCHASE_INPUT = /^(items?|products?|skus?|quantity|qty|count|price|total|cost|amount)([-_A-Z]|$)/i;

/** Prose saying the caller pays: "Buys a gift card", "paid from the member's credit", "taken from the balance". */
const PAYING_TEXT =
  /\b(buys|purchases|(paid|charged|billed) (from|to|with|against|out of)|(taken|deducted|debited|withdrawn|subtracted) from|(is|are|gets|get|be) (charged|billed|debited)|order is placed|places? (an|the) order)\b/i;
/** Verbs that turn a draft, a quote or a cart into an order (`POST /quotes/{id}/accept`, `/carts/{id}/checkout`). */
const COMMIT_VERB =
  /^(accept|confirm|submit|place|finali[sz]e|checkout|check_out|pay|purchase|order|book|commit|approve|convert|complete)$/;
/** An action on one draft, quote or cart (R1-S4): `/quotes/{quoteId}/accept`, `/carts/{id}/checkout`. */
const DRAFT_ACTION =
  /\/(drafts?|quotes?|quotations?|estimates?|proformas?|carts?|baskets?)\/\{[^{}/]+\}\/([^{}/]+)\/?$/i;

/**
 * Whether an operation's summary or description says its caller pays ("Buys a gift card paid from the member's
 * credit"; "The price is taken from the member's credit"; "the first month is charged to the member's card"), or it
 * documents a 402 Payment Required answer: whatever its path's last word, a purchase (R1's review: `POST /giftcards`,
 * `POST /bookings` spent the given identities' credit). An operation id alone (`buyPolicy`, `purchaseTicket`) is
 * not enough: the path rule below judges those.
 */
export function paidByCaller(spec: ApiDocument, op: Operation): boolean {
  if (op.method !== 'POST') return false;
  if (op.responses['402'] !== undefined) return true;
  return PAYING_TEXT.test(operationProse(spec, op)) && !placedUnpaid(spec, op);
}

/**
 * An order that waits for payment, paid by an operation of its own (`POST /orders/{orderId}/pay`): placing it spends
 * nothing (review R1-4: 'Place an order at a store; it waits for payment'), whatever its prose or path says of orders.
 */
export function placedUnpaid(spec: ApiDocument, op: Operation): boolean {
  return AWAITS_PAYMENT.test(operationProse(spec, op)) && paidElsewhere(spec, op);
}

/** Prose of an order placed unpaid: it waits for payment, is pending payment, is paid later. */
const AWAITS_PAYMENT =
  /\b(waits? for (a |the |its )?payment|awaits? (a |the |its )?payment|awaiting payment|pending payment|unpaid|not (yet )?(paid|charged)|paid later|pay (for )?it later|until (it is )?paid)\b/i;

/** A documented POST that pays for what `op` makes: at its item, ending in pay, payment(s), checkout or charge. */
function paidElsewhere(spec: ApiDocument, op: Operation): boolean {
  const base = op.path.replace(/\/+$/, '');
  return spec.operations.some(
    (o) =>
      o.method === 'POST' &&
      o.path.startsWith(`${base}/{`) &&
      /\/(pay|payments?|checkout|charge)\/?$/i.test(o.path),
  );
}

/** An operation's description as the document gives it (the loaded operation keeps none), at most 2,000 characters. */
export function operationDescription(spec: ApiDocument, op: Operation): string {
  const raw = op.pointer !== '' ? spec.resolve(`#${op.pointer}`) : undefined;
  const description =
    raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>).description : undefined;
  return typeof description === 'string' ? description.slice(0, 2000) : '';
}

/** An operation's summary and description, as the document gives them (at most 2,000 characters). */
export function operationProse(spec: ApiDocument, op: Operation): string {
  return `${op.summary ?? ''} ${operationDescription(spec, op)}`.slice(0, 2000);
}

/**
 * A purchase: an operation whose own words say its caller pays (paidByCaller), or a POST whose path ends in a word of buying or ordering and that names what is bought or how many
 * (`POST /customers/{id}/orders {item, quantity}`, `POST /checkout {sku, qty}`). Sent as a given identity it
 * spends that identity's real money or credit.
 */
export function purchases(spec: ApiDocument, op: Operation, req: { body?: unknown; path: string }): boolean {
  if (op.method !== 'POST' || /\}\/?$/.test(op.path)) return false;
  if (paidByCaller(spec, op)) return true;
  if (placedUnpaid(spec, op)) return false;
  // Accepting one's quote, checking out one's cart: the draft the scan made becomes a paid order.
  const action = DRAFT_ACTION.exec(op.path)?.[2];
  if (
    action !== undefined &&
    segmentPieces(action)
      .flatMap((p) => p.split(/[-_]+/))
      .some((w) => COMMIT_VERB.test(w))
  )
    return true;
  const words = lastLiteralWords(op.path);
  if (words === undefined) return false;
  if (
    !PURCHASE_WORD.test(words.replace(/-/g, '_')) &&
    !words.split(/[-_]+/).some((w) => PURCHASE_WORD.test(w))
  )
    return false;
  const names = [
    ...(req.body !== null && typeof req.body === 'object' && !Array.isArray(req.body)
      ? Object.keys(req.body as Record<string, unknown>)
      : []),
    ...op.parameters.filter((p) => p.in === 'query').map((p) => p.name),
  ];
  const documented = Object.keys(propertiesOf(spec, bodySchema(op)));
  return [...names, ...documented].some((n) => PURCHASE_INPUT.test(n));
}
