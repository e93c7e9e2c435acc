/** Small pieces every bench file needs: free ports, pinning to a core, medians. */
import { existsSync } from 'node:fs';
import net from 'node:net';

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The median (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The command line that runs `cmd` on `cores` (taskset) at niceness `nice`; unpinned where taskset is
 * missing.
 */
export function pinned(cores: string, cmd: string, args: string[], nice = 0): [string, string[]] {
  const onCores = existsSync('/usr/bin/taskset') ? ['taskset', '-c', cores, cmd, ...args] : [cmd, ...args];
  const all = nice === 0 ? onCores : ['nice', '-n', String(nice), ...onCores];
  return [all[0], all.slice(1)];
}
