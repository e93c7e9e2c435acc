/**
 * What the scan knows about the API's objects: the ones it created (per identity and collection, the only
 * ones PUT, PATCH and DELETE may touch by default), the path parameters that designate each identity's own
 * data, and every value harvested from the answers (see harvest.ts).
 */
import type { Operation } from '../../core/api-document.ts';
import { entityOfPath, Harvest } from './harvest.ts';
import { similarity } from './similarity.ts';

/** An object the scan created, so it may also change and delete it. */
export interface CreatedObject {
  /** Path template of the collection, e.g. `/v2/notes`. */
  readonly collection: string;
  /** Concrete path of the object, e.g. `/v2/notes/42`. */
  readonly path: string;
  readonly id: string;
  /** Identity that created it. */
  readonly owner: string;
  /** The owner's view of the object as the creating response (or the list that found it) returned it. */
  readonly body: unknown;
  readonly createdBy: Operation;
  /**
   * Discovery's setup made it and confirmed it new (its id was not in the list read just before: no record an
   * upsert answered), or API1 made it for a delete probe (another id than the object it copies): the clean-up
   * deletes it at the end as its owner, through the item's documented DELETE (gone already is fine).
   */
  readonly setup?: true;
}

/** A value the scan made up: `portcullis-1a2b3c4d`, `pc1a2b3c4d`, `pcj…`, `pcd…`, `pcu…` (schema.ts, the probes). */
const SCAN_MADE = /(^|[^0-9a-z])(portcullis-|pc[jdu]?)[0-9a-f]{6}/i;

/**
 * Whether a record read at the path of an object the scan deleted is still the scan's: it holds a value the scan
 * made up, or it is much like the object as the scan made it (a soft delete that marks it, 60% of its members and
 * values alike). Another's record that took its id (other owner, other values) is neither.
 */
export function stillScanMade(read: unknown, made: unknown): boolean {
  if (read === null || typeof read !== 'object') return false;
  const text = JSON.stringify(read);
  if (SCAN_MADE.test(text)) return true;
  return made !== null && typeof made === 'object' && similarity(read, made) >= 0.6;
}

/** Bounded: at most this many objects per identity and collection. */
const MAX_PER_COLLECTION = 8;

/** Objects created during the scan, per identity and collection template, and the harvested values. */
export class ObjectRegistry {
  readonly #byOwner = new Map<string, Map<string, CreatedObject[]>>();
  readonly #params = new Map<string, Readonly<Record<string, string>>>();
  readonly #paths = new Set<string>();
  /**
   * The objects the scan made whose DELETE answered 2xx (deleteSent), by path (no trailing slash), until it makes one
   * at the same path again. A path a check only retires (markDeleted: a made-up id) is none.
   */
  readonly #deleted = new Map<string, CreatedObject>();
  /** Values seen in the answers, for filling parameters and foreign keys. */
  readonly harvest = new Harvest();
  /** Bodies an operation that documents none turned out to need (`{}`, or the fields its error named). */
  readonly #learnedBodies = new Map<string, Readonly<Record<string, unknown>>>();

  /** An operation that documents no body was answered 2xx only with this JSON body: later requests send it. */
  learnBody(op: Operation, body: Readonly<Record<string, unknown>>): void {
    if (this.#learnedBodies.size < 500) this.#learnedBodies.set(`${op.method} ${op.path}`, body);
  }

  learnedBody(op: Operation): Readonly<Record<string, unknown>> | undefined {
    return this.#learnedBodies.get(`${op.method} ${op.path}`);
  }

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
    // The scan made an object at this path again: what is there now is its own.
    this.#deleted.delete(object.path.length > 1 ? object.path.replace(/\/+$/, '') : object.path);
    const list = map.get(object.collection) ?? [];
    if (list.length >= MAX_PER_COLLECTION || list.some((o) => o.path === object.path)) return;
    list.push(object);
    map.set(object.collection, list);
    this.#paths.add(object.path);
  }

  /**
   * The first object this identity created in the collection; with `under`, the first one below that concrete
   * path (a card of the user already chosen for `/users/{userId}/cards/{cardId}`), when there is one.
   */
  get(owner: string, collection: string, under?: string): CreatedObject | undefined {
    const list = this.#byOwner.get(owner)?.get(collection);
    if (under !== undefined) {
      const below = list?.find((o) => o.path.startsWith(`${under}/`));
      if (below) return below;
    }
    return list?.[0];
  }

  /** Every object this identity created, one per collection first, then the others. */
  of(owner: string): CreatedObject[] {
    const lists = [...(this.#byOwner.get(owner)?.values() ?? [])];
    return [...lists.map((l) => l[0]), ...lists.flatMap((l) => l.slice(1))];
  }

  /** Every object created by anyone. */
  all(): CreatedObject[] {
    return [...this.#byOwner.values()].flatMap((m) => [...m.values()].flat());
  }

  /**
   * An object the scan created was deleted (a delete answered and a read confirmed it): it and the objects
   * below it are no longer offered to later requests, and neither are its id and its distinctive values
   * (e-mails, names) as harvested values, so no later check picks a victim that is gone. The path still
   * counts as scan-created for the safety rule.
   */
  markDeleted(path: string): void {
    // `/tickets/7/` (a Django-style item route) deletes the object recorded at `/tickets/7`.
    const bare = (p: string) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
    const gone = bare(path);
    for (const map of this.#byOwner.values()) {
      for (const [collection, list] of map) {
        const kept = list.filter((o) => bare(o.path) !== gone && !o.path.startsWith(`${gone}/`));
        if (kept.length === list.length) continue;
        for (const o of list) {
          if (kept.includes(o)) continue;
          this.harvest.retire(o.id, entityOfPath(o.collection));
          if (o.body !== null && typeof o.body === 'object' && !Array.isArray(o.body)) {
            for (const v of Object.values(o.body as Record<string, unknown>)) {
              // Distinctive strings only: a shared `user` or `true` still names other objects.
              if (typeof v === 'string' && v.length >= 6 && /[@\d-]/.test(v)) this.harvest.retire(v);
            }
          }
        }
        if (kept.length > 0) map.set(collection, kept);
        else map.delete(collection);
      }
    }
  }

  /**
   * The object the scan made and deleted at this path or above it (`/notes/7/share` below `/notes/7`), unless it made
   * one at that path again. Its id may have been given out again (a table without AUTOINCREMENT gives a deleted last
   * row's id to the next row), so the path may now hold someone else's record: the runner asks before a write.
   */
  deletedAt(path: string): CreatedObject | undefined {
    const bare = path.length > 1 ? path.split('?')[0].replace(/\/+$/, '') : path;
    for (const [p, o] of this.#deleted) if (bare === p || bare.startsWith(`${p}/`)) return o;
    return undefined;
  }

  /**
   * A DELETE of this path was answered 2xx: the object the scan made there counts as deleted for `deletedAt` (it
   * stays offered to later requests until a check confirms it gone with `markDeleted`: a soft delete keeps it).
   */
  deleteSent(path: string): void {
    const bare = (p: string) => (p.length > 1 ? p.split('?')[0].replace(/\/+$/, '') : p);
    const o = this.all().find((x) => bare(x.path) === bare(path));
    if (o && this.#deleted.size < 500) this.#deleted.set(bare(o.path), o);
  }

  /** Is this concrete path an object the scan created (or below one)? */
  isScanCreated(path: string): boolean {
    if (this.#paths.has(path)) return true;
    for (const p of this.#paths) if (path.startsWith(`${p}/`)) return true;
    return false;
  }

  /** Is this id (any path segment) one of the objects the scan created? */
  isCreatedId(id: string): boolean {
    for (const o of this.all()) if (o.id === id) return true;
    return false;
  }
}
