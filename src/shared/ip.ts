import { isIP } from 'node:net';

/** An address range as a 128-bit prefix (IPv4 mapped into ::ffff:0:0/96). */
export interface Cidr {
  readonly network: bigint;
  readonly prefix: number;
}

/** Parses an IPv4 or IPv6 address to a 128-bit integer (IPv4 as IPv4-mapped IPv6). */
export function ipToBigInt(ip: string): bigint | undefined {
  const kind = isIP(ip);
  if (kind === 4) return 0xffff00000000n | v4(ip);
  if (kind !== 6) return undefined;
  let text = ip;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // Mixed notation (`::ffff:10.0.0.1`): rewrite the dotted tail as two hex groups.
    const t = Number(v4(text.slice(lastColon + 1)));
    text = `${text.slice(0, lastColon + 1)}${(t >>> 16).toString(16)}:${(t & 0xffff).toString(16)}`;
  }
  const [head, rest] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const r = rest ? rest.split(':') : [];
  const groups = [...h, ...(rest !== undefined ? Array(8 - h.length - r.length).fill('0') : []), ...r];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(Number.parseInt(g, 16));
  return n;
}

function v4(ip: string): bigint {
  return ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

/** Parses `10.0.0.0/8`, `::1/128` or a bare address (a /32 or /128). */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, bits] = text.split('/');
  const n = ipToBigInt(addr);
  if (n === undefined) return undefined;
  const isV4 = isIP(addr) === 4;
  const max = isV4 ? 32 : 128;
  const p = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(p) || p < 0 || p > max || (bits !== undefined && !/^\d+$/.test(bits)))
    return undefined;
  const prefix = isV4 ? p + 96 : p;
  const mask = prefix === 0 ? 0n : ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - prefix)) - 1n);
  return { network: n & mask, prefix };
}

/**
 * Compiles a list of CIDRs into a membership test. Results are cached per address (bounded), since the
 * same few proxy addresses ask again and again.
 */
export function compileCidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const list = cidrs.map((c) => parseCidr(c)).filter((c): c is Cidr => c !== undefined);
  if (list.length === 0) return () => false;
  const cache = new Map<string, boolean>();
  return (ip: string) => {
    const hit = cache.get(ip);
    if (hit !== undefined) return hit;
    const n = ipToBigInt(ip);
    let ok = false;
    if (n !== undefined) {
      for (const c of list) {
        const shift = BigInt(128 - c.prefix);
        if (n >> shift === c.network >> shift) {
          ok = true;
          break;
        }
      }
    }
    if (cache.size >= 1024) cache.clear();
    cache.set(ip, ok);
    return ok;
  };
}
