/**
 * The Redis part of the test kit: the shared server at 127.0.0.1:6379 (tests use a key prefix of their
 * own on it and never flush it), private redis-server processes a test may freeze or stop, and a log of
 * the commands a server ran.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, Socket } from 'node:net';
import { Redis } from 'ioredis';

/** The shared Redis every test may use, under a key prefix of its own. */
export const REDIS_URL = 'redis://127.0.0.1:6379';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(200);
    s.once('error', () => resolve(false));
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
  });
}

/**
 * A private redis-server (no persistence) that a test starts and stops itself; the shared one at 6379 is
 * never touched.
 */
export class PrivateRedis {
  readonly port: number;
  #proc: ChildProcess | undefined;
  constructor(port: number) {
    this.port = port;
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.#proc = spawn('redis-server', ['--port', String(this.port), '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    for (let i = 0; i < 100; i++) {
      if (await ping(this.port)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`redis-server on ${this.port} did not start`);
  }
  /** Freezes the server (SIGSTOP): connections stay open but nothing is answered. */
  pause(): void {
    this.#proc?.kill('SIGSTOP');
  }
  resume(): void {
    this.#proc?.kill('SIGCONT');
  }
  async stop(): Promise<void> {
    const p = this.#proc;
    if (p === undefined || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await exited;
    this.#proc = undefined;
  }
}

/** Commands a redis-server ran for its clients, as MONITOR reports them (commands inside scripts left out). */
export interface CommandLog {
  readonly commands: ReadonlyArray<{ readonly name: string; readonly args: readonly string[] }>;
  stop(): void;
}

/**
 * Watches every command the redis-server on `port` runs from now on (MONITOR, on a connection of its own).
 * Commands a Lua script issues are left out: they are part of the script call the client sent.
 */
export async function watchCommands(port: number): Promise<CommandLog> {
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  const monitor = await client.monitor();
  const commands: Array<{ name: string; args: string[] }> = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') commands.push({ name: args[0].toLowerCase(), args: args.slice(1) });
  });
  return {
    commands,
    stop() {
      monitor.disconnect();
      client.disconnect();
    },
  };
}
