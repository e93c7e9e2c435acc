/**
 * Classification of destination addresses and URLs for the SSRF guard (OWASP API7:2023, CWE-918).
 * Ranges from the IANA special-purpose registries (RFC 6890 and updates).
 */
import { BlockList, isIP } from 'node:net';
import { inCidrList } from '../../shared/ip.ts';

export { createCidrList } from '../../shared/ip.ts';

/** Why a destination is refused. */
export type DestinationProblem =
  | 'malformed_url'
  | 'scheme_not_allowed'
  | 'userinfo'
  | 'port_not_allowed'
  | 'internal_name'
  | 'host_not_allowed'
  | 'internal_address'
  | 'resolves_inward'
  | 'unresolvable';

const BLOCKED_V4: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT shared address space (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

const BLOCKED_V6: ReadonlyArray<readonly [string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['::', 96], // IPv4-compatible (deprecated) — embeds an IPv4 address
  ['64:ff9b::', 96], // NAT64 — embeds an IPv4 address
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001::', 32], // Teredo — tunnels to an embedded IPv4 address
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4 — embeds an IPv4 address
  ['fc00::', 7], // unique local, includes AWS IMDS fd00:ec2::254
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

/** Host names that name the machine itself or cloud metadata services, whatever DNS says. */
const INTERNAL_NAMES = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);
const INTERNAL_SUFFIXES = [
  '.localhost',
  '.internal',
  '.local',
  '.localdomain',
  '.home.arpa',
  '.intranet',
  '.corp',
];

/** Builds the block list of internal ranges; IPv4-mapped IPv6 addresses are checked against IPv4 rules. */
export function createInternalRanges(): BlockList {
  const list = new BlockList();
  for (const [a, p] of BLOCKED_V4) list.addSubnet(a, p, 'ipv4');
  for (const [a, p] of BLOCKED_V6) list.addSubnet(a, p, 'ipv6');
  return list;
}

/** Whether an IP address (v4 or v6, no brackets) is internal according to `ranges`. */
export function isInternalAddress(address: string, ranges: BlockList): boolean {
  return inCidrList(ranges, address) ?? true; // not an address: fail closed
}

/** Whether a (lower-case, dot-trimmed) host name names the machine itself or a metadata service. */
export function isInternalName(host: string): boolean {
  if (INTERNAL_NAMES.has(host)) return true;
  if (!host.includes('.')) return true; // single-label names resolve through local search domains
  return INTERNAL_SUFFIXES.some((s) => host.endsWith(s));
}

/** Matches a host against allowlist entries: exact names, or `*.example.com` for any subdomain. */
export function compileHostAllowlist(entries: readonly string[]): ((host: string) => boolean) | undefined {
  if (entries.length === 0) return undefined;
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const e of entries) {
    const h = e.toLowerCase().replace(/\.$/, '');
    if (h.startsWith('*.')) suffixes.push(h.slice(1));
    else exact.add(h);
  }
  return (host) => exact.has(host) || suffixes.some((s) => host.endsWith(s) && host.length > s.length);
}

// Characters that no URL meant for a server-side fetch needs, and that parsers disagree on.
const SUSPICIOUS = /[\u0000-\u0020\u007f\\]/;

/** Whether a URL holds characters that parsers read differently (controls, spaces, backslashes). */
export function hasAmbiguousCharacters(value: string): boolean {
  return SUSPICIOUS.test(value);
}

/**
 * Two bases that differ in scheme and host. A reference that resolves to its base's own scheme and host
 * under both stays where its reader is; any other result names a destination of its own. Two schemes
 * because WHATWG reads `http:10.0.0.1` as relative only against an `http:` base.
 */
const REFERENCE_BASES: ReadonlyArray<URL> = [
  new URL('http://reference-base-a.invalid/'),
  new URL('https://reference-base-b.invalid/'),
];

/**
 * The absolute URLs a URI reference (RFC 3986 §4.1) reaches once a client resolves it against a base, for
 * every reading that leaves the base: a scheme of its own, or an authority — `//169.254.169.254/x`, and the
 * spellings WHATWG URL parsers accept for it (`\\host`, `/\host`, controls and spaces stripped or
 * removed, `http:host` against an https base). The value is read as is and trimmed of Unicode white space
 * (as code that calls `trim()` first would). `[]`: the reference stays on its base (a path, a query, a
 * fragment); `undefined`: no parser would accept it.
 */
export function referenceTargets(value: string): string[] | undefined {
  const readings = value.trim() === value ? [value] : [value, value.trim()];
  const targets = new Set<string>();
  for (const reading of readings) {
    for (const base of REFERENCE_BASES) {
      let url: URL;
      try {
        url = new URL(reading, base);
      } catch {
        return undefined;
      }
      if (url.protocol !== base.protocol || url.host !== base.host) targets.add(url.href);
    }
  }
  return [...targets];
}

/** A URL parsed for the guard: either a problem, or the normalised host and its kind. */
export type ParsedDestination =
  | { readonly problem: DestinationProblem }
  | { readonly host: string; readonly ip: boolean; readonly port: number };

/**
 * Parses a URL with the WHATWG parser, which normalises decimal, octal and hex IPv4 forms
 * (`http://2130706433/`, `http://0177.0.0.1/`, `http://0x7f.1/` all become 127.0.0.1).
 */
export function parseDestination(
  value: string,
  schemes: ReadonlySet<string>,
  maxLength: number,
): ParsedDestination {
  if (value.length > maxLength || SUSPICIOUS.test(value)) return { problem: 'malformed_url' };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: 'malformed_url' };
  }
  const scheme = url.protocol.slice(0, -1);
  if (!schemes.has(scheme)) return { problem: 'scheme_not_allowed' };
  if (url.username !== '' || url.password !== '') return { problem: 'userinfo' };
  let host = url.hostname.toLowerCase();
  if (host === '') return { problem: 'malformed_url' };
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  host = host.replace(/\.$/, '');
  const port = url.port === '' ? (scheme === 'https' ? 443 : scheme === 'http' ? 80 : 0) : Number(url.port);
  return { host, ip: isIP(host) !== 0, port };
}
