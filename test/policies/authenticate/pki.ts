import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pem {
  cert: string;
  key: string;
}

/** Issues certificates with the openssl CLI in a temporary directory. */
export function makePki(dir: string) {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const read = (name: string): Pem => ({
    cert: readFileSync(join(dir, `${name}.crt`), 'utf8'),
    key: readFileSync(join(dir, `${name}.key`), 'utf8'),
  });
  function caNamed(name: string): Pem {
    run(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    return read(name);
  }
  /** A P-256 key and certificate `name` for `subject`, signed by the CA `issuer` with the given extensions. */
  function issue(name: string, subject: string, issuer: string, extensions: string): Pem {
    run(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      subject,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    writeFileSync(join(dir, `${name}.ext`), extensions);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.crt`,
      '-CAkey',
      `${issuer}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      `${name}.crt`,
      '-extfile',
      `${name}.ext`,
    );
    return read(name);
  }
  function leaf(name: string, subject: string, san: string, issuer: string, usage: string): Pem {
    return issue(name, subject, issuer, `subjectAltName=${san}\nextendedKeyUsage=${usage}\n`);
  }
  /** An intermediate CA named `name`, issued by the CA `issuer`. */
  function intermediate(name: string, issuer: string): Pem {
    return issue(
      name,
      `/CN=${name}`,
      issuer,
      'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n',
    );
  }
  /** A PEM revocation list of the CA `issuer` that revokes the certificates `revoked` (file names). */
  function crl(issuer: string, revoked: readonly string[]): string {
    const db = `${issuer}-index.txt`;
    writeFileSync(join(dir, db), '');
    writeFileSync(join(dir, `${issuer}-crlnumber`), '1000\n');
    writeFileSync(
      join(dir, `${issuer}-ca.cnf`),
      `[ca]\ndefault_ca = own\n[own]\ndatabase = ${db}\ncrlnumber = ${issuer}-crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n`,
    );
    const ca = ['-config', `${issuer}-ca.cnf`, '-keyfile', `${issuer}.key`, '-cert', `${issuer}.crt`];
    for (const name of revoked) run('ca', ...ca, '-revoke', `${name}.crt`);
    run('ca', ...ca, '-gencrl', '-out', `${issuer}.crl`);
    return readFileSync(join(dir, `${issuer}.crl`), 'utf8');
  }
  return { caNamed, leaf, intermediate, crl };
}

/**
 * A TLS listener on 127.0.0.1 (any port) serving `server.crt`/`server.key`; with `clientAuth`, it asks for
 * client certificates issued by `ca.crt` (not required unless `clientAuth` says so).
 */
export function tlsListener(clientAuth?: Record<string, unknown>) {
  return {
    host: '127.0.0.1',
    port: 0,
    tls: {
      certFile: 'server.crt',
      keyFile: 'server.key',
      ...(clientAuth ? { clientAuth: { caFile: 'ca.crt', required: false, ...clientAuth } } : {}),
    },
  };
}
