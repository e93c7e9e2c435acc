/**
 * Server-Sent Events fan-out for the dashboard. Each message is serialised once and written to every client;
 * a client whose socket buffer grows past `maxBufferedBytes` (it reads slower than events arrive) is dropped,
 * so a slow or stalled browser never grows the gateway's memory. The browser reconnects by itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface LiveFeedOptions {
  /** Clients at once; more get 503. */
  maxClients: number;
  /** Bytes waiting in one client's socket buffer before the client is dropped. */
  maxBufferedBytes: number;
  /** A comment line this often keeps proxies and the browser from timing out an idle stream. */
  heartbeatMs: number;
}

export interface LiveFeed {
  /** Takes over the response as an event stream; false when the feed is full. */
  attach(req: IncomingMessage, res: ServerResponse): boolean;
  /** Sends one named event with a JSON payload to every client. */
  publish(type: string, data: unknown): void;
  clients(): number;
  /** Clients dropped for reading too slowly since start. */
  dropped(): number;
  close(): void;
}

/** Creates the live feed; the heartbeat timer does not keep the process alive. */
export function createLiveFeed(opts: LiveFeedOptions): LiveFeed {
  const clients = new Set<ServerResponse>();
  let droppedSlow = 0;
  let seq = 0;

  function write(res: ServerResponse, chunk: string): void {
    if (res.writableLength + chunk.length > opts.maxBufferedBytes) {
      droppedSlow++;
      clients.delete(res);
      res.destroy();
      return;
    }
    res.write(chunk);
  }

  const heartbeat = setInterval(() => {
    for (const res of clients) write(res, ': keep-alive\n\n');
  }, opts.heartbeatMs);
  heartbeat.unref();

  return {
    attach(req, res) {
      if (clients.size >= opts.maxClients) return false;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // Tells nginx-style proxies not to buffer the stream.
        'x-accel-buffering': 'no',
      });
      // Reconnect after 2 s when the stream drops (HTML Living Standard, server-sent events, `retry`).
      res.write('retry: 2000\n\n');
      clients.add(res);
      const remove = () => clients.delete(res);
      req.once('close', remove);
      res.once('close', remove);
      return true;
    },
    publish(type, data) {
      if (clients.size === 0) return;
      const chunk = `id: ${++seq}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
      for (const res of clients) write(res, chunk);
    },
    clients: () => clients.size,
    dropped: () => droppedSlow,
    close() {
      clearInterval(heartbeat);
      for (const res of clients) res.end();
      clients.clear();
    },
  };
}
