/**
 * Plans requests from the spec: fills parameters and bodies with valid values and chains operations through
 * ids captured from responses (POST /things → id → GET /things/{id}).
 */
import type { ApiDocument, JsonSchema, Operation } from '../../core/api-document.ts';
import type { ScanRequest, ScanResponse } from './client.ts';
import { sampleValue } from './schema.ts';

/** An object the scan created in its setup, so it may also change and delete it. */
export interface CreatedObject {
  /** Path template of the collection, e.g. `/v2/notes`. */
  readonly collection: string;
  /** Concrete path of the object, e.g. `/v2/notes/42`. */
  readonly path: string;
  readonly id: string;
  /** Identity that created it. */
  readonly owner: string;
  /** The owner's view of the object as the creating response returned it. */
  readonly body: unknown;
  readonly createdBy: Operation;
}

/** Objects created during the scan, per identity and collection template. Bounded by the number of operations. */
export class ObjectRegistry {
  readonly #byOwner = new Map<string, Map<string, CreatedObject>>();
  readonly #params = new Map<string, Readonly<Record<string, string>>>();

  /** Path parameter values that designate an identity's own data (`{ accountId: 'alice' }`). */
  setParams(owner: string, params: Readonly<Record<string, string>>): void {
    this.#params.set(owner, params);
  }

  param(owner: string, name: string): string | undefined {
    return this.#params.get(owner)?.[name];
  }

  add(object: CreatedObject): void {
    let map = this.#byOwner.get(object.owner);
    if (!map) {
      map = new Map();
      this.#byOwner.set(object.owner, map);
    }
    map.set(object.collection, object);
  }

  get(owner: string, collection: string): CreatedObject | undefined {
    return this.#byOwner.get(owner)?.get(collection);
  }

  of(owner: string): CreatedObject[] {
    return [...(this.#byOwner.get(owner)?.values() ?? [])];
  }

  /** Is this concrete path an object the scan created (or below one)? */
  isScanCreated(path: string): boolean {
    for (const map of this.#byOwner.values()) {
      for (const o of map.values()) if (path === o.path || path.startsWith(`${o.path}/`)) return true;
    }
    return false;
  }
}

const LOGIN = /(^|[/_-])(log_?in|sign_?in|auth(enticate)?|token|session)s?($|[/_-])/i;
const PASSWORD_FIELD = /pass(word)?|secret|pin$/i;
const BUSINESS =
  /coupon|voucher|promo|referral|redeem|invite|order|checkout|purchase|transfer|vote|like|reward|gift/i;
const ADMIN = /(^|[/_-])(admin|administrator|internal|manage(ment)?|staff|superuser)($|[/_-])/i;

export function jsonBodySchema(op: Operation): JsonSchema | undefined {
  if (!op.requestBody) return undefined;
  for (const [type, media] of Object.entries(op.requestBody.content)) {
    if (/^application\/([\w.+-]*\+)?json/i.test(type)) return media.schema ?? {};
  }
  return undefined;
}

/** Operations marked `x-portcullis-scan: false` are never sent. */
export function isExcluded(op: Operation): boolean {
  return op.extensions['x-portcullis-scan'] === false;
}

export function isLoginOperation(spec: ApiDocument, op: Operation): boolean {
  if (op.method !== 'POST' || (!LOGIN.test(op.path) && !/log_?in|sign_?in/i.test(op.id))) return false;
  const body = jsonBodySchema(op);
  if (body === undefined) return false;
  const sample = sampleValue(spec, body);
  return (
    sample !== null && typeof sample === 'object' && Object.keys(sample).some((k) => PASSWORD_FIELD.test(k))
  );
}

export function isAdminOperation(op: Operation): boolean {
  if (op.extensions['x-portcullis-admin'] === true) return true;
  if (ADMIN.test(op.path) || op.tags.some((t) => ADMIN.test(t))) return true;
  return (op.security ?? []).some((req) =>
    Object.values(req).some((scopes) => scopes.some((s) => /admin/i.test(s))),
  );
}

/**
 * A business action: marked `x-portcullis-business-flow: true`, or a POST whose path or id names one
 * (coupon, referral, checkout, ...) and that is not the plain creation of a resource (`POST /orders` beside
 * `/orders/{id}` is a resource, `POST /checkout` a flow).
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
function itemParam(spec: ApiDocument, collection: string): string | undefined {
  for (const op of spec.operations) {
    const m = /^(.*)\/\{([^}]+)\}$/.exec(op.path);
    if (m && m[1] === collection) return m[2];
  }
  return undefined;
}

/** POSTs on a collection that has items: the setup creates one object per identity with each. */
export function isCreationOperation(spec: ApiDocument, op: Operation): boolean {
  return (
    op.method === 'POST' &&
    !isExcluded(op) &&
    !isLoginOperation(spec, op) &&
    !isBusinessFlow(spec, op) &&
    !isAdminOperation(op) &&
    itemParam(spec, op.path) !== undefined
  );
}

/** Reads the id of a created object from its response, by the item parameter's name or a usual id field. */
export function captureId(spec: ApiDocument, op: Operation, res: ScanResponse): string | undefined {
  const body = res.json;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    const loc = res.headers.location;
    return loc ? loc.split('/').pop() : undefined;
  }
  const param = itemParam(spec, op.path);
  const record = body as Record<string, unknown>;
  const data = (record.data ?? record) as Record<string, unknown>;
  for (const key of [param, 'id', '_id', 'uuid', 'key']) {
    if (key === undefined) continue;
    const v = data[key] ?? record[key];
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  return undefined;
}

export interface PlannedRequest extends ScanRequest {
  readonly operation: Operation;
  /** True when the path has parameters and every one came from this identity (its objects or its params). */
  readonly ownedPath: boolean;
  /** The object the path points at, when there is one. */
  readonly object?: CreatedObject;
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
  let object: CreatedObject | undefined;
  const concrete: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const m = /^\{([^}]+)\}$/.exec(segments[i]);
    if (!m) {
      concrete.push(segments[i]);
      continue;
    }
    hasParams = true;
    const name = m[1];
    const collection = segments.slice(0, i).join('/');
    const owned = options.owner !== undefined ? objects.get(options.owner, collection) : undefined;
    let value = options.params?.[name];
    if (value === undefined && owned) {
      value = owned.id;
      object = owned;
    }
    if (value === undefined && options.owner !== undefined) value = objects.param(options.owner, name);
    if (value === undefined) {
      ownedPath = false;
      const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
      value = String(param?.raw.example ?? sampleValue(spec, param?.schema, name));
    }
    concrete.push(encodeURIComponent(value));
  }
  const query = new URLSearchParams();
  const headers: Record<string, string> = {};
  for (const p of op.parameters) {
    if (p.in === 'path') continue;
    const given = options.params?.[p.name];
    const hasExample = p.raw.example !== undefined || p.raw.examples !== undefined;
    if (given === undefined && !p.required && !hasExample && !options.allQuery) continue;
    const value = given ?? String(p.raw.example ?? sampleValue(spec, p.schema, p.name));
    if (p.in === 'query') query.set(p.name, value);
    else if (p.in === 'header') headers[p.name.toLowerCase()] = value;
  }
  const schema = jsonBodySchema(op);
  const body =
    options.body !== undefined ? options.body : schema !== undefined ? sampleValue(spec, schema) : undefined;
  const qs = query.toString();
  return {
    method: op.method,
    path: concrete.join('/') + (qs ? `?${qs}` : ''),
    headers,
    body,
    operation: op,
    ownedPath: ownedPath && hasParams,
    object,
  };
}
