import { readFileSync } from 'node:fs';

let cached: string | undefined | null = null;

/** The version in Portcullis's package.json (admin status, traces, reports); undefined if unreadable. */
export function packageVersion(): string | undefined {
  if (cached === null) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
      cached = typeof pkg.version === 'string' ? pkg.version : undefined;
    } catch {
      cached = undefined;
    }
  }
  return cached ?? undefined;
}
