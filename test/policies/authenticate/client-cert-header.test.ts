import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { createManualClock } from '../../../src/core/clock.ts';
import {
  echoHandler,
  type HttpResult,
  httpRequest,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../../harness.ts';
import { makePki, type Pem } from './pki.ts';

/** RFC 9440 §2.2: the DER certificate as an RFC 9651 byte sequence. */
const sfBinary = (pem: Pem) => `:${new X509Certificate(pem.cert).raw.toString('base64')}:`;
const thumbprint = (pem: Pem) =>
  createHash('sha256').update(new X509Certificate(pem.cert).raw).digest('base64url');

describe('RFC 9440 Client-Cert from a trusted TLS-terminating proxy, through the whole gateway', () => {
  let dir: string;
  let billing: Pem;
  let reports: Pem;
  let subCa: Pem;
  let stranger: Pem;
  let rogue: Pem;
  let serverOnly: Pem;
  let upstream: TestServer;
  let gw: TestGateway;
  let lastUpstream: IncomingHttpHeaders = {};
  const clock = createManualClock(Date.now());
  let signer: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwk: JWK;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-client-cert-'));
    const pki = makePki(dir);
    const ca = pki.caNamed('ca');
    pki.caNamed('rogue-ca');
    subCa = pki.intermediate('sub-ca', 'ca');
    billing = pki.leaf(
      'billing',
      '/CN=billing/O=Example',
      'URI:spiffe://example/billing',
      'ca',
      'clientAuth',
    );
    reports = pki.leaf('reports', '/CN=reports/O=Example', 'DNS:reports.internal', 'sub-ca', 'clientAuth');
    stranger = pki.leaf('stranger', '/CN=stranger/O=Example', 'DNS:stranger.internal', 'ca', 'clientAuth');
    rogue = pki.leaf(
      'rogue',
      '/CN=billing/O=Example',
      'URI:spiffe://example/billing',
      'rogue-ca',
      'clientAuth',
    );
    serverOnly = pki.leaf(
      'server-only',
      '/CN=billing/O=Example',
      'URI:spiffe://example/billing',
      'ca',
      'serverAuth',
    );
    // The clock starts once the certificates exist (their notBefore is the second they were made).
    clock.set(Date.now());
    signer = await generateKeyPair('ES256', { extractable: true });
    jwk = { ...(await exportJWK(signer.publicKey)), kid: 'k', alg: 'ES256' };
    upstream = await startServer((req, res) => {
      lastUpstream = req.headers;
      echoHandler(req, res);
    });
    const spec = openapi(
      {
        '/service': { get: op('serviceCall', { security: [{ mtls: [] }] }) },
        '/token': { get: op('tokenCall', { security: [{ bearer: [] }] }) },
        '/open': { get: op('openCall', { security: [] }) },
      },
      {
        components: {
          securitySchemes: { mtls: { type: 'mutualTLS' }, bearer: { type: 'http', scheme: 'bearer' } },
        },
      },
    );
    gw = await startGateway({
      specs: { 'api.yaml': spec, 'clients-ca.pem': ca.cert },
      runtime: { clock },
      config: {
        server: { trustedProxies: ['127.0.0.1/32'], maxHeaderBytes: 65536 },
        apis: [
          {
            name: 'internal',
            spec: 'api.yaml',
            upstream: { url: upstream.url },
            policies: {
              authenticate: {
                clientCertHeader: { caFile: 'clients-ca.pem' },
                schemes: {
                  mtls: {
                    mtls: {
                      consumers: [
                        { name: 'billing-service', san: 'URI:spiffe://example/billing', roles: ['billing'] },
                        { name: 'reports-service', subject: 'CN=reports,O=Example' },
                      ],
                    },
                  },
                  bearer: {
                    jwt: {
                      issuers: [
                        {
                          issuer: 'https://as.example.test',
                          keys: [jwk as Record<string, unknown>],
                          audiences: ['internal'],
                          algorithms: ['ES256'],
                        },
                      ],
                    },
                  },
                },
              },
            },
          },
        ],
      },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One request from a chosen loopback address: 127.0.0.1 is the trusted proxy, 127.0.0.2 is not. */
  function send(path: string, headers: Record<string, string>, from = '127.0.0.1'): Promise<HttpResult> {
    return httpRequest(gw.url, { path, headers, localAddress: from });
  }

  const lastReason = () => gw.events.findLast((e) => e['event.action'] === 'authenticate')?.['event.reason'];

  function boundToken(x5t: string) {
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT({
      iss: 'https://as.example.test',
      aud: 'internal',
      sub: 'svc',
      exp: now + 300,
      cnf: { 'x5t#S256': x5t },
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .sign(signer.privateKey);
  }

  test('maps a certificate from the trusted proxy to its consumer by SAN, as the TLS path does', async () => {
    const r = await send('/service', { 'client-cert': sfBinary(billing) });
    assert.equal(r.status, 200);
    assert.equal(lastUpstream['x-portcullis-consumer'], 'billing-service');
    assert.equal(lastUpstream['x-portcullis-roles'], 'billing');
    // The proxy's header goes on to the upstream unchanged.
    assert.equal(lastUpstream['client-cert'], sfBinary(billing));
  });

  test('follows an intermediate CA given in Client-Cert-Chain, and refuses the leaf without it', async () => {
    const withChain = await send('/service', {
      'client-cert': sfBinary(reports),
      'client-cert-chain': sfBinary(subCa),
    });
    assert.equal(withChain.status, 200);
    assert.equal(lastUpstream['x-portcullis-consumer'], 'reports-service');
    const without = await send('/service', { 'client-cert': sfBinary(reports) });
    assert.equal(without.status, 401);
    assert.equal(lastReason(), 'untrusted_certificate');
  });

  test('ignores the header from a peer that is not a trusted proxy, as if no certificate was sent', async () => {
    const r = await send('/service', { 'client-cert': sfBinary(billing) }, '127.0.0.2');
    assert.equal(r.status, 401);
    assert.equal(lastReason(), 'missing_credentials');
    assert.match(String(r.headers['www-authenticate']), /^Mutual realm="internal"$/);
  });

  test('never forwards a spoofed Client-Cert or Client-Cert-Chain upstream', async () => {
    const r = await send(
      '/open',
      { 'client-cert': sfBinary(billing), 'client-cert-chain': sfBinary(subCa) },
      '127.0.0.2',
    );
    assert.equal(r.status, 200);
    assert.equal(lastUpstream['client-cert'], undefined);
    assert.equal(lastUpstream['client-cert-chain'], undefined);
  });

  test('refuses a certificate issued by another CA with 401 untrusted_certificate', async () => {
    const r = await send('/service', { 'client-cert': sfBinary(rogue) });
    assert.equal(r.status, 401);
    assert.equal(lastReason(), 'untrusted_certificate');
  });

  test('refuses a certificate whose extended key usage is not client authentication', async () => {
    const r = await send('/service', { 'client-cert': sfBinary(serverOnly) });
    assert.equal(r.status, 401);
    assert.equal(lastReason(), 'untrusted_certificate');
  });

  test('refuses an expired certificate with 401 certificate_expired, by the clock and not a stale cache', async () => {
    assert.equal((await send('/service', { 'client-cert': sfBinary(billing) })).status, 200);
    const now = clock.now();
    clock.advance(3 * 24 * 3600 * 1000); // the test certificates are valid for 2 days
    try {
      const r = await send('/service', { 'client-cert': sfBinary(billing) });
      assert.equal(r.status, 401);
      assert.equal(lastReason(), 'certificate_expired');
    } finally {
      clock.set(now);
    }
    assert.equal((await send('/service', { 'client-cert': sfBinary(billing) })).status, 200);
  });

  test('answers malformed headers with 401 malformed_client_cert, never 500', async () => {
    const der = new X509Certificate(billing.cert).raw.toString('base64');
    const bad: Array<Record<string, string>> = [
      { 'client-cert': der }, // not a byte sequence
      { 'client-cert': `:${der}` },
      { 'client-cert': `:${der.slice(0, 40)}!${der.slice(40)}:` }, // not base64
      { 'client-cert': ':AAAA:' }, // not a certificate
      { 'client-cert': `:${der}:;param=1` }, // parameters are not defined by RFC 9440
      { 'client-cert': `${sfBinary(billing)}, ${sfBinary(billing)}` }, // two certificates
      { 'client-cert': `:${'A'.repeat(20_000)}:` }, // over 16 KiB
      { 'client-cert': sfBinary(reports), 'client-cert-chain': `${sfBinary(subCa)}, :AAAA:` },
      { 'client-cert': sfBinary(reports), 'client-cert-chain': Array(5).fill(sfBinary(subCa)).join(', ') },
    ];
    for (const headers of bad) {
      const r = await send('/service', headers);
      assert.equal(r.status, 401, JSON.stringify(headers).slice(0, 80));
      assert.equal(lastReason(), 'malformed_client_cert', JSON.stringify(headers).slice(0, 80));
    }
  });

  test('binds a token to the certificate in Client-Cert (RFC 8705 cnf.x5t#S256)', async () => {
    const auth = `Bearer ${await boundToken(thumbprint(billing))}`;
    const ok = await send('/token', { authorization: auth, 'client-cert': sfBinary(billing) });
    assert.equal(ok.status, 200);
    assert.equal(lastUpstream['x-portcullis-subject'], 'svc');
    const other = await send('/token', { authorization: auth, 'client-cert': sfBinary(stranger) });
    assert.equal(other.status, 401);
    assert.equal(lastReason(), 'certificate_mismatch');
    const none = await send('/token', { authorization: auth });
    assert.equal(none.status, 401);
    assert.equal(lastReason(), 'certificate_mismatch');
    const spoofed = await send(
      '/token',
      { authorization: auth, 'client-cert': sfBinary(billing) },
      '127.0.0.2',
    );
    assert.equal(spoofed.status, 401);
    assert.equal(lastReason(), 'certificate_mismatch');
  });
});
