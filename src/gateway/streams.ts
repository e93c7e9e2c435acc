import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { type Readable, Transform } from 'node:stream';

/** Request bodies: read whole, or streamed to the upstream under a size cap and a minimum rate. */

export const BODY_TOO_LARGE = 'ERR_PORTCULLIS_BODY_TOO_LARGE';
export const BODY_TOO_SLOW = 'ERR_PORTCULLIS_BODY_TOO_SLOW';

/**
 * The abort signal given to undici for one upstream request: the smallest EventEmitter-shaped object
 * undici accepts (an AbortController and its EventTarget cost several allocations per request). It has
 * no `aborted` member on purpose: undici then treats it as an emitter, not a native AbortSignal.
 */
export class ClientGone {
  #listener: (() => void) | undefined;
  fired = false;
  once(_event: 'abort', listener: () => void): void {
    this.#listener = listener;
  }
  /** undici checks that a signal has `on` (or `addEventListener`) before using `once`. */
  on(event: 'abort', listener: () => void): void {
    this.once(event, listener);
  }
  removeListener(): void {
    this.#listener = undefined;
  }
  fire(): void {
    this.fired = true;
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.();
  }
}

/** Reads a body fully; resolves undefined when it exceeds `max` bytes. */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.once('end', () =>
      resolve(over ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)),
    );
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('client aborted'));
    });
  });
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
