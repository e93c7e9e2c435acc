/**
 * An events file in the SQLite store's first layout, for the upgrade tests (in the store's unit tests and
 * under test/monitor/). Starts nothing.
 */
import { DatabaseSync } from 'node:sqlite';

/** Start of the events in the file. */
export const V1_T0 = Date.UTC(2026, 0, 1);

/**
 * Writes a file of the version-1 layout (autoincrement seq, per-event indexes) with six events, then
 * `extra` ones ([id, ts, ip]).
 */
export function writeVersion1File(path: string, extra: Array<[string, number, string]> = []): void {
  const old = new DatabaseSync(path);
  old.exec(`CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL,
    category TEXT NOT NULL, type TEXT NOT NULL, action TEXT NOT NULL, outcome TEXT, reason TEXT, severity INTEGER,
    ip TEXT, principal TEXT, api TEXT, route TEXT, method TEXT, status INTEGER, request_id TEXT, data TEXT NOT NULL);
    CREATE INDEX events_ts ON events (ts);
    CREATE INDEX events_ip_ts ON events (ip, ts) WHERE ip IS NOT NULL;
    CREATE INDEX events_principal_ts ON events (principal, ts) WHERE principal IS NOT NULL;`);
  const insert = old.prepare(
    `INSERT INTO events (id, ts, kind, category, type, action, outcome, ip, principal, api, route, method, status, request_id, data)
     VALUES (?, ?, 'event', 'web', 'access', 'http-request', 'success', ?, ?, 'demo', '/users/{id}', 'GET', 200, ?, ?)`,
  );
  // Six events, two of them in one millisecond, written out of time order.
  const rows: Array<[string, number, string]> = [
    ['o1', V1_T0 + 1000, '10.0.0.1'],
    ['o2', V1_T0 + 9000, '10.0.0.2'],
    ['o3', V1_T0 + 5000, '10.0.0.1'],
    ['o4', V1_T0 + 5000, '10.0.0.2'],
    ['o5', V1_T0 + 20_000, '10.0.0.1'],
    ['o6', V1_T0 + 30_000, '10.0.0.3'],
  ];
  for (const [id, ts, ip] of [...rows, ...extra])
    insert.run(id, ts, ip, 'alice', `r-${id}`, JSON.stringify({ 'client.address': ip }));
  old.close();
}
