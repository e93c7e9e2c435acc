/**
 * The process part of the test kit: a command run to its end with its output captured (`run`, and
 * `runCli` for bin/portcullis.js on this Node), and `portcullis serve` started as its own process and
 * kept running until stopped (`startServeProcess`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** The CLI entry point. */
export const bin = path.resolve(import.meta.dirname, '../../bin/portcullis.js');

/** How a command ended and what it printed. */
export interface RunResult {
  /** Exit code; null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  /** The whole environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin (a pipe, not a terminal), which is then closed. */
  readonly input?: string;
  /** Leave stdin an open pipe: a command that read it would wait instead of reading end of file. */
  readonly stdinOpen?: boolean;
  /** SIGKILL after this long, so a command that hangs ends its test (code null, signal SIGKILL). */
  readonly killAfterMs?: number;
}

/** Runs `cmd` to its end; resolves once its output is read, whatever its exit code. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const piped = opts.input !== undefined || opts.stdinOpen === true;
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: [piped ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer =
      opts.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs `portcullis <args>` (bin/portcullis.js on the Node running the tests). */
export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [bin, ...args], opts);
}

/** `portcullis serve` as its own process, once it has printed the URLs it listens on. */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** The exit code (null after a signal), once the process has exited. */
  readonly exited: Promise<number | null>;
  /** The same, once its stdout and stderr have closed too: all it printed has been read. */
  readonly closed: Promise<number | null>;
  readonly gatewayUrl: string;
  /** The admin URL, when started with `admin: true`; empty otherwise. */
  readonly adminUrl: string;
  /** Everything printed on stdout and stderr so far, as it came. */
  output(): string;
  /** Everything printed on stdout so far (the access log, say), whole lines uninterleaved with stderr. */
  stdout(): string;
  /** The admin URL worker 0 printed last: a restarted worker 0 listens on a new port when it was 0. */
  latestAdminUrl(): string;
  /** The pid of worker `index` of `--workers N` now (read from /proc: Linux only). */
  workerPid(index: number): Promise<number>;
  /** SIGTERM, then SIGKILL after 10 s if it is still there; resolves once it has exited. */
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** Arguments after `serve --config <file> --no-watch`. */
  readonly args?: readonly string[];
  /** The whole environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Also wait for the admin listener's URL (the config must enable it). */
  readonly admin?: boolean;
}

/** Starts `portcullis serve --config <configFile> --no-watch` and waits until it listens. */
export async function startServeProcess(configFile: string, opts: ServeOptions = {}): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--config', configFile, '--no-watch', ...(opts.args ?? [])],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env,
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const closed = new Promise<number | null>((resolve) => child.once('close', resolve));
  let output = '';
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    output += c;
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    output += c;
  });
  const [gatewayUrl, adminUrl] = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setInterval(() => {
      const gw = /gateway listening on (\S+)/.exec(output);
      const admin = /admin on (\S+)/.exec(output);
      if (gw && (admin || !opts.admin)) {
        clearInterval(timer);
        resolve([gw[1], admin?.[1] ?? '']);
      }
    }, 10);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`serve exited with ${code}: ${output}`));
    });
  });
  return {
    child,
    exited,
    closed,
    gatewayUrl,
    adminUrl,
    output: () => output,
    stdout: () => stdout,
    latestAdminUrl: () => [...output.matchAll(/admin on (\S+)/g)].at(-1)![1],
    async workerPid(index) {
      const pid = child.pid!;
      const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/);
      for (const c of children) {
        const env = await readFile(`/proc/${c}/environ`, 'utf8').catch(() => '');
        if (env.split('\0').includes(`PORTCULLIS_WORKER=${index}`)) return Number(c);
      }
      throw new Error(`no worker ${index} among ${children.join(', ')}`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
