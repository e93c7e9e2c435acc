/**
 * IP addresses and ranges, the one place the project reads them: ranges are node:net BlockLists, an
 * IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, RFC 4291 §2.5.5.2) is read as the IPv4 address it carries,
 * and IPv6 text is expanded to its eight groups by one function.
 */

import { BlockList, isIP } from 'node:net';
import { BoundedCache } from './bounded-cache.ts';

/** A range as written in config: `10.0.0.0/8`, `2001:db8::/32`, or a bare address (/32, /128). */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Parses a range or a bare address; undefined when it is neither. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const bits = slash === -1 ? undefined : text.slice(slash + 1);
  const kind = isIP(address);
  if (kind === 0) return undefined;
  const max = kind === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  return { address, prefix, family: kind === 4 ? 'ipv4' : 'ipv6' };
}

/** A BlockList of ranges; throws naming the first entry that is not a range. */
export function createCidrList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const text of cidrs) {
    const c = parseCidr(text);
    if (c === undefined) throw new Error(`not an IP address or range: ${text}`);
    list.addSubnet(c.address, c.prefix, c.family);
  }
  return list;
}

/** The IPv4 address an IPv4-mapped IPv6 address carries, in dotted or hex form; undefined otherwise. */
export function mappedIpv4(address: string): string | undefined {
  const m = /^::ffff:(?:0:)?(.+)$/i.exec(address);
  if (m === null) return undefined;
  if (isIP(m[1]) === 4) return m[1];
  const hex = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(m[1]);
  if (hex === null) return undefined;
  const hi = Number.parseInt(hex[1], 16);
  const lo = Number.parseInt(hex[2], 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/**
 * Whether `address` is in `list`, an IPv4-mapped IPv6 address checked as its IPv4 address. Undefined
 * when `address` is not an IP address at all (the caller decides how to fail).
 */
export function inCidrList(list: BlockList, address: string): boolean | undefined {
  const kind = isIP(address);
  if (kind === 4) return list.check(address, 'ipv4');
  if (kind !== 6) return undefined;
  const v4 = mappedIpv4(address);
  if (v4 !== undefined) return list.check(v4, 'ipv4');
  const zone = address.indexOf('%');
  return list.check(zone === -1 ? address : address.slice(0, zone), 'ipv6');
}

/**
 * Compiles a list of ranges into a membership test. Results are cached per address (bounded), since the
 * same few proxy addresses ask again and again.
 */
export function compileCidrMatcher(cidrs: readonly string[]): (ip: string) => boolean {
  const valid = cidrs.filter((c) => parseCidr(c) !== undefined);
  if (valid.length === 0) return () => false;
  const list = createCidrList(valid);
  const cache = new BoundedCache<string, boolean>(1024);
  return (ip: string) => {
    const hit = cache.get(ip);
    if (hit !== undefined) return hit;
    const ok = inCidrList(list, ip) === true;
    cache.set(ip, ok);
    return ok;
  };
}

/** The eight 16-bit groups of an IPv6 address (zone id dropped, an embedded dotted IPv4 tail read). */
export function ipv6Groups(address: string): number[] {
  let text = address;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
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

/**
 * Groups a client address into its network: IPv4 by `v4Prefix` bits, IPv6 by `v6Prefix` bits (an
 * IPv4-mapped address as IPv4), written `network/prefix`; an address kept whole is returned as is.
 */
export function groupIp(ip: string, v4Prefix: number, v6Prefix: number): string {
  // The gateway hands over a valid address: a plain IPv4 one kept whole needs no parsing.
  if (v4Prefix >= 32 && !ip.includes(':')) return ip;
  const addr = mappedIpv4(ip) ?? ip;
  const kind = isIP(addr);
  if (kind === 4) {
    if (v4Prefix >= 32) return addr;
    const n = addr.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const masked = n - (n % 2 ** (32 - v4Prefix));
    return `${[24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join('.')}/${v4Prefix}`;
  }
  if (kind !== 6) return addr;
  const groups = ipv6Groups(addr);
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.min(16, Math.max(0, v6Prefix - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    out.push((groups[i] & mask).toString(16));
  }
  return `${out.join(':')}/${v6Prefix}`;
}
