import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { createApiKey } from '../../../src/policies/authenticate/api-key.ts';
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

describe('mTLS and API keys through the whole gateway (TLS listener with clientAuth)', () => {
  let dir: string;
  let ca: Pem;
  let billing: Pem;
  let rogue: Pem;
  let upstream: TestServer;
  let gw: TestGateway;
  let lastUpstream: Record<string, unknown> = {};
  const partnerKey = createApiKey();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-gw-mtls-'));
    const pki = makePki(dir);
    ca = pki.caNamed('ca');
    pki.caNamed('rogue-ca');
    const server = pki.leaf('server', '/CN=127.0.0.1', 'IP:127.0.0.1', 'ca', 'serverAuth');
    billing = pki.leaf(
      'billing',
      '/CN=billing/O=Example',
      'URI:spiffe://example/billing',
      'ca',
      'clientAuth',
    );
    rogue = pki.leaf(
      'rogue',
      '/CN=billing/O=Example',
      'URI:spiffe://example/billing',
      'rogue-ca',
      'clientAuth',
    );
    upstream = await startServer((req, res) => {
      lastUpstream = req.headers;
      echoHandler(req, res);
    });
    const spec = openapi(
      {
        '/service': { get: op('serviceCall', { security: [{ mtls: [] }] }) },
        '/partner': { get: op('partnerCall', { security: [{ partnerKey: [] }] }) },
        '/open': { get: op('openCall', { security: [] }) },
      },
      {
        components: {
          securitySchemes: {
            mtls: { type: 'mutualTLS' },
            partnerKey: { type: 'apiKey', in: 'query', name: 'api_key' },
          },
        },
      },
    );
    gw = await startGateway({
      specs: {
        'api.yaml': spec,
        'server.crt': server.cert,
        'server.key': server.key,
        'ca.crt': ca.cert,
      },
      config: {
        server: {
          listen: [tlsListener({})],
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
                        { name: 'billing-service', san: 'URI:spiffe://example/billing', roles: ['billing'] },
                      ],
                    },
                  },
                  partnerKey: { apiKey: { consumers: [{ name: 'partner-a', keys: [partnerKey.hash] }] } },
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

  async function get(path: string, client?: Pem, headers: Record<string, string> = {}) {
    const dispatcher = new Agent({ connect: { ca: ca.cert, ...(client ?? {}) } });
    try {
      const res = await request(`${gw.url}${path}`, { dispatcher, headers });
      await res.body.text();
      return res.statusCode;
    } finally {
      await dispatcher.close();
    }
  }

  test('forwards a caller whose certificate maps to a consumer by SAN, naming it upstream', async () => {
    assert.equal(await get('/service', billing), 200);
    assert.equal(lastUpstream['x-portcullis-consumer'], 'billing-service');
    assert.equal(lastUpstream['x-portcullis-roles'], 'billing');
  });

  test('refuses a certificate from another CA and a request without certificate with 401', async () => {
    assert.equal(await get('/service', rogue), 401);
    assert.equal(await get('/service'), 401);
    const reasons = gw.events
      .filter((e) => e['event.action'] === 'authenticate')
      .map((e) => e['event.reason']);
    assert.deepEqual(reasons.slice(-2), ['untrusted_certificate', 'missing_credentials']);
  });

  test('accepts an API key from the query string as the spec declares it', async () => {
    assert.equal(await get(`/partner?api_key=${partnerKey.key}`), 200);
    assert.equal(lastUpstream['x-portcullis-consumer'], 'partner-a');
    assert.equal(await get('/partner?api_key=pck_wrong'), 401);
  });

  test('never lets a client forge the identity headers upstream', async () => {
    const forged = {
      'x-portcullis-subject': 'admin',
      'x-portcullis-consumer': 'billing-service',
      'x-portcullis-roles': 'admin',
    };
    assert.equal(await get('/open', undefined, forged), 200);
    assert.equal(lastUpstream['x-portcullis-subject'], undefined);
    assert.equal(lastUpstream['x-portcullis-consumer'], undefined);
    assert.equal(lastUpstream['x-portcullis-roles'], undefined);
  });
});
