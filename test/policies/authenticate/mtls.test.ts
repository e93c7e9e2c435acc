import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { Agent, request } from 'undici';
import type { PolicyHandler } from '../../../src/core/policy.ts';
import { authenticatePolicy } from '../../../src/policies/authenticate/policy.ts';
import type { AuthenticateConfig } from '../../../src/policies/authenticate/schema.ts';
import { createTestContext, specOf } from '../../kit/policy.ts';
import { type PassedBody, type PolicyServer, servePolicies } from '../../kit/policy-server.ts';
import { makePki, type Pem } from './pki.ts';

describe('mTLS client certificates', () => {
  let dir: string;
  let pki: { ca: Pem; rogueCa: Pem; server: Pem; billing: Pem; stranger: Pem; rogue: Pem };
  let server: PolicyServer;
  let t: ReturnType<typeof createTestContext>;
  let signer: Awaited<ReturnType<typeof generateKeyPair>>;
  let jwk: JWK;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-mtls-'));
    const p = makePki(dir);
    const ca = p.caNamed('ca');
    const rogueCa = p.caNamed('rogue-ca');
    pki = {
      ca,
      rogueCa,
      server: p.leaf('server', '/CN=127.0.0.1', 'IP:127.0.0.1', 'ca', 'serverAuth'),
      billing: p.leaf('billing', '/CN=billing/O=Example', 'DNS:billing.internal', 'ca', 'clientAuth'),
      stranger: p.leaf('stranger', '/CN=stranger/O=Elsewhere', 'DNS:stranger.internal', 'ca', 'clientAuth'),
      rogue: p.leaf('rogue', '/CN=billing/O=Example', 'DNS:billing.internal', 'rogue-ca', 'clientAuth'),
    };
    signer = await generateKeyPair('ES256', { extractable: true });
    jwk = { ...(await exportJWK(signer.publicKey)), kid: 'k', alg: 'ES256' };
    const spec = specOf({
      securitySchemes: { mtls: { type: 'mutualTLS' }, bearer: { type: 'http', scheme: 'bearer' } },
      paths: {
        '/cert': { get: { operationId: 'byCert', security: [{ mtls: [] }], responses: {} } },
        '/token': { get: { operationId: 'byToken', security: [{ bearer: [] }], responses: {} } },
      },
    });
    const config: AuthenticateConfig = {
      mode: 'enforce',
      schemes: {
        mtls: {
          mtls: {
            consumers: [{ name: 'billing-service', subject: 'CN=billing,O=Example', roles: ['billing'] }],
          },
        },
        bearer: {
          jwt: {
            issuers: [
              {
                issuer: 'https://as.test',
                keys: [jwk as Record<string, unknown>],
                audiences: ['api'],
                algorithms: ['ES256'],
              },
            ],
          },
        },
      },
    };
    t = createTestContext(spec);
    server = await servePolicies(
      spec,
      (op) => [authenticatePolicy.compile(config, t.ctx(op.id)) as PolicyHandler],
      {
        https: {
          cert: pki.server.cert,
          key: pki.server.key,
          ca: pki.ca.cert,
          requestCert: true,
          rejectUnauthorized: false,
        },
      },
    );
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function get(path: string, client?: Pem, headers: Record<string, string> = {}) {
    const dispatcher = new Agent({ connect: { ca: pki.ca.cert, ...(client ?? {}) } });
    try {
      const res = await request(`${server.url}${path}`, { dispatcher, headers });
      return { status: res.statusCode, body: (await res.body.json()) as PassedBody };
    } finally {
      await dispatcher.close();
    }
  }

  const thumbprint = (pem: Pem) =>
    createHash('sha256').update(new X509Certificate(pem.cert).raw).digest('base64url');

  function boundToken(x5t: string) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: 'https://as.test',
      aud: 'api',
      sub: 'svc',
      exp: now + 60,
      cnf: { 'x5t#S256': x5t },
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .sign(signer.privateKey);
  }

  test('maps a certificate from a trusted CA to its consumer by subject', async () => {
    const r = await get('/cert', pki.billing);
    assert.equal(r.status, 200);
    assert.deepEqual(
      [r.body.principal.consumer, r.body.principal.method, r.body.principal.roles],
      ['billing-service', 'mtls', ['billing']],
    );
  });

  test('refuses a certificate from an untrusted CA with 401', async () => {
    const r = await get('/cert', pki.rogue);
    assert.equal(r.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'untrusted_certificate');
  });

  test('refuses a trusted certificate that maps to no consumer', async () => {
    const r = await get('/cert', pki.stranger);
    assert.equal(r.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'unmapped_certificate');
  });

  test('refuses a request without a client certificate as missing credentials', async () => {
    const r = await get('/cert');
    assert.equal(r.status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'missing_credentials');
  });

  test('accepts a certificate-bound token only over TLS with that certificate (RFC 8705)', async () => {
    const token = await boundToken(thumbprint(pki.billing));
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await get('/token', pki.billing, auth)).status, 200);
    assert.equal((await get('/token', pki.stranger, auth)).status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'certificate_mismatch');
    assert.equal((await get('/token', undefined, auth)).status, 401);
    assert.equal(t.events.at(-1)?.['event.reason'], 'certificate_mismatch');
  });
});
