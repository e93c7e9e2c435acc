/**
 * API1 Broken Object Level Authorization: each ordinary identity reads, changes and deletes the objects of
 * the other (the ones the scan created for it, and any path made only of its own harvested values),
 * creates objects naming the other as owner (`owner_id`, `user_id`, ... in the body) and objects inside the
 * other's account (`POST /users/{A}/addresses`).
 * Judged by status and body similarity, and by the owner reading the object back after the change or
 * delete. PUT, PATCH and DELETE only ever go to objects the scan created itself (unless allowDestructive).
 */
import type { ApiDocument, JsonSchema, Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { createdId, setsPassword } from '../discover.ts';
import { configuredIds, entityOfPath, fits, OWNED, singular } from '../harvest.ts';
import type { CreatedObject } from '../objects.ts';
import {
  bodySchema,
  captureId,
  createdValue,
  creationCollection,
  isAdminOperation,
  isBusinessFlow,
  isCreationOperation,
  isExcluded,
  isLoginOperation,
  itemParam,
  listedValue,
  memberParam,
  opActs,
  operationDescription,
  type PlannedRequest,
  pathActs,
  pathValues,
  planRequest,
  requiresAuth,
  withForeignKeys,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, sampleValue, schemaType } from '../schema.ts';
import { accountParam, selfAccount, selfIds } from '../self.ts';
import { similarity } from '../similarity.ts';
import {
  type AnonymousTries,
  accepted,
  anonymousContext,
  anonymousMarker,
  recordAnonymous,
  replayAccounts,
} from './api1-accounts.ts';
import { findLoginTarget } from './api2-authentication.ts';
import { changedValue, recordFor, shownFields } from './api3-property-authorization.ts';
import { madeUpIdFor, notFoundAnswer, refusedIn200 } from './api5-function-authorization.ts';
import {
  base64Input,
  headerInputs,
  markObjectLevel,
  namesPerson,
  type ObjectInput,
  objectInputEntity,
  objectInputs,
  otherInputs,
  readsByInput,
} from './object-inputs.ts';
import { registerThrowaway, type Throwaway } from './throwaway.ts';

const SAME_OBJECT = 0.8;

/**
 * Marks the free-text string fields of a body (no enum, format or pattern; within maxLength) so a change can
 * be recognised when read back, and keeps every other value valid.
 */
export function markBody(
  spec: ApiDocument,
  schema: JsonSchema | undefined,
  value: unknown,
  marker: string,
): unknown {
  const s = resolveSchema(spec, schema);
  if (typeof value === 'string') {
    if (s.enum !== undefined || s.format !== undefined || s.pattern !== undefined || s.const !== undefined)
      return value;
    const max = typeof s.maxLength === 'number' ? s.maxLength : Number.POSITIVE_INFINITY;
    return max >= marker.length ? marker : value;
  }
  if (Array.isArray(value)) return value.map((v) => markBody(spec, s.items as JsonSchema, v, marker));
  if (value !== null && typeof value === 'object') {
    const props = propertiesOf(spec, s);
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k in props ? markBody(spec, props[k], v, marker) : v]),
    );
  }
  return value;
}

/**
 * Every path parameter of the item names a member of a collection the document lets anyone list: `/things/{id}`
 * → `/things`, and a sub-resource of such an item (`/things/{id}/stock`) as well.
 */
function listedForAnyone(ctx: ScanContext, itemPath: string): boolean {
  const segments = itemPath.split('/');
  let params = 0;
  for (let i = 1; i < segments.length; i++) {
    if (!/^\{[^/{}]+\}$/.test(segments[i])) continue;
    params++;
    const parent = segments.slice(0, i).join('/');
    const open = ctx.spec.operations.some(
      (o) => o.method === 'GET' && (o.path === parent || o.path === `${parent}/`) && !requiresAuth(o),
    );
    if (!open) return false;
  }
  return params > 0;
}

/**
 * Is what A sees worth protecting from B? Not when it is empty, and not when the operation declares no
 * security and anyone gets the same without credentials (public by design).
 */
async function isPrivate(
  ctx: ScanContext,
  req: PlannedRequest,
  mine: ScanResponse,
  ownerOnly: boolean,
): Promise<boolean> {
  const body = mine.json ?? mine.text;
  const empty = body === '' || (body !== null && typeof body === 'object' && Object.keys(body).length === 0);
  if (empty) return false;
  if (requiresAuth(req.operation)) return true;
  const anonymous = await ctx.send(req, null);
  if (!isSuccess(anonymous) || similarity(body, anonymous.json ?? anonymous.text) < SAME_OBJECT) return true;
  // Anyone gets it: public by design, unless the path names the owner by a value the API gave only to the
  // owner (an account number, an id from its own answers) — then it is the owner's data, open to all. A
  // collection the document lets anyone list hands its ids to everyone: its items are public by design, and so
  // is what the document itself declares open (`security: []`: a tracking page, a public card by its number),
  // unless it shows the owner's private data (contact, money, identity documents).
  const declaredOpen = openByDocument(req.operation) && !privateFields(mine.json);
  return ownerOnly && !declaredOpen && !listedForAnyone(ctx, req.operation.path);
}

/**
 * Every path value (but versions and kinds the document lists) was seen by the owner alone among the
 * ordinary identities, and none is one of the owner's login fields (a user name or e-mail: public profiles
 * are named by those).
 */
function namesOwnerPrivately(ctx: ScanContext, req: PlannedRequest, owner: Identity): boolean {
  const schemaOf = (name: string) =>
    req.operation.parameters.find((p) => p.in === 'path' && p.name === name)?.schema;
  const values = pathValues(req.operation.path, req.path)
    .filter((v) => listedValue(ctx.spec, schemaOf(v.name)) === undefined)
    .map((v) => v.value);
  const login = new Set(Object.values(owner.login?.body ?? {}).map(String));
  return (
    values.length > 0 && values.every((v) => !login.has(v) && ctx.objects.harvest.exclusiveTo(owner.name, v))
  );
}

/** The fields that say whose an object is. */
const OWNER_FIELD =
  /^((user|owner|author|account|customer|member|creator|created_?by|profile|person|patient|employee|student|holder|poster|uploader)(_?id|Id|ID)|owner|created_?by|createdBy|user_?name|username)$/;

/**
 * An identity's own value for an ownership field: for a person's id field (`userId`, `owner_id`, `authorId`), the
 * id its token or login answer says is its own (`sub`, `id`, `user_id`); then the field in the objects the scan
 * created for it, else a value only it has seen, else the id or name of its own profile (`/me`-like reads).
 */
function ownValue(ctx: ScanContext, who: Identity, field: string, schema: JsonSchema | undefined) {
  const s0 = resolveSchema(ctx.spec, schema);
  if (/(id|Id|ID)$/.test(field)) {
    const keys = /^account/i.test(field) ? /^(account_?id|accountid)$/i : /^(sub|id|uid|user_?id|userid)$/i;
    const told = [...selfIds(who, keys)].find((v) => fits(v, s0));
    if (told !== undefined) return schemaType(s0) === 'integer' && /^\d+$/.test(told) ? Number(told) : told;
  }
  for (const object of ctx.objects.of(who.name)) {
    const body = object.body as Record<string, unknown> | null;
    const record =
      body && typeof body === 'object' ? ((body.data as Record<string, unknown>) ?? body) : undefined;
    const v = record?.[field] ?? body?.[field];
    if (typeof v === 'string' || typeof v === 'number') return v;
  }
  const s = resolveSchema(ctx.spec, schema);
  const harvest = ctx.objects.harvest;
  const same = harvest.candidates({ name: field, schema: s }, who.name, 2).find((c) => c.exclusive);
  if (same) return same.value;
  const key = /name/i.test(field) ? 'username' : 'id';
  const profile = harvest
    .candidates({ name: key, schema: s }, who.name, 1)
    .find(
      (c) =>
        c.record.key === key &&
        /\/(me|profile|account|self|whoami|current)(\/|$)|^login$/.test(c.record.source),
    );
  return profile?.value;
}

/** Does any record in the view carry `field: value` (top level, under `data`, or one level down)? */
function shows(view: unknown, field: string, value: string | number): boolean {
  const check = (r: unknown) =>
    r !== null && typeof r === 'object' && String((r as Record<string, unknown>)[field]) === String(value);
  if (check(view)) return true;
  if (view === null || typeof view !== 'object' || Array.isArray(view)) return false;
  return Object.values(view as Record<string, unknown>).some(check);
}

/**
 * Whether the record that shows `field` in the view is the body sent and nothing more (`{"user": <the body>}`):
 * an answer that echoes its request proves nothing stored. A stored record adds something of its own (an id, a
 * date) or leaves something out.
 */
function echoesBody(view: unknown, body: Readonly<Record<string, unknown>>, field: string): boolean {
  const echo = (r: unknown) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r) || !(field in r)) return false;
    const entries = Object.entries(r as Record<string, unknown>);
    return (
      entries.length === Object.keys(body).length &&
      entries.every(([k, v]) => k in body && JSON.stringify(v) === JSON.stringify(body[k]))
    );
  };
  if (echo(view)) return true;
  if (view === null || typeof view !== 'object' || Array.isArray(view)) return false;
  return Object.values(view as Record<string, unknown>).some(echo);
}

/**
 * The owner's reads of the operation: as planned (its objects and values), and below its own account as it
 * knows itself when that is another path (`/users/{its user_id}/orders/{its order}`).
 */
function ownerReads(ctx: ScanContext, op: Operation, owner: Identity): PlannedRequest[] {
  const term = searchTerm(ctx, op, owner);
  const params = term ?? {};
  const planned = planRequest(ctx.spec, op, ctx.objects, { owner: owner.name, params });
  const self = selfAccount(ctx, op, owner);
  if (self === undefined) return [planned];
  const below = planRequest(ctx.spec, op, ctx.objects, { owner: owner.name, params: { ...params, ...self } });
  return below.path === planned.path ? [below] : [planned, below];
}

/** A required free-text search input of a read (`?q=`, `?search=`, `?term=`). */
const SEARCH_INPUT = /^(q|query|search|term|keywords?|text|find|contains|match)$/i;
const ID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-|^\d+$|^[0-9a-f]{24}$|^\d{4}-\d\d-\d\d/i;

/**
 * A term the owner's own data contains, for a search below a collection the owner has objects in
 * (`/users/{id}/addresses/search?q=` → a street of its address): a sampled term matches nothing, and two
 * empty answers say nothing about who may search.
 */
function searchTerm(
  ctx: ScanContext,
  op: Operation,
  owner: Identity,
): Readonly<Record<string, string>> | undefined {
  const input = op.parameters.find((p) => p.in === 'query' && p.required && SEARCH_INPUT.test(p.name));
  if (!input || schemaType(resolveSchema(ctx.spec, input.schema)) !== 'string') return undefined;
  const objects = ctx.objects
    .of(owner.name)
    .filter((o) => op.path.startsWith(`${o.collection}/`))
    .sort((a, b) => b.collection.length - a.collection.length);
  for (const object of objects) {
    const body = object.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) continue;
    const record = (body as Record<string, unknown>).data ?? body;
    if (record === null || typeof record !== 'object') continue;
    for (const [key, value] of Object.entries(record as Record<string, unknown>)) {
      if (typeof value !== 'string' || value.length < 3 || value.length > 40) continue;
      if (/id$/i.test(key) || ID_LIKE.test(value) || value === object.id) continue;
      return { [input.name]: value };
    }
  }
  return undefined;
}

/** A path read as its owner plans it, and whether its path values were the owner's alone when planned. */
interface PathRead {
  readonly op: Operation;
  readonly req: PlannedRequest;
  readonly ownerOnly: boolean;
}

/**
 * Every GET whose path takes the owner's values, planned before any replay: once the other identity has read
 * one route of an object, the other values its answer shows (an account's number beside its id) are no longer
 * the owner's alone, and a second route that takes them (`/statements/{number}`) would no longer be planned as
 * the owner's.
 */
function pathReads(ctx: ScanContext, owner: Identity): PathRead[] {
  const out: PathRead[] = [];
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || !op.path.includes('{') || isExcluded(op)) continue;
    for (const req of ownerReads(ctx, op, owner)) {
      if (req.ownedPath) out.push({ op, req, ownerOnly: namesOwnerPrivately(ctx, req, owner) });
    }
  }
  return out;
}

/**
 * The owner's path with the attacker's own values in every parameter but the last (`/patients/{its own}/visits/
 * {the owner's visit}`), from the attacker's own plan of the same route; undefined when the route has one
 * parameter that is not the document's listed kind, or the two plans share the containers.
 */
function swappedPath(ctx: ScanContext, req: PlannedRequest, own: PlannedRequest): string | undefined {
  const template = req.operation.path.split('/');
  const mine = req.path.split('?')[0].split('/');
  const theirs = own.path.split('?')[0].split('/');
  if (mine.length !== template.length || theirs.length !== template.length) return undefined;
  const params = objectParams(ctx, req.operation);
  if (params.length < 2) return undefined;
  const last = params[params.length - 1];
  if (mine[last] === theirs[last] || params.slice(0, -1).every((i) => mine[i] === theirs[i]))
    return undefined;
  const out = mine.map((seg, i) => (params.includes(i) && i !== last ? theirs[i] : seg));
  const query = req.path.includes('?') ? `?${req.path.split('?')[1]}` : '';
  return `${out.join('/')}${query}`;
}

/** The indexes of a route's path parameters that are not the document's listed kind (`/orgs/{id}/tickets/{tid}`). */
function objectParams(ctx: ScanContext, op: Operation): number[] {
  return op.path
    .split('/')
    .map((seg, i) => ({ seg, i }))
    .filter(({ seg }) => {
      const m = /^[^{}]*\{([^{}]+)\}[^{}]*$/.exec(seg);
      const p = m ? op.parameters.find((x) => x.in === 'path' && x.name === m[1]) : undefined;
      return m !== null && listedValue(ctx.spec, p?.schema) === undefined;
    })
    .map(({ i }) => i);
}

/**
 * The attacker's own parents for a nested route where it has no child of its own (`/orgs/{its org}/tickets/{...}`):
 * its plan of the route, when every parameter but the last is its own (a value it was given, `params: {orgId}`, or
 * an object it made at that path). The last parameter is the control's: a made-up id there. Undefined otherwise.
 */
function ownParents(ctx: ScanContext, op: Operation, attacker: Identity): PlannedRequest | undefined {
  const params = objectParams(ctx, op);
  if (params.length < 2) return undefined;
  const plan = planRequest(ctx.spec, op, ctx.objects, { owner: attacker.name });
  const template = op.path.split('/');
  const concrete = plan.path.split('?')[0].split('/');
  if (concrete.length !== template.length) return undefined;
  const made = ctx.objects.of(attacker.name);
  for (const i of params.slice(0, -1)) {
    const name = /\{([^{}]+)\}/.exec(template[i])?.[1] ?? '';
    const prefix = concrete.slice(0, i + 1).join('/');
    let value = concrete[i];
    try {
      value = decodeURIComponent(value);
    } catch {
      return undefined;
    }
    if (ctx.objects.param(attacker.name, name) !== value && !made.some((o) => o.path === prefix))
      return undefined;
  }
  const last = params[params.length - 1];
  const name = /\{([^{}]+)\}/.exec(template[last])?.[1] ?? '';
  const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
  const id = madeUpIdFor(resolveSchema(ctx.spec, param?.schema) as Record<string, unknown>, concrete[last]);
  if (id === undefined || template[last] !== `{${name}}`) return undefined;
  concrete[last] = encodeURIComponent(id);
  const query = plan.path.includes('?') ? `?${plan.path.split('?')[1]}` : '';
  return { ...plan, path: `${concrete.join('/')}${query}`, object: undefined };
}

/**
 * A nested read that checks only the parent (`/patients/{id}` is the caller's) and finds the child by its own id:
 * the attacker asks for the owner's child below its own parent. Found when that answers like the owner's read
 * (80% alike), unlike the attacker's own child there (where it has none, a made-up child id below its parent: see
 * ownParents), and the owner's data is private.
 */
async function swapParents(
  ctx: ScanContext,
  read: PathRead,
  own: PathRead | undefined,
  mine: ScanResponse,
  owner: Identity,
  attacker: Identity,
  tested: Set<string>,
): Promise<boolean> {
  // Reads only: a GET that acts (`/users/{id}/notes/{nid}/archive`) is never sent on the owner's child.
  if (opActs(ctx.spec, read.op)) return false;
  const ownReq = own?.req ?? ownParents(ctx, read.op, attacker);
  if (ownReq === undefined) return false;
  const path = swappedPath(ctx, read.req, ownReq);
  if (path === undefined || tested.has(path)) return false;
  tested.add(path);
  const req: PlannedRequest = { ...read.req, path, object: undefined };
  const theirs = await ctx.send(req, attacker);
  if (!isSuccess(theirs) || refusedIn200(theirs) || notFoundAnswer(theirs) || isEmptyAnswer(theirs))
    return false;
  const body = (r: ScanResponse) => r.json ?? r.text;
  const score = similarity(body(mine), body(theirs));
  if (score < SAME_OBJECT) return false;
  const control = await ctx.send(ownReq, attacker);
  if (isSuccess(control) && similarity(body(control), body(theirs)) >= SAME_OBJECT) return false;
  if (!(await isPrivate(ctx, read.req, mine, read.ownerOnly))) return false;
  ctx.report(SCAN_RULES.bolaRead, {
    operation: read.op,
    message: `${attacker.name} read ${owner.name}'s object ${read.req.path} below its own parent at ${path} (similarity ${score.toFixed(2)}; ${attacker.name}'s own object there answers otherwise): the route checks the parent, not whose the object is.${replayHint(ctx, read.req, owner, attacker)}`,
    evidence: evidenceOf(theirs, { owner: owner.name, attacker: attacker.name, similarity: score }),
  });
  return true;
}

/** Path segments before a parameter that name a space people share by membership (`/orgs/{orgId}`). */
const SHARED_SPACE =
  /^(org|organization|organisation|team|workspace|tenant|group|company|project|space|club|household|board|channel|community)$/;
/** Members of a caller's own record that list the spaces it belongs to (`memberships: [{id: 1, role}]`). */
const MEMBERSHIP_LIST =
  /^(membership|org|organization|organisation|team|workspace|tenant|group|company|project|space|club|household|board|channel|community)$/;

/** Does the answer name `value` as a space of kind `space` (`orgId: 1`, `memberships: [{id: 1}]`, `org: {id: 1}`)? */
function namesSpace(json: unknown, space: string, value: string, container = '', depth = 0): boolean {
  if (depth > 5 || json === null || typeof json !== 'object') return false;
  if (Array.isArray(json))
    return json.slice(0, 50).some((v) => namesSpace(v, space, value, container, depth + 1));
  const inSpaces = container !== '' && (MEMBERSHIP_LIST.test(container) || container === space);
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    const key = k.toLowerCase().replace(/[^a-z0-9]/g, '');
    if (typeof v === 'string' || typeof v === 'number') {
      if (String(v) !== value) continue;
      if (key === `${space}id` || key === `${space}uuid` || (inSpaces && /^(id|uuid|slug|key)$/.test(key)))
        return true;
    } else {
      // An envelope (`{data: [...]}`) keeps what it holds.
      const next = /^(data|items|results?|records|content|rows|list|entries|_embedded)$/i.test(k)
        ? container
        : singular(k);
      if (namesSpace(v, space, value, next, depth + 1)) return true;
    }
  }
  return false;
}

/**
 * The path parameters of a request that name a space (a tenant, a team: `/orgs/{orgId}`): the literal segment before
 * (`orgs`), its singular (`org`), the value sent, and that value decoded (undefined when it is no valid escape).
 */
function spaceParams(
  req: PlannedRequest,
): { segment: string; space: string; sent: string; decoded: string | undefined }[] {
  const template = req.operation.path.split('/');
  const concrete = req.path.split('?')[0].split('/');
  const out: { segment: string; space: string; sent: string; decoded: string | undefined }[] = [];
  for (let i = 1; i < template.length && i < concrete.length; i++) {
    if (!/^\{[^{}]+\}$/.test(template[i])) continue;
    const space = singular(template[i - 1] ?? '');
    if (!SHARED_SPACE.test(space)) continue;
    let decoded: string | undefined;
    try {
      decoded = decodeURIComponent(concrete[i]);
    } catch {
      decoded = undefined;
    }
    out.push({ segment: template[i - 1] ?? '', space, sent: concrete[i], decoded });
  }
  return out;
}

/**
 * The owner's path values that name a space the attacker belongs to as well (a tenant, a team, a workspace): its own
 * record (`GET /me` → `memberships: [{id: 1, role: "viewer"}]`) or its own list of that space (`GET /orgs`, when that
 * list is per caller: the owner's differs) names it. Reading inside a space one belongs to is the purpose of
 * membership, not another's object (review R1's FP1).
 */
function sharedSpace(ctx: ScanContext, req: PlannedRequest, attacker: Identity): string | undefined {
  for (const { segment, space, sent, decoded } of spaceParams(req)) {
    const value = decoded ?? sent;
    for (const o of ctx.observations) {
      const op = o.operation;
      if (o.identity !== attacker.name || !op || op.method !== 'GET' || op.path.includes('{')) continue;
      if (!isSuccess(o.response) || o.response.json === undefined || o.request.path.includes('?')) continue;
      const own = ownRead(op.path) || isOwnProfilePath(op.path);
      const listOfSpace = singular(entityOfPath(op.path)) === space;
      if (!own && !listOfSpace) continue;
      if (!namesSpace(o.response.json, space, value, own ? '' : space)) continue;
      if (!own) {
        // A list that shows every caller the same (a directory) says nothing of membership.
        const others = ctx.observations.filter(
          (x) =>
            x.identity !== undefined && x.identity !== attacker.name && x.request.path === o.request.path,
        );
        if (others.length === 0 || others.some((x) => similarity(x.response.json, o.response.json) >= 0.99))
          continue;
      }
      return `${attacker.name}'s own ${op.method} ${op.path} names ${segment} ${value} as its own too`;
    }
  }
  return undefined;
}

/**
 * The attacker's own read of the item's collection (`GET /listings` beside `GET /listings/{id}`, at the same parents;
 * or a sibling named in the other number, `GET /users` beside `GET /user/{id}`) lists the owner's object with the same
 * content (80% alike): what the item read shows it, it is shown anyway, by design (a marketplace's listings, a user
 * directory). Read now, after set-up, so objects made since discovery are in it. Says so, or undefined (no such list,
 * refused, not listed, or listed otherwise).
 */
async function listedTo(
  ctx: ScanContext,
  req: PlannedRequest,
  attacker: Identity,
  mine: ScanResponse,
): Promise<string | undefined> {
  const m = /^(.*\/)([^/{}]+)\/\{[^{}/]+\}$/.exec(req.operation.path);
  if (!m) return undefined;
  const [, base, name] = m;
  const names = new Set([name, `${name}s`, `${name}es`, singular(name)]);
  if (/[^aeiou]y$/i.test(name)) names.add(`${name.slice(0, -1)}ies`);
  // The exact parent first, then its other number.
  const list = [name, ...names]
    .map((n) =>
      ctx.spec.operations.find((o) => o.method === 'GET' && !isExcluded(o) && o.path === `${base}${n}`),
    )
    .find((o) => o !== undefined);
  if (!list) return undefined;
  const concrete = req.path.split('?')[0];
  const cut = concrete.lastIndexOf('/');
  let id = concrete.slice(cut + 1);
  try {
    id = decodeURIComponent(id);
  } catch {
    return undefined;
  }
  const parent = concrete.slice(0, cut);
  const plan = planRequest(ctx.spec, list, ctx.objects, { owner: attacker.name });
  const expected = `${parent.slice(0, parent.lastIndexOf('/') + 1)}${list.path.slice(base.length)}`;
  if (plan.path.split('?')[0] !== expected) return undefined;
  const res = await ctx.send(plan, attacker);
  if (!isSuccess(res) || refusedIn200(res)) return undefined;
  // The record (`{"user": {...}}` too), and its id by a record id's name, the path parameter's, or the member of the
  // record that holds the path's value under an id-like name (`userid` at `/user/{id}`).
  const record = soleRecord(mine.json);
  const idKeys = [
    ...RECORD_ID,
    /\{([^{}/]+)\}$/.exec(req.operation.path)?.[1] ?? 'id',
    ...Object.keys(record ?? {}).filter((k) => /id$/i.test(k) && String(record?.[k]) === id),
  ];
  const item = (firstList(res.json) ?? []).slice(0, 500).find((i) => {
    if (i === null || typeof i !== 'object') return false;
    const r = i as Record<string, unknown>;
    return idKeys.some((k) => r[k] !== undefined && String(r[k]) === id);
  });
  if (item === undefined || record === undefined || similarity(item, record) < SAME_OBJECT) return undefined;
  return `${attacker.name}'s own ${list.method} ${plan.path} lists it alike`;
}

/** Members naming the other party of a record by a person's role (`sellerId`, `doctor: {id}`), not an object. */
const PARTY_ROLE =
  /^(seller|vendor|merchant|supplier|doctor|physician|provider|driver|courier|landlord|host|tutor|teacher|instructor|coach|agent|recipient|receiver|payee|assignee|reviewer|approver|manager)$/;

/**
 * A record between two parties (review R1-1: alice's order at bob's store): the owner's record names, by an id member
 * (`storeId: 2`, `store: {id: 2}`, `sellerId: 3`), an object the attacker owns and the owner does not (bob's own list of
 * stores gives store 2), or the attacker itself under a party's role. The attacker reads it as that party, which the
 * API may well intend ("its customer or the store staff"): says which member, or undefined.
 */
function partyOf(ctx: ScanContext, json: unknown, owner: Identity, attacker: Identity): string | undefined {
  const record = soleRecord(json);
  if (record === undefined) return undefined;
  const theirs = ctx.objects.of(attacker.name);
  const ours = ctx.objects.of(owner.name);
  const holds = (list: readonly CreatedObject[], entity: string, id: string) =>
    list.some((o) => o.id === id && singular(entityOfPath(o.collection)) === entity);
  const person = new Set(ownPersonIds(ctx, attacker));
  for (const [key, value] of Object.entries(record).slice(0, 100)) {
    const nested =
      value !== null && typeof value === 'object' && !Array.isArray(value)
        ? (value as Record<string, unknown>).id
        : undefined;
    const m = nested === undefined ? /^([a-z][a-z0-9]*?)[_-]?id$/i.exec(key) : [key, key];
    const id = nested ?? value;
    if (!m || (typeof id !== 'string' && typeof id !== 'number')) continue;
    const entity = singular(m[1]);
    const text = String(id);
    const harvest = ctx.objects.harvest;
    const attackers =
      (holds(theirs, entity, text) ||
        harvest.ownValue(attacker.name, text, entity) ||
        harvest.listedBy(attacker.name, text, entity)) &&
      !holds(ours, entity, text) &&
      !harvest.ownValue(owner.name, text, entity) &&
      !harvest.listedBy(owner.name, text, entity);
    if (attackers || (PARTY_ROLE.test(entity) && person.has(text))) return `${key} ${text}`;
  }
  return undefined;
}

/** The record of an answer (recordOf), or the object of its one member (`{"profile": {...}}`). */
function soleRecord(json: unknown): Record<string, unknown> | undefined {
  const record = recordOf(json);
  const members = record ? Object.values(record) : [];
  const only = members.length === 1 ? members[0] : undefined;
  return only !== null && typeof only === 'object' && !Array.isArray(only)
    ? (only as Record<string, unknown>)
    : record;
}

/**
 * Whether the attacker (or a caller without credentials) already got the record A reads inside another answer (a
 * profile as an article's `author`, a seller inside a listing): a record with no private member shown to it so is
 * public by design (review R2: `GET /profiles/{username}` on a RealWorld backend). Discovery's answers only, where
 * each identity and an anonymous caller read what the document offers them. Alike: every member of the
 * record but the reader's own relation flags has the same value there (at least two). Bounded: the last 600
 * answers, four levels down, 100 items a list.
 */
function seenElsewhere(
  ctx: ScanContext,
  req: PlannedRequest,
  attacker: Identity,
  mine: ScanResponse,
): string | undefined {
  const record = soleRecord(mine.json);
  if (record === undefined || privateFields(record)) return undefined;
  const keys = Object.keys(record).filter(
    (k) => !VIEWER_FLAG.test(k) && (record[k] === null || typeof record[k] !== 'object'),
  );
  if (keys.length < 2) return undefined;
  const alike = (o: Record<string, unknown>) =>
    keys.every((k) => k in o && JSON.stringify(o[k]) === JSON.stringify(record[k]));
  const holds = (v: unknown, depth: number): boolean => {
    if (v === null || typeof v !== 'object' || depth > 4) return false;
    if (Array.isArray(v)) return v.slice(0, 100).some((x) => holds(x, depth + 1));
    const o = v as Record<string, unknown>;
    return alike(o) || Object.values(o).some((x) => holds(x, depth + 1));
  };
  const obs = ctx.observations;
  for (let i = obs.length - 1; i >= 0 && i >= obs.length - 600; i--) {
    const { identity, operation, response, request, check } = obs[i];
    // Discovery's own answers only: a probe's (API1's swapped reads) would show what the flaw itself let through.
    if (check !== undefined && check !== 'setup') continue;
    if ((identity !== undefined && identity !== attacker.name) || operation === req.operation) continue;
    if (!isSuccess(response) || response.json === undefined || !holds(response.json, 0)) continue;
    return `${identity ?? 'a caller without credentials'} already got it inside ${request.method} ${request.path.split('?')[0]}`;
  }
  return undefined;
}

/**
 * How to replay a read finding whose object the scan made (review R1-H2): the clean-up deletes what the scan made at
 * the end, so the curl line's path may no longer exist; and the curl line carries the attacker's credentials.
 */
function replayHint(ctx: ScanContext, req: PlannedRequest, owner: Identity, attacker: Identity): string {
  const object = req.object;
  if (object === undefined || !ctx.objects.isScanCreated(object.path))
    return ` The curl line sends ${attacker.name}'s credentials.`;
  return ` The object was made by the scan as ${owner.name} (${object.createdBy.method} ${object.createdBy.path}) and the end-of-scan clean-up may delete it: to replay, make one as ${owner.name} and send the curl line, which carries ${attacker.name}'s credentials, with its id.`;
}

/** Prose that reserves an operation to a role (`organisation owners only`, `only admins of the team`). */
const RESERVED =
  /\b(owners?|admins?|administrators?|managers?|maintainers?)\b[^.()]{0,30}\bonly\b|\bonly\b[^.()]{0,30}\b(owners?|admins?|administrators?|managers?|maintainers?)\b/i;

/** An identity's role in a space (`memberships: [{org_id: 5, role: "member"}]`), from its own record's answers. */
function roleIn(ctx: ScanContext, who: Identity, space: string, value: string): string | undefined {
  const find = (json: unknown, container: string, depth: number): string | undefined => {
    if (depth > 5 || json === null || typeof json !== 'object') return undefined;
    if (Array.isArray(json)) {
      for (const v of json.slice(0, 50)) {
        const r = find(v, container, depth + 1);
        if (r !== undefined) return r;
      }
      return undefined;
    }
    const r = json as Record<string, unknown>;
    const inSpaces = container !== '' && (MEMBERSHIP_LIST.test(container) || container === space);
    const names = Object.entries(r).some(([k, v]) => {
      const key = k.toLowerCase().replace(/[^a-z0-9]/g, '');
      return (
        (typeof v === 'string' || typeof v === 'number') &&
        String(v) === value &&
        (key === `${space}id` || (inSpaces && /^(id|uuid|slug|key)$/.test(key)))
      );
    });
    const role = Object.entries(r).find(
      ([k, v]) => /^(role|roles?_?name|level|access_?level|permission)$/i.test(k) && typeof v === 'string',
    );
    if (names && role) return String(role[1]).toLowerCase();
    for (const [k, v] of Object.entries(r)) {
      if (v === null || typeof v !== 'object') continue;
      const found = find(v, singular(k), depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  for (const o of ctx.observations) {
    const op = o.operation;
    if (o.identity !== who.name || !op || op.method !== 'GET' || op.path.includes('{')) continue;
    if (!isSuccess(o.response) || !(ownRead(op.path) || isOwnProfilePath(op.path))) continue;
    const role = find(o.response.json, '', 0);
    if (role !== undefined) return role;
  }
  return undefined;
}

/**
 * A read inside a space both identities belong to (see sharedSpace) that the document reserves to a role of the
 * space (`Billing details (organisation owners only)`), where the owner's own record names it in that role and the
 * attacker's names it in another: the attacker reading it is a function-level flaw within the tenant (API5), not
 * membership. Undefined otherwise (no such prose, roles unknown, or the same role).
 */
function reservedRoleRead(
  ctx: ScanContext,
  req: PlannedRequest,
  owner: Identity,
  attacker: Identity,
): { space: string; value: string; reserved: string; owner: string; attacker: string } | undefined {
  const op = req.operation;
  const m = RESERVED.exec(`${op.summary ?? ''} ${operationDescription(ctx.spec, op)}`);
  if (!m) return undefined;
  const reserved = singular((m[1] ?? m[2]).toLowerCase()).replace(/^administrator$/, 'admin');
  for (const { space, decoded: value } of spaceParams(req)) {
    if (value === undefined) continue;
    const ownerRole = roleIn(ctx, owner, space, value);
    const attackerRole = roleIn(ctx, attacker, space, value);
    if (ownerRole === undefined || attackerRole === undefined || ownerRole === attackerRole) continue;
    if (!ownerRole.includes(reserved) || attackerRole.includes(reserved)) continue;
    return { space, value, reserved, owner: ownerRole, attacker: attackerRole };
  }
  return undefined;
}

/** `/me`, `/users/me`, `/profile`, `/whoami`: the caller's own record. */
function isOwnProfilePath(path: string): boolean {
  return /(^|\/)(me|self|whoami|current[-_]?user|profile|my[-_]?profile|session)\/?$/i.test(path);
}

async function replayReads(
  ctx: ScanContext,
  reads: readonly PathRead[],
  owner: Identity,
  attacker: Identity,
  tested: Set<string>,
  theirReads: readonly PathRead[] = [],
): Promise<void> {
  let reported: Operation | undefined;
  for (const read of reads) {
    const { op, req, ownerOnly } = read;
    if (ctx.signal.aborted) return;
    if (op === reported || tested.has(req.path)) continue;
    tested.add(req.path);
    const mine = await ctx.send(req, owner);
    if (!isSuccess(mine)) continue;
    // Nothing of the owner's in its own answer (`{"data": []}`, `null`): two such answers alike show nothing.
    if (isEmptyAnswer(mine) || recordless(mine.json)) continue;
    const theirs = await ctx.send(req, attacker);
    const swap = () =>
      swapParents(
        ctx,
        read,
        theirReads.find((r) => r.op === op),
        mine,
        owner,
        attacker,
        tested,
      );
    if (!isSuccess(theirs)) {
      if (await swap()) reported = op;
      continue;
    }
    const score = similarity(mine.json ?? mine.text, theirs.json ?? theirs.text);
    if (score < SAME_OBJECT || !(await isPrivate(ctx, req, mine, ownerOnly))) {
      if (await swap()) reported = op;
      continue;
    }
    const listed = await listedTo(ctx, req, attacker, mine);
    if (listed !== undefined) {
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.bolaRead,
        reason: `${attacker.name} reads ${req.path}, but ${listed}: shown to it by design, not reported`,
      });
      continue;
    }
    const seen = seenElsewhere(ctx, req, attacker, mine);
    if (seen !== undefined) {
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.bolaRead,
        reason: `${attacker.name} reads ${req.path}, but ${seen}: public by design, not reported`,
      });
      continue;
    }
    const party = partyOf(ctx, mine.json, owner, attacker);
    if (party !== undefined) {
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.bolaRead,
        reason: `${attacker.name} reads ${req.path}, but ${owner.name}'s record names ${attacker.name}'s own (${party}): a record between both, shown to either party by design, not reported`,
      });
      continue;
    }
    const shared = sharedSpace(ctx, req, attacker);
    const roles = shared !== undefined ? reservedRoleRead(ctx, req, owner, attacker) : undefined;
    if (roles !== undefined) {
      ctx.report(SCAN_RULES.bfla, {
        operation: op,
        message: `${attacker.name} (${roles.attacker} of ${roles.space} ${roles.value}) read ${req.path}, which the document reserves to the ${roles.reserved}s of the ${roles.space} (${owner.name} is its ${roles.owner}), and got what ${owner.name} gets (similarity ${score.toFixed(2)}): a function of a role within the tenant open to a lesser role.`,
        evidence: evidenceOf(theirs, { owner: owner.name, attacker: attacker.name, similarity: score }),
      });
      reported = op;
      continue;
    }
    if (shared !== undefined) {
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.bolaRead,
        reason: `${attacker.name} reads ${req.path}, but ${shared}: a space both belong to (membership), not reported`,
      });
      continue;
    }
    if (req.object && nobodys(req.object, mine)) {
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.bolaRead,
        reason: `${attacker.name} reads ${req.path}, which ${owner.name} made through ${req.object.createdBy.method} ${req.object.createdBy.path}: that creation declares no security and the object names no owner, so it is nobody's own (a public form's entry): not reported`,
      });
      continue;
    }
    ctx.report(SCAN_RULES.bolaRead, {
      operation: op,
      message: `${attacker.name} read ${owner.name}'s ${req.object ? 'object' : 'data'} at ${req.path} (similarity ${score.toFixed(2)}).${replayHint(ctx, req, owner, attacker)}`,
      evidence: evidenceOf(theirs, { owner: owner.name, attacker: attacker.name, similarity: score }),
    });
    reported = op;
  }
}

/** Member names of private data: contact details, money, identity documents, secrets, the owner's own notes. */
const PRIVATE_FIELD =
  /mail|phone|mobile|address|street|balance|iban|account_?(no|num|number)|card_?(no|num|number)|ssn|social|birth|dob|salary|income|passport|tax|secret|token|password|transactions?$|amount|credit|notes?$|messages?$|comments?$|diary|journal|medical|diagnos|health|private/i;

/**
 * Member names of data private whoever may see the object it belongs to: money and its moves, contact details,
 * identity documents, secrets (not notes or comments, which an object open to all may well carry).
 */
const STRICTLY_PRIVATE =
  /mail|phone|mobile|address|street|balance|iban|account_?(no|num|number)|card_?(no|num|number)|ssn|birth|dob|salary|income|passport|tax|secret|token|password|transactions?$|amount|statement|medical|diagnos|health/i;

/** Does a JSON answer carry a member of private data (at most 4 levels down)? */
function privateFields(json: unknown, depth = 0, names: RegExp = PRIVATE_FIELD): boolean {
  if (depth > 4 || json === null || typeof json !== 'object') return false;
  if (Array.isArray(json)) return json.slice(0, 20).some((v) => privateFields(v, depth + 1, names));
  return Object.entries(json as Record<string, unknown>).some(
    ([k, v]) => (names.test(k) && v !== null && v !== '') || privateFields(v, depth + 1, names),
  );
}

/** An operation whose document says it needs no credentials (`security: []`, or an empty requirement among its own). */
function openByDocument(op: Operation): boolean {
  return (
    op.security !== undefined &&
    (op.security.length === 0 || op.security.some((r) => Object.keys(r).length === 0))
  );
}

/** Does a record (top level, or under `data`, `result`, `item`) carry a field that names an owner? */
function showsOwner(json: unknown): boolean {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return false;
  const top = json as Record<string, unknown>;
  return [top, top.data, top.result, top.item].some(
    (r) =>
      r !== null &&
      typeof r === 'object' &&
      !Array.isArray(r) &&
      Object.entries(r as Record<string, unknown>).some(
        ([k, v]) =>
          OWNED_BY.test(k) ||
          OWNER_FIELD.test(k) ||
          (OWNER_OBJECT.test(k) && v !== null && typeof v === 'object'),
      ),
  );
}

/**
 * An object the scan made through a creation the document opens to anyone (`security: []`: a public form, a
 * visitor's entry) whose creation answer and read show no owner: made with the identity's credentials, but
 * nobody's own, so another identity reading it shows no object-level flaw.
 */
function nobodys(object: CreatedObject, read: ScanResponse): boolean {
  return openByDocument(object.createdBy) && !showsOwner(object.body) && !showsOwner(read.json);
}

/** Fields that name the account an object belongs to: `owner_id`, `user_id`, `seller_id`, `created_by`... */
const OWNED_BY =
  /^(owner|owner_?id|ownerId|user_?id|userId|seller_?id|sellerId|created_?by|createdBy|author_?id|authorId|customer_?id|customerId|member_?id|memberId|buyer_?id|buyerId|account_?id|accountId|reporter_?id|reporterId)$/;
/** Objects holding the owner (`owner: {id}`, `seller: {id}`). */
const OWNER_OBJECT = /^(owner|user|seller|author|customer|member|buyer|reporter|created_?by|createdBy)$/;
const RECORD_ID = ['id', '_id', 'uuid'];
/** At most this many owned objects per identity are read by the other (one per collection). */
const MAX_OWNED_BY_FIELD = 3;

/** The items of a list answer (the array, or the first array under a wrapper): owned by `ids` through a field. */
function ownedItems(json: unknown, ids: ReadonlySet<string>): { id: string; item: unknown }[] {
  const items = Array.isArray(json)
    ? json
    : json !== null && typeof json === 'object'
      ? (Object.values(json as Record<string, unknown>).find(Array.isArray) ?? [])
      : [];
  const out: { id: string; item: unknown }[] = [];
  for (const item of (items as unknown[]).slice(0, 100)) {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) continue;
    const r = item as Record<string, unknown>;
    const key = RECORD_ID.find((k) => typeof r[k] === 'string' || typeof r[k] === 'number');
    if (key === undefined || ids.has(String(r[key]))) continue; // the account itself is no object of it
    if (ownsRecord(r, ids)) out.push({ id: String(r[key]), item });
  }
  return out;
}

/** Does the record's owner field (`user_id`, `owner: {id}`) name one of these ids? */
function ownsRecord(r: Readonly<Record<string, unknown>>, ids: ReadonlySet<string>): boolean {
  return Object.entries(r).some(([k, v]) => {
    if ((typeof v === 'string' || typeof v === 'number') && OWNED_BY.test(k)) return ids.has(String(v));
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !OWNER_OBJECT.test(k)) return false;
    const o = v as Record<string, unknown>;
    return RECORD_ID.some((i) => o[i] !== undefined && ids.has(String(o[i])));
  });
}

/**
 * Objects the owner holds through an owner field (`user_id`, `seller_id`, `owner: {id}` equal to an id its
 * token or login answer gave it) in a list it read, though the scan did not create them (seeded data): the
 * attacker reads each at the list's item route. Only when the attacker's own view of the same list does not
 * show it (an API that lists every object to everyone shares them by design), and the object is private
 * (see `isPrivate`). Reads only: changes stay with the objects the scan created.
 */
async function ownedByField(
  ctx: ScanContext,
  owner: Identity,
  attacker: Identity,
  tested: Set<string>,
): Promise<void> {
  const ids = selfIds(owner);
  if (ids.size === 0) return;
  const collections = new Set<string>();
  for (const o of [...ctx.observations]) {
    if (collections.size >= MAX_OWNED_BY_FIELD || ctx.signal.aborted) return;
    if (o.identity !== owner.name || o.request.method !== 'GET' || !o.operation || !isSuccess(o.response))
      continue;
    const param = itemParam(ctx.spec, o.operation.path);
    const base = o.operation.path.replace(/\/$/, '');
    const item = ctx.spec.operations.find(
      (x) =>
        x.method === 'GET' &&
        !isExcluded(x) &&
        param !== undefined &&
        (x.path === `${base}/{${param}}` || x.path === `${base}/{${param}}/`),
    );
    if (param === undefined || item === undefined || collections.has(o.operation.path)) continue;
    const owned = ownedItems(o.response.json, ids).filter((x) => !ctx.objects.isCreatedId(x.id));
    const first = owned[0];
    if (first === undefined) continue;
    collections.add(o.operation.path);
    const params = Object.fromEntries(
      pathValues(o.operation.path, o.request.path).map((v) => [v.name, v.value]),
    );
    // The attacker's own view of the list: an object it lists too is shared, not the owner's alone; what lies
    // below it (`/accounts/{id}/transactions`, `/balance`) may still be the owner's alone.
    const theirList = await ctx.send({ ...o.request, operation: o.operation }, attacker);
    const shared = isSuccess(theirList) && listsId(theirList.json, first.id);
    const targets = [...(shared ? [] : [item]), ...subReads(ctx, item)];
    for (const target of targets) {
      const req = planRequest(ctx.spec, target, ctx.objects, {
        owner: owner.name,
        params: { ...params, [param]: first.id },
      });
      if (tested.has(req.path) || req.invented.length > 0) continue;
      tested.add(req.path);
      const mine = await ctx.send(req, owner);
      if (!isSuccess(mine) || refusedIn200(mine) || notFoundAnswer(mine) || isEmptyAnswer(mine)) continue;
      // Below an object everyone is shown, only data private by its members counts (balances, moves, contact).
      if (shared && !privateFields(mine.json, 0, STRICTLY_PRIVATE)) continue;
      const theirs = await ctx.send(req, attacker);
      if (!isSuccess(theirs)) continue;
      const score = similarity(mine.json ?? mine.text, theirs.json ?? theirs.text);
      if (score < SAME_OBJECT || !(await isPrivate(ctx, req, mine, false))) continue;
      const why = shared
        ? `below ${owner.name}'s object ${first.id}, which ${o.operation.path} lists to everyone but names ${owner.name} as its owner`
        : `${owner.name}'s by its owner field in ${o.operation.path}, which does not list it to ${attacker.name}`;
      ctx.report(SCAN_RULES.bolaRead, {
        operation: target,
        message: `${attacker.name} read ${owner.name}'s ${target === item ? 'object' : 'data'} at ${req.path} (${why}; similarity ${score.toFixed(2)}).`,
        evidence: evidenceOf(theirs, { owner: owner.name, attacker: attacker.name, similarity: score }),
      });
    }
  }
}

/** At most this many reads below an item route are tried per object. */
const MAX_SUB_READS = 3;

/** Reads below an item route that take no other path value (`/accounts/{id}/transactions`), reads only. */
function subReads(ctx: ScanContext, item: Operation): Operation[] {
  const base = item.path.replace(/\/$/, '');
  return ctx.spec.operations
    .filter(
      (x) =>
        x.method === 'GET' &&
        !isExcluded(x) &&
        !isAdminOperation(x) &&
        !pathActs(x.path) &&
        x.path.startsWith(`${base}/`) &&
        !x.path.slice(base.length).includes('{'),
    )
    .slice(0, MAX_SUB_READS);
}

/** Small ids a seeded API often starts from: what a tester tries on an item route nothing gave a value for. */
const GUESSED_IDS = ['1', '2', '3', '100', '101', '1000', '1001', '1002'];
/** At most this many item routes are enumerated. */
const MAX_ENUMERATED = 2;

/**
 * Whose record this is: its owner field (`user_id`, `owner: {id}`) holds an id the identity was told is its own, or a
 * member naming an account (`owner`, `username`, `login`, `handle`, `email`) holds one of those ids or one of its
 * login names (`owner: "bob"` where bob's token says `sub: "bob"`): the identity among `people`.
 */
function ownerOf(record: unknown, people: readonly Identity[]): Identity | undefined {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return undefined;
  const r = record as Record<string, unknown>;
  for (const who of people) {
    const ids = selfIds(who);
    if (ids.size > 0 && ownsRecord(r, ids)) return who;
  }
  for (const who of people) {
    const names = new Set([...selfIds(who), ...loginValues(who)]);
    const named = Object.entries(r).some(
      ([k, v]) =>
        /^(owner|user_?name|username|userName|login|handle|e_?mail)$/.test(k) &&
        (typeof v === 'string' || typeof v === 'number') &&
        String(v).length >= 3 &&
        names.has(String(v)),
    );
    if (named) return who;
  }
  return undefined;
}

/** Members an item may show that its shared list does not show anyone: contact details, money, secrets, keys. */
const PRIVATE_TO_OWNER = new RegExp(`${STRICTLY_PRIVATE.source}|api_?key|apikey|access_?key`, 'i');
/** At most this many routes get their listed ids read one by one, and ids a route. */
const MAX_LISTED_ROUTES = 3;
const MAX_LISTED_IDS = 4;

/**
 * Item routes with one path parameter that nothing the API gave out could fill (no list, no harvested value): the
 * first identity tries a few small ids (at most 8 per route, 2 routes). Item routes whose ids a list shows everyone
 * (`GET /users` → 1, 2, 3 to both identities: no id is anyone's own) get the listed ids read one by one (at most 4,
 * 3 routes), and only a record showing data private to its owner (contact details, money, secrets, keys) counts
 * there: the list shares the ids, not that. A record the first identity gets whose owner field names the other
 * identity (`user_id`, `owner: "bob"` for bob's `sub`) is read by the other too (the same object: it is theirs)
 * and, when private, the first identity's read is `scan/api1-bola-read`. A record of the first identity's own is
 * read by the other the same way. Reads only.
 */
async function guessedIds(ctx: ScanContext, a: Identity, b: Identity, tested: Set<string>): Promise<void> {
  let routes = 0;
  let listedRoutes = 0;
  for (const op of ctx.spec.operations) {
    if ((routes >= MAX_ENUMERATED && listedRoutes >= MAX_LISTED_ROUTES) || ctx.signal.aborted) return;
    if (op.method !== 'GET' || isExcluded(op) || isAdminOperation(op) || opActs(ctx.spec, op)) continue;
    const params = op.parameters.filter((p) => p.in === 'path');
    if (params.length !== 1 || !op.path.replace(/\/$/, '').endsWith(`/{${params[0].name}}`)) continue;
    const schema = resolveSchema(ctx.spec, params[0].schema);
    if (listedValue(ctx.spec, params[0].schema) !== undefined) continue;
    const planned = planRequest(ctx.spec, op, ctx.objects, { owner: a.name });
    let ids: string[];
    let listed = false;
    if (planned.invented.length > 0) {
      if (routes >= MAX_ENUMERATED || schema.format === 'uuid' || accountParam(op.path) !== undefined)
        continue;
      routes++;
      ids = GUESSED_IDS;
    } else if (
      !planned.ownedPath &&
      (planned.harvested?.length ?? 0) > 0 &&
      listedRoutes < MAX_LISTED_ROUTES
    ) {
      // Values a list gave out to both identities alike: nobody's own by where they were seen.
      const segments = op.path.replace(/\/$/, '').split('/');
      const context = segments[segments.length - 2] ?? '';
      const wanted = { name: params[0].name, context: context.startsWith('{') ? '' : context, schema };
      ids = ctx.objects.harvest
        .candidates(wanted, undefined, 2)
        .filter((c) => [a, b].every((who) => ctx.objects.harvest.seenBy(who.name, c.value)))
        .map((c) => String(c.value))
        .slice(0, MAX_LISTED_IDS);
      if (ids.length === 0) continue;
      listedRoutes++;
      listed = true;
    } else continue;
    // One judgement a route; on listed ids the others are still read, to learn whose they are.
    let judged = false;
    for (const id of ids) {
      if (judged && !listed) break;
      const req = planRequest(ctx.spec, op, ctx.objects, { owner: a.name, params: { [params[0].name]: id } });
      if (tested.has(req.path)) continue;
      const got = await ctx.send(req, a);
      if (!isSuccess(got) || got.json === undefined) continue;
      const owner = ownerOf(recordOf(got.json), [a, b]);
      if (owner === undefined) continue;
      tested.add(req.path);
      // Whose it is, for the checks after API1 (API3's own-record probes plan the owner's record by it).
      const before = op.path
        .slice(0, op.path.indexOf(`{${params[0].name}}`))
        .split('/')
        .filter((x) => x !== '');
      ctx.objects.harvest.add({
        key: params[0].name,
        value: id,
        entity: singular(before[before.length - 1] ?? ''),
        source: OWNED,
        identity: owner.name,
      });
      if (judged) continue;
      judged = true;
      const reader = owner === a ? b : a;
      const mine = owner === a ? got : await ctx.send(req, owner);
      const theirs = owner === a ? await ctx.send(req, b) : got;
      if (!isSuccess(mine) || !isSuccess(theirs)) continue;
      if (listed && !privateFields(mine.json, 0, PRIVATE_TO_OWNER)) continue;
      const score = similarity(mine.json ?? mine.text, theirs.json ?? theirs.text);
      if (score >= SAME_OBJECT && (await isPrivate(ctx, req, mine, false))) {
        ctx.report(SCAN_RULES.bolaRead, {
          operation: op,
          message: `${reader.name} read ${owner.name}'s object at ${req.path} (${listed ? 'an id a list shows everyone' : 'an id tried'}, ${owner.name}'s by its owner field; similarity ${score.toFixed(2)}).`,
          evidence: evidenceOf(theirs, { owner: owner.name, attacker: reader.name, similarity: score }),
        });
      }
    }
  }
}

/** Collections of people: their item routes name a person by the id it was told is its own. */
const PEOPLE =
  /^(user|account|member|customer|profile|person|people|player|patient|student|learner|pupil|employee|staff|client|driver|rider|tenant|owner|author|contact|subscriber|participant|applicant|candidate|volunteer)$/;
/** At most this many item routes are tried with the identities' own ids. */
const MAX_SELF_ID_ROUTES = 4;

/**
 * The ids an identity was told are its own person's: its token's claims (`sub`, `id`, `user_id`), its login answer,
 * its configured id headers, and an id its own profile read (`/me`, `/whoami`, `/account`) showed it alone.
 */
function ownPersonIds(ctx: ScanContext, who: Identity): string[] {
  const out = new Set(selfIds(who));
  const harvest = ctx.objects.harvest;
  for (const name of PERSON_ID_NAMES) {
    for (const c of harvest.candidates({ name }, who.name, 1)) {
      if (out.size >= 4) break;
      const r = c.record;
      if (!PERSON_ID_KEY.test(r.key) || !ownRead(r.source)) continue;
      // Its own record's own id (top level of the own read) is its own even when another identity saw the number
      // elsewhere (a small id tried in discovery), unless the other's own read there gave the same value.
      const top = r.entity === entityOfPath(r.source);
      const sameForOthers = ctx.identities.some(
        (i) =>
          i.name !== who.name &&
          harvest
            .candidates({ name: r.key }, i.name, 1)
            .some((o) => o.record.source === r.source && String(o.value) === String(c.value)),
      );
      if (harvest.exclusiveTo(who.name, c.value) || (top && !sameForOthers)) out.add(String(c.value));
    }
  }
  return [...out].slice(0, 4);
}

/** The names a person's own id goes by in a record (`id`, `user_id`, `MemberId`, `customerId`...). */
const PERSON_ID_NAMES = [
  'id',
  'uid',
  'sub',
  ...[
    'user',
    'member',
    'customer',
    'account',
    'client',
    'person',
    'profile',
    'patient',
    'student',
    'employee',
  ].map((w) => `${w}_id`),
];
const PERSON_ID_KEY =
  /^(id|uid|sub|(user|member|customer|account|client|person|profile|patient|student|employee)_?id)$/i;

/**
 * A read of the caller's own record, by its path: `/me`, `/profile`, `/account`, `/whoami`, `/session`, or a path
 * without parameters ending in one person (`/v2/member`, `/api/customer`: singular, of a collection of people).
 */
function ownRead(source: string): boolean {
  if (/\/(me|profile|account|self|whoami|current|session)(\/|$)/i.test(source)) return true;
  if (source.includes('{')) return false;
  const last = source.replace(/\/$/, '').split('/').pop() ?? '';
  return /^[a-z]+$/i.test(last) && singular(last) === last.toLowerCase() && PEOPLE.test(last.toLowerCase());
}

/**
 * Item routes of people nothing listed (`/learners/{learnerId}`, no list of learners, no answer with the caller's
 * number): each identity's own person id (its token's `sub`, its `/me` answer's id) names its own record there.
 * The owner reads it (a 2xx record that is the owner's: its owner field or login name says so, or it carries the
 * id in a collection of people, and shows private data), the other identity sends the same: 80% alike is
 * `scan/api1-bola-read`. Reads only.
 */
async function selfIdReads(ctx: ScanContext, a: Identity, b: Identity, tested: Set<string>): Promise<void> {
  let routes = 0;
  for (const op of ctx.spec.operations) {
    if (routes >= MAX_SELF_ID_ROUTES || ctx.signal.aborted) return;
    // A GET that acts (`/users/delete/{id}`, `/unsubscribe/{id}`) would act on a given identity's own record.
    if (op.method !== 'GET' || isExcluded(op) || isAdminOperation(op) || opActs(ctx.spec, op)) continue;
    const params = op.parameters.filter(
      (p) => p.in === 'path' && listedValue(ctx.spec, p.schema) === undefined,
    );
    if (params.length !== 1 || !op.path.replace(/\/$/, '').endsWith(`/{${params[0].name}}`)) continue;
    const param = params[0];
    const segments = op.path.replace(/\/$/, '').split('/');
    const collection = singular(segments[segments.length - 2] ?? '');
    const people = PEOPLE.test(collection) || accountParam(op.path) === param.name;
    const schema = resolveSchema(ctx.spec, param.schema);
    let tried = false;
    for (const [owner, attacker] of [
      [a, b],
      [b, a],
    ] as const) {
      const value = ownPersonIds(ctx, owner).find((v) => fits(v, schema));
      if (value === undefined) continue;
      const req = planRequest(ctx.spec, op, ctx.objects, {
        owner: owner.name,
        params: { [param.name]: value },
      });
      if (tested.has(req.path)) continue;
      tested.add(req.path);
      tried = true;
      const mine = await ctx.send(req, owner);
      if (!isSuccess(mine) || refusedIn200(mine) || notFoundAnswer(mine) || isEmptyAnswer(mine)) continue;
      const own =
        recordOwner(mine.json, [owner]) === owner ||
        (people && recordOwner(mine.json, [attacker]) === undefined && mine.text.includes(value));
      if (!own || !privateFields(mine.json)) continue;
      const theirs = await ctx.send(req, attacker);
      if (!isSuccess(theirs) || refusedIn200(theirs)) continue;
      const score = similarity(mine.json ?? mine.text, theirs.json ?? theirs.text);
      if (score < SAME_OBJECT || !(await isPrivate(ctx, req, mine, false))) continue;
      ctx.report(SCAN_RULES.bolaRead, {
        operation: op,
        message: `${attacker.name} read ${owner.name}'s record at ${req.path}, named by the id ${owner.name} was told is its own (similarity ${score.toFixed(2)}).`,
        evidence: evidenceOf(theirs, { owner: owner.name, attacker: attacker.name, similarity: score }),
      });
      break;
    }
    if (tried) routes++;
  }
}

/** Members of data that is a person's own whoever reads it: contact details, money, identity documents, health. */
const PERSONAL =
  /mail|phone|mobile|address|street|postcode|ssn|social_?security|birth|dob|passport|national_?id|salary|income|iban|account_?(no|num|number)|card_?(no|num|number)|balance|deposit|medical|diagnos|health/i;
/** Addresses that are no person's whereabouts: a machine's, a wallet's, a page's. */
const NOT_PERSONAL =
  /(ip|mac|wallet|contract|web|url|server|host|remote|node|hardware|bluetooth|ether)_?address/i;
/** Members that name the person a record is about or belongs to (`tenantId`, `patient_id`, `owner: {id}`). */
const PERSON_REF =
  /^(user|account|member|customer|profile|person|patient|student|learner|employee|client|tenant|owner|author|creator|created_?by|reporter|buyer|seller|holder|uploader|poster|applicant|subscriber)(_?id|Id|ID)?$/;
/** Members that carry a person's own name. */
const PERSON_NAME =
  /^(full_?name|fullName|first_?name|firstName|last_?name|lastName|surname|given_?name|givenName)$/;
/** At most this many item routes are read without credentials, and ids tried on each. */
const MAX_ANONYMOUS_ROUTES = 10;
const MAX_ANONYMOUS_IDS = 3;

/** The record of an item answer: the body, or the one object under `data`, `result` or `item`. */
function recordOf(json: unknown): Record<string, unknown> | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const top = json as Record<string, unknown>;
  for (const inner of [top.data, top.result, top.item]) {
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner))
      return inner as Record<string, unknown>;
  }
  return top;
}

/**
 * What makes a record a person's: the route is of a collection of people (`/tenants/{id}`), or the record names its
 * person (`tenantId`, `owner: {id}`) or carries a person's name (`fullName`, `last_name`). The personal members it
 * shows with a value (e-mail, phone, IBAN, balance...) are returned; none means it is no person's private record.
 */
export function personalMembers(op: Operation, json: unknown): string[] {
  const record = recordOf(json);
  const segments = op.path.replace(/\/$/, '').split('/');
  const at = segments.findIndex((s) => /^\{[^}]+\}$/.test(s));
  const people = PEOPLE.test(singular(segments[at - 1] ?? '')) || accountParam(op.path) !== undefined;
  // A list below a person's item (`/accounts/{id}/transactions`): its first items, money moves counting too.
  const below = people && at >= 0 && at < segments.length - 1;
  const list = firstList(json);
  const records = [
    ...(record !== undefined ? [record] : []),
    ...(below && list !== undefined
      ? list
          .slice(0, 5)
          .filter(
            (i): i is Record<string, unknown> => i !== null && typeof i === 'object' && !Array.isArray(i),
          )
      : []),
  ];
  const named = records.some((r) =>
    Object.entries(r).some(
      ([k, v]) =>
        (PERSON_REF.test(k) && v !== null && v !== '' && (typeof v !== 'object' || !Array.isArray(v))) ||
        (PERSON_NAME.test(k) && typeof v === 'string' && v !== ''),
    ),
  );
  if (!people && !named) return [];
  const out = new Set<string>();
  for (const r of records)
    for (const [k, v] of Object.entries(r))
      if (
        (PERSONAL.test(k) || (below && MONEY_MOVE.test(k))) &&
        !NOT_PERSONAL.test(k) &&
        v !== null &&
        v !== '' &&
        (typeof v === 'string' || typeof v === 'number')
      )
        out.add(k);
  return [...out].slice(0, 4);
}

/** The first array of an answer, itself or under a wrapper two levels down (`{_embedded: {payments: [...]}}`). */
function firstList(json: unknown, depth = 0): unknown[] | undefined {
  if (Array.isArray(json)) return json;
  if (depth >= 2 || json === null || typeof json !== 'object') return undefined;
  for (const v of Object.values(json as Record<string, unknown>)) {
    const found = firstList(v, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Members of a person's money moves (below its account: `/accounts/{id}/transactions`). */
const MONEY_MOVE = /amount|debit|counterparty|beneficiary|payee|merchant/i;

/**
 * Records of persons that anyone reads by id (issue 16: APIs with no authentication at all, or routes that check
 * none, where the identities given change nothing): each GET item route with one path parameter (no admin path,
 * no path that acts, not declared secured — a declared route answering without credentials is API2's) is asked
 * without any credentials for the ids the scan has (its own objects, values the API gave out), else a few small
 * ids. A record of a person's (a collection of people, a member naming its person, a person's name) showing
 * personal data (contact details, money, identity documents, health) is `scan/api1-bola-read`, when a made-up id
 * answers otherwise there (the route reads the record it names). Reads only; one finding per operation.
 */
async function anonymousReads(ctx: ScanContext, reported: ReadonlySet<Operation>): Promise<void> {
  let routes = 0;
  // Routes of collections of people first (`/users/{id}`, `/patients/{id}`), then the others in document order.
  const people = (op: Operation) => {
    const segments = op.path.replace(/\/$/, '').split('/');
    const at = segments.findIndex((seg) => /^\{[^}]+\}$/.test(seg));
    return PEOPLE.test(singular(segments[at - 1] ?? '')) ? 0 : 1;
  };
  const ordered = [...ctx.spec.operations].sort((x, y) => people(x) - people(y));
  for (const op of ordered) {
    if (routes >= MAX_ANONYMOUS_ROUTES || ctx.signal.aborted) return;
    if (op.method !== 'GET' || reported.has(op) || isExcluded(op) || isAdminOperation(op) || requiresAuth(op))
      continue;
    if (opActs(ctx.spec, op)) continue;
    const params = op.parameters.filter((p) => p.in === 'path');
    if (params.length !== 1 || listedValue(ctx.spec, params[0].schema) !== undefined) continue;
    const param = params[0];
    const schema = resolveSchema(ctx.spec, param.schema);
    // The ids the scan has there (its objects, values the API gave out), as planned for the identity holding them.
    const reqs: PlannedRequest[] = [];
    for (const who of ctx.identities) {
      const planned = planRequest(ctx.spec, op, ctx.objects, { owner: who.name });
      if (planned.invented.length === 0 && !reqs.some((r) => r.path === planned.path)) reqs.push(planned);
    }
    const guessed = reqs.length === 0;
    if (guessed && ['integer', 'number', 'string'].includes(schemaType(schema) ?? 'string'))
      for (const value of GUESSED_IDS.slice(0, MAX_ANONYMOUS_IDS))
        if (fits(value, schema))
          reqs.push(planRequest(ctx.spec, op, ctx.objects, { params: { [param.name]: value } }));
    if (reqs.length === 0) continue;
    routes++;
    for (const req of reqs.slice(0, MAX_ANONYMOUS_IDS)) {
      const value = pathValues(op.path, req.path).find((v) => v.name === param.name)?.value ?? '';
      const got = await ctx.send(req, null);
      if (!isSuccess(got) || refusedIn200(got) || notFoundAnswer(got) || isEmptyAnswer(got)) continue;
      const members = personalMembers(op, got.json);
      if (members.length === 0) continue;
      if (req.object && nobodys(req.object, got)) continue;
      // The route reads the record its path names: a made-up id answers otherwise (not the same default record).
      const made = madeUpIdFor(schema, value);
      if (made === undefined) break;
      const control = await ctx.send(
        planRequest(ctx.spec, op, ctx.objects, { params: { [param.name]: made } }),
        null,
      );
      if (
        control === undefined ||
        (isSuccess(control) && similarity(control.json ?? control.text, got.json ?? got.text) >= SAME_OBJECT)
      )
        break;
      const whose = req.object
        ? `${req.object.owner}'s object (made by the scan as ${req.object.owner})`
        : "a person's data";
      ctx.report(SCAN_RULES.bolaRead, {
        operation: op,
        key: 'anonymous',
        message: `${op.method} ${req.path} answered a caller without any credentials with ${whose} showing ${members.join(', ')}; a made-up ${param.name} answers ${control.status}: anyone reads persons' records at this route by id${guessed ? ' (a small id tried: the ids can be enumerated)' : ''}.`,
        evidence: evidenceOf(got, { members, madeUpStatus: control.status }),
      });
      break;
    }
  }
}

/** At most this many reads are sent with the owner's id header. */
const MAX_ID_HEADER_READS = 8;

/**
 * The headers of an identity's own configuration that name it (`X-User-Id: 11`, `X-Username: piet`), when it has a
 * credential besides them (an `Authorization` header, another header, a cookie): the API may authenticate the
 * credential and take the caller's word in the header for whose data it wants.
 */
function idHeaders(who: Identity): [string, string][] {
  const headers = Object.entries(who.session.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'cookie');
  const named = headers.filter(([k, v]) => configuredIds({ [k]: v }).length > 0);
  const others = headers.length - named.length + who.session.cookies.size;
  return others > 0 ? named : [];
}

/**
 * An identity configured with a header naming it beside its credential (`Authorization: Bearer ...` and
 * `X-User-Id: 12`): the attacker sends the owner's reads (reads without a path value, then the owner's path reads)
 * with its own credential and the owner's value in that header. An answer 80% like the owner's, which the attacker's
 * own read there does not give (the read is per caller), of private data, is `scan/api1-bola-read`. Reads only.
 */
async function idHeaderSwaps(
  ctx: ScanContext,
  owner: Identity,
  attacker: Identity,
  ownReads: readonly PathRead[],
): Promise<void> {
  const mineHeaders = new Map(idHeaders(owner).map(([k, v]) => [k.toLowerCase(), v]));
  const swaps = idHeaders(attacker)
    .map(([k, v]) => ({ name: k, value: mineHeaders.get(k.toLowerCase()), own: v }))
    .filter(
      (s): s is { name: string; value: string; own: string } => s.value !== undefined && s.value !== s.own,
    );
  if (swaps.length === 0) return;
  const plain = ctx.spec.operations
    .filter(
      (op) =>
        op.method === 'GET' &&
        !op.path.includes('{') &&
        !isExcluded(op) &&
        !isAdminOperation(op) &&
        !opActs(ctx.spec, op) &&
        !isLoginOperation(ctx.spec, op),
    )
    .map((op) => ({ op, req: planRequest(ctx.spec, op, ctx.objects, { owner: owner.name }) }));
  const reads = [...plain, ...ownReads.map((r) => ({ op: r.op, req: r.req }))].slice(0, MAX_ID_HEADER_READS);
  const reported = new Set<Operation>();
  const body = (r: ScanResponse) => r.json ?? r.text;
  for (const { op, req } of reads) {
    if (ctx.signal.aborted) return;
    if (reported.has(op)) continue;
    const mine = await ctx.send(req, owner);
    if (!isSuccess(mine) || refusedIn200(mine) || isEmptyAnswer(mine) || notFoundAnswer(mine)) continue;
    const own = await ctx.send(req, attacker);
    if (isSuccess(own) && similarity(body(own), body(mine)) >= SAME_OBJECT) continue;
    for (const swap of swaps) {
      const headers = { ...(req.headers ?? {}), [swap.name]: swap.value };
      const theirs = await ctx.send({ ...req, headers }, attacker);
      if (!isSuccess(theirs) || refusedIn200(theirs)) continue;
      const score = similarity(body(mine), body(theirs));
      if (score < SAME_OBJECT || !(await isPrivate(ctx, req, mine, true))) continue;
      ctx.report(SCAN_RULES.bolaRead, {
        operation: op,
        key: `id-header:${swap.name.toLowerCase()}`,
        message: `${attacker.name} read ${owner.name}'s data at ${req.path} with its own credential and ${owner.name}'s ${swap.name} header (${swap.name}: ${swap.value}; similarity ${score.toFixed(2)}; its own ${swap.name} answers otherwise): the API takes the caller's word for whose data it wants.`,
        evidence: evidenceOf(theirs, {
          owner: owner.name,
          attacker: attacker.name,
          header: swap.name,
          similarity: score,
        }),
      });
      reported.add(op);
      break;
    }
  }
}

/** A read whose object an input outside the path names, and the values each identity holds of its own for it. */
interface InputRead {
  readonly op: Operation;
  readonly input: ObjectInput;
  /** By identity name: values that name that identity's own object (its objects, its ids, its login names). */
  readonly values: ReadonlyMap<string, readonly string[]>;
}

/** At most this many inputs per read, and values per identity and input. */
const MAX_READ_INPUTS = 3;
const MAX_INPUT_VALUES = 5;
/** At most this many reads get a few small ids tried when nobody has a value of its own for the input. */
const MAX_GUESSED_INPUT_READS = 2;
/** At most this many reads are replayed with the identities' own values (about 2 to 6 requests each). */
const MAX_INPUT_READS = 24;

/** The non-password values of an identity's login request (its user name, its e-mail). */
function loginValues(who: Identity): string[] {
  return Object.entries(who.login?.body ?? {})
    .filter(
      ([k, v]) =>
        /user|login|mail|name|handle|account|phone/i.test(k) &&
        !/pass|secret|pin$|otp|code|client|grant|scope/i.test(k) &&
        typeof v === 'string' &&
        v.length >= 3,
    )
    .map(([, v]) => String(v));
}

/**
 * The values that name an identity's own object for an input, as the scan knows them before any replay
 * (exclusivity is spoilt once the other identity has read them): for a person or an account, the ids it was
 * told about itself (numbers for a numeric input) or its login names (an e-mail for an e-mail input); else the
 * objects the scan created for it in a collection of the input's entity; then values only it was given, by the
 * input's name and entity.
 */
function ownInputValues(
  ctx: ScanContext,
  lists: Lists,
  who: Identity,
  op: Operation,
  input: ObjectInput,
): string[] {
  const out: string[] = [];
  const s = resolveSchema(ctx.spec, input.schema);
  const scalar = schemaType(s) === 'array' ? resolveSchema(ctx.spec, s.items as JsonSchema) : s;
  const numeric = ['integer', 'number'].includes(schemaType(scalar) ?? '');
  const add = (v: string | number) => {
    const text = String(v);
    if (out.length >= MAX_INPUT_VALUES || text === '' || out.includes(text) || !fits(text, scalar)) return;
    if (numeric && !/^-?\d+(\.\d+)?$/.test(text)) return;
    out.push(text);
  };
  const entity = objectInputEntity(input.name, op.path);
  // Ids the input takes base64-encoded (`?id=Mg==`) go encoded; values the API listed go as listed.
  const encode = (v: string | number) =>
    base64Input(ctx.spec, input) ? Buffer.from(String(v)).toString('base64') : v;
  // A value the identity was configured with for this name (`params: {user_id: '1'}`) names its own data.
  const given = ctx.objects.param(who.name, input.name);
  if (given !== undefined) add(given);
  if (namesPerson(input.name, op.path)) {
    const mail = /mail/i.test(input.name) || scalar.format === 'email';
    const byName = !mail && !numeric && !/(id|Id|ID|uuid)$/.test(input.name) && input.name !== 'uid';
    const names = loginValues(who);
    // A name input (`?customer=alice`) takes its login names first, an e-mail input its e-mail only.
    if (mail || byName) for (const v of names) if (v.includes('@') === mail) add(v);
    if (!mail) {
      for (const id of selfIds(who)) add(encode(id));
      // Ids its login answer gave it about itself under any wrapper (`{"result": {"user_id": 2}}`).
      const harvest = ctx.objects.harvest;
      for (const c of harvest.candidates({ name: input.name, schema: scalar }, who.name, 2)) {
        if (harvest.ownLoginValue(who.name, c.value)) add(encode(c.value));
      }
    }
  } else if (entity !== undefined && loose(entity) !== '') {
    for (const o of ctx.objects.of(who.name)) {
      const own = loose(collectionEntity(o.collection));
      if (own !== '' && (own === loose(entity) || loose(entity).endsWith(own)))
        add(encode(inputValue(ctx, input.schema, input.name, o).shown));
    }
  }
  const others = ctx.identities.filter((i) => i.name !== who.name).map((i) => i.name);
  for (const v of ownListed(lists, who, others, input.name, entity)) add(v);
  const harvest = ctx.objects.harvest;
  for (const c of harvest.candidates(
    { name: input.name, context: entity ?? '', schema: scalar },
    who.name,
    3,
  )) {
    if (c.exclusive || harvest.ownValue(who.name, c.value)) add(c.value);
  }
  return out;
}

/** The scalar values of a JSON answer's members that `take` accepts (by member name and the list's entity). */
function memberValues(json: unknown, take: (key: string) => boolean, out: Set<string>, depth = 0): void {
  if (depth > 4 || json === null || typeof json !== 'object' || out.size >= 200) return;
  if (Array.isArray(json)) {
    for (const item of json.slice(0, 100)) memberValues(item, take, out, depth + 1);
    return;
  }
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if ((typeof v === 'string' || typeof v === 'number') && take(k)) out.add(String(v));
    else memberValues(v, take, out, depth + 1);
  }
}

/** By request path, the answers of each identity to lists read without path parameters or a query. */
type Lists = ReadonlyMap<string, { readonly op: Operation; readonly answers: Map<string, unknown[]> }>;

/** The lists the identities read so far (discovery), at most 3 answers per identity and list. */
function listAnswers(ctx: ScanContext): Lists {
  const out = new Map<string, { op: Operation; answers: Map<string, unknown[]> }>();
  for (const o of ctx.observations) {
    const op = o.operation;
    if (o.identity === undefined || !op || op.method !== 'GET' || op.path.includes('{')) continue;
    if (!isSuccess(o.response) || o.response.json === undefined || o.request.path.includes('?')) continue;
    let list = out.get(o.request.path);
    if (list === undefined) {
      if (out.size >= 200) continue;
      list = { op, answers: new Map() };
      out.set(o.request.path, list);
    }
    const answers = list.answers.get(o.identity) ?? [];
    if (answers.length < 3) answers.push(o.response.json);
    list.answers.set(o.identity, answers);
  }
  return out;
}

/**
 * Values an identity's own list shows and the other identities' answers to the very same request do not
 * (`GET /claims` lists alice's claims 11 and 12 to alice, bob's 21 to bob): the member named like the input
 * (`claim_id`), or the list's own `id` when the list is of the input's entity. Another answer that shows them to
 * everyone (a staff report) does not make them anyone else's.
 */
function ownListed(
  lists: Lists,
  who: Identity,
  others: readonly string[],
  name: string,
  entity: string | undefined,
): string[] {
  const wanted = name.toLowerCase().replace(/[^a-z0-9]/g, '');
  const out = new Set<string>();
  // Lists of the input's entity first (`GET /messages` for `?message_id=`), then the others.
  const ordered = [...lists.values()].sort(
    (x, y) =>
      Number(entity !== undefined && loose(collectionEntity(y.op.path)) === loose(entity)) -
      Number(entity !== undefined && loose(collectionEntity(x.op.path)) === loose(entity)),
  );
  for (const { op, answers } of ordered) {
    if (out.size >= MAX_INPUT_VALUES) break;
    const mine = answers.get(who.name);
    const theirs = others.flatMap((o) => answers.get(o) ?? []);
    if (mine === undefined || theirs.length === 0) continue;
    const listEntity = loose(collectionEntity(op.path));
    const take = (k: string) =>
      k.toLowerCase().replace(/[^a-z0-9]/g, '') === wanted ||
      (entity !== undefined && RECORD_ID.includes(k) && listEntity !== '' && listEntity === loose(entity));
    const seen = new Set<string>();
    for (const json of theirs) memberValues(json, take, seen);
    const own = new Set<string>();
    for (const json of mine) memberValues(json, take, own);
    for (const v of own) if (!seen.has(v)) out.add(v);
  }
  return [...out];
}

/** Paths of lookups that find a person by name by design (`/users/lookup?email=`, `/payees/search?username=`). */
const DIRECTORY_PATH =
  /lookup|search|find|exists|check|availab|resolve|recipient|payee|directory|suggest|autocomplete|invite/i;

/** The reads whose object an input names, with each identity's own values for it (taken before any replay). */
function inputReads(ctx: ScanContext): InputRead[] {
  const out: InputRead[] = [];
  const lists = listAnswers(ctx);
  for (const op of ctx.spec.operations) {
    if (!readsByInput(ctx.spec, op) || isAdminOperation(op)) continue;
    // A POST, however it reads, may change what it names (a view counter, a locker it opens): it names only
    // objects the scan created, never a seeded one nor a given identity's own.
    const created = (values: string[]) =>
      op.method === 'GET' ? values : values.filter((v) => createdValue(ctx.objects, v));
    const inputs = [...objectInputs(ctx.spec, op), ...headerInputs(ctx.spec, op)];
    for (const input of inputs.slice(0, MAX_READ_INPUTS)) {
      // A user found by name or e-mail through a lookup (a payee, an invitee) is a directory by design.
      if (DIRECTORY_PATH.test(op.path) && namesPerson(input.name, op.path) && !/(id|Id|ID)$/.test(input.name))
        continue;
      const values = new Map(
        ctx.identities.map((who) => [who.name, created(ownInputValues(ctx, lists, who, op, input))]),
      );
      out.push({ op, input, values });
    }
    // Inputs not named like ids, taken only for values an identity's own list shows (`?ref=RC-88412`).
    for (const input of otherInputs(ctx.spec, op).slice(0, MAX_READ_INPUTS)) {
      const values = new Map(
        ctx.identities.map((who) => [who.name, created(listedInputValues(ctx, lists, who, input))]),
      );
      if ([...values.values()].some((v) => v.length > 0)) out.push({ op, input, values });
    }
  }
  return out;
}

/**
 * An identity's own values for an input not named like an id: those its own list shows under the input's name and
 * the other identities' answers to the same list do not (see `ownListed`), that look like a reference (a digit
 * in them, not a date, at most 64 characters).
 */
function listedInputValues(ctx: ScanContext, lists: Lists, who: Identity, input: ObjectInput): string[] {
  const others = ctx.identities.filter((i) => i.name !== who.name).map((i) => i.name);
  const s = resolveSchema(ctx.spec, input.schema);
  return ownListed(lists, who, others, input.name, undefined)
    .filter((v) => /\d/.test(v) && !/^\d{4}-\d\d-\d\d/.test(v) && v.length <= 64 && fits(v, s))
    .slice(0, MAX_INPUT_VALUES);
}

/** The request of a read with `value` in its object input, the rest as the planner fills it for `who`. */
function inputRequest(
  ctx: ScanContext,
  op: Operation,
  input: ObjectInput,
  who: Identity,
  value: string,
): PlannedRequest {
  if (input.in === 'query' || input.in === 'header') {
    const name = input.header ?? input.name;
    return planRequest(ctx.spec, op, ctx.objects, { owner: who.name, params: { [name]: value } });
  }
  const planned = planRequest(ctx.spec, op, ctx.objects, { owner: who.name });
  const s = resolveSchema(ctx.spec, input.schema);
  const array = schemaType(s) === 'array';
  const scalar = array ? resolveSchema(ctx.spec, s.items as JsonSchema) : s;
  const typed =
    ['integer', 'number'].includes(schemaType(scalar) ?? '') && /^-?\d+(\.\d+)?$/.test(value)
      ? Number(value)
      : value;
  const body =
    planned.body !== null && typeof planned.body === 'object' && !Array.isArray(planned.body)
      ? (planned.body as Record<string, unknown>)
      : {};
  return { ...planned, body: { ...body, [input.name]: array ? [typed] : typed } };
}

/** Whose record an answer is, by its owner field (ids it was told are its own) or a login name it carries. */
function recordOwner(json: unknown, people: readonly Identity[]): Identity | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const top = json as Record<string, unknown>;
  const records = [top, top.data, top.user, top.account, top.result].filter(
    (r): r is Record<string, unknown> => r !== null && typeof r === 'object' && !Array.isArray(r),
  );
  for (const who of people) {
    const ids = selfIds(who);
    const names = new Set(loginValues(who));
    for (const r of records) {
      if (ids.size > 0 && ownsRecord(r, ids)) return who;
      const named = Object.entries(r).some(
        ([k, v]) =>
          /^(e_?mail|user_?name|username|login|owner|user|handle)$/i.test(k) && names.has(String(v)),
      );
      if (named) return who;
    }
  }
  return undefined;
}

/** How one replay of a read named by an input ended: the owner's read unusable, the attacker refused, ... */
type InputReadOutcome = 'unusable' | 'refused' | 'not shown' | 'found';

/**
 * One replay of a read named by an input: the owner reads its object with `value` (a 2xx that shows something),
 * the attacker sends the same request and gets the same (80% alike), a made-up value gets the attacker
 * another answer (the input decides what comes back), and the attacker's own value, where it has one, another
 * still (the answer is about the object named, not the caller); without one, the answer must carry the value
 * or the owner's login name. Private as `isPrivate` says. Reported as `scan/api1-bola-read` on the operation.
 */
async function judgeInputRead(
  ctx: ScanContext,
  read: InputRead,
  owner: Identity,
  attacker: Identity,
  value: string,
  seen?: ScanResponse,
): Promise<InputReadOutcome> {
  const { op, input } = read;
  const req = inputRequest(ctx, op, input, owner, value);
  const mine = seen ?? (await ctx.send(req, owner));
  if (!isSuccess(mine) || refusedIn200(mine) || isEmptyAnswer(mine) || notFoundAnswer(mine))
    return 'unusable';
  // A record whose owner field or login name says it is the attacker's is no object of the owner's.
  if (recordOwner(mine.json, [attacker]) !== undefined) return 'unusable';
  const theirs = await ctx.send(req, attacker);
  if (!isSuccess(theirs) || refusedIn200(theirs)) return 'refused';
  const body = (r: ScanResponse) => r.json ?? r.text;
  const score = similarity(body(mine), body(theirs));
  if (score < SAME_OBJECT) return 'not shown';
  const s = resolveSchema(ctx.spec, input.schema);
  const scalar = schemaType(s) === 'array' ? resolveSchema(ctx.spec, s.items as JsonSchema) : s;
  const made = madeUpIdFor(scalar, value);
  if (made === undefined) return 'not shown';
  const fake = await ctx.send(inputRequest(ctx, op, input, owner, made), attacker);
  if (fake === undefined || (isSuccess(fake) && similarity(body(fake), body(theirs)) >= SAME_OBJECT))
    return 'not shown';
  const own = (read.values.get(attacker.name) ?? []).find((v) => v !== value);
  if (own !== undefined) {
    const ownRes = await ctx.send(inputRequest(ctx, op, input, attacker, own), attacker);
    if (ownRes === undefined || (isSuccess(ownRes) && similarity(body(ownRes), body(theirs)) >= SAME_OBJECT))
      return 'not shown';
  } else if (!theirs.text.includes(value) && !loginValues(owner).some((v) => theirs.text.includes(v))) {
    return 'not shown';
  }
  if (!(await isPrivate(ctx, req, mine, false))) return 'not shown';
  const where =
    input.in === 'header' ? `the header ${input.header} it sends` : `its ${input.in} input ${input.name}`;
  ctx.report(SCAN_RULES.bolaRead, {
    operation: op,
    key: `input:${input.name}`,
    message: `${attacker.name} read ${owner.name}'s object through ${op.method} ${req.path.split('?')[0]} naming it by ${where} (${input.header !== undefined ? `${input.header}: ${value}` : `${input.name}=${value}`}, ${owner.name}'s; similarity ${score.toFixed(2)}; a made-up ${input.header ?? input.name} answers otherwise${own !== undefined ? `, and so does ${attacker.name}'s own` : ''}).`,
    evidence: evidenceOf(theirs, {
      owner: owner.name,
      attacker: attacker.name,
      input: input.name,
      similarity: score,
      madeUpStatus: fake.status,
    }),
  });
  return 'found';
}

/**
 * Reads whose object is named by a query or body input, not the path (`GET /orders?order_id=`, `GET
 * /profile?user_id=`, `GET /invoice?account=alice`, `POST /orders/view {"order_id": ...}`): the attacker sends
 * the owner's read with the owner's value (see `ownInputValues`), judged by `judgeInputRead`. Where neither
 * identity has a value of its own for an id input, the first tries a few small ids (at most 8, on 2 reads) and a
 * record whose owner field or login name says whose it is is judged the same way. Reads only.
 */
async function replayInputReads(
  ctx: ScanContext,
  reads: readonly InputRead[],
  a: Identity,
  b: Identity,
  tested: Set<string>,
): Promise<void> {
  const done = new Set<Operation>();
  let guessed = 0;
  let replayed = 0;
  for (const read of reads) {
    if (ctx.signal.aborted || replayed >= MAX_INPUT_READS) return;
    if (done.has(read.op)) continue;
    const mineA = read.values.get(a.name) ?? [];
    const mineB = read.values.get(b.name) ?? [];
    if (mineA.length > 0 || mineB.length > 0) replayed++;
    let found = false;
    let refused = false;
    for (const [owner, attacker, values, others] of [
      [a, b, mineA, mineB],
      [b, a, mineB, mineA],
    ] as const) {
      // One value that the owner reads is enough; a refusal of the attacker settles the read both ways.
      for (const value of values.slice(0, MAX_INPUT_VALUES)) {
        if (found || refused || others.includes(value)) continue;
        const key = `${read.op.method} ${read.op.path} ${read.input.name}=${value}`;
        if (tested.has(key)) continue;
        tested.add(key);
        const outcome = await judgeInputRead(ctx, read, owner, attacker, value);
        found = outcome === 'found';
        refused = outcome === 'refused';
        if (outcome !== 'unusable') break;
      }
    }
    if (
      !found &&
      mineA.length === 0 &&
      mineB.length === 0 &&
      guessed < MAX_GUESSED_INPUT_READS &&
      read.op.method === 'GET' &&
      !/mail/i.test(read.input.name) &&
      (/(id|Id|ID)$/.test(read.input.name) || read.input.name === 'uid')
    ) {
      guessed++;
      const encoded = base64Input(ctx.spec, read.input);
      for (const plain of GUESSED_IDS) {
        const id = encoded ? Buffer.from(plain).toString('base64') : plain;
        const s = resolveSchema(ctx.spec, read.input.schema);
        if (!fits(id, schemaType(s) === 'array' ? resolveSchema(ctx.spec, s.items as JsonSchema) : s)) break;
        const got = await ctx.send(inputRequest(ctx, read.op, read.input, a, id), a);
        if (!isSuccess(got) || got.json === undefined || refusedIn200(got)) continue;
        const owner = recordOwner(got.json, [a, b]);
        if (owner === undefined) continue;
        const attacker = owner === a ? b : a;
        tested.add(`${read.op.method} ${read.op.path} ${read.input.name}=${id}`);
        found =
          (await judgeInputRead(ctx, read, owner, attacker, id, owner === a ? got : undefined)) === 'found';
        break;
      }
    }
    if (found) done.add(read.op);
  }
}

/** Does a list answer hold an item with this id? */
function listsId(json: unknown, id: string): boolean {
  const items = Array.isArray(json)
    ? json
    : json !== null && typeof json === 'object'
      ? (Object.values(json as Record<string, unknown>).find(Array.isArray) ?? [])
      : [];
  return (items as unknown[]).slice(0, 500).some((item) => {
    if (item === null || typeof item !== 'object') return false;
    const r = item as Record<string, unknown>;
    return RECORD_ID.some((k) => r[k] !== undefined && String(r[k]) === id);
  });
}

/** A PUT/PATCH/DELETE of the owner's object: only scan-created objects unless destructive tests are allowed. */
function mayTouch(ctx: ScanContext, req: PlannedRequest): boolean {
  const path = req.path.split('?')[0];
  return req.ownedPath && (ctx.allowDestructive || ctx.objects.isScanCreated(path));
}

/**
 * Says why a write or delete of the owner's object was not replayed when the owner's object is one the scan did not
 * create (a given identity's or seeded object, the API having no creation the scan could use): the coverage then
 * reads "not tested: needs --allow-destructive", not a silent pass.
 */
function noteHeld(ctx: ScanContext, op: Operation, req: PlannedRequest, owner: Identity): void {
  if (!req.ownedPath || ctx.allowDestructive) return;
  const path = req.path.split('?')[0];
  if (ctx.objects.isScanCreated(path)) return;
  ctx.note?.({
    operation: op,
    rule: op.method === 'DELETE' ? SCAN_RULES.bolaDelete : SCAN_RULES.bolaWrite,
    reason: `not tested: ${owner.name}'s object at ${path} is not one the scan created (none of this kind could be made), and a ${op.method} there would change a given identity's data; --allow-destructive tests it`,
  });
}

/**
 * A write or delete of the owner's child sent below the attacker's own parent (`PATCH /projects/{its own}/tasks/{the
 * owner's task}`), for a route that checks the parent and finds the child by its id alone: the attacker's own plan of
 * the route must be objects the scan created, so the swapped path lies below a parent of the scan's own (whatever
 * the API finds there, with ids numbered per parent too, is the scan's). Undefined when the route has one parameter
 * that is not a listed kind, or no such parent.
 */
function swappedWrite(
  ctx: ScanContext,
  op: Operation,
  req: PlannedRequest,
  attacker: Identity,
): PlannedRequest | undefined {
  const own = planRequest(ctx.spec, op, ctx.objects, { owner: attacker.name });
  if (!own.ownedPath || !ctx.objects.isScanCreated(own.path.split('?')[0])) return undefined;
  const path = swappedPath(ctx, req, own);
  if (path === undefined || !ctx.objects.isScanCreated(path.split('?')[0])) return undefined;
  return { ...req, path, object: undefined };
}

function readerOf(ctx: ScanContext, op: Operation): Operation | undefined {
  return ctx.spec.operations.find((o) => o.method === 'GET' && o.path === op.path && !isExcluded(o));
}

/** A path without its last segment (`/articles/s1/favorite` → `/articles/s1`), its query dropped. */
function parentPath(path: string): string {
  return path
    .split('?')[0]
    .replace(/\/+$/, '')
    .replace(/\/[^/]*$/, '');
}

/** The GET of the object a relation path hangs below (`GET /articles/{slug}` for `/articles/{slug}/favorite`). */
function parentReader(ctx: ScanContext, op: Operation): Operation | undefined {
  const parent = parentPath(op.path);
  return parent.endsWith('}')
    ? ctx.spec.operations.find(
        (o) => o.method === 'GET' && o.path.replace(/\/$/, '') === parent && !isExcluded(o),
      )
    : undefined;
}

/**
 * The owner's read of the very object a write went to (`GET` at the write's path, the read's own query): the
 * planner may fill the read's path with another object of the owner's (a given `id` wins over a scan-made one for
 * reads), whose answer says nothing about the write.
 */
function readBack(ctx: ScanContext, get: Operation, written: string, owner: Identity): PlannedRequest {
  const plan = planRequest(ctx.spec, get, ctx.objects, { owner: owner.name });
  const query = new URL(plan.path, 'http://x').search;
  return { ...plan, path: `${written.split('?')[0]}${query}` };
}

async function replayWrites(
  ctx: ScanContext,
  owner: Identity,
  attacker: Identity,
  anonymous: AnonymousTries,
): Promise<void> {
  for (const op of ctx.spec.operations) {
    if ((op.method !== 'PUT' && op.method !== 'PATCH') || isExcluded(op)) continue;
    const schema = bodySchema(op);
    const marker = `pcbola${Date.now().toString(36)}`;
    const planned = planRequest(ctx.spec, op, ctx.objects, {
      owner: owner.name,
      ...(schema ? {} : { allQuery: true }),
    });
    if (!mayTouch(ctx, planned)) {
      noteHeld(ctx, op, planned, owner);
      continue;
    }
    const sample = schema
      ? withForeignKeys(ctx.spec, schema, sampleValue(ctx.spec, schema), ctx.objects, owner.name, op.path)
      : {};
    const get = readerOf(ctx, op);
    // An update that takes its inputs from the query string carries the marker there.
    const marked = (m: string) => ({
      ...(schema ? planned : { ...planned, path: markQuery(ctx, op, planned.path, m) }),
      body: markBody(ctx.spec, schema, sample, m),
    });
    if (!anonymous.has(op)) {
      // Without credentials first: a change anyone makes is the open function's flaw (API5), not the owner's.
      const anon = anonymousMarker();
      const req = marked(anon);
      const res = await ctx.send(req, null);
      const after =
        accepted(res) && get ? await ctx.send(readBack(ctx, get, req.path, owner), owner) : undefined;
      const carried = JSON.stringify(req).includes(anon);
      const changed =
        accepted(res) &&
        carried &&
        (get ? isSuccess(after) && after.text.includes(anon) : res.text.includes(anon));
      recordAnonymous(anonymous, op, res, changed);
      if (changed) {
        ctx.report(SCAN_RULES.anonymousWrite, {
          operation: op,
          message: `A request without credentials changed ${owner.name}'s object at ${req.path}${get ? ` and ${owner.name} sees the change` : ' (the answer shows the change)'}${anonymousContext(op)}.`,
          evidence: evidenceOf(res, { owner: owner.name, attacker: 'anonymous' }),
        });
      }
    }
    if (anonymous.get(op) === true) continue;
    const { body, ...target } = marked(marker);
    let res = await ctx.send({ ...target, body }, attacker);
    // Refused at the owner's path: the route may check only the parent, so the attacker names the owner's child
    // below its own parent, judged by the owner's view of the child at its own path (a read is needed).
    const swapped = !isSuccess(res) && get ? swappedWrite(ctx, op, target, attacker) : undefined;
    if (swapped) res = await ctx.send({ ...swapped, body }, attacker);
    if (!isSuccess(res)) continue;
    const after = get ? await ctx.send(readBack(ctx, get, target.path, owner), owner) : undefined;
    const changed = get
      ? isSuccess(after) && after.text.includes(marker)
      : !JSON.stringify(body).includes(marker) || res.text.includes(marker);
    if (!changed) continue;
    ctx.report(SCAN_RULES.bolaWrite, {
      operation: op,
      message: swapped
        ? `${attacker.name} changed ${owner.name}'s object ${target.path} below its own parent at ${swapped.path}, and ${owner.name} sees the change: the route checks the parent, not whose the object is.`
        : `${attacker.name} changed ${owner.name}'s object at ${target.path}${get ? ` and ${owner.name} sees the change` : ''}.`,
      evidence: evidenceOf(res, { owner: owner.name, attacker: attacker.name }),
    });
  }
}

/**
 * The query of a body-less update with the marker in its plain text inputs (no enum, format or pattern, and
 * not a privileged name that API3 probes), its other inputs left out: `PUT /users/{id}?street=pcbola...`.
 */
function markQuery(ctx: ScanContext, op: Operation, path: string, marker: string): string {
  const url = new URL(path, 'http://x');
  for (const p of op.parameters) {
    if (p.in !== 'query') continue;
    const s = resolveSchema(ctx.spec, p.schema);
    if (
      /admin|role|permission|scope|verified|staff|superuser/i.test(p.name) ||
      schemaType(s) !== 'string' ||
      s.enum !== undefined ||
      s.format !== undefined ||
      s.pattern !== undefined
    ) {
      url.searchParams.delete(p.name);
      continue;
    }
    url.searchParams.set(p.name, marker);
  }
  return `${url.pathname}${url.search}`;
}

/** Numbers of a body moved to a value the owner's view will show if it is stored (4242 when the bounds allow). */
export function markNumbers(spec: ApiDocument, schema: JsonSchema | undefined, value: unknown): unknown {
  const s = resolveSchema(spec, schema);
  if (typeof value === 'number') {
    if (s.enum !== undefined || s.const !== undefined) return value;
    const min = typeof s.minimum === 'number' ? s.minimum : Number.NEGATIVE_INFINITY;
    const max = typeof s.maximum === 'number' ? s.maximum : Number.POSITIVE_INFINITY;
    const wanted = 4242;
    if (wanted >= min && wanted <= max && wanted !== value) return wanted;
    return Number.isFinite(min) && min + 1 <= max && min + 1 !== value ? min + 1 : value;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const props = propertiesOf(spec, s);
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, k in props ? markNumbers(spec, props[k], v) : v]),
    );
  }
  return value;
}

/** Members that count other people's reactions to an object (`favoritesCount`, `likes_count`, `followers`). */
const TALLY =
  /(^|_)count$|[a-z]Count$|^(likes|favorites|favourites|followers|votes|upvotes|downvotes|stars|views|hearts|reactions|claps)$/;
/** Members that tell the reader's own relation to an object (`favorited`, `following`, `isLiked`). */
const VIEWER_FLAG =
  /^(is_?|has_?)?(favorited|favourited|liked|starred|following|followed|voted|upvoted|bookmarked|subscribed)$/i;

/**
 * Whether the owner's view of its object changed in what the object holds (undefined: gone): tallies of others'
 * reactions (`favoritesCount` 0 → 1) and the reader's own relation flags are left out. Favouriting, liking or
 * following an object another may read is what every user may do (a row of the caller's own); only a count moves.
 */
export function viewChanged(before: string | undefined, after: string | undefined): boolean {
  if (before === after) return false;
  if (before === undefined || after === undefined) return true;
  let a: unknown;
  let b: unknown;
  try {
    a = JSON.parse(before);
    b = JSON.parse(after);
  } catch {
    return true;
  }
  const strip = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== 'object' || depth > 6) return v;
    if (Array.isArray(v)) return v.map((x) => strip(x, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (typeof x === 'number' && TALLY.test(k)) continue;
      if (typeof x === 'boolean' && VIEWER_FLAG.test(k)) continue;
      out[k] = strip(x, depth + 1);
    }
    return out;
  };
  return JSON.stringify(strip(a, 0)) !== JSON.stringify(strip(b, 0));
}

/**
 * The owner's view of one of its objects: the item read (`GET /cards/{id}`) when the API has one, else its
 * entry in the collection's list, found by id.
 */
async function viewOf(ctx: ScanContext, object: CreatedObject, owner: Identity): Promise<string | undefined> {
  const item = ctx.spec.operations.find(
    (o) =>
      o.method === 'GET' &&
      !isExcluded(o) &&
      /^\{[^}]+\}$/.test(o.path.slice(object.collection.length + 1)) &&
      o.path.startsWith(`${object.collection}/`),
  );
  if (item) {
    // This object's own path (the planner would take the first object of the collection).
    const params = Object.fromEntries(pathValues(item.path, object.path).map((v) => [v.name, v.value]));
    const res = await ctx.send(
      planRequest(ctx.spec, item, ctx.objects, { owner: owner.name, params }),
      owner,
    );
    return isSuccess(res) ? res.text : undefined;
  }
  const list = ctx.spec.operations.find(
    (o) => o.method === 'GET' && !isExcluded(o) && o.path.replace(/\/$/, '') === object.collection,
  );
  if (!list) return undefined;
  const res = await ctx.send(planRequest(ctx.spec, list, ctx.objects, { owner: owner.name }), owner);
  if (!isSuccess(res)) return undefined;
  const json = res.json;
  const items = Array.isArray(json)
    ? json
    : json !== null && typeof json === 'object'
      ? (Object.values(json).find(Array.isArray) ?? [])
      : [];
  const mine = (items as unknown[]).find(
    (i) =>
      i !== null &&
      typeof i === 'object' &&
      ['id', '_id', 'uuid'].some((k) => String((i as Record<string, unknown>)[k]) === object.id),
  );
  return mine === undefined ? undefined : JSON.stringify(mine);
}

/**
 * Actions on an object (`POST /cards/{card_id}/freeze`, `/update-limit`): the attacker calls the owner's
 * scan-created object; a 2xx after which the owner's view of the object changed (it was stable before) is a
 * change of another's object.
 */
async function replayActions(
  ctx: ScanContext,
  owner: Identity,
  attacker: Identity,
  anonymous: AnonymousTries,
): Promise<void> {
  for (const op of ctx.spec.operations) {
    if (
      op.method !== 'POST' ||
      isExcluded(op) ||
      isCreationOperation(ctx.spec, op) ||
      (isBusinessFlow(ctx.spec, op) && !actsOnOne(op)) ||
      isAdminOperation(op) ||
      isLoginOperation(ctx.spec, op)
    )
      continue;
    const target = planRequest(ctx.spec, op, ctx.objects, { owner: owner.name });
    const object = target.object;
    if (!object || !target.ownedPath) continue;
    const before = await viewOf(ctx, object, owner);
    if (before === undefined || (await viewOf(ctx, object, owner)) !== before) continue;
    const schema = bodySchema(op);
    const marker = `pcbola${Date.now().toString(36)}`;
    const markedBody = (m: string) =>
      schema === undefined
        ? target.body
        : markNumbers(ctx.spec, schema, markBody(ctx.spec, schema, target.body, m));
    if (!anonymous.has(op)) {
      // Without credentials first (see replayWrites): the owner's view changed by anyone is API5.
      const res = await ctx.send({ ...target, body: markedBody(anonymousMarker()) }, null);
      const after = accepted(res) ? await viewOf(ctx, object, owner) : undefined;
      const changed = accepted(res) && after !== undefined && viewChanged(before, after);
      recordAnonymous(anonymous, op, res, changed);
      if (changed) {
        ctx.report(SCAN_RULES.anonymousWrite, {
          operation: op,
          message: `A request without credentials called ${op.method} ${target.path} on ${owner.name}'s object, and ${owner.name}'s view of it changed${anonymousContext(op)}.`,
          evidence: evidenceOf(res, { owner: owner.name, attacker: 'anonymous' }),
        });
      }
    }
    if (anonymous.get(op) === true) continue;
    const body = markedBody(marker);
    let res = await ctx.send({ ...target, body }, attacker);
    let via = '';
    const status = res?.status ?? 0;
    if (!isSuccess(res) && schema !== undefined && status >= 400 && status !== 401 && status !== 403) {
      // The documented input fails the action (a field the server does not know): the fields the owner's
      // view shows and the request does not declare, one at a time (`card_type` beside a failing `limit`).
      let record: Record<string, unknown> | undefined;
      try {
        record = recordFor(JSON.parse(before), object.id);
      } catch {
        record = undefined;
      }
      const declared = Object.keys(propertiesOf(ctx.spec, schema));
      for (const field of record ? shownFields(record, declared).slice(0, 4) : []) {
        const again = await ctx.send(
          { ...target, body: { [field]: changedValue(record![field], marker) } },
          attacker,
        );
        if (again?.status === 401 || again?.status === 403) break;
        if (!isSuccess(again)) continue;
        res = again;
        via = ` with the field ${field}, which ${owner.name}'s view shows and the request does not declare,`;
        break;
      }
    }
    if (!isSuccess(res)) continue;
    const after = await viewOf(ctx, object, owner);
    if (after === undefined || !viewChanged(before, after)) continue;
    ctx.report(SCAN_RULES.bolaWrite, {
      operation: op,
      message: `${attacker.name} called ${op.method} ${target.path} on ${owner.name}'s object${via} and ${owner.name}'s view of it changed.`,
      evidence: evidenceOf(res, { owner: owner.name, attacker: attacker.name }),
    });
  }
}

/** The verb of an action that pays, charges, refunds, moves or redeems money or credit: never sent on another's object. */
const MONEY_VERB =
  /pay|checkout|purchase|buy|charge|refund|transfer|withdraw|deposit|top-?up|redeem|apply|claim|donate|tip|send|cash/i;

/**
 * A POST that acts by a verb on the one object its path names (`/orders/{id}/cancel`, `/requests/{id}/approve`), the
 * verb moving no money: replayed on an object of the scan's own even where the planner takes it for a business flow.
 */
function actsOnOne(op: Operation): boolean {
  return (
    op.method === 'POST' &&
    pathActs(op.path) &&
    (op.path.match(/\{/g) ?? []).length === 1 &&
    !op.path.endsWith('}') &&
    !MONEY_VERB.test(op.path.split('/').pop() ?? '')
  );
}

/**
 * Actions by path id (`POST /orders/{id}/cancel`, also those the planner takes for a business flow: a cancel or an
 * approval acts on one object; never one whose verb moves money, MONEY_VERB) where no given identity has an object of the scan's own to act on
 * (the creation is a purchase the scan makes as no given identity, or refused them): an account of the scan's own
 * (`pco<hex>`, through the sign-up) makes one through the documented creation of that collection, and the attacker
 * calls the action on it (anonymously first, as replayActions does); that account's view of its object changing
 * (stable before) is the finding. Nothing of a given identity's is named. At most 3 actions, one account.
 */
async function replayOwnAccountActions(
  ctx: ScanContext,
  attacker: Identity,
  anonymous: AnonymousTries,
): Promise<void> {
  const actions = ctx.spec.operations.filter(
    (op) =>
      actsOnOne(op) &&
      !isExcluded(op) &&
      !isCreationOperation(ctx.spec, op) &&
      !isAdminOperation(op) &&
      !isLoginOperation(ctx.spec, op) &&
      anonymous.get(op) !== true,
  );
  let account: Throwaway | null | undefined;
  const made = new Map<string, CreatedObject>();
  let tried = 0;
  for (const op of actions) {
    if (tried >= 3 || ctx.signal.aborted) return;
    // An object of a given identity's own that the scan made: replayActions tried it.
    const covered = ctx.identities.some((who) => {
      const t = planRequest(ctx.spec, op, ctx.objects, { owner: who.name });
      return t.object !== undefined && t.ownedPath && ctx.objects.isScanCreated(t.object.path);
    });
    if (covered) continue;
    const collection = op.path.slice(0, op.path.indexOf('/{'));
    const create = ctx.spec.operations.find(
      (c) =>
        c.method === 'POST' &&
        !isExcluded(c) &&
        !c.path.includes('{') &&
        creationCollection(ctx.spec, c) === collection,
    );
    if (!create) continue;
    tried++;
    account ??= (await registerThrowaway(ctx, findLoginTarget(ctx), 'pco')) ?? null;
    if (account === null) {
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.bolaWrite,
        reason: `not tested: no given identity has an object of the scan's own at ${collection} to act on, and no account of the scan's own could be signed up to make one (--allow-destructive acts on the given identities' objects)`,
      });
      continue;
    }
    let object = made.get(collection);
    if (!object) {
      const res = await ctx.send(
        planRequest(ctx.spec, create, ctx.objects, { owner: account.name }),
        account.identity,
      );
      const id = isSuccess(res) && !refusedIn200(res) ? captureId(ctx.spec, create, res) : undefined;
      if (id === undefined) {
        ctx.note?.({
          operation: op,
          rule: SCAN_RULES.bolaWrite,
          reason: `not tested: no given identity has an object of the scan's own at ${collection}, and the scan's own account ${account.name} could not make one through ${create.method} ${create.path}${res ? ` (${res.status})` : ''}`,
        });
        continue;
      }
      object = {
        collection,
        path: `${collection}/${encodeURIComponent(id)}`,
        id,
        owner: account.name,
        body: res?.json,
        createdBy: create,
      };
      ctx.objects.add(object);
      made.set(collection, object);
    }
    const target = planRequest(ctx.spec, op, ctx.objects, { owner: account.name });
    if (target.object?.path !== object.path) continue;
    const owner = account.identity;
    const before = await viewOf(ctx, object, owner);
    if (before === undefined || (await viewOf(ctx, object, owner)) !== before) continue;
    const schema = bodySchema(op);
    const marked = (m: string) =>
      schema === undefined
        ? target.body
        : markNumbers(ctx.spec, schema, markBody(ctx.spec, schema, target.body, m));
    const madeBy = `an object of the scan's own account ${account.name} (made through ${create.method} ${create.path}: no given identity had one the scan may act on)`;
    if (!anonymous.has(op)) {
      const res = await ctx.send({ ...target, body: marked(anonymousMarker()) }, null);
      const after = accepted(res) ? await viewOf(ctx, object, owner) : undefined;
      const changed = accepted(res) && after !== undefined && viewChanged(before, after);
      recordAnonymous(anonymous, op, res, changed);
      if (changed) {
        ctx.report(SCAN_RULES.anonymousWrite, {
          operation: op,
          message: `A request without credentials called ${op.method} ${target.path} on ${madeBy}, and that account's view of it changed${anonymousContext(op)}.`,
          evidence: evidenceOf(res, { owner: account.name, attacker: 'anonymous' }),
        });
        continue;
      }
    }
    const res = await ctx.send({ ...target, body: marked(`pcbola${Date.now().toString(36)}`) }, attacker);
    if (!isSuccess(res) || refusedIn200(res)) continue;
    const after = await viewOf(ctx, object, owner);
    if (after === undefined || !viewChanged(before, after)) continue;
    ctx.report(SCAN_RULES.bolaWrite, {
      operation: op,
      message: `${attacker.name} called ${op.method} ${target.path} on ${madeBy}, and that account's view of it changed.`,
      evidence: evidenceOf(res, { owner: account.name, attacker: attacker.name }),
    });
  }
}

/** Inputs that name an object by its id: `id`, `ids`, `uuid`, `order_id`, `orderId`, `item_ids`, `order_no`. */
const ID_NAME =
  /^(id|ids|uuid|guid|pk)$|[-_](id|ids|uuid|guid|pk|no|number)$|[a-z0-9](Id|Ids|ID|IDs|Uuid|No|Number)$/;
/** The plain names, whose entity the path says (`/appointments/cancel?id=`). */
const PLAIN_ID = /^(id|ids|uuid|guid|pk)$/;
/** Path segments that are no entity: a prefix or a version. */
const ROUTE_WORD = /^(api|rest|v\d+(\.\d+)?|api[-_]?v\d+(\.\d+)?)$/i;

/** A segment's words, lower case (`cancelAppointment`, `cancel-appointment` → `cancel`, `appointment`). */
function words(segment: string): string[] {
  return segment
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

/**
 * The entity an acting path names beside its verb (`/appointments/cancel` and `/cancel-appointment` →
 * `appointment`): the last literal segment that is no verb of change, or the words after the verb in one that is.
 */
export function actingPathEntity(path: string): string | undefined {
  const segments = path
    .split('?')[0]
    .split('/')
    .filter((s) => s !== '' && !s.includes('{') && !ROUTE_WORD.test(s));
  for (const segment of segments.reverse()) {
    if (!pathActs(`/${segment}`)) return singular(words(segment).join(''));
    const rest = words(segment).slice(1).join('');
    if (rest !== '') return singular(rest);
  }
  return undefined;
}

/**
 * The entity an id input of an acting request names: `order_id` → `order`, `orderNo` → `order`; a plain `id`
 * (`ids`, `uuid`) names the entity of the path (`/appointments/cancel?id=` → `appointment`). Undefined for a
 * person or account (`user_id`: the accounts' own replays) and a recipient (`to_id`).
 */
export function inputEntity(name: string, path: string): string | undefined {
  if (!ID_NAME.test(name)) return undefined;
  if (PLAIN_ID.test(name)) return actingPathEntity(path);
  const number = /^([A-Za-z][\w-]*?)[_-]?(?:no|No|number|Number)$/.exec(name);
  if (number) return referencedEntity(`${number[1]}_id`);
  return referencedEntity(name);
}

/** A loose entity name (`credit-card`, `creditCard`, `credit_card` → `creditcard`). */
function loose(entity: string): string {
  return entity.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** At most this many of the owner's objects are tried per operation (one already in its end state is skipped). */
const MAX_INPUT_OBJECTS = 2;

/**
 * The value an input takes to name the object: its own member of that name for a number (`order_no`), else its
 * id; a number where the schema says integer or number, in an array where it says array (`ids: [7]`).
 */
function inputValue(ctx: ScanContext, schema: JsonSchema | undefined, name: string, object: CreatedObject) {
  const body = object.body;
  const record =
    body !== null && typeof body === 'object' && !Array.isArray(body)
      ? (((body as Record<string, unknown>).data as Record<string, unknown> | undefined) ??
        (body as Record<string, unknown>))
      : undefined;
  const own = PLAIN_ID.test(name) || /[-_]?(id|ids|Id|Ids|ID|IDs)$/.test(name) ? undefined : record?.[name];
  const raw = typeof own === 'string' || typeof own === 'number' ? String(own) : object.id;
  const s = resolveSchema(ctx.spec, schema);
  const type = schemaType(s);
  const item = type === 'array' ? schemaType(resolveSchema(ctx.spec, s.items as JsonSchema)) : type;
  const typed = (item === 'integer' || item === 'number') && /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  return { value: type === 'array' ? [typed] : typed, shown: raw };
}

/**
 * Actions whose object is named by a query or body input, not the path (`GET /appointments/cancel?id=`,
 * `POST /orders/cancel {"order_id": ...}`, `DELETE /orders?order_id=`): the attacker calls the action on an object the scan created as
 * the owner (the one input set to its id, the entity by the input's name or, for a plain `id`, by the path),
 * and the owner reads the object back. A 2xx after which the owner's view changed (it was stable before) is a
 * change of another's object; the object gone from the owner's view, its deletion. Only objects the scan
 * created are named; the runner's guard decides what goes (a DELETE at a path the scan did not create only
 * with --allow-destructive).
 */
async function replayInputActions(
  ctx: ScanContext,
  owner: Identity,
  attacker: Identity,
  anonymous: AnonymousTries,
): Promise<void> {
  for (const op of ctx.spec.operations) {
    if (ctx.signal.aborted) return;
    // A path that acts (`/orders/cancel`), or a DELETE whose query names what goes (`DELETE /orders?order_id=`).
    const acts = pathActs(op.path) || op.method === 'DELETE';
    if (!acts || isExcluded(op) || isAdminOperation(op) || isLoginOperation(ctx.spec, op)) continue;
    // The path names no object of its own (a version or a kind from the document's list at most).
    const named = op.parameters.some((p) => p.in === 'path' && listedValue(ctx.spec, p.schema) === undefined);
    if (named) continue;
    const schema = bodySchema(op);
    const props = propertiesOf(ctx.spec, schema);
    const inputs = [
      ...op.parameters
        .filter((p) => p.in === 'query' && listedValue(ctx.spec, p.schema) === undefined)
        .map((p) => ({ name: p.name, in: 'query' as const, schema: p.schema })),
      ...Object.entries(props).map(([name, s]) => ({ name, in: 'body' as const, schema: s })),
    ];
    let pick: { input: (typeof inputs)[number]; objects: CreatedObject[] } | undefined;
    for (const input of inputs) {
      const entity = inputEntity(input.name, op.path);
      if (entity === undefined || loose(entity) === '') continue;
      const objects = ctx.objects.of(owner.name).filter((o) => {
        const own = loose(collectionEntity(o.collection));
        return own !== '' && (own === loose(entity) || loose(entity).endsWith(own));
      });
      if (objects.length > 0) {
        pick = { input, objects: objects.slice(0, MAX_INPUT_OBJECTS) };
        break;
      }
    }
    if (pick === undefined) continue;
    const { input } = pick;
    // A delete takes an object made for it, when the owner can make one: the ones other probes named stay.
    const deletes = op.method === 'DELETE' || /(^|[/_-])(delete|remove|destroy|erase)/i.test(op.path);
    const fresh = deletes ? await freshObject(ctx, pick.objects[0], owner) : undefined;
    for (const object of fresh ? [fresh] : pick.objects) {
      const before = await viewOf(ctx, object, owner);
      if (before === undefined || (await viewOf(ctx, object, owner)) !== before) continue;
      const { value, shown } = inputValue(ctx, input.schema, input.name, object);
      const marker = `pcbola${Date.now().toString(36)}`;
      const plan = (m: string): PlannedRequest => {
        if (input.in === 'query') {
          const planned = planRequest(ctx.spec, op, ctx.objects, {
            owner: owner.name,
            params: { [input.name]: shown },
          });
          return planned;
        }
        const planned = planRequest(ctx.spec, op, ctx.objects, { owner: owner.name });
        const marked = markBody(ctx.spec, schema, planned.body, m);
        const body = marked !== null && typeof marked === 'object' && !Array.isArray(marked) ? marked : {};
        return { ...planned, body: { ...(body as Record<string, unknown>), [input.name]: value } };
      };
      const where = `its ${input.in === 'query' ? 'query' : 'body'} input ${input.name}`;
      if (!anonymous.has(op)) {
        // Without credentials first (see replayWrites): the owner's view changed by anyone is API5.
        const res = await ctx.send(plan(anonymousMarker()), null);
        const after = accepted(res) ? await viewOf(ctx, object, owner) : undefined;
        const changed = accepted(res) && viewChanged(before, after);
        recordAnonymous(anonymous, op, res, changed);
        if (changed) {
          if (after === undefined) ctx.objects.markDeleted(object.path);
          ctx.report(SCAN_RULES.anonymousWrite, {
            operation: op,
            ...(after === undefined ? { key: 'delete' } : {}),
            message: `A request without credentials called ${op.method} ${op.path} naming ${owner.name}'s object ${object.path} by ${where}, and ${owner.name}'s view of it ${after === undefined ? 'is gone' : 'changed'}${anonymousContext(op)}.`,
            evidence: evidenceOf(res, { owner: owner.name, attacker: 'anonymous' }),
          });
          break;
        }
      }
      if (anonymous.get(op) === true) break;
      const req = plan(marker);
      const res = await ctx.send(req, attacker);
      // Refused (or not sent): the action checks who asks, or cannot be called this way; no other object helps.
      if (!isSuccess(res)) break;
      const after = await viewOf(ctx, object, owner);
      // Unchanged: maybe already in its end state (cancelled by the owner's own call earlier); the next one.
      if (!viewChanged(before, after)) continue;
      const gone = after === undefined;
      if (gone) ctx.objects.markDeleted(object.path);
      ctx.report(gone ? SCAN_RULES.bolaDelete : SCAN_RULES.bolaWrite, {
        operation: op,
        key: `input:${input.name}`,
        message: `${attacker.name} called ${op.method} ${req.path} naming ${owner.name}'s object ${object.path} by ${where}, and ${gone ? `${owner.name} can no longer read it` : `${owner.name}'s view of it changed`}.`,
        evidence: evidenceOf(res, {
          owner: owner.name,
          attacker: attacker.name,
          input: input.name,
          object: object.path,
        }),
      });
      break;
    }
  }
}

/**
 * B creates an object inside A's account (`POST /users/{A}/addresses`): a creation whose path names a user or
 * an account, planned on A's own (scan-created) account, sent by B with a marker, and found in A's own list of
 * that collection afterwards. Limited to accounts: B commenting on A's article is a design choice.
 */
async function replayCreations(ctx: ScanContext, owner: Identity, attacker: Identity): Promise<void> {
  for (const op of ctx.spec.operations) {
    if (op.method !== 'POST' || isExcluded(op) || !isCreationOperation(ctx.spec, op)) continue;
    if (isBusinessFlow(ctx.spec, op) || isAdminOperation(op) || isLoginOperation(ctx.spec, op)) continue;
    if (accountParam(op.path) === undefined) continue;
    const list = ctx.spec.operations.find((o) => o.method === 'GET' && o.path === op.path && !isExcluded(o));
    if (!list) continue;
    const target = planRequest(ctx.spec, op, ctx.objects, { owner: owner.name });
    if (!target.ownedPath || target.invented.length > 0) continue;
    const path = target.path.split('?')[0];
    if (!ctx.objects.isScanCreated(path) && !ctx.allowDestructive) continue;
    const schema = bodySchema(op);
    const marker = `pcbola${Date.now().toString(36)}`;
    const marked = schema
      ? { ...target, body: markBody(ctx.spec, schema, target.body, marker) }
      : { ...target, path: markPlainQuery(ctx, op, target.path, marker) };
    if (!JSON.stringify(marked).includes(marker)) continue;
    const res = await ctx.send(marked, attacker);
    if (!isSuccess(res)) continue;
    const after = await ctx.send(planRequest(ctx.spec, list, ctx.objects, { owner: owner.name }), owner);
    if (!isSuccess(after) || !after.text.includes(marker)) continue;
    ctx.report(SCAN_RULES.bolaWrite, {
      operation: op,
      message: `${attacker.name} created an object in ${owner.name}'s account at ${path}, and ${owner.name}'s list shows it.`,
      evidence: evidenceOf(res, { owner: owner.name, attacker: attacker.name }),
    });
  }
}

/** The planned query with the marker in every plain text input, optional ones too (the others kept as planned). */
function markPlainQuery(ctx: ScanContext, op: Operation, path: string, marker: string): string {
  const url = new URL(path, 'http://x');
  for (const p of op.parameters) {
    if (p.in !== 'query' || /admin|role|permission|scope|verified|staff|superuser/i.test(p.name)) continue;
    const s = resolveSchema(ctx.spec, p.schema);
    if (
      schemaType(s) !== 'string' ||
      s.enum !== undefined ||
      s.format !== undefined ||
      s.pattern !== undefined
    )
      continue;
    if (typeof s.minLength === 'number' && s.minLength > marker.length) continue;
    if (typeof s.maxLength === 'number' && s.maxLength < marker.length) continue;
    url.searchParams.set(p.name, marker);
  }
  return `${url.pathname}${url.search}`;
}

/** A 2xx answer that shows no object: no body, `null`, `{}` or `[]`. */
/** Members of a page or an envelope that say nothing of anyone's data (`total: 0`, `next: null`). */
const PAGE_MEMBER =
  /^(total|count|total_?count|totalCount|total_?elements|total_?pages|number_?of_?elements|page|pages|page_?number|page_?size|per_?page|limit|offset|size|number|first|last|empty|sorted|unsorted|paged|unpaged|has_?more|next|prev|previous|cursor|status|success|ok)$/i;
/** Hypermedia links of an answer (HAL's `_links`, JSON:API's `links`): where to go, nobody's data. */
const LINKS_MEMBER = /^_?links$/i;

/**
 * An answer that holds no record: an empty list, or an object whose members are empty lists or objects, nulls, links
 * and page members (`{"data": [], "total": 0}`, `{"items": [], "meta": {"page": 1}}`, a HAL or Spring Data page).
 */
export function recordless(json: unknown, depth = 0): boolean {
  if (depth > 3 || json === null || typeof json !== 'object') return false;
  if (Array.isArray(json)) return json.length === 0;
  const members = Object.entries(json as Record<string, unknown>);
  if (members.length === 0) return true;
  let empty = 0;
  for (const [k, v] of members) {
    if (v === null || v === undefined || LINKS_MEMBER.test(k)) continue;
    if (typeof v === 'object') {
      if (!recordless(v, depth + 1)) return false;
      // An empty list, or an envelope of empty lists (HAL's `_embedded: {refunds: []}`).
      if (Array.isArray(v) || Object.values(v).some(Array.isArray)) empty++;
      continue;
    }
    if (!PAGE_MEMBER.test(k)) return false;
  }
  return empty > 0 || depth > 0;
}

export function isEmptyAnswer(res: ScanResponse): boolean {
  const text = res.text.trim();
  if (text === '' || text === 'null') return true;
  const body = res.json;
  if (Array.isArray(body)) return body.length === 0;
  return body !== null && typeof body === 'object' && Object.keys(body).length === 0;
}

/**
 * One more object like `object`, made by its owner through the same creation for a delete probe to take, so the
 * objects other probes named stay; undefined when the creation cannot be repeated (refused, no id, or the
 * collection holds as many of the scan's objects as it keeps).
 */
async function freshObject(
  ctx: ScanContext,
  object: CreatedObject,
  owner: Identity,
): Promise<CreatedObject | undefined> {
  const op = object.createdBy;
  if (op.method !== 'POST' || !isCreationOperation(ctx.spec, op) || setsPassword(ctx.spec, op))
    return undefined;
  if (isBusinessFlow(ctx.spec, op) || object.owner !== owner.name) return undefined;
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: owner.name });
  if (req.invented.length > 0) return undefined;
  const res = await ctx.send(req, owner);
  if (!isSuccess(res)) return undefined;
  const collection = object.collection;
  const id = createdId(res, memberParam(ctx.spec, collection), entityOfPath(collection));
  if (id === undefined || id === '' || id === object.id) return undefined;
  // `/cards/create` creates in `/cards`: the concrete collection drops the verb (as discovery does).
  const depth = collection.split('/').length;
  const at = req.path.split('?')[0].replace(/\/$/, '').split('/').slice(0, depth).join('/');
  const fresh: CreatedObject = {
    collection,
    path: `${at}/${encodeURIComponent(id)}`,
    id,
    owner: owner.name,
    body: res.json,
    createdBy: op,
    // New (another id than the object it copies): if no delete probe takes it, the clean-up deletes it as its owner.
    setup: true,
  };
  ctx.objects.add(fresh);
  return ctx.objects.isScanCreated(fresh.path) ? fresh : undefined;
}

async function replayDeletes(
  ctx: ScanContext,
  owner: Identity,
  attacker: Identity,
  anonymous: AnonymousTries,
): Promise<void> {
  // Deepest first: a card is deleted before the board that holds it.
  const deletes = ctx.spec.operations
    .filter((op) => op.method === 'DELETE' && !isExcluded(op))
    .sort((a, b) => b.path.split('/').length - a.path.split('/').length);
  for (const op of deletes) {
    if (ctx.signal.aborted) return;
    const planned = planRequest(ctx.spec, op, ctx.objects, { owner: owner.name });
    if (!mayTouch(ctx, planned)) {
      noteHeld(ctx, op, planned, owner);
      continue;
    }
    // The object the other probes used stays (a finding's reproduction names it): the owner makes one more for
    // this probe when it can, and the probe deletes that one.
    const fresh = planned.object ? await freshObject(ctx, planned.object, owner) : undefined;
    const params = fresh
      ? Object.fromEntries(pathValues(op.path, fresh.path).map((v) => [v.name, v.value]))
      : undefined;
    const req = params ? planRequest(ctx.spec, op, ctx.objects, { owner: owner.name, params }) : planned;
    if (!mayTouch(ctx, req)) continue;
    const get = readerOf(ctx, op);
    // A relation below the object with no read of its own (`DELETE /articles/{slug}/favorite`, `/follow`): what
    // it removes is the caller's own row (an unfavourite), unless the owner's read of the object shows a change.
    const relation = get === undefined && !/\}\/?$/.test(op.path);
    const parent = relation ? parentReader(ctx, op) : undefined;
    if (relation && parent === undefined) continue;
    const read = get
      ? readBack(ctx, get, req.path, owner)
      : parent
        ? readBack(ctx, parent, parentPath(req.path), owner)
        : undefined;
    const before = read ? await ctx.send(read, owner) : undefined;
    // A read that showed the object before the delete and fails after it (404, 410, or a gateway's 502 for an
    // undeclared 404), or answers 2xx with nothing (`null`: a lookup that found no row, sent as is).
    const goneAfter = (after: ScanResponse | undefined) =>
      relation
        ? isSuccess(before) && isSuccess(after) && viewChanged(before?.text, after?.text)
        : read
          ? isSuccess(before) &&
            !isEmptyAnswer(before) &&
            after !== undefined &&
            (!isSuccess(after) || isEmptyAnswer(after))
          : true;
    if (!anonymous.has(op)) {
      // Without credentials first (see replayWrites); only where a read can show the object gone.
      const res = read && accepted(before) ? await ctx.send(req, null) : undefined;
      const after = accepted(res) && read ? await ctx.send(read, owner) : undefined;
      const gone = accepted(res) && read !== undefined && goneAfter(after);
      recordAnonymous(anonymous, op, res, gone);
      if (gone) {
        ctx.objects.markDeleted(req.path.split('?')[0]);
        ctx.report(SCAN_RULES.anonymousWrite, {
          operation: op,
          key: 'delete',
          message: `A request without credentials deleted ${owner.name}'s object at ${req.path}${anonymousContext(op)}.`,
          evidence: evidenceOf(res, {
            owner: owner.name,
            attacker: 'anonymous',
            ownerReadAfter: after?.status,
          }),
        });
        continue;
      }
    }
    if (anonymous.get(op) === true) continue;
    let res = await ctx.send(req, attacker);
    // Refused at the owner's path: the owner's child named below the attacker's own parent (see replayWrites).
    const swapped =
      !isSuccess(res) && read && isSuccess(before) ? swappedWrite(ctx, op, req, attacker) : undefined;
    if (swapped) res = await ctx.send(swapped, attacker);
    if (!isSuccess(res)) continue;
    const after = read ? await ctx.send(read, owner) : undefined;
    if (!goneAfter(after)) continue;
    ctx.objects.markDeleted(req.path.split('?')[0]);
    ctx.report(SCAN_RULES.bolaDelete, {
      operation: op,
      message: swapped
        ? `${attacker.name} deleted ${owner.name}'s object ${req.path} below its own parent at ${swapped.path}: the route checks the parent, not whose the object is.`
        : `${attacker.name} deleted ${owner.name}'s object at ${req.path}.`,
      evidence: evidenceOf(res, {
        owner: owner.name,
        attacker: attacker.name,
        ownerReadAfter: after?.status,
      }),
    });
  }
}

/** Words of a creation that moves or spends money: one naming another's account there would spend its money. */
const MONEY_PATH =
  /(^|[/_.-])(pay\w*|payouts?|withdraw\w*|transfer\w*|remit\w*|wires?|charges?|debits?|donat\w*|tips?|send\w*|cashouts?|purchases?|orders?|checkouts?)($|[/_.-])/i;
/** Body members that carry a sum of money. */
const MONEY_MEMBER =
  /^(amount|sum|total|price|value|balance|funds|credits?|quantity_?amount)$|amount$|Amount$/;

/**
 * Collections of things one person addresses to another (a message, an invitation, a review of someone): a person
 * field there names whom it is for, and the object showing up on that person's side is what it is for.
 */
const ADDRESSED =
  /(^|[/_.-])(messages?|mails?|inbox|notifications?|notices?|invit\w*|requests?|gifts?|reviews?|ratings?|reports?|complaints?|feedback|chats?|conversations?|threads?|shares?|mentions?|pokes?|likes?|follows?|followers?|friends?|friendships?|referrals?|endorsements?|kudos|recommendations?|tickets?|assignments?)($|[/_.-])/i;

/**
 * A collection of who has access to something (`/orgs/{id}/members`, `/projects/{id}/collaborators`, `/docs/{id}/
 * grants`, `/events/{id}/attendees`, a project's `team`): the person field of its creation names whom it grants
 * access, not an owner. Its last literal segment only: `/members/{id}/posts` is a collection of posts.
 */
const ACCESS_LIST =
  /^(members?|memberships?|collaborators?|grants?|participants?|attendees?|team|assignees?|watchers?|subscribers?|delegates?|permissions?|acls?|access|roles?)$/i;

/** The last literal segment of a path names an access list. */
function grantsAccess(path: string): boolean {
  const last = path
    .split('/')
    .filter((seg) => seg !== '' && !seg.includes('{'))
    .pop();
  return last !== undefined && ACCESS_LIST.test(last);
}

/**
 * Is every path parameter of this creation an object the scan itself created (`/orgs/<an org the scan made>/
 * projects`)? A creation in a parent the scan did not make (a given identity's seeded workspace) writes into
 * real data: an owner-field probe there is never sent.
 */
function inScanParent(ctx: ScanContext, op: Operation, path: string): boolean {
  const template = op.path.split('/');
  const concrete = path.split('?')[0].split('/');
  let last = -1;
  for (let i = 0; i < template.length; i++) if (template[i].includes('{')) last = i;
  if (last < 0) return true;
  return ctx.objects.isScanCreated(concrete.slice(0, last + 1).join('/'));
}

/**
 * Deletes the object an owner-field probe made at its item route (as the attacker that made it, else as the victim
 * it may be filed under); what cannot be deleted is named in the notes, for a person to remove.
 */
async function removeProbeObject(
  ctx: ScanContext,
  op: Operation,
  path: string,
  res: ScanResponse,
  attacker: Identity,
  victim: Identity,
): Promise<void> {
  const collection = creationCollection(ctx.spec, op) ?? op.path.replace(/\/$/, '');
  const param = itemParam(ctx.spec, collection);
  // Its id as discovery reads a creation's (in an envelope too: `{"ok": true, "result": {"id": 7}}`).
  const id =
    createdId(res, memberParam(ctx.spec, collection), entityOfPath(collection)) ??
    captureId(ctx.spec, op, res);
  const del =
    param === undefined
      ? undefined
      : ctx.spec.operations.find(
          (o) =>
            o.method === 'DELETE' &&
            (o.path === `${collection}/{${param}}` || o.path === `${collection}/{${param}}/`),
        );
  const depth = collection.split('/').length;
  const at = path.split('?')[0].replace(/\/$/, '').split('/').slice(0, depth).join('/');
  if (id !== undefined && id !== '' && del !== undefined && param !== undefined) {
    const made: CreatedObject = {
      collection,
      path: `${at}/${encodeURIComponent(id)}`,
      id,
      owner: attacker.name,
      body: res.json,
      createdBy: op,
    };
    // Recorded as the scan's, so the runner lets its delete through; gone from the registry once deleted.
    ctx.objects.add(made);
    // As the attacker that made it, else as the victim it was filed under (the API may let only its owner delete).
    for (const who of [attacker, victim]) {
      const req = planRequest(ctx.spec, del, ctx.objects, { owner: attacker.name, params: { [param]: id } });
      const gone = await ctx.send(req, who);
      if (isSuccess(gone)) {
        ctx.objects.markDeleted(made.path);
        return;
      }
    }
  }
  ctx.note?.({
    operation: op,
    rule: SCAN_RULES.bolaWrite,
    reason: `left in place: the owner-field probe's object at ${at}${id ? `/${id}` : ''} could not be deleted; remove it on the target by hand`,
  });
}

/** The victim's view of what the attacker made: its list of the collection, or its read of the item. */
async function victimSees(
  ctx: ScanContext,
  op: Operation,
  res: ScanResponse,
  marker: string,
  victim: Identity,
  attacker: Identity,
): Promise<string | undefined> {
  const collection = creationCollection(ctx.spec, op) ?? op.path.replace(/\/$/, '');
  const list = ctx.spec.operations.find(
    (o) =>
      o.method === 'GET' &&
      !isExcluded(o) &&
      (o.path === collection || o.path === `${collection}/`) &&
      !o.path.includes('{'),
  );
  if (list) {
    const req = planRequest(ctx.spec, list, ctx.objects, { owner: victim.name });
    const theirs = await ctx.send(req, victim);
    if (isSuccess(theirs) && theirs.text.includes(marker)) {
      // A list that shows everyone's objects to everyone says nothing of whose this one is.
      const mine = await ctx.send(
        planRequest(ctx.spec, list, ctx.objects, { owner: attacker.name }),
        attacker,
      );
      if (!isSuccess(mine) || !mine.text.includes(marker))
        return `${victim.name}'s list ${req.path} shows it`;
    }
  }
  const id = captureId(ctx.spec, op, res);
  const param = itemParam(ctx.spec, collection);
  const item = ctx.spec.operations.find(
    (o) =>
      o.method === 'GET' &&
      !isExcluded(o) &&
      param !== undefined &&
      (o.path === `${collection}/{${param}}` || o.path === `${collection}/{${param}}/`),
  );
  if (id === undefined || item === undefined || param === undefined) return undefined;
  const req = planRequest(ctx.spec, item, ctx.objects, { owner: victim.name, params: { [param]: id } });
  const theirs = await ctx.send(req, victim);
  if (!isSuccess(theirs) || !theirs.text.includes(marker)) return undefined;
  // The attacker itself refused the object it made: the API files it under the victim and checks whose it is.
  const mine = await ctx.send(req, attacker);
  if (isSuccess(mine) && !refusedIn200(mine) && !notFoundAnswer(mine)) return undefined;
  return `${victim.name} reads it at ${req.path} and ${attacker.name} is refused there`;
}

/** At most this many owner fields of one creation are tried. */
const MAX_OWNER_FIELDS = 2;

/**
 * Creations that name an owner in the body (`user_id`, `ownerId`, `authorId`...): the attacker creates an object,
 * its text marked, with the victim's value in the ownership field; the object is then the victim's when the
 * answer shows the field set so, or, when the answer does not say, the victim's own list of the collection shows
 * it (and the attacker's does not), or the victim reads it at its item route and the attacker is refused there.
 * Not where the creation moves or spends money (a payment from the victim's account is never made).
 */
async function ownershipFields(ctx: ScanContext, victim: Identity, attacker: Identity): Promise<void> {
  for (const op of ctx.spec.operations) {
    if (ctx.signal.aborted) return;
    // An account's creation (a sign-up, `POST /users {username, password}`) names the account it makes, not
    // an owner: B's name there is a new user called bob, or an upsert of bob's account (never sent).
    if (!isCreationOperation(ctx.spec, op) || setsPassword(ctx.spec, op)) continue;
    const schema = bodySchema(op);
    const props = propertiesOf(ctx.spec, schema);
    const skip =
      MONEY_PATH.test(op.path) ||
      ADDRESSED.test(op.path) ||
      grantsAccess(op.path) ||
      (Object.keys(props).some((k) => MONEY_MEMBER.test(k)) &&
        Object.keys(props).some((k) => /account/i.test(k)));
    if (!schema || skip) continue;
    for (const field of Object.keys(props)
      .filter((k) => OWNER_FIELD.test(k))
      .slice(0, MAX_OWNER_FIELDS)) {
      const value = ownValue(ctx, victim, field, props[field]);
      const mine = ownValue(ctx, attacker, field, props[field]);
      if (value === undefined || String(value) === String(mine)) continue;
      const sample = withForeignKeys(
        ctx.spec,
        schema,
        sampleValue(ctx.spec, schema),
        ctx.objects,
        attacker.name,
        op.path,
      );
      if (sample === null || typeof sample !== 'object' || Array.isArray(sample)) continue;
      const marker = `pcbola${Date.now().toString(36)}`;
      const marked = markBody(ctx.spec, schema, sample, marker) as Record<string, unknown>;
      const typed =
        typeof value === 'number' || resolveSchema(ctx.spec, props[field]).type !== 'integer'
          ? value
          : Number(value);
      const req = planRequest(ctx.spec, op, ctx.objects, {
        owner: attacker.name,
        body: { ...marked, [field]: typed },
      });
      if (!inScanParent(ctx, op, req.path)) {
        ctx.note?.({
          operation: op,
          rule: SCAN_RULES.bolaWrite,
          reason: `owner field ${field} not probed: the creation's parent ${req.path.split('?')[0]} is not an object the scan created`,
        });
        break;
      }
      const res = await ctx.send(req, attacker);
      if (!isSuccess(res)) continue;
      // The answer naming the victim counts only when it is no echo of the body sent: then a read must show it.
      const body = (req.body ?? {}) as Record<string, unknown>;
      const shown = shows(res.json, field, value) && !echoesBody(res.json, body, field);
      const seen =
        shown || !JSON.stringify(marked).includes(marker)
          ? undefined
          : await victimSees(ctx, op, res, marker, victim, attacker);
      await removeProbeObject(ctx, op, req.path, res, attacker, victim);
      if (!shown && seen === undefined) continue;
      ctx.report(SCAN_RULES.bolaWrite, {
        operation: op,
        key: `owner-field:${field}`,
        message: `${attacker.name} created an object in ${victim.name}'s name at ${req.path} by setting ${field} in the body${seen ? ` (${seen})` : ''}.`,
        evidence: evidenceOf(res, { owner: victim.name, attacker: attacker.name, field }),
      });
      break;
    }
  }
}

/**
 * A reference to something the caller uses as its own (a card to pay with, an address to ship to), not a
 * recipient: sending to another user's account, or naming a friend, is what such fields are for.
 */
const RECIPIENT =
  /^(to|recipient|target|dest(ination)?|payee|beneficiary|receiver|friend|invitee|shared?_?with|assignee|parent)/i;
const PERSON =
  /^(user|account|member|customer|profile|contact|person|owner|author|team|group|org(anization)?)$/;

/** The collection a reference names (`credit_card_id` → the entity `creditcard`), or undefined. */
export function referencedEntity(field: string): string | undefined {
  if (RECIPIENT.test(field)) return undefined;
  const m = /^([A-Za-z][\w-]*?)[_-]?(?:id|ids|Id|Ids|ID|IDs)$/.exec(field);
  const entity = m === null ? undefined : singular(m[1]);
  return entity === undefined || PERSON.test(entity) ? undefined : entity;
}

function collectionEntity(collection: string): string {
  const last = collection
    .split('/')
    .filter((s) => s !== '' && !s.startsWith('{'))
    .pop();
  return last === undefined ? '' : singular(last);
}

/**
 * The victim's own object a reference field may name: one the scan created for it in a collection of that
 * entity that is private to it (below its account, `/users/{id}/credit-cards`; ids nobody else has seen; or
 * absent from the attacker's own list of the collection), and one of the attacker's own there for the control.
 */
async function referencePair(
  ctx: ScanContext,
  field: string,
  victim: Identity,
  attacker: Identity,
): Promise<{ theirs: CreatedObject; mine: CreatedObject } | undefined> {
  const entity = referencedEntity(field);
  if (entity === undefined) return undefined;
  for (const theirs of ctx.objects.of(victim.name)) {
    // `payment_method_id` names a member of `/methods`, `credit_card_id` one of `/cards`.
    const named = collectionEntity(theirs.collection);
    if (named === '' || !entity.endsWith(named)) continue;
    const mine = ctx.objects.get(attacker.name, theirs.collection);
    if (!mine || mine.id === theirs.id) continue;
    if (accountParam(theirs.collection) !== undefined) return { theirs, mine };
    if (ctx.objects.harvest.exclusiveTo(victim.name, theirs.id)) return { theirs, mine };
    const list = ctx.spec.operations.find(
      (o) => o.method === 'GET' && !isExcluded(o) && o.path.replace(/\/$/, '') === theirs.collection,
    );
    if (!list) continue;
    const seen = await ctx.send(planRequest(ctx.spec, list, ctx.objects, { owner: attacker.name }), attacker);
    if (isSuccess(seen) && seen.text.includes(mine.id) && !seen.text.includes(theirs.id)) {
      return { theirs, mine };
    }
  }
  return undefined;
}

/**
 * A creation that refers to other objects (`POST /orders?credit_card_id=...`, `{"address_id": ...}`): the
 * attacker creates one in its own name with its own object (the control, which must succeed), then with the
 * victim's private object instead. Accepted, with the victim's id in the answer, is an object of another
 * user used without authorization (an order paid with another's card).
 */
async function foreignReferences(ctx: ScanContext, victim: Identity, attacker: Identity): Promise<void> {
  for (const op of ctx.spec.operations) {
    if (op.method !== 'POST' || isExcluded(op) || !isCreationOperation(ctx.spec, op)) continue;
    if (isLoginOperation(ctx.spec, op) || isAdminOperation(op)) continue;
    const schema = bodySchema(op);
    const bodyFields = Object.keys(propertiesOf(ctx.spec, schema));
    const queryFields = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
    for (const field of [...queryFields, ...bodyFields]) {
      const pair = await referencePair(ctx, field, victim, attacker);
      if (!pair) continue;
      const inQuery = queryFields.includes(field);
      let allQuery = false;
      // The attacker's own request of this operation that worked, when the scan has one (its inputs are known good).
      const worked = ctx.observations.find(
        (o) => o.operation === op && o.identity === attacker.name && isSuccess(o.response),
      )?.request;
      const plan = (id: string): PlannedRequest => {
        const base: PlannedRequest =
          worked && !allQuery
            ? { ...worked, operation: op, ownedPath: true, invented: [] }
            : planRequest(ctx.spec, op, ctx.objects, { owner: attacker.name, allQuery });
        if (inQuery) {
          const url = new URL(base.path, 'http://x');
          url.searchParams.set(field, id);
          return { ...base, path: `${url.pathname}${url.search}` };
        }
        const body = base.body !== null && typeof base.body === 'object' ? base.body : {};
        return { ...base, body: { ...(body as Record<string, unknown>), [field]: id } };
      };
      let control = await ctx.send(plan(pair.mine.id), attacker);
      const refused = control?.status ?? 0;
      if (!isSuccess(control) && inQuery && refused < 500 && !worked) {
        // Refused with the required inputs only: once more with the optional ones (a product to order).
        allQuery = true;
        control = await ctx.send(plan(pair.mine.id), attacker);
      }
      if (!isSuccess(control)) continue;
      const req = plan(pair.theirs.id);
      const res = await ctx.send(req, attacker);
      if (!isSuccess(res) || !res.text.includes(pair.theirs.id)) continue;
      ctx.report(SCAN_RULES.bolaWrite, {
        operation: op,
        key: `reference:${field}`,
        message: `${attacker.name} created an object at ${req.path.split('?')[0]} with ${field} naming ${victim.name}'s object ${pair.theirs.path}, and it was accepted.`,
        evidence: evidenceOf(res, { owner: victim.name, attacker: attacker.name, field }),
      });
      break;
    }
  }
}

export const api1: Check = {
  id: 'API1',
  title: 'Broken object level authorization',
  rules: [
    SCAN_RULES.bolaRead,
    SCAN_RULES.bolaWrite,
    SCAN_RULES.bolaDelete,
    SCAN_RULES.accountTakeover,
    SCAN_RULES.anonymousWrite,
  ],
  async run(scan) {
    // What API1 reports on an operation is object-level: API5 then leaves the same operation to it.
    const readsReported = new Set<Operation>();
    const ctx: ScanContext = {
      ...scan,
      report(rule, input) {
        if (input.operation && rule.id.startsWith('scan/api1-bola-'))
          markObjectLevel(scan.objects, input.operation);
        if (input.operation && rule.id === SCAN_RULES.bolaRead.id) readsReported.add(input.operation);
        scan.report(rule, input);
      },
    };
    const [a, b] = ctx.identities;
    if (!a) return;
    if (!b) {
      await anonymousReads(ctx, readsReported);
      await replayAccounts(ctx, a);
      return;
    }
    const anonymous: AnonymousTries = new Map();
    const tested = new Set<string>();
    // Each identity's own values for the inputs that name a read's object, before any replay spoils them.
    const reads = inputReads(ctx);
    const readsOfA = pathReads(ctx, a);
    const readsOfB = pathReads(ctx, b);
    await replayReads(ctx, readsOfA, a, b, tested, readsOfB);
    await replayReads(ctx, readsOfB, b, a, tested, readsOfA);
    await ownedByField(ctx, a, b, tested);
    await ownedByField(ctx, b, a, tested);
    await guessedIds(ctx, a, b, tested);
    await selfIdReads(ctx, a, b, tested);
    await idHeaderSwaps(ctx, a, b, readsOfA);
    await idHeaderSwaps(ctx, b, a, readsOfB);
    await replayInputReads(ctx, reads, a, b, tested);
    // Records of persons anyone reads by id, without credentials (an API that checks none).
    await anonymousReads(ctx, readsReported);
    await ownershipFields(ctx, b, a);
    await replayWrites(ctx, a, b, anonymous);
    await replayWrites(ctx, b, a, anonymous);
    await replayActions(ctx, a, b, anonymous);
    await replayActions(ctx, b, a, anonymous);
    await replayOwnAccountActions(ctx, b, anonymous);
    await replayInputActions(ctx, a, b, anonymous);
    await replayInputActions(ctx, b, a, anonymous);
    await replayCreations(ctx, a, b);
    await foreignReferences(ctx, a, b);
    // B deletes A's objects only: B's stay for the checks that follow.
    await replayDeletes(ctx, a, b, anonymous);
    // B changes and deletes an account the scan registered (users' accounts are often their only objects).
    await replayAccounts(ctx, b, anonymous);
  },
};
