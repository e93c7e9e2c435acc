/**
 * The PostgreSQL part of the test kit: the shared server (127.0.0.1:5432, trust, database `test`), a
 * connection that hands out fresh schemas and drops them when closed, and a TCP relay that a test can cut
 * to take PostgreSQL away from whoever uses it without disturbing other tests.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';

export const POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** An administrative connection to the shared PostgreSQL. */
export interface PostgresAdmin {
  query(sql: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
  /** A schema name no other test uses (`<prefix>_<random>`), dropped by `close()`. */
  freshSchema(prefix?: string): string;
  /** Drops every schema `freshSchema` named, then disconnects. */
  close(): Promise<void>;
}

export async function connectPostgres(): Promise<PostgresAdmin> {
  const client = new pg.Client(POSTGRES_URL);
  await client.connect();
  const schemas: string[] = [];
  return {
    query: (sql, values) => client.query(sql, values),
    freshSchema(prefix = 'portcullis_test') {
      const s = `${prefix}_${randomBytes(5).toString('hex')}`;
      schemas.push(s);
      return s;
    },
    async close() {
      for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await client.end();
    },
  };
}

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
