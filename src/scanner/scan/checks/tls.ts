/** TLS of an https target: outdated protocol versions accepted, certificates that do not verify or expire soon. */
import tls from 'node:tls';

export interface TlsProblem {
  readonly kind: 'protocol' | 'certificate';
  readonly detail: string;
}

export interface TlsProbeOptions {
  /** Extra trusted CA certificates (PEM). */
  readonly ca?: string;
  readonly timeoutMs: number;
  /** A certificate expiring sooner than this is a problem. Default 14 days. */
  readonly expiryWarningDays?: number;
}

const OUTDATED = ['TLSv1', 'TLSv1.1'] as const;

interface Handshake {
  readonly ok: boolean;
  readonly code?: string;
  readonly validTo?: string;
}

function handshake(url: URL, options: tls.ConnectionOptions, timeoutMs: number): Promise<Handshake> {
  return new Promise((resolve) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = tls.connect({
      host,
      port: Number(url.port || 443),
      // SNI carries names only, never address literals (RFC 6066 §3).
      ...(/^[\d.:]+$/.test(host) ? {} : { servername: host }),
      ...options,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, code: 'ETIMEDOUT' });
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const validTo = socket.getPeerCertificate()?.valid_to;
      socket.destroy();
      resolve(validTo ? { ok: true, validTo } : { ok: true });
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(err.code ? { ok: false, code: err.code } : { ok: false });
    });
  });
}

/** Probes an https URL; an http URL has nothing to probe. */
export async function probeTls(url: URL, options: TlsProbeOptions): Promise<TlsProblem[]> {
  if (url.protocol !== 'https:') return [];
  const problems: TlsProblem[] = [];
  for (const version of OUTDATED) {
    // SECLEVEL=0 lets this client offer the old protocols at all; the question is whether the server agrees.
    const res = await handshake(
      url,
      { minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false },
      options.timeoutMs,
    );
    if (res.ok) problems.push({ kind: 'protocol', detail: `${version} accepted` });
  }
  const verified = await handshake(url, options.ca ? { ca: options.ca } : {}, options.timeoutMs);
  if (!verified.ok && verified.code !== 'ETIMEDOUT' && verified.code !== 'ECONNREFUSED') {
    problems.push({
      kind: 'certificate',
      detail: `certificate does not verify (${verified.code ?? 'unknown error'})`,
    });
  } else if (verified.ok && verified.validTo) {
    const days = (Date.parse(verified.validTo) - Date.now()) / 86_400_000;
    if (days < (options.expiryWarningDays ?? 14)) {
      problems.push({
        kind: 'certificate',
        detail: `certificate expires in ${Math.max(0, Math.floor(days))} days`,
      });
    }
  }
  return problems;
}
