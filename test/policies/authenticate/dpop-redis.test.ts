import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { PolicyHandler } from '../../../src/core/policy.ts';
import { problems } from '../../../src/core/problems.ts';
import { authenticatePolicy } from '../../../src/policies/authenticate/policy.ts';
import type { AuthenticateConfig } from '../../../src/policies/authenticate/schema.ts';
import { createRedisStore } from '../../../src/state/redis-store.ts';
import type { StateStore } from '../../../src/state/store.ts';
import { createTestContext, specOf } from '../../kit/policy.ts';
import { type PolicyServer, servePolicies } from '../../kit/policy-server.ts';
import { REDIS_URL } from '../../kit/redis.ts';
import { dpopProof, dpopToken } from './support.ts';

const spec = specOf({
  securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
  paths: { '/things': { get: { operationId: 'things', security: [{ bearer: [] }], responses: {} } } },
});

/** GET with an explicit Host header (fetch does not allow setting it). */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('DPoP replay cache shared through Redis', () => {
  const prefix = `pc-test-dpop-${randomUUID()}:`;
  let stores: StateStore[] = [];
  let servers: PolicyServer[] = [];
  let issuer: Awaited<ReturnType<typeof generateKeyPair>>;
  let holder: Awaited<ReturnType<typeof generateKeyPair>>;
  let holderJwk: JWK;
  let config: AuthenticateConfig;

  async function instance(store: StateStore) {
    const t = createTestContext(spec, { store });
    const s = await servePolicies(spec, (op) => [
      authenticatePolicy.compile(config, t.ctx(op.id)) as PolicyHandler,
    ]);
    servers.push(s);
    return s;
  }

  before(async () => {
    issuer = await generateKeyPair('ES256', { extractable: true });
    holder = await generateKeyPair('ES256', { extractable: true });
    holderJwk = await exportJWK(holder.publicKey);
    const key = { ...(await exportJWK(issuer.publicKey)), kid: 'as', alg: 'ES256' };
    config = {
      mode: 'enforce',
      schemes: {
        bearer: {
          jwt: {
            issuers: [{ issuer: 'https://as.test', keys: [key], audiences: ['api'], algorithms: ['ES256'] }],
          },
          dpop: { required: true },
        },
      },
    };
  });
  after(async () => {
    for (const s of servers) await s.close();
    for (const s of stores) await s.close();
    servers = [];
    stores = [];
  });

  const boundToken = () => dpopToken(issuer.privateKey, holderJwk);
  const proof = (htu: string, token: string) => dpopProof(holder.privateKey, holderJwk, htu, token);

  test('refuses on a second gateway instance a proof already used on the first', async () => {
    const a = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
    const b = createRedisStore({ url: REDIS_URL, keyPrefix: prefix });
    stores.push(a, b);
    // The stores never queue a command before their connection is up (that would answer 503).
    assert.deepEqual(await Promise.all([a.whenReady(5000), b.whenReady(5000)]), [true, true]);
    const first = await instance(a);
    const second = await instance(b);
    const token = await boundToken();
    // Both instances serve the same public URI behind a balancer; the proof names that URI.
    const p = await proof('http://api.example/things', token);
    const headers = { authorization: `DPoP ${token}`, dpop: p, host: 'api.example' };
    assert.equal((await get(`${first.url}/things`, headers)).status, 200);
    const replay = await get(`${second.url}/things`, headers);
    assert.equal(replay.status, 401);
    assert.equal((JSON.parse(replay.body) as { type: string }).type, problems.invalidDpopProof.type);
  });

  test('fails closed with 503 when the replay cache cannot be reached', async () => {
    const down = createRedisStore({ url: 'redis://127.0.0.1:1', keyPrefix: prefix, commandTimeoutMs: 200 });
    stores.push(down);
    const s = await instance(down);
    const token = await boundToken();
    const dpop = await proof('http://api.example/things', token);
    const res = await get(`${s.url}/things`, { authorization: `DPoP ${token}`, dpop, host: 'api.example' });
    assert.equal(res.status, 503, res.body);
  });
});
