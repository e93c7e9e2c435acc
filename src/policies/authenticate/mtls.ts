import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { MtlsConfig } from './schema.ts';

/** The client certificate of a request, as verified by the TLS listener. */
export interface ClientCertificate {
  /** The listener verified the chain against its configured CAs. */
  readonly authorized: boolean;
  readonly cert: PeerCertificate;
  /** base64url SHA-256 of the DER certificate (RFC 8705 §3.1 `x5t#S256`). */
  readonly thumbprint: string;
}

export interface MtlsConsumer {
  readonly name: string;
  readonly roles: ReadonlySet<string>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/**
 * Reads the client certificate of the request's TLS socket; undefined on plain HTTP or when the client sent
 * none. Thumbprints are memoised per socket (keep-alive connections send many requests).
 */
export function createCertificateReader(): (req: IncomingMessage) => ClientCertificate | undefined {
  const perSocket = new WeakMap<object, ClientCertificate | null>();
  return (req) => {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function') return undefined;
    const known = perSocket.get(socket);
    if (known !== undefined) return known ?? undefined;
    const cert = socket.getPeerCertificate();
    let out: ClientCertificate | null = null;
    if (cert !== null && cert.raw !== undefined && Object.keys(cert).length > 0) {
      out = {
        authorized: socket.authorized === true,
        cert,
        thumbprint: createHash('sha256').update(cert.raw).digest('base64url'),
      };
    }
    perSocket.set(socket, out);
    return out ?? undefined;
  };
}

/** Splits `CN=a,O=b` into attribute pairs; commas inside values may be escaped as `\,`. */
function parseSubject(subject: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of subject.split(/(?<!\\),/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`subject "${subject}": expected ATTR=value pairs`);
    out.push([
      part.slice(0, eq).trim(),
      part
        .slice(eq + 1)
        .trim()
        .replace(/\\,/g, ','),
    ]);
  }
  return out;
}

function subjectMatches(want: Array<[string, string]>, have: Record<string, unknown>): boolean {
  for (const [k, v] of want) {
    const got = have[k];
    if (Array.isArray(got) ? !got.includes(v) : got !== v) return false;
  }
  return true;
}

/** Maps a verified certificate to a configured consumer by subject attributes or a subjectAltName entry. */
export function createCertificateMapper(
  cfg: MtlsConfig,
): (cert: PeerCertificate) => MtlsConsumer | undefined {
  const rules = (cfg.consumers ?? []).map((c, i) => {
    if (c.subject === undefined && c.san === undefined) {
      throw new Error(`consumers[${i}]: give subject or san`);
    }
    return {
      subject: c.subject === undefined ? undefined : parseSubject(c.subject),
      san: c.san,
      consumer: {
        name: c.name,
        roles: new Set(c.roles ?? []),
        metadata: Object.freeze({ ...(c.metadata ?? {}) }),
      } satisfies MtlsConsumer,
    };
  });
  return (cert) => {
    const sans = typeof cert.subjectaltname === 'string' ? cert.subjectaltname.split(', ') : [];
    for (const r of rules) {
      if (
        r.subject !== undefined &&
        !subjectMatches(r.subject, cert.subject as unknown as Record<string, unknown>)
      ) {
        continue;
      }
      if (r.san !== undefined && !sans.includes(r.san)) continue;
      return r.consumer;
    }
    return undefined;
  };
}

/** `CN` of the certificate subject, for unmapped certificates. */
export function commonName(cert: PeerCertificate): string {
  const cn = (cert.subject as unknown as Record<string, unknown> | undefined)?.CN;
  return typeof cn === 'string' ? cn : Array.isArray(cn) ? String(cn[0]) : 'unknown';
}
