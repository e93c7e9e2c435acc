import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type Readable, Transform } from 'node:stream';

/** Request bodies: read whole, or streamed to the upstream under a size cap and a minimum rate. */

export const BODY_TOO_LARGE = 'ERR_PORTCULLIS_BODY_TOO_LARGE';
export const BODY_TOO_SLOW = 'ERR_PORTCULLIS_BODY_TOO_SLOW';

/** The client's side of an upstream call: told when the client leaves before its response is complete. */
export interface ClientGone {
  readonly fired: boolean;
  fire(): void;
}

/**
 * Reads a body fully, then calls `onBody(arg, body)`, with undefined for a body over `max` bytes, or
 * `onAbort(arg)` when the request fails or closes before its end; one of them, once. The listeners are
 * the same functions for every request and find their state on it: no promise, closure or `once`
 * wrapper per request (issue 18).
 */
export function readBody<T>(
  req: IncomingMessage,
  max: number,
  arg: T,
  onBody: (arg: T, body: Buffer | undefined) => void,
  onAbort: (arg: T) => void,
): void {
  (req as BodyRequest)[BODY_READ] = new BodyRead(max, arg, onBody, onAbort) as BodyRead<unknown>;
  req.on('data', onBodyData);
  req.on('end', onBodyEnd);
  req.on('error', onBodyFailed);
  req.on('close', onBodyClose);
}

class BodyRead<T = unknown> {
  readonly max: number;
  readonly arg: T;
  readonly onBody: (arg: T, body: Buffer | undefined) => void;
  readonly onAbort: (arg: T) => void;
  chunks: Buffer[] = [];
  size = 0;
  over = false;
  settled = false;
  constructor(max: number, arg: T, onBody: BodyRead<T>['onBody'], onAbort: BodyRead<T>['onAbort']) {
    this.max = max;
    this.arg = arg;
    this.onBody = onBody;
    this.onAbort = onAbort;
  }
}

const BODY_READ = Symbol('bodyRead');
type BodyRequest = IncomingMessage & { [BODY_READ]: BodyRead };

function onBodyData(this: BodyRequest, c: Buffer): void {
  const r = this[BODY_READ];
  if (r.over) return;
  r.size += c.length;
  if (r.size > r.max) {
    r.over = true;
    r.chunks.length = 0;
    return;
  }
  r.chunks.push(c);
}

function onBodyEnd(this: BodyRequest): void {
  const r = this[BODY_READ];
  if (r.settled) return;
  r.settled = true;
  const { chunks } = r;
  r.onBody(r.arg, r.over ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, r.size));
}

function onBodyFailed(this: BodyRequest): void {
  const r = this[BODY_READ];
  if (r.settled) return;
  r.settled = true;
  r.onAbort(r.arg);
}

function onBodyClose(this: BodyRequest): void {
  if (!this.complete) onBodyFailed.call(this);
}

/**
 * Request bodies being streamed to upstreams, per client address. Entries live only while a body is
 * arriving, so the map is bounded by the open connections.
 */
export class StreamedBodies {
  readonly #inFlight = new Map<string, number>();
  /** Counts one more body for `client` until `req` ends or closes; false when the client is at `max`. */
  admit(client: string, req: IncomingMessage, max: number): boolean {
    const n = this.#inFlight.get(client) ?? 0;
    if (n >= max) return false;
    this.#inFlight.set(client, n + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.#inFlight.get(client) ?? 1) - 1;
      if (left <= 0) this.#inFlight.delete(client);
      else this.#inFlight.set(client, left);
    };
    req.once('end', release);
    req.once('close', release);
    return true;
  }
}

/** The minimum rate of a streamed body, from `server`: its average rate once its grace has passed. */
export interface BodyRate {
  readonly minBodyBytesPerSecond: number;
  readonly minBodyRateGraceMs: number;
}

/**
 * Streams a body to the upstream, failing it once more than `max` bytes arrive or once it falls below
 * `rate.minBodyBytesPerSecond` on average after `rate.minBodyRateGraceMs` (Apache's mod_reqtimeout
 * MinRate, in effect): a slow sender must not hold an upstream connection for as long as it likes.
 */
export function streamBody(req: IncomingMessage, max: number, rate: BodyRate): Readable {
  const { minBodyBytesPerSecond: minBytesPerSecond, minBodyRateGraceMs: graceMs } = rate;
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > max) return cb(Object.assign(new Error('request body too large'), { code: BODY_TOO_LARGE }));
      cb(null, chunk);
    },
  });
  req.once('error', (err) => counter.destroy(err));
  if (minBytesPerSecond > 0) {
    const startedAt = performance.now();
    const check = () => {
      if (req.complete) return;
      const elapsed = performance.now() - startedAt;
      const due = graceMs + (size / minBytesPerSecond) * 1000;
      if (elapsed >= due) {
        counter.destroy(Object.assign(new Error('request body too slow'), { code: BODY_TOO_SLOW }));
        return;
      }
      timer = setTimeout(check, Math.max(50, due - elapsed));
    };
    let timer = setTimeout(check, graceMs);
    counter.once('close', () => clearTimeout(timer));
    req.once('end', () => clearTimeout(timer));
  }
  return req.pipe(counter);
}
