import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import {
  echoHandler,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../../harness.ts';
import { makePki, type Pem, tlsListener } from './pki.ts';

describe('mTLS listener with a certificate revocation list', () => {
  let dir: string;
  let ca: Pem;
  let billing: Pem;
  let payroll: Pem;
  let pki: ReturnType<typeof makePki>;
  let upstream: TestServer;
  let gw: TestGateway;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-gw-crl-'));
    pki = makePki(dir);
    ca = pki.caNamed('ca');
    const server = pki.leaf('server', '/CN=127.0.0.1', 'IP:127.0.0.1', 'ca', 'serverAuth');
    billing = pki.leaf('billing', '/CN=billing', 'URI:spiffe://example/billing', 'ca', 'clientAuth');
    payroll = pki.leaf('payroll', '/CN=payroll', 'URI:spiffe://example/payroll', 'ca', 'clientAuth');
    // The list the gateway starts with revokes payroll's certificate.
    const crl = pki.crl('ca', ['payroll']);
    upstream = await startServer(echoHandler);
    gw = await startGateway({
      specs: {
        'api.yaml': openapi(
          { '/service': { get: op('serviceCall', { security: [{ mtls: [] }] }) } },
          { components: { securitySchemes: { mtls: { type: 'mutualTLS' } } } },
        ),
        'server.crt': server.cert,
        'server.key': server.key,
        'ca.crt': ca.cert,
        'revoked.crl': crl,
      },
      config: {
        server: {
          listen: [tlsListener({ crlFile: 'revoked.crl' })],
        },
        apis: [
          {
            name: 'internal',
            spec: 'api.yaml',
            upstream: { url: upstream.url },
            policies: {
              authenticate: {
                schemes: {
                  mtls: {
                    mtls: {
                      consumers: [
                        { name: 'billing-service', san: 'URI:spiffe://example/billing' },
                        { name: 'payroll-service', san: 'URI:spiffe://example/payroll' },
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

  async function status(client: Pem): Promise<number> {
    // A new agent per call: a new TLS handshake, so the list in force now is the one applied.
    const dispatcher = new Agent({ connect: { ca: ca.cert, ...client } });
    try {
      const res = await request(`${gw.url}/service`, { dispatcher });
      await res.body.text();
      return res.statusCode;
    } finally {
      await dispatcher.close();
    }
  }

  test('accepts a certificate the list does not name, refuses the revoked one', async () => {
    assert.equal(await status(billing), 200);
    assert.equal(await status(payroll), 401);
  });

  test('applies a new list written in place of the old one, without a restart', async () => {
    // Revoke billing too; the new file replaces the old one by rename, as a deployment tool would.
    const next = pki.crl('ca', ['payroll', 'billing']);
    writeFileSync(join(gw.dir, 'revoked.crl.new'), next);
    renameSync(join(gw.dir, 'revoked.crl.new'), join(gw.dir, 'revoked.crl'));
    let got = 200;
    for (let i = 0; i < 100 && got === 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      got = await status(billing);
    }
    assert.equal(got, 401);
    assert.equal(await status(payroll), 401);
  });
});
