import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request } from 'undici';

/** What a bounded load run saw. */
export interface LoadResult {
  readonly byStatus: Map<number, number>;
  /** Transport errors (connection refused/reset); a gateway that crashed shows up here. */
  readonly errors: number;
  /** Test-process time just before the first request was sent and just after the last answer arrived. */
  readonly startedAt: number;
  readonly endedAt: number;
  /** When the first answer arrived and when the last request was sent (bounds of the decision times). */
  readonly firstAnswerAt: number;
  readonly lastSendAt: number;
  /** A few responses of each status, headers and body, for header checks. */
  readonly samples: Array<{ status: number; headers: IncomingHttpHeaders; body: string }>;
}

/**
 * Runs `clients` concurrent closed-loop clients for `durationMs` (bounded in time and count), client i talking
 * to `urls[i % urls.length]`. Traffic goes only to the loopback gateways the test started.
 */
export async function runLoad(opts: {
  urls: readonly string[];
  path: string;
  clients: number;
  durationMs: number;
  headers?: Record<string, string>;
  maxRequests?: number;
}): Promise<LoadResult> {
  const agent = new Agent({ connections: opts.clients, keepAliveTimeout: 10_000 });
  const byStatus = new Map<number, number>();
  const samples: LoadResult['samples'] = [];
  const perStatus = new Map<number, number>();
  let errors = 0;
  let sent = 0;
  let firstAnswerAt = 0;
  let lastSendAt = 0;
  const max = opts.maxRequests ?? 100_000;
  const startedAt = Date.now();
  const deadline = startedAt + opts.durationMs;
  async function client(i: number): Promise<void> {
    const base = opts.urls[i % opts.urls.length];
    while (Date.now() < deadline && sent < max) {
      sent++;
      lastSendAt = Date.now();
      try {
        const res = await request(base + opts.path, { dispatcher: agent, headers: opts.headers });
        if (firstAnswerAt === 0) firstAnswerAt = Date.now();
        const body = await res.body.text();
        byStatus.set(res.statusCode, (byStatus.get(res.statusCode) ?? 0) + 1);
        const seen = perStatus.get(res.statusCode) ?? 0;
        if (seen < 5) {
          perStatus.set(res.statusCode, seen + 1);
          samples.push({ status: res.statusCode, headers: res.headers as IncomingHttpHeaders, body });
        }
      } catch {
        errors++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  }
  await Promise.all(Array.from({ length: opts.clients }, (_, i) => client(i)));
  const endedAt = Date.now();
  await agent.close();
  return { byStatus, errors, startedAt, endedAt, firstAnswerAt, lastSendAt, samples };
}
