/**
 * Worker-thread entry that checkpoints the events database's write-ahead log for a store that inserts on
 * the event loop. A checkpoint ends in fsync, which can hold a thread for tens of milliseconds on a slow
 * disk: here it holds only this thread, which spends its life asleep. Messages: `checkpoint` (now),
 * `close` (a last checkpoint that empties the log, then exit).
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const port = parentPort!;
const db = new DatabaseSync(path);
db.exec('PRAGMA busy_timeout = 1000;');

const passive = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Copies the log into the database without holding up the writer. The writer starts the log over only
 * once every frame of it has been copied, which a busy writer keeps from happening: the first pass copies
 * the bulk, and a few short passes then pick up what arrived meanwhile, in the writer's pauses.
 */
function checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): void {
  try {
    if (mode === 'TRUNCATE') {
      db.exec('PRAGMA wal_checkpoint(TRUNCATE);');
      return;
    }
    for (let pass = 0; pass < 5; pass++) {
      const r = passive.get() as { log: number; checkpointed: number };
      if (r.log <= 0 || r.checkpointed >= r.log) return;
      Atomics.wait(pause, 0, 0, 2);
    }
  } catch (err) {
    port.postMessage({ error: String((err as Error)?.message ?? err) });
  }
}

const timer = setInterval(() => checkpoint('PASSIVE'), intervalMs);
port.on('message', (m: string) => {
  if (m === 'checkpoint') checkpoint('PASSIVE');
  else if (m === 'close') {
    clearInterval(timer);
    checkpoint('TRUNCATE');
    db.close();
    port.close();
  }
});
port.postMessage({ ready: true });
