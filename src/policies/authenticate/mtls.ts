import { createHash, type X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Clock } from '../../core/clock.ts';
import type { Exchange } from '../../core/exchange.ts';
import { withDefaults } from '../../core/policy-config.ts';
import {
  createClientCertHeaderReader,
  type PresentedCertificate,
  readPemCertificates,
} from './client-cert-header.ts';
import { type Consumer, consumerOf } from './credential.ts';
import { type ClientCertHeaderConfig, type MtlsConfig, mtlsSchema } from './schema.ts';

/**
 * Where the client certificate of a request comes from: the TLS socket (verified by the listener), or,
 * when `clientCertHeader` is configured and the peer is a trusted proxy, the RFC 9440 `Client-Cert` header
 * (verified here). A trusted proxy's own TLS certificate is never taken for the client's.
 */
export type CertificateSource = (ex: Exchange) => PresentedCertificate | undefined;

/**
 * Creates the certificate source of one API. Socket certificates are read and hashed once per socket
 * (keep-alive connections send many requests).
 * @throws Error when the configured CA certificates cannot be read.
 */
export function createCertificateSource(
  headerCfg: ClientCertHeaderConfig | undefined,
  clock: Clock,
): CertificateSource {
  const perSocket = new WeakMap<object, PresentedCertificate | null>();
  const fromSocket = (req: IncomingMessage): PresentedCertificate | undefined => {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function') return undefined;
    const known = perSocket.get(socket);
    if (known !== undefined) return known ?? undefined;
    const cert = socket.getPeerCertificate();
    let out: PresentedCertificate | null = null;
    if (cert !== null && cert.raw !== undefined && Object.keys(cert).length > 0) {
      out =
        socket.authorized === true
          ? { ok: true, cert, thumbprint: createHash('sha256').update(cert.raw).digest('base64url') }
          : { ok: false, reason: 'untrusted_certificate', detail: 'client certificate not trusted' };
    }
    perSocket.set(socket, out);
    return out ?? undefined;
  };
  if (headerCfg === undefined) return (ex) => fromSocket(ex.req);
  const fromHeader = createClientCertHeaderReader(headerCfg, trustAnchors(headerCfg), clock);
  return (ex) => (ex.fromTrustedProxy === true ? fromHeader(ex.req.headers) : fromSocket(ex.req));
}

function trustAnchors(cfg: ClientCertHeaderConfig): X509Certificate[] {
  if ((cfg.ca === undefined) === (cfg.caFile === undefined))
    throw new Error('give exactly one of caFile, ca');
  let pem: string;
  if (cfg.ca !== undefined) pem = cfg.ca;
  else {
    try {
      pem = readFileSync(cfg.caFile!, 'utf8');
    } catch (err) {
      throw new Error(
        `caFile ${cfg.caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }
  try {
    return readPemCertificates(pem);
  } catch (err) {
    throw new Error(`${cfg.ca !== undefined ? 'ca' : `caFile ${cfg.caFile}`}: ${(err as Error).message}`);
  }
}

/** The consumer a certificate maps to. */
export type MtlsConsumer = Consumer;

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
  const rules = withDefaults(mtlsSchema, cfg).consumers.map((c, i) => {
    if (c.subject === undefined && c.san === undefined) {
      throw new Error(`consumers[${i}]: give subject or san`);
    }
    return {
      subject: c.subject === undefined ? undefined : parseSubject(c.subject),
      san: c.san,
      consumer: consumerOf(c) satisfies MtlsConsumer,
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
