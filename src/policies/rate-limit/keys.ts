import { isIP } from 'node:net';
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

/** Groups a client address: IPv4 by `v4Prefix` bits, IPv6 by `v6Prefix` bits (IPv4-mapped IPv6 as IPv4). */
export function groupIp(ip: string, v4Prefix: number, v6Prefix: number): string {
  // The gateway hands over a valid address: a plain IPv4 one kept whole needs no parsing.
  if (v4Prefix >= 32 && !ip.includes(':')) return ip;
  let addr = ip;
  if (addr.startsWith('::ffff:') && isIP(addr.slice(7)) === 4) addr = addr.slice(7);
  const kind = isIP(addr);
  if (kind === 4) {
    if (v4Prefix >= 32) return addr;
    const n = addr.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const masked = n - (n % 2 ** (32 - v4Prefix));
    return `${[24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.')}/${v4Prefix}`;
  }
  if (kind !== 6) return addr;
  const zone = addr.indexOf('%');
  if (zone !== -1) addr = addr.slice(0, zone);
  const groups = expandIpv6(addr);
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.min(16, Math.max(0, v6Prefix - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    out.push((groups[i] & mask).toString(16));
  }
  return `${out.join(':')}/${v6Prefix}`;
}

function expandIpv6(addr: string): number[] {
  let text = addr;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const o = text
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    text = `${text.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const double = text.indexOf('::');
  const head = double === -1 ? text : text.slice(0, double);
  const tail = double === -1 ? '' : text.slice(double + 2);
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => Number.parseInt(g, 16));
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
