import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const bin = path.resolve(import.meta.dirname, '../../bin/portcullis.js');

/** `portcullis serve` as its own process, once it has printed its gateway and admin URLs. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<unknown>;
  readonly gatewayUrl: string;
  readonly adminUrl: string;
  /** Everything printed on stdout and stderr so far. */
  output(): string;
}

export async function startServeProcess(
  configFile: string,
  args: readonly string[] = [],
): Promise<ServeProcess> {
  const child = spawn(process.execPath, [bin, 'serve', '--config', configFile, '--no-watch', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let output = '';
  child.stdout?.on('data', (c) => {
    output += c;
  });
  child.stderr?.on('data', (c) => {
    output += c;
  });
  const [gatewayUrl, adminUrl] = await new Promise<[string, string]>((resolve, reject) => {
    const timer = setInterval(() => {
      const gw = /gateway listening on (\S+)/.exec(output);
      const admin = /admin on (\S+)/.exec(output);
      if (gw && admin) {
        clearInterval(timer);
        resolve([gw[1], admin[1]]);
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(timer);
      reject(new Error(`serve exited with ${code}: ${output}`));
    });
  });
  return { child, exited, gatewayUrl, adminUrl, output: () => output };
}
