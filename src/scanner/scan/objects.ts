/**
 * What the scan knows about the API's objects: the ones it created (per identity and collection, the only
 * ones PUT, PATCH and DELETE may touch by default), the path parameters that designate each identity's own
 * data, and every value harvested from the answers (see harvest.ts).
 */
import type { Operation } from '../../core/api-document.ts';
import { entityOfPath, Harvest } from './harvest.ts';

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

/** Bounded: at most this many objects per identity and collection. */
const MAX_PER_COLLECTION = 8;

/** Objects created during the scan, per identity and collection template, and the harvested values. */
export class ObjectRegistry {
  readonly #byOwner = new Map<string, Map<string, CreatedObject[]>>();
  readonly #params = new Map<string, Readonly<Record<string, string>>>();
  readonly #paths = new Set<string>();
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
