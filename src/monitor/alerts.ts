import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { request } from 'undici';
import type { Alert } from './detectors/detector.ts';

export const SIGNATURE_HEADER = 'x-portcullis-signature';
export const TIMESTAMP_HEADER = 'x-portcullis-timestamp';
export const DELIVERY_HEADER = 'x-portcullis-delivery';

export interface WebhookConfig {
  url: string;
  /** HMAC-SHA256 key of the `X-Portcullis-Signature` header. */
  secret: string;
  /** Limit of one delivery attempt. */
  timeoutMs: number;
  /** Attempts per alert before it is given up (and counted). */
  maxAttempts: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** Alerts waiting for delivery; past this the oldest are dropped and counted. */
  queueSize: number;
}

export const webhookDefaults: Omit<WebhookConfig, 'url' | 'secret'> = {
  timeoutMs: 5000,
  maxAttempts: 6,
  retryInitialMs: 500,
  retryMaxMs: 30_000,
  queueSize: 1000,
};

/** `sha256=<hex HMAC-SHA256 of the body>`. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Checks a received signature header against the body, in constant time. */
export function verifySignature(body: string | Buffer, header: string | undefined, secret: string): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(header.slice(7), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface WebhookStats {
  delivered: number;
  failedAttempts: number;
  /** Alerts given up after `maxAttempts` or dropped from a full queue. */
  dropped: number;
  queued: number;
}

export interface WebhookNotifier {
  /** Queues an alert for delivery; never blocks, never throws. */
  send(alert: Alert): void;
  stats(): WebhookStats;
  /** Waits until the queue is empty (or `timeoutMs` passed), then stops. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * Delivers alerts to a webhook one at a time, in order: a JSON body signed with HMAC-SHA256
 * (`X-Portcullis-Signature: sha256=<hex>`), the send time in `X-Portcullis-Timestamp` (Unix seconds; the
 * body also carries the alert time, so a receiver can refuse replays), the alert id in
 * `X-Portcullis-Delivery` (the same on every retry, for de-duplication). Network errors, 408, 429 and 5xx
 * are retried with exponential backoff; other answers end the delivery.
 *
 * @example
 * const hook = createWebhookNotifier({ ...webhookDefaults, url, secret }, logger);
 * hook.send(alert);
 */
export function createWebhookNotifier(cfg: WebhookConfig, logger: Logger): WebhookNotifier {
  const queue: Alert[] = [];
  let delivered = 0;
  let failedAttempts = 0;
  let dropped = 0;
  let running: Promise<void> | undefined;
  let closed = false;
  let sleeping: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        sleeping = undefined;
        resolve();
      }, ms);
      timer.unref();
      sleeping = { timer, resolve };
    });
  }

  async function attempt(alert: Alert): Promise<'ok' | 'retry' | 'fail'> {
    const body = JSON.stringify(alert);
    try {
      const res = await request(cfg.url, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'portcullis-alerts',
          [SIGNATURE_HEADER]: signBody(body, cfg.secret),
          [TIMESTAMP_HEADER]: String(Math.floor(Date.now() / 1000)),
          [DELIVERY_HEADER]: alert.id,
        },
        headersTimeout: cfg.timeoutMs,
        bodyTimeout: cfg.timeoutMs,
      });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) return 'ok';
      logger.warn({ status: res.statusCode, alertId: alert.id }, 'alert webhook refused the delivery');
      return res.statusCode === 408 || res.statusCode === 429 || res.statusCode >= 500 ? 'retry' : 'fail';
    } catch (err) {
      logger.warn({ err, alertId: alert.id }, 'alert webhook unreachable');
      return 'retry';
    }
  }

  async function run(): Promise<void> {
    while (queue.length > 0) {
      const alert = queue[0];
      let delay = cfg.retryInitialMs;
      let outcome: 'ok' | 'retry' | 'fail' = 'retry';
      for (let i = 1; i <= cfg.maxAttempts; i++) {
        outcome = await attempt(alert);
        if (outcome !== 'retry') break;
        failedAttempts++;
        if (i === cfg.maxAttempts || closed) break;
        await sleep(delay * (0.75 + Math.random() * 0.5));
        delay = Math.min(cfg.retryMaxMs, delay * 2);
      }
      if (queue[0] === alert) queue.shift();
      if (outcome === 'ok') delivered++;
      else {
        if (outcome === 'fail') failedAttempts++;
        dropped++;
        logger.error({ alertId: alert.id, droppedTotal: dropped }, 'alert webhook delivery given up');
      }
    }
    running = undefined;
  }

  return {
    send(alert) {
      if (closed) {
        dropped++;
        return;
      }
      if (queue.length >= cfg.queueSize) {
        // Keep the one being delivered (index 0); the next oldest makes room.
        queue.splice(1, 1);
        dropped++;
        logger.warn({ droppedTotal: dropped }, 'alert webhook queue full: oldest alert dropped');
      }
      queue.push(alert);
      running ??= run();
    },
    stats() {
      return { delivered, failedAttempts, dropped, queued: queue.length };
    },
    async close(timeoutMs = 5000) {
      const deadline = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
      if (running) await Promise.race([running, deadline]);
      closed = true;
      if (sleeping) {
        clearTimeout(sleeping.timer);
        sleeping.resolve();
      }
      if (running)
        await Promise.race([running, new Promise<void>((r) => setTimeout(r, cfg.timeoutMs).unref())]);
      dropped += queue.length;
      queue.length = 0;
    },
  };
}
