import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { PeerCertificate } from 'node:tls';
import type { Clock } from '../../core/clock.ts';
import { withDefaults } from '../../core/policy-config.ts';
import { BoundedCache } from '../../shared/bounded-cache.ts';
import { type ClientCertHeaderConfig, clientCertHeaderSchema } from './schema.ts';

/** A client certificate as the authenticate policy sees it: verified, refused (and why), or none. */
export type PresentedCertificate =
  | { readonly ok: true; readonly cert: PeerCertificate; readonly thumbprint: string }
  | { readonly ok: false; readonly reason: string; readonly detail: string };

/** RFC 9651 §3.3.5 Byte Sequence: `:` base64 `:`. Parameters are not defined for RFC 9440 fields. */
const BYTE_SEQUENCE = /^:([A-Za-z0-9+/]*={0,2}):$/;

/** id-kp-clientAuth and anyExtendedKeyUsage (RFC 5280 §4.2.1.12). */
const CLIENT_AUTH_USAGES = new Set(['1.3.6.1.5.5.7.3.2', '2.5.29.37.0']);

/** Reads every certificate of a PEM bundle; throws when there is none or one does not parse. */
export function readPemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found');
  return blocks.map((b) => new X509Certificate(b));
}

/** Decodes one RFC 9651 Byte Sequence (already trimmed); undefined if it is not canonical base64. */
function byteSequence(item: string): Buffer | undefined {
  const m = BYTE_SEQUENCE.exec(item);
  if (m === null || m[1] === '') return undefined;
  const b64 = m[1];
  // Node's decoder skips stray characters and bad padding: only accept text that round-trips.
  const bytes = Buffer.from(b64, 'base64');
  const again = bytes.toString('base64');
  if (again !== b64 && again.replace(/=+$/, '') !== b64) return undefined;
  return bytes;
}

function certificateOf(der: Buffer): X509Certificate | undefined {
  try {
    return new X509Certificate(der);
  } catch {
    return undefined;
  }
}

/** SP and HTAB around an item or list member (RFC 9651 §4.2, §4.2.1 OWS). */
const trimOws = (s: string) => s.replace(/^[ \t]+|[ \t]+$/g, '');

export type ParsedHeaders =
  | { readonly ok: true; readonly leaf: X509Certificate; readonly chain: readonly X509Certificate[] }
  | { readonly ok: false; readonly detail: string };

/**
 * Parses `Client-Cert` (an sf-binary DER certificate, RFC 9440 §2.2) and `Client-Cert-Chain` (an sf-list of
 * them, §2.3) strictly: bounded sizes and counts, canonical base64, no parameters, each a DER certificate.
 */
export function parseClientCertHeaders(
  certValue: string,
  chainValue: string | undefined,
  limits: { maxHeaderBytes: number; maxChainCertificates: number },
): ParsedHeaders {
  if (certValue.length > limits.maxHeaderBytes) return { ok: false, detail: 'Client-Cert is too long' };
  const leafDer = byteSequence(trimOws(certValue));
  if (leafDer === undefined) return { ok: false, detail: 'Client-Cert is not a byte sequence' };
  const leaf = certificateOf(leafDer);
  if (leaf === undefined) return { ok: false, detail: 'Client-Cert is not a DER certificate' };
  const chain: X509Certificate[] = [];
  if (chainValue !== undefined && trimOws(chainValue) !== '') {
    if (chainValue.length > limits.maxHeaderBytes) {
      return { ok: false, detail: 'Client-Cert-Chain is too long' };
    }
    const members = chainValue.split(',');
    if (members.length > limits.maxChainCertificates) {
      return { ok: false, detail: 'Client-Cert-Chain has too many certificates' };
    }
    for (const member of members) {
      const der = byteSequence(trimOws(member));
      const cert = der === undefined ? undefined : certificateOf(der);
      if (cert === undefined) return { ok: false, detail: 'Client-Cert-Chain holds a malformed certificate' };
      chain.push(cert);
    }
  }
  return { ok: true, leaf, chain };
}

/** `child` names `parent` as issuer (names, key identifiers) and carries its valid signature. */
function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

type Verdict =
  | { readonly ok: true; readonly path: readonly X509Certificate[] }
  | { readonly ok: false; readonly reason: string; readonly detail: string };

/**
 * Builds and checks the path from the leaf to one of the trust anchors, through intermediates of the
 * chain header, as the TLS listener would have: each certificate issued (and signed) by the next,
 * intermediates marked as CAs, every certificate of the path within its validity at `nowMs`, and a leaf
 * whose extended key usage, if any, allows client authentication. A configured CA may be an intermediate
 * itself (the path ends at the first configured certificate reached).
 */
export function verifyClientChain(
  leaf: X509Certificate,
  chain: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  nowMs: number,
): Verdict {
  const usages = leaf.keyUsage;
  if (usages !== undefined && !usages.some((u) => CLIENT_AUTH_USAGES.has(u))) {
    return {
      ok: false,
      reason: 'untrusted_certificate',
      detail: 'certificate is not for client authentication',
    };
  }
  const path: X509Certificate[] = [leaf];
  const pool = [...chain];
  let current = leaf;
  for (;;) {
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor !== undefined) {
      path.push(anchor);
      break;
    }
    const next = pool.findIndex((c) => c.ca && issuedBy(current, c));
    if (next === -1) {
      return { ok: false, reason: 'untrusted_certificate', detail: 'client certificate not trusted' };
    }
    current = pool[next];
    pool.splice(next, 1);
    path.push(current);
  }
  for (const c of path) {
    if (c.validFromDate.getTime() > nowMs || c.validToDate.getTime() < nowMs) {
      return {
        ok: false,
        reason: 'certificate_expired',
        detail: 'client certificate chain is outside its validity',
      };
    }
  }
  return { ok: true, path };
}

/** Verdicts are cached by header content: a refusal for this long, a success until its path expires. */
const REFUSAL_CACHE_MS = 60_000;
const CACHE_ENTRIES = 1000;

/**
 * Creates the reader of RFC 9440 headers for one API: parses, verifies against the configured CAs and
 * caches verdicts (bounded, keyed by a hash of the header values). The caller decides whether the peer
 * may assert these headers at all.
 */
export function createClientCertHeaderReader(
  cfg: ClientCertHeaderConfig,
  anchors: readonly X509Certificate[],
  clock: Clock,
): (headers: IncomingHttpHeaders) => PresentedCertificate | undefined {
  const limits = withDefaults(clientCertHeaderSchema, cfg);
  const cache = new BoundedCache<string, { result: PresentedCertificate; notBefore: number }>(CACHE_ENTRIES);
  return (headers) => {
    const certValue = headers['client-cert'];
    if (certValue === undefined) return undefined;
    const chainValue = headers['client-cert-chain'];
    const chainText = Array.isArray(chainValue) ? chainValue.join(',') : chainValue;
    const now = clock.now();
    if (typeof certValue !== 'string') {
      return { ok: false, reason: 'malformed_client_cert', detail: 'Client-Cert is repeated' };
    }
    // Bounded before hashing: the cache key costs no more than the limit.
    if (certValue.length > limits.maxHeaderBytes || (chainText?.length ?? 0) > limits.maxHeaderBytes) {
      return { ok: false, reason: 'malformed_client_cert', detail: 'client certificate header is too long' };
    }
    const key = createHash('sha256')
      .update(certValue)
      .update('\n')
      .update(chainText ?? '')
      .digest('base64url');
    const known = cache.get(key, now);
    if (known !== undefined && known.notBefore <= now) return known.result;
    const parsed = parseClientCertHeaders(certValue, chainText, limits);
    let result: PresentedCertificate;
    let expiresAt = now + REFUSAL_CACHE_MS;
    let notBefore = 0;
    if (!parsed.ok) {
      result = { ok: false, reason: 'malformed_client_cert', detail: parsed.detail };
    } else {
      const verdict = verifyClientChain(parsed.leaf, parsed.chain, anchors, now);
      if (verdict.ok) {
        result = {
          ok: true,
          cert: parsed.leaf.toLegacyObject(),
          thumbprint: createHash('sha256').update(parsed.leaf.raw).digest('base64url'),
        };
        expiresAt = Math.min(...verdict.path.map((c) => c.validToDate.getTime()));
        notBefore = Math.max(...verdict.path.map((c) => c.validFromDate.getTime()));
      } else {
        result = verdict;
        // A refusal for validity is not cached: the clock decides it afresh.
        if (verdict.reason === 'certificate_expired') expiresAt = now;
      }
    }
    cache.set(key, { result, notBefore }, expiresAt, now);
    return result;
  };
}
