import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP relay to the shared PostgreSQL (127.0.0.1:5432) that a test can cut and restore. */
export interface PostgresRelay {
  /** Listens (again, on the same port once known) and pipes every connection to PostgreSQL. */
  up(): Promise<void>;
  /** Resets every connection and closes the port: PostgreSQL is gone for whoever uses the relay. */
  cut(): Promise<void>;
  port(): number;
}

/** Creates a relay; nothing listens before `up()`. Stopping the shared server would disturb other tests. */
export function postgresRelay(): PostgresRelay {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let port = 0;
  return {
    async up() {
      server = createServer((client) => {
        const upstream = connect(5432, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {});
        }
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    },
    async cut() {
      const s = server;
      if (s === undefined) return;
      server = undefined;
      const closed = new Promise((r) => s.close(r));
      for (const sock of sockets) sock.resetAndDestroy();
      await closed;
    },
    port: () => port,
  };
}
