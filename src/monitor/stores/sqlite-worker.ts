/**
 * Worker-thread entry of the SQLite event store: owns the database so inserts never run on the gateway's
 * event loop. Speaks the message protocol of `sqlite-worker-store.ts`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openSqliteEvents } from './sqlite.ts';

interface Request {
  id: number;
  op: 'hello' | 'write' | 'query' | 'prune' | 'close';
  json?: string;
  q?: Record<string, unknown>;
  now?: number;
}

const port = parentPort!;
const db = openSqliteEvents(
  workerData as { path: string; retentionDays: number; maxRows: number; maxMegabytes?: number },
);

port.on('message', (m: Request) => {
  try {
    let result: unknown;
    if (m.op === 'hello') result = db.migrated;
    else if (m.op === 'write') db.write(JSON.parse(m.json!));
    else if (m.op === 'query') result = db.query(m.q!);
    else if (m.op === 'prune') db.prune(m.now!);
    else {
      db.close();
      port.postMessage({ id: m.id, ok: true });
      port.close();
      return;
    }
    port.postMessage({ id: m.id, ok: true, result });
  } catch (err) {
    const e = err as { message?: string; code?: string };
    port.postMessage({ id: m.id, ok: false, message: String(e?.message ?? err), code: e?.code });
  }
});
