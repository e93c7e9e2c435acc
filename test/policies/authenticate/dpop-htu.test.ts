import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import {
  httpRequest,
  op,
  openapi,
  startGateway,
  startServer,
  type TestGateway,
  type TestServer,
} from '../../harness.ts';
import { dpopProof, dpopToken } from './support.ts';

type Pair = Awaited<ReturnType<typeof generateKeyPair>>;

describe('DPoP htu against the real request URI, port included (RFC 9449 §4.3, RFC 3986 §6.2.3)', () => {
  let upstream: TestServer;
  let gw: TestGateway;
  let issuerKey: Pair;
  let holder: Pair;
  let holderJwk: JWK;
  let port: string;

  before(async () => {
    issuerKey = await generateKeyPair('ES256', { extractable: true });
    holder = await generateKeyPair('ES256', { extractable: true });
    holderJwk = await exportJWK(holder.publicKey);
    upstream = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    gw = await startGateway({
      specs: {
        'openapi.yaml': openapi(
          { '/strict': { get: op('strict', { security: [{ oauth: [] }] }) } },
          { components: { securitySchemes: { oauth: { type: 'http', scheme: 'bearer' } } } },
        ),
      },
      config: {
        apis: [
          {
            name: 'dpop',
            spec: 'openapi.yaml',
            upstream: { url: upstream.url },
            policies: {
              authenticate: {
                schemes: {
                  oauth: {
                    jwt: {
                      issuers: [
                        {
                          issuer: 'https://as.test',
                          keys: [{ ...(await exportJWK(issuerKey.publicKey)), kid: 'as', alg: 'ES256' }],
                          audiences: ['api'],
                          algorithms: ['ES256'],
                        },
                      ],
                    },
                    dpop: { required: true },
                  },
                },
              },
            },
          },
        ],
      },
    });
    port = new URL(gw.url).port;
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const token = () => dpopToken(issuerKey.privateKey, holderJwk);
  const proof = (htu: string, tok: string) => dpopProof(holder.privateKey, holderJwk, htu, tok);
  /** Sends GET /strict with the given Host and a proof for `htu`; answers the status and the event reason. */
  async function send(host: string, htu: string): Promise<[number, unknown]> {
    const tok = await token();
    const res = await httpRequest(gw.url, {
      path: '/strict',
      headers: { host, authorization: `DPoP ${tok}`, dpop: await proof(htu, tok) },
    });
    const reason = res.status === 200 ? undefined : gw.events.at(-1)?.['event.reason'];
    return [res.status, reason];
  }

  test('accepts a DPoP proof whose htu names the non-default port the request came to', async () => {
    assert.deepEqual(await send(`127.0.0.1:${port}`, `http://127.0.0.1:${port}/strict`), [200, undefined]);
    assert.deepEqual(await send(`api.test:${port}`, `HTTP://API.test:${port}/strict?q=1#f`), [
      200,
      undefined,
    ]);
  });

  test('refuses a DPoP proof whose htu leaves out the non-default port of the request', async () => {
    assert.deepEqual(await send(`127.0.0.1:${port}`, 'http://127.0.0.1/strict'), [401, 'dpop_wrong_htu']);
    assert.deepEqual(await send(`127.0.0.1:${port}`, 'http://127.0.0.1:80/strict'), [401, 'dpop_wrong_htu']);
  });

  test('refuses a DPoP proof whose htu names another port, scheme or path than the request', async () => {
    for (const htu of [
      `http://127.0.0.1:${Number(port) + 1}/strict`,
      `https://127.0.0.1:${port}/strict`,
      `http://127.0.0.1:${port}/other`,
      `http://user@127.0.0.1:${port}/strict`,
    ]) {
      assert.deepEqual(await send(`127.0.0.1:${port}`, htu), [401, 'dpop_wrong_htu'], htu);
    }
  });

  test('treats the default port, written or not, in htu or in Host, as the same URI', async () => {
    for (const [host, htu] of [
      ['api.test', 'http://api.test/strict'],
      ['api.test', 'http://api.test:80/strict'],
      ['api.test:80', 'http://api.test/strict'],
      ['API.test:80', 'http://api.TEST:80/strict'],
    ]) {
      assert.deepEqual(await send(host, htu), [200, undefined], `${host} ${htu}`);
    }
    assert.deepEqual(await send('api.test', 'http://api.test:443/strict'), [401, 'dpop_wrong_htu']);
    assert.deepEqual(await send('api.test', 'https://api.test/strict'), [401, 'dpop_wrong_htu']);
  });
});
