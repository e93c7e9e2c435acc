import { groupIp } from '../../shared/ip.ts';

export { groupIp };

import type { Exchange } from '../../core/exchange.ts';

/** Reads one part of a limit key from the exchange; undefined when the request has no such part. */
export type KeyPart = (ex: Exchange) => string | undefined;

/** Key parts that need no authenticated caller, so may be used before authentication. */
export const PRE_AUTH_KEY_PARTS = new Set(['ip', 'operation', 'global', 'header']);

/** Kind of a key part spec (`claim:tenant` → `claim`). */
export function keyPartKind(spec: string): string {
  const colon = spec.indexOf(':');
  return colon === -1 ? spec : spec.slice(0, colon);
}

function claimValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Compiles one key part spec (`ip`, `claim:tenant`, `header:x-tenant`, ...) into a reader. */
export function compileKeyPart(spec: string, v4Prefix: number, v6Prefix: number): KeyPart {
  const kind = keyPartKind(spec);
  const arg = spec.slice(kind.length + 1);
  switch (kind) {
    case 'ip':
      return (ex) => groupIp(ex.clientIp, v4Prefix, v6Prefix);
    case 'consumer':
      return (ex) => ex.principal?.consumer || undefined;
    case 'subject':
      // An anonymous caller has no subject: the fallback key applies, not one bucket shared by everyone.
      return (ex) => (ex.principal?.method === 'anonymous' ? undefined : ex.principal?.subject || undefined);
    case 'apiKey':
      // The API key verifier names the consumer the key belongs to; the key itself never reaches us.
      return (ex) =>
        ex.principal?.method === 'api-key' ? (ex.principal.consumer ?? ex.principal.subject) : undefined;
    case 'operation':
      return (ex) => ex.route.operation.id;
    case 'global':
      return () => '*';
    case 'claim':
      return (ex) => claimValue(ex.principal?.claims[arg]);
    case 'header': {
      const name = arg.toLowerCase();
      return (ex) => {
        const v = ex.req.headers[name];
        const first = Array.isArray(v) ? v[0] : v;
        return first === undefined || first === '' ? undefined : first;
      };
    }
    default:
      throw new TypeError(`unknown key part ${spec}`);
  }
}

/**
 * Compiles a (possibly composite) key and its fallback into one function giving the partition string
 * (`ip=203.0.113.7|consumer=alice`). The fallback is used when any part of the key is missing.
 */
export function compileKey(
  key: readonly string[],
  fallback: readonly string[],
  v4Prefix: number,
  v6Prefix: number,
): (ex: Exchange) => string {
  const build = (specs: readonly string[]) => {
    const parts = specs.map((s) => ({ label: s, read: compileKeyPart(s, v4Prefix, v6Prefix) }));
    if (parts.length === 1) {
      // One part (the usual key): the last value's partition string is kept, so a client that sends request
      // after request (one address, one subject) gets the same string back instead of a new one each time.
      const { label, read } = parts[0];
      let lastValue: string | undefined;
      let lastPartition = '';
      return (ex: Exchange): string | undefined => {
        const v = read(ex);
        if (v === undefined) return undefined;
        if (v !== lastValue) {
          // Length-prefixed so that no value can forge another composite (`a|b=c`).
          lastPartition = `${label}=${v.length}:${v}|`;
          lastValue = v;
        }
        return lastPartition;
      };
    }
    return (ex: Exchange): string | undefined => {
      let out = '';
      for (const p of parts) {
        const v = p.read(ex);
        if (v === undefined) return undefined;
        // Length-prefixed so that no value can forge another composite (`a|b=c`).
        out += `${p.label}=${v.length}:${v}|`;
      }
      return out;
    };
  };
  const primary = build(key);
  const secondary = build(fallback);
  return (ex) => primary(ex) ?? secondary(ex) ?? 'unidentified';
}
