import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** A gateway running in its own Node process. */
export interface ChildGateway {
  readonly url: string;
  /** Stops the process; resolves with the store events it counted (e.g. rate-limit-store-unavailable). */
  stop(): Promise<Record<string, number>>;
}

/** Starts `count` gateway processes from one config (each its own Redis connection, clock and memory). */
export async function startChildGateways(
  count: number,
  specs: Record<string, unknown>,
  config: Record<string, unknown>,
): Promise<ChildGateway[]> {
  const file = path.join(tmpdir(), `portcullis-limits-${process.pid}-${Date.now()}.json`);
  await writeFile(file, JSON.stringify({ specs, config }));
  const script = path.join(import.meta.dirname, 'gateway-child.ts');
  return Promise.all(
    Array.from({ length: count }, async () => {
      const child: ChildProcess = spawn(process.execPath, [script, file], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const rl = createInterface({ input: child.stdout! });
      const lines: string[] = [];
      let onLine: (() => void) | undefined;
      rl.on('line', (l) => {
        lines.push(l);
        onLine?.();
      });
      await new Promise<void>((resolve, reject) => {
        onLine = resolve;
        child.once('exit', (code) => reject(new Error(`gateway child exited with ${code}`)));
      });
      const { url } = JSON.parse(lines[0]) as { url: string };
      return {
        url,
        async stop() {
          child.stdin!.end();
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
          const last =
            lines.length > 1
              ? (JSON.parse(lines[lines.length - 1]) as { actions?: Record<string, number> })
              : {};
          return last.actions ?? {};
        },
      };
    }),
  );
}
