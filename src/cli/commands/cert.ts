import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { CliError } from '../errors.ts';

export interface CertOptions {
  readonly outDir: string;
  readonly hosts: readonly string[];
  readonly days: number;
  readonly out: (line: string) => void;
}

/**
 * `portcullis cert create`: a self-signed ECDSA P-256 certificate and key for trying HTTPS locally,
 * made with the `openssl` command. Not for production: use a real CA.
 */
export async function createCert(opts: CertOptions): Promise<{ certFile: string; keyFile: string }> {
  await mkdir(opts.outDir, { recursive: true });
  const certFile = path.join(opts.outDir, 'cert.pem');
  const keyFile = path.join(opts.outDir, 'key.pem');
  const san = opts.hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  try {
    await promisify(execFile)('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      String(opts.days),
      '-subj',
      `/CN=${opts.hosts[0]}`,
      '-addext',
      `subjectAltName=${san}`,
    ]);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CliError('cert create needs the openssl command (apt-get install openssl)');
    throw new CliError(
      `openssl failed: ${
        String((err as { stderr?: string }).stderr ?? err)
          .trim()
          .split('\n')[0]
      }`,
    );
  }
  opts.out(`wrote ${certFile} and ${keyFile} (self-signed for ${opts.hosts.join(', ')}, ${opts.days} days)`);
  return { certFile, keyFile };
}
