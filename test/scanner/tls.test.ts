import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { probeTls } from '../../src/scanner/scan/checks/tls.ts';
import { createScanClient } from '../../src/scanner/scan/client.ts';

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI. */
async function certificate(dir: string, days: number): Promise<{ key: string; cert: string }> {
  const key = path.join(dir, `k${days}.pem`);
  const cert = path.join(dir, `c${days}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      String(days),
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key: await readFile(key, 'utf8'), cert: await readFile(cert, 'utf8') };
}

async function listen(options: https.ServerOptions): Promise<{ url: URL; server: https.Server }> {
  const server = https.createServer(options, (_req, res) => res.end('{}'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`), server };
}

describe('TLS probe of an https target', () => {
  let dir: string;
  let longLived: { key: string; cert: string };
  let shortLived: { key: string; cert: string };
  const servers: https.Server[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'portcullis-tls-'));
    longLived = await certificate(dir, 90);
    shortLived = await certificate(dir, 3);
  });

  after(async () => {
    for (const s of servers) s.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('reports TLS 1.0 and 1.1 accepted and a certificate that does not verify', async () => {
    const { url, server } = await listen({
      ...longLived,
      minVersion: 'TLSv1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    servers.push(server);
    assert.deepEqual(await probeTls(url, { timeoutMs: 2000 }), [
      { kind: 'protocol', detail: 'TLSv1 accepted' },
      { kind: 'protocol', detail: 'TLSv1.1 accepted' },
      { kind: 'certificate', detail: 'certificate does not verify (DEPTH_ZERO_SELF_SIGNED_CERT)' },
    ]);
  });

  test('reports nothing for TLS 1.2+ with a trusted certificate', async () => {
    const { url, server } = await listen({ ...longLived, minVersion: 'TLSv1.2' });
    servers.push(server);
    assert.deepEqual(await probeTls(url, { timeoutMs: 2000, ca: longLived.cert }), []);
  });

  test('reports a certificate that expires within 14 days', async () => {
    const { url, server } = await listen({ ...shortLived, minVersion: 'TLSv1.2' });
    servers.push(server);
    assert.deepEqual(await probeTls(url, { timeoutMs: 2000, ca: shortLived.cert }), [
      { kind: 'certificate', detail: 'certificate expires in 2 days' },
    ]);
  });

  test('probes nothing on plain http', async () => {
    assert.deepEqual(await probeTls(new URL('http://127.0.0.1:1/'), { timeoutMs: 100 }), []);
  });

  test('the scan client trusts an extra CA, and verifies certificates by default', async () => {
    const { url, server } = await listen({ ...longLived, minVersion: 'TLSv1.2' });
    servers.push(server);
    const trusting = createScanClient({
      target: url.href,
      concurrency: 1,
      ratePerSecond: 100,
      timeoutMs: 2000,
      ca: longLived.cert,
    });
    assert.equal((await trusting.send({ method: 'GET', path: '/' })).status, 200);
    await trusting.close();
    const strict = createScanClient({
      target: url.href,
      concurrency: 1,
      ratePerSecond: 100,
      timeoutMs: 2000,
    });
    assert.equal(await strict.trySend({ method: 'GET', path: '/' }), undefined);
    await strict.close();
  });
});
