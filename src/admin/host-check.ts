/**
 * DNS rebinding protection for the admin listener. A page on `evil.example` whose name is made to resolve
 * to 127.0.0.1 reaches the loopback admin listener from the victim's browser, same-origin with itself; the
 * only trace of the trick is the `Host` header, which still says `evil.example`. So the listener answers
 * only Host values it knows: loopback names, the address it is bound to, and `admin.allowedHosts`.
 */
import { isIP } from 'node:net';

/** Host names every admin listener answers to (any port). */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * Splits a `Host` value (RFC 9110 §7.2: `uri-host [ ":" port ]`) into its lower-case host, IPv6 in
 * brackets; undefined when it is not one.
 */
export function hostOf(value: string): string | undefined {
  const v = value.toLowerCase();
  let host: string;
  let rest: string;
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end === -1) return undefined;
    host = v.slice(0, end + 1);
    if (isIP(host.slice(1, -1)) !== 6) return undefined;
    rest = v.slice(end + 1);
  } else {
    const colon = v.indexOf(':');
    host = colon === -1 ? v : v.slice(0, colon);
    rest = colon === -1 ? '' : v.slice(colon);
  }
  if (host === '' || !/^(?:\[[0-9a-f:.]+\]|[a-z0-9._-]+)$/.test(host)) return undefined;
  if (rest !== '' && !/^:[0-9]{0,5}$/.test(rest)) return undefined;
  return host;
}

/** Writes a host from config the way `hostOf` reads one from a request (bare IPv6 gets brackets). */
function normalise(entry: string): string {
  const h = entry.trim().toLowerCase();
  return isIP(h) === 6 ? `[${h}]` : h;
}

/**
 * Compiles the Host allowlist: loopback names, `boundHost` when it is a specific address or name, and the
 * configured entries (exact names or addresses, or `*.example.com` for any subdomain). Ports are not
 * compared: the listener's own port is the only one a request can arrive on.
 *
 * @example
 * const isAllowedHost = compileAdminHostCheck(['admin.example.com'], '127.0.0.1');
 * isAllowedHost('localhost:9090'); // true
 * isAllowedHost('evil.example:9090'); // false
 */
export function compileAdminHostCheck(
  allowedHosts: readonly string[],
  boundHost?: string,
): (hostHeader: string | undefined) => boolean {
  const exact = new Set(LOOPBACK_HOSTS);
  const suffixes: string[] = [];
  if (boundHost !== undefined && boundHost !== '' && boundHost !== '0.0.0.0' && boundHost !== '::')
    exact.add(normalise(boundHost));
  for (const entry of allowedHosts) {
    const h = normalise(entry);
    if (h.startsWith('*.')) suffixes.push(h.slice(1));
    else if (h !== '') exact.add(h);
  }
  return (hostHeader) => {
    if (hostHeader === undefined) return false;
    const host = hostOf(hostHeader);
    if (host === undefined) return false;
    return exact.has(host) || suffixes.some((s) => host.endsWith(s) && host.length > s.length);
  };
}
