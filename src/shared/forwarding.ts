import type { IncomingHttpHeaders } from 'node:http';

/** Who a request comes from, as the gateway and the admin listener both read it. */

export interface ForwardingInfo {
  /** The original client, after walking back through trusted proxies. */
  readonly clientIp: string;
  readonly proto: 'http' | 'https';
  readonly host: string;
}

/**
 * Works out the original client, scheme and host. `X-Forwarded-*`/`Forwarded` are only believed when the
 * peer is a trusted proxy, and X-Forwarded-For is walked from the right, skipping trusted proxies, so a
 * client cannot forge its address by sending the header itself.
 */
export function resolveForwarding(
  headers: IncomingHttpHeaders,
  peerIp: string,
  ownProto: 'http' | 'https',
  isTrusted: (ip: string) => boolean,
): ForwardingInfo {
  const host = headers.host ?? '';
  if (!isTrusted(peerIp)) return { clientIp: peerIp, proto: ownProto, host };
  let clientIp = peerIp;
  const xff = headers['x-forwarded-for'];
  const chain = (Array.isArray(xff) ? xff.join(',') : (xff ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (let i = chain.length - 1; i >= 0; i--) {
    clientIp = chain[i];
    if (!isTrusted(clientIp)) break;
  }
  const fproto = firstValue(headers['x-forwarded-proto']);
  const fhost = firstValue(headers['x-forwarded-host']);
  return {
    clientIp,
    proto: fproto === 'https' || fproto === 'http' ? fproto : ownProto,
    host: fhost ?? host,
  };
}

function firstValue(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(',')[0].trim() || undefined;
}
