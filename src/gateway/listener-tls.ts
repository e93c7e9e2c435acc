import { type FSWatcher, readFileSync, watch } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { Logger } from 'pino';
import type { ListenerConfig } from '../core/config.ts';

/** A listener's TLS: the server options read from its files, checked, and reloaded when they change. */

type TlsConfig = NonNullable<ListenerConfig['tls']>;

/**
 * Mozilla "intermediate" TLS 1.2 ciphers (guidelines 6.0); TLS 1.3 suites are OpenSSL's defaults.
 * The client's preference order is honoured (honorCipherOrder false), as the guidelines advise.
 */
export const INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** Key exchange groups, post-quantum hybrid first (OpenSSL 3.5 in Node 24 has X25519MLKEM768). */
export const GROUPS = 'X25519MLKEM768:X25519:prime256v1:secp384r1';

/** Reads one of a listener's TLS files; a failure names the config field and the file. */
function readTlsFile(file: string, field: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${field}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * The HTTPS options of a listener, checked: `at` names the listener in errors (`server.listen[0].tls`),
 * so a file that cannot be read or parsed is reported by its config field.
 */
export function tlsOptions(l: TlsConfig, at: string): https.ServerOptions {
  const opts: https.ServerOptions = {
    cert: readTlsFile(l.certFile, `${at}.certFile`),
    key: readTlsFile(l.keyFile, `${at}.keyFile`),
    minVersion: l.minVersion,
    ciphers: INTERMEDIATE_CIPHERS,
    ecdhCurve: GROUPS,
    honorCipherOrder: false,
    ...(l.clientAuth
      ? {
          requestCert: true,
          rejectUnauthorized: l.clientAuth.required,
          ca: readTlsFile(l.clientAuth.caFile, `${at}.clientAuth.caFile`),
          // OpenSSL then checks every certificate of a client chain against its CA's list.
          ...(l.clientAuth.crlFile !== undefined
            ? { crl: readTlsFile(l.clientAuth.crlFile, `${at}.clientAuth.crlFile`) }
            : {}),
        }
      : {}),
  };
  try {
    const checked = withSupportedGroups(opts);
    https.createServer(checked).close(); // throws on a key that does not match, or a file that does not parse
    return checked;
  } catch (err) {
    throw new Error(`${at}: ${(err as Error).message}`);
  }
}

/** Key exchange groups this OpenSSL knows; falls back to classical groups on an older build. */
function withSupportedGroups(opts: https.ServerOptions): https.ServerOptions {
  try {
    https.createServer(opts).close();
    return opts;
  } catch {
    return { ...opts, ecdhCurve: 'X25519:prime256v1:secp384r1' };
  }
}

/**
 * Watches a listener's certificate, key, client CAs and revocation lists; on change, builds the new
 * context first (a bad pair or an unreadable file is logged and ignored) and then swaps it in.
 * Established connections keep their session.
 * The folder is watched, not the files, so atomic renames (Kubernetes `..data` swaps) are seen.
 */
export function watchCertificate(
  tls: TlsConfig,
  at: string,
  apply: (opts: https.ServerOptions) => void,
  logger: Logger,
): FSWatcher[] {
  const files = [tls.certFile, tls.keyFile, tls.clientAuth?.caFile, tls.clientAuth?.crlFile];
  const dirs = new Set(files.filter((f): f is string => f !== undefined).map((f) => path.dirname(f)));
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      try {
        apply(tlsOptions(tls, at));
        logger.info({ certFile: tls.certFile }, 'TLS certificate reloaded');
      } catch (err) {
        logger.error(
          { err: (err as Error).message, certFile: tls.certFile },
          'TLS certificate reload failed; keeping the old one',
        );
      }
    }, 100);
    timer.unref();
  };
  return [...dirs].map((d) => {
    const w = watch(d, { persistent: false }, reload);
    w.on('error', () => {});
    return w;
  });
}
