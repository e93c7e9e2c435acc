import { createHash } from 'node:crypto';
import { isoMillis, type SecurityEvent } from '../../core/events.ts';
import { BoundedCache } from '../../shared/bounded-cache.ts';
import { flatString } from '../../state/flat-string.ts';

export type Severity = 'low' | 'medium' | 'high' | 'critical';

/** ECS `event.severity` / risk-score style number for each level. */
export const SEVERITY_SCORE: Readonly<Record<Severity, number>> = {
  low: 21,
  medium: 47,
  high: 73,
  critical: 99,
};

/** Who the alert is about; the responder bans the keys present here (never `target`). */
export interface Offender {
  ip?: string;
  consumer?: string;
  subject?: string;
  /** `credentialHash()` of a bearer token or API key. */
  tokenHash?: string;
}

/** What a detector raises: everything but the id and time, which the monitor adds. */
export interface AlertDraft {
  /** Detector name, e.g. `enumeration`. */
  detector: string;
  /** Machine-readable rule within the detector, e.g. `sequential-ids`. */
  rule: string;
  severity: Severity;
  /** One line for people. */
  summary: string;
  offender: Offender;
  /** Whom the attack aims at when that is not the offender (an account under credential stuffing). */
  target?: { user?: string };
  api?: string;
  route?: string;
  operationId?: string;
  /** Counts, window and sample request ids that justify the alert. */
  evidence: { windowSeconds: number; sampleRequestIds: string[]; [field: string]: unknown };
}

/** An alert as published: a draft with an id and the time of the event that triggered it. */
export interface Alert extends AlertDraft {
  id: string;
  '@timestamp': string;
}

/**
 * A detector is a pure function of the event stream plus its own bounded state: it is fed events in order
 * and returns the alerts the latest event triggers. Time is the events' `@timestamp`, never the wall clock,
 * so replaying a recorded sequence gives the same alerts.
 */
export interface Detector {
  readonly name: string;
  /** `timeMs` is the event's `@timestamp` in ms (parsed once by the caller for every detector). */
  observe(event: SecurityEvent, timeMs: number): readonly AlertDraft[];
  /** Number of keys tracked now (for the bounded-state tests and metrics). */
  size(): number;
}

export const NO_ALERTS: readonly AlertDraft[] = Object.freeze([]);

/** Event time in ms, or NaN. */
export function timeOf(e: SecurityEvent): number {
  const s = e['@timestamp'];
  return typeof s === 'string' ? isoMillis(s) : Number.NaN;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Who made a request, as a map key: `sub:<subject>`, else `consumer:<name>`, else `ip:<address>`. */
export function actorKey(e: SecurityEvent): string | undefined {
  const subject = e['user.id'];
  if (typeof subject === 'string' && subject !== '') return `sub:${subject}`;
  const consumer = e['portcullis.consumer'];
  if (typeof consumer === 'string' && consumer !== '') return `consumer:${consumer}`;
  const ip = e['client.address'];
  if (typeof ip === 'string' && ip !== '') return `ip:${ip}`;
  return undefined;
}

/** The identities a request carries, for an alert's offender (built only when alerting). */
export function offenderOf(e: SecurityEvent): Offender {
  const offender: Offender = {};
  const ip = str(e['client.address']);
  const consumer = str(e['portcullis.consumer']);
  const subject = str(e['user.id']);
  const token = str(e['portcullis.credential.hash']);
  if (ip) offender.ip = ip;
  if (consumer) offender.consumer = consumer;
  if (subject) offender.subject = subject;
  if (token) offender.tokenHash = token;
  return offender;
}

/** True for the per-request access event. */
export function isAccess(e: SecurityEvent): boolean {
  return e['event.type'] === 'access' && e['event.category'] === 'web';
}

export function statusOf(e: SecurityEvent): number {
  const s = e['http.response.status_code'];
  return typeof s === 'number' ? s : 0;
}

export function requestIdOf(e: SecurityEvent): string | undefined {
  return str(e['http.request.id']);
}

export function stringField(e: SecurityEvent, field: string): string | undefined {
  return str(e[field]);
}

/**
 * A failed authentication, read from the access event only (one per request; the `authentication` events
 * that the authenticate policy also emits are not counted, or every failure would count twice): answered
 * 401, or stopped by the `authenticate` policy (`portcullis.denied_by`).
 */
export function isFailedAuthentication(e: SecurityEvent): boolean {
  if (!isAccess(e)) return false;
  if (statusOf(e) === 401) return true;
  return e['portcullis.denied_by'] === 'authenticate' || e['portcullis.stage'] === 'authenticate';
}

const MAX_KEY_LENGTH = 512;

/**
 * Caps the length of a key built from client input (a user name, a path): a long key keeps its first 400
 * characters and a hash of the whole, so memory per key stays bounded and distinct keys stay distinct.
 */
export function boundKey(key: string): string {
  if (key.length <= MAX_KEY_LENGTH) return key;
  return `${key.slice(0, 400)}#${createHash('sha256').update(key).digest('base64url')}`;
}

/**
 * A map with a cap on its keys, least recently used first out (to within half the cap: see `BoundedCache`),
 * keys bounded in length (`boundKey`). Every detector keeps its per-key state in one of these, so memory
 * stays bounded whatever the clients send. Keys are kept as flat strings (`flatString`): a key built from
 * parts would otherwise keep every part.
 */
export class BoundedMap<V> {
  readonly #cache: BoundedCache<string, V>;
  constructor(maxKeys: number) {
    this.#cache = new BoundedCache(Math.max(1, maxKeys), { refreshOnRead: true, storedKey: flatString });
  }
  get size(): number {
    return this.#cache.size;
  }
  /** Keys evicted to respect the cap, since creation. */
  get evicted(): number {
    return this.#cache.evicted;
  }
  /** Gets the value, creating it with `make` when absent. */
  touch(rawKey: string, make: () => V): V {
    return this.#cache.getOrSet(boundKey(rawKey), make);
  }
  get(key: string): V | undefined {
    return this.#cache.get(boundKey(key));
  }
  delete(key: string): void {
    this.#cache.delete(boundKey(key));
  }
  values(): IterableIterator<V> {
    return this.#cache.values();
  }
}

/**
 * Count of occurrences in a sliding window, kept as `buckets` sub-windows (the window slides by one bucket
 * at a time, so the count is exact to within one bucket's width).
 *
 * The per-bucket counts exist only while the window holds counts in more than one bucket: a key seen in one
 * bucket only (most keys: a client that sent one request) keeps its count in `#total` alone. Plain numbers,
 * not a typed array, which costs three objects per key.
 */
export class SlidingCount {
  /** Counts per bucket (ring of `#size`), or undefined while every count is in the newest bucket. */
  #counts: number[] | undefined = undefined;
  readonly #size: number;
  readonly #bucketMs: number;
  #bucket = -1; // index (time / bucketMs) of the newest bucket
  #total = 0;
  constructor(windowMs: number, buckets = 10) {
    this.#size = buckets;
    this.#bucketMs = Math.max(1, Math.ceil(windowMs / buckets));
  }
  #advance(t: number): void {
    const b = Math.floor(t / this.#bucketMs);
    if (this.#bucket === -1) {
      this.#bucket = b;
      return;
    }
    if (b <= this.#bucket) return; // late events count in the newest bucket
    const n = this.#size;
    const steps = Math.min(n, b - this.#bucket);
    if (steps === n || this.#total === 0) {
      // Everything left the window (or nothing was in it).
      this.#counts = undefined;
      this.#total = 0;
    } else {
      let counts = this.#counts;
      if (counts === undefined) {
        counts = this.#counts = new Array<number>(n).fill(0);
        counts[this.#bucket % n] = this.#total;
      }
      for (let i = 1; i <= steps; i++) {
        const idx = (this.#bucket + i) % n;
        this.#total -= counts[idx];
        counts[idx] = 0;
      }
      if (this.#total === 0) this.#counts = undefined;
    }
    this.#bucket = b;
  }
  add(t: number, n = 1): number {
    this.#advance(t);
    if (this.#counts !== undefined) this.#counts[this.#bucket % this.#size] += n;
    this.#total += n;
    return this.#total;
  }
  count(t: number): number {
    this.#advance(t);
    return this.#total;
  }
}

/** Separates the ids of a sample string; a header value cannot hold it, so no request id does. */
const SAMPLE_SEPARATOR = '\u0000';

/** Request ids a detector key keeps for an alert's evidence. */
export const MAX_SAMPLES = 5;

/**
 * The last few request ids, for evidence, as one flat string of the ids separated by NUL ('' for none).
 * A key's state holds the string itself, not an object around it: a client that sent one request costs
 * its id's string only (48 bytes), not also a holder object (48 more). Returns the new string; `ids` is
 * not changed (strings are values).
 */
export function addSample(ids: string, id: string | undefined, max = MAX_SAMPLES): string {
  if (id === undefined || max <= 0 || id.includes(SAMPLE_SEPARATOR)) return ids;
  if (ids === '') return flatString(id);
  let kept = ids;
  let count = 1;
  for (let i = ids.indexOf(SAMPLE_SEPARATOR); i !== -1; i = ids.indexOf(SAMPLE_SEPARATOR, i + 1)) count++;
  if (count >= max) {
    // Drop the oldest ids so that `max - 1` stay before the new one.
    let cut = -1;
    for (let n = count - max + 1; n > 0; n--) cut = ids.indexOf(SAMPLE_SEPARATOR, cut + 1);
    kept = cut === -1 ? '' : ids.slice(cut + 1);
  }
  return kept === '' ? flatString(id) : flatString(`${kept}${SAMPLE_SEPARATOR}${id}`);
}

/** The ids of a sample string, oldest first. */
export function sampleList(ids: string): string[] {
  return ids === '' ? [] : ids.split(SAMPLE_SEPARATOR);
}

/**
 * A set with a cap: once full, new members are counted as overflow instead of being kept. The first member
 * is held as it is; a Set is made only for a second one (most keys never see one).
 */
export class CappedSet {
  #first: string | undefined = undefined;
  #set: Set<string> | undefined = undefined;
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }
  get #kept(): number {
    return this.#set !== undefined ? this.#set.size : this.#first !== undefined ? 1 : 0;
  }
  /** Adds a member; true if it is new (overflowing members are treated as new). */
  add(member: string): boolean {
    const v = boundKey(member);
    if (this.#set !== undefined ? this.#set.has(v) : this.#first === v) return false;
    if (this.#kept >= this.#max) this.overflow++;
    else if (this.#first === undefined) this.#first = flatString(v);
    else {
      this.#set ??= new Set([this.#first]);
      this.#set.add(flatString(v));
    }
    return true;
  }
  overflow = 0;
  get size(): number {
    return this.#kept + this.overflow;
  }
  has(v: string): boolean {
    const key = boundKey(v);
    return this.#set !== undefined ? this.#set.has(key) : this.#first === key;
  }
  sample(n: number): string[] {
    if (this.#set !== undefined) return [...this.#set].slice(0, n);
    return this.#first !== undefined && n > 0 ? [this.#first] : [];
  }
  clear(): void {
    this.#first = undefined;
    this.#set = undefined;
    this.overflow = 0;
  }
}
