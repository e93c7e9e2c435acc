/**
 * Values harvested from the API's own answers (ids, codes, names, links), so that later requests fill their
 * parameters and foreign keys with values the API knows instead of invented ones: RESTler's producer/consumer
 * idea. Every value remembers who saw it, under which property name, inside which entity (the enclosing
 * property, or the collection the response came from) and which operation produced it.
 */
import type { JsonObject } from '../../core/api-document.ts';

/**
 * The source of a value discovery confirmed by trying it (a small id, a documented default) and whose answer
 * showed whose object it is: that identity's own, in that entity.
 */
export const OWNED = 'owned';
/** The source of a value discovery confirmed by trying it, whose answer showed no owner: nobody's own. */
export const CONFIRMED = 'confirmed';

/** One value seen in a response. */
export interface Harvested {
  /** Property name the value was found under (`id`, `username`, `product_id`). */
  readonly key: string;
  readonly value: string | number;
  /** Entity the value belongs to: the enclosing property (`owner` in `{owner: {id}}`) or the collection. */
  readonly entity: string;
  /** Path template of the operation that produced it. */
  readonly source: string;
  /** Identity that saw it; `''` for anonymous requests. */
  readonly identity: string;
  /** Insertion order (newer values win ties). */
  readonly order: number;
}

/** What a consumer needs: a parameter's name, the collection it follows in the path, and its schema. */
export interface Wanted {
  readonly name: string;
  /** The literal path segment before the parameter (`notes` in `/notes/{id}`), or the body's entity. */
  readonly context?: string;
  readonly schema?: JsonObject;
}

export interface Candidate {
  readonly value: string | number;
  readonly score: number;
  /** Seen only by this identity among the ordinary ones (admin and anonymous ignored). */
  readonly exclusive: boolean;
  readonly record: Harvested;
}

const MAX_RECORDS = 20_000;
const MAX_DEPTH = 6;
const MAX_ARRAY_ITEMS = 50;
const MAX_STRING = 200;
/** Wrappers that hold the real payload: their items belong to the collection, not to `data`. */
const WRAPPERS = new Set([
  'data',
  'items',
  'results',
  'result',
  'records',
  'content',
  'rows',
  'list',
  'payload',
  // JSON:API: a resource's attributes and a relationship's linkage belong to the resource.
  'attributes',
]);
/** A JSON:API resource object or resource identifier beside its attributes or relationships. */
function resourceObject(o: Record<string, unknown>): boolean {
  return (
    typeof o.type === 'string' &&
    /^[A-Za-z][\w-]{0,40}$/.test(o.type) &&
    (typeof o.id === 'string' || typeof o.id === 'number') &&
    ((o.attributes !== null && typeof o.attributes === 'object') ||
      (o.relationships !== null && typeof o.relationships === 'object'))
  );
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INTEGER = /^-?\d{1,15}$/;

/** `Product_ID` → `productid`. */
export function normalise(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** `products` → `product`, `categories` → `category`, `addresses` → `address`. */
export function singular(word: string): string {
  const w = normalise(word);
  if (w.endsWith('ies') && w.length > 4) return `${w.slice(0, -3)}y`;
  if (/(ss|sh|ch|x|z)es$/.test(w)) return w.slice(0, -2);
  if (w.endsWith('s') && !w.endsWith('ss') && w.length > 3) return w.slice(0, -1);
  return w;
}

/** The entity a path is about: its last literal segment that is not a version or `me`. */
export function entityOfPath(path: string): string {
  const parts = path
    .split('?')[0]
    .split('/')
    .filter(
      (s) => s !== '' && !s.startsWith('{') && !/^v\d+$/i.test(s) && !/^(api|me|self|current)$/i.test(s),
    );
  return parts.length > 0 ? singular(parts[parts.length - 1]) : '';
}

/** Does a harvested value fit the parameter's schema (type, format, enum, pattern, bounds)? */
export function fits(value: string | number, schema: JsonObject | undefined): boolean {
  if (!schema) return true;
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== 'null') : schema.type;
  const text = String(value);
  if (type === 'integer' && !INTEGER.test(text)) return false;
  if (type === 'number' && !Number.isFinite(Number(text))) return false;
  if (type === 'boolean' || type === 'object' || type === 'array') return false;
  if (schema.format === 'uuid' && !UUID.test(text)) return false;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => String(e) === text)) return false;
  if (typeof schema.maxLength === 'number' && text.length > schema.maxLength) return false;
  if (typeof schema.minLength === 'number' && text.length < schema.minLength) return false;
  if (typeof schema.pattern === 'string') {
    try {
      if (!new RegExp(schema.pattern, 'u').test(text)) return false;
    } catch {
      // A pattern JavaScript cannot compile says nothing either way.
    }
  }
  return true;
}

/**
 * How well a harvested value answers a wanted parameter; 0 is no match.
 * 4: same name in the right entity (`id` of a `note` for `/notes/{id}`, `noteId` inside `{note: {...}}`);
 * 3: the entity-qualified name matches (`product_id` ← `id` of a `product`; `noteId` ← `id` of a note);
 * 2: the same name with no entity evidence (`username` anywhere);
 * 1: a bare `id` from another entity (last resort).
 */
export function score(wanted: Wanted, record: Harvested): number {
  const direct = scoreName(wanted, record);
  if (direct > 0) return direct;
  // A role in front of an entity-qualified name (`target_user_id`, `ownerUserId`, `to_account_id`) wants what
  // the qualified name wants, with no more than a plain name match's weight.
  for (const suffix of nameSuffixes(wanted.name)) {
    const s = scoreName({ ...wanted, name: suffix }, record);
    if (s > 0) return Math.min(s, 2);
  }
  return usernameAsId(wanted, record) ? 2 : 0;
}

/** A parameter that names a user by its id (`userID`, `uid`; `{id}` after `/users` or `/profile`). */
const USER_ID_PARAM = /^(user|usr|member|profile)(id|key)$|^(uid|user)$/;
const USER_CONTEXT = /^(user|profile|member)$/;
const USERNAME_KEY = /^(username|login|handle|userlogin)$/;

/**
 * A user name for a user-id parameter: some APIs name users by their name (`/profile/alice`). Only where the
 * parameter's schema takes it (an integer id does not) and below any real id of the same user (scored 3).
 */
function usernameAsId(wanted: Wanted, record: Harvested): boolean {
  const name = normalise(wanted.name);
  const context = wanted.context ? singular(wanted.context) : '';
  const userish = USER_ID_PARAM.test(name) || (/^(id|key)$/.test(name) && USER_CONTEXT.test(context));
  return (
    userish &&
    USERNAME_KEY.test(normalise(record.key)) &&
    (record.entity === 'user' || record.entity === '' || USER_CONTEXT.test(record.entity)) &&
    typeof record.value === 'string' &&
    !INTEGER.test(record.value)
  );
}

/** `target_user_id` → [`user_id`]; `ownerUserAccountId` → [`user_account_id`, `account_id`]: 2+ words each. */
export function nameSuffixes(name: string): string[] {
  const words = name
    .replace(/[_-]\d{1,2}$/, '')
    .split(/[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])/)
    .filter((w) => w !== '')
    .map((w) => w.toLowerCase());
  const out: string[] = [];
  for (let i = 1; i + 2 <= words.length; i++) out.push(words.slice(i).join('_'));
  return out;
}

function scoreName(wanted: Wanted, record: Harvested): number {
  // A numbered input (`product_id_1`, `quantity_2`) wants what its name without the number wants.
  const name = normalise(wanted.name.replace(/[_-]\d{1,2}$/, ''));
  const key = normalise(record.key);
  const context = wanted.context ? singular(wanted.context) : '';
  const entity = record.entity;
  const qualified = new Set([`${entity}${key}`]);
  if (key === 'id' || key === 'uuid' || key === 'key') qualified.add(`${entity}id`);
  if (key === name && context !== '' && entity === context) return 4;
  if (qualified.has(name) || (context !== '' && qualified.has(`${context}${name}`) && entity === context)) {
    return 3;
  }
  // `{id}` after `/users` and a harvested `userId` / `user_id`.
  if (context !== '' && (name === 'id' || name === 'uuid') && key === `${context}id`) return 3;
  // `product_id` harvested from a product: the name itself says the entity.
  if (key === name && name !== 'id' && entity !== '' && name === `${entity}id`) return 3;
  if (key === name && name !== 'id') return 2;
  if (key === name) return 1;
  return 0;
}

/** A read of the caller's own record: `/me`, `/users/me`, `/auth/profile`, `/whoami` (not `/account`: a bank's). */
const SELF_READ = /(^|\/)(me|self|whoami|current[-_]?user|profile|my[-_]?profile)\/?$/i;
/** The keys of a record's own id (normalised). */
const SELF_ID_KEY = /^(id|userid|uid|sub)$/;

/** Harvested values, bounded; one per (identity, key, entity, value). */
export class Harvest {
  readonly #records: Harvested[] = [];
  readonly #seen = new Set<string>();
  /** value → identities that saw it. */
  readonly #viewers = new Map<string, Set<string>>();
  #order = 0;
  #ordinary = new Set<string>();
  /** Values of objects known to be deleted: `entity\0value`, or `\0value` for any entity. */
  readonly #retired = new Set<string>();

  /** The ordinary identities (A, B, ...): exclusivity is judged among them only. */
  setOrdinary(names: readonly string[]): void {
    this.#ordinary = new Set(names);
  }

  add(record: Omit<Harvested, 'order'>): void {
    const text = String(record.value);
    const id = `${record.identity}\0${record.key}\0${record.entity}\0${text}`;
    let viewers = this.#viewers.get(text);
    if (!viewers && this.#viewers.size < MAX_RECORDS) {
      viewers = new Set();
      this.#viewers.set(text, viewers);
    }
    viewers?.add(record.identity);
    if (this.#seen.has(id) || this.#records.length >= MAX_RECORDS) return;
    this.#seen.add(id);
    this.#records.push({ ...record, order: this.#order++ });
  }

  /**
   * Walks a JSON answer and records its scalar values, but not `echoes`: what the request itself put in its
   * URL (`?account_number=x` answered `{"account_number": "x"}` is no value the API gave out).
   */
  record(
    identity: string,
    source: string,
    json: unknown,
    location?: string,
    echoes: ReadonlySet<string> = new Set(),
  ): void {
    const collection = entityOfPath(source);
    if (location) {
      const last = location.split('?')[0].split('/').filter(Boolean).pop();
      if (last)
        this.add({ key: 'id', value: decodeURIComponent(last), entity: collection, source, identity });
    }
    const walk = (value: unknown, entity: string, depth: number): void => {
      if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return;
      if (Array.isArray(value)) {
        for (const item of value.slice(0, MAX_ARRAY_ITEMS)) walk(item, entity, depth + 1);
        return;
      }
      // A JSON:API resource object (`{"type": "accounts", "id": "3", "attributes": {...}}`) names its own kind:
      // a related or included resource is an account, not an `owner` or an `included`.
      const o = value as Record<string, unknown>;
      if (resourceObject(o)) entity = singular(String(o.type).toLowerCase());
      for (const [key, v] of Object.entries(o)) {
        if (v !== null && typeof v === 'object') {
          walk(v, WRAPPERS.has(key.toLowerCase()) ? entity : singular(key), depth + 1);
        } else if (typeof v === 'number' && Number.isFinite(v)) {
          if (!echoes.has(String(v))) this.add({ key, value: v, entity, source, identity });
        } else if (typeof v === 'string' && v !== '' && v.length <= MAX_STRING && !echoes.has(v)) {
          this.add({ key, value: v, entity, source, identity });
        }
      }
    };
    walk(json, collection, 0);
  }

  /**
   * A value no longer names anything: the object it identified was deleted. With `entity`, only where it was
   * that entity's (an id `7` of a deleted user is still a product's `7`); without, everywhere (an e-mail).
   */
  retire(value: string | number, entity?: string): void {
    if (this.#retired.size < MAX_RECORDS) this.#retired.add(`${entity ?? ''}\0${String(value)}`);
  }

  /** Is this value seen by `identity` and by no other ordinary identity? */
  exclusiveTo(identity: string, value: string | number): boolean {
    const viewers = this.#viewers.get(String(value));
    if (!viewers?.has(identity)) return false;
    for (const v of viewers) if (v !== identity && this.#ordinary.has(v)) return false;
    return true;
  }

  /**
   * Was this value given to `identity` about itself (its login answer, its token's claims, its login fields:
   * source `login`) and to no other identity that way? Such a value stays the identity's own even after
   * others have seen it in the answers (B reading A's record learns A's account number; it is still A's).
   * With `entity`, only a value given as that entity's (user 2 is not shop 2).
   */
  ownLoginValue(identity: string, value: string | number, entity?: string): boolean {
    const text = String(value);
    let mine = false;
    for (const r of this.#records) {
      if (r.source !== 'login' || String(r.value) !== text || (entity !== undefined && r.entity !== entity))
        continue;
      if (r.identity !== identity) return false;
      mine = true;
    }
    return mine;
  }

  /**
   * Is this value the identity's own: given to it about itself (`ownLoginValue`: its login answer, its token's
   * claims, its login fields, its configured id headers), or an object the answers showed it owns (source
   * `owned`, in that entity only: its order 2 is not product 2)?
   */
  ownValue(identity: string, value: string | number, entity?: string): boolean {
    if (this.ownLoginValue(identity, value)) return true;
    const text = String(value);
    let mine = false;
    for (const r of this.#records) {
      if (r.source !== OWNED || String(r.value) !== text || (entity !== undefined && r.entity !== entity))
        continue;
      if (r.identity !== identity) return false;
      mine = true;
    }
    return mine;
  }

  /**
   * The id a read of the caller's own record gave the identity about itself (`GET /me`, `/users/me`,
   * `/auth/profile` answering `{id: 2}`, `{data: {id: 2}}` or `{user: {id: 2}}`): the newest, when no other
   * identity's read of its own record gave the same value (a tenant's id every member shares is nobody's own).
   */
  selfReadId(identity: string): string | number | undefined {
    // A profile's own `id` may be a profile number, not the user's: there only a user's id (`user_id`, `{user: {id}}`).
    const own = (r: Harvested) =>
      SELF_READ.test(r.source) &&
      !r.source.includes('{') &&
      SELF_ID_KEY.test(normalise(r.key)) &&
      (r.entity === 'user' ||
        (r.entity === entityOfPath(r.source) &&
          (normalise(r.key) !== 'id' || !/profile\/?$/i.test(r.source))));
    for (let i = this.#records.length - 1; i >= 0; i--) {
      const r = this.#records[i];
      if (r.identity !== identity || !own(r)) continue;
      const text = String(r.value);
      if (this.#records.some((o) => o.identity !== identity && String(o.value) === text && own(o)))
        return undefined;
      return r.value;
    }
    return undefined;
  }

  /**
   * Did `identity`'s read of a collection of `entity` (a path without parameters: `GET /stores`, its own stores)
   * give this value as an item's id? Values only, not the reads of other identities.
   */
  listedBy(identity: string, value: string | number, entity: string): boolean {
    const text = String(value);
    return this.#records.some(
      (r) =>
        r.identity === identity &&
        String(r.value) === text &&
        /^(id|_id|uuid)$/i.test(r.key) &&
        !r.source.includes('{') &&
        singular(r.entity) === entity &&
        singular(entityOfPath(r.source)) === entity,
    );
  }

  /** Did anyone other than `identity` among the ordinary identities see this value? */
  seenBy(identity: string, value: string | number): boolean {
    return this.#viewers.get(String(value))?.has(identity) === true;
  }

  /**
   * Candidate values for a parameter, best first: higher score, then seen by `identity` (its own values
   * before shared ones), then newest. With `identity` undefined any viewer counts.
   */
  candidates(wanted: Wanted, identity?: string, minScore = 1): Candidate[] {
    const out: Candidate[] = [];
    const done = new Set<string>();
    for (let i = this.#records.length - 1; i >= 0; i--) {
      const r = this.#records[i];
      if (identity !== undefined && r.identity !== identity) continue;
      const s = score(wanted, r);
      if (s < minScore || !fits(r.value, wanted.schema)) continue;
      const text = String(r.value);
      if (done.has(text) || this.#retired.has(`\0${text}`) || this.#retired.has(`${r.entity}\0${text}`))
        continue;
      done.add(text);
      out.push({
        value: r.value,
        score: s,
        exclusive: identity !== undefined && this.exclusiveTo(identity, r.value),
        record: r,
      });
    }
    return out.sort((a, b) => b.score - a.score || Number(b.exclusive) - Number(a.exclusive));
  }

  /** The best value for a parameter as `identity` would use it (its own first, then anyone's). */
  best(wanted: Wanted, identity?: string, minScore = 2): Candidate | undefined {
    if (identity !== undefined) {
      const own = this.candidates(wanted, identity, minScore)[0];
      if (own) return own;
    }
    return this.candidates(wanted, undefined, minScore)[0];
  }

  get size(): number {
    return this.#records.length;
  }
}

/** The values a request put in its URL (path segments and query values), decoded: echoes, not data. */
export function urlValues(path: string): Set<string> {
  const [p, q = ''] = path.split('?');
  const out = new Set<string>();
  for (const seg of p.split('/')) {
    if (seg === '') continue;
    try {
      out.add(decodeURIComponent(seg));
    } catch {
      out.add(seg);
    }
  }
  for (const [, v] of new URLSearchParams(q)) if (v !== '') out.add(v);
  return out;
}

/** Header and cookie names that carry the caller's own id (`X-User-ID`, `X-Account-Id`, a `uid` cookie). */
const ID_HEADER =
  /^(x[-_])?(user|usr|account|acct|member|customer|owner|person|employee|profile|player|patient|student|uid)([-_]?(id|no|number|key))?$/i;
/** Header names that carry the caller's user name (`X-Username`, `X-User-Name`, `X-Login`). */
const NAME_HEADER = /^(x[-_])?(user[-_]?name|login|handle)$/i;
/** A value shaped like an id: an integer, a uuid, a 24-hex object id, or a short code with a digit. */
const ID_VALUE =
  /^(\d{1,18}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{24}|(?=[\w.-]*\d)[A-Za-z0-9][\w.-]{0,39})$/i;

/**
 * The ids an identity was configured with: its request headers and cookies whose names say they carry the
 * caller's id (`X-User-ID: 2` → `user_id` 2) and whose values look like ids, and a user-name header as
 * `username`. An API that trusts such a header takes them as who the caller is: they are the identity's own.
 * Tokens, session ids and API keys are none of these (their names say so).
 */
export function configuredIds(
  headers: Readonly<Record<string, string>>,
  cookies: ReadonlyMap<string, string> = new Map(),
): { key: string; value: string; from: string }[] {
  const out: { key: string; value: string; from: string }[] = [];
  const take = (name: string, raw: string, from: string) => {
    const value = raw.trim();
    if (value === '' || value.length > 64 || out.length >= 8) return;
    const bare = name.replace(/^x[-_]/i, '').toLowerCase();
    if (NAME_HEADER.test(name) && /^[\w.@+-]+$/.test(value)) {
      out.push({ key: 'username', value, from });
    } else if (ID_HEADER.test(name) && ID_VALUE.test(value)) {
      const words = bare.split(/[-_]/).filter((w) => w !== '');
      const key = words.length === 1 && words[0] !== 'uid' ? `${words[0]}_id` : words.join('_');
      out.push({ key, value, from });
    }
  };
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'cookie') {
      for (const pair of value.split(';')) {
        const eq = pair.indexOf('=');
        if (eq > 0)
          take(pair.slice(0, eq).trim(), pair.slice(eq + 1), `its ${pair.slice(0, eq).trim()} cookie`);
      }
    } else take(name, value, `its ${name} header`);
  }
  for (const [name, value] of cookies) take(name, value, `its ${name} cookie`);
  return out;
}
