import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { createManualClock } from '../../../src/core/clock.ts';
import { createIntrospector } from '../../../src/policies/authenticate/introspection.ts';
import type { IntrospectionConfig } from '../../../src/policies/authenticate/schema.ts';

const logger = pino({ level: 'silent' });

/** A small RFC 7662 endpoint on loopback: knows a few tokens, requires client authentication. */
async function startIntrospectionServer(clock: { now(): number }) {
  const tokens = new Map<string, Record<string, unknown>>();
  const seen: Array<{ auth: string | undefined; form: URLSearchParams }> = [];
  let down = false;
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (down) {
        res.writeHead(500).end();
        return;
      }
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      seen.push({ auth: req.headers.authorization, form });
      const basicOk = req.headers.authorization === `Basic ${Buffer.from('gw:gw-secret').toString('base64')}`;
      const postOk = form.get('client_id') === 'gw' && form.get('client_secret') === 'gw-secret';
      if (!basicOk && !postOk) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
        return;
      }
      const claims = tokens.get(form.get('token') ?? '');
      const active = claims !== undefined && (claims.exp as number) * 1000 > clock.now();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(active ? { active: true, ...claims } : { active: false }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`,
    tokens,
    seen,
    setDown(d: boolean) {
      down = d;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('token introspection', () => {
  const clock = createManualClock(Date.UTC(2026, 0, 1));
  const nowS = () => Math.floor(clock.now() / 1000);
  let as: Awaited<ReturnType<typeof startIntrospectionServer>>;
  before(async () => {
    as = await startIntrospectionServer(clock);
  });
  after(() => as.close());

  const make = (extra: Partial<IntrospectionConfig> = {}) =>
    createIntrospector(
      {
        endpoint: as.url,
        clientId: 'gw',
        clientSecret: 'gw-secret',
        cacheSeconds: 60,
        negativeCacheSeconds: 10,
        ...extra,
      },
      { clock, logger },
    );

  test('accepts an active token and reads scopes and roles from the answer', async () => {
    as.tokens.set('tok-1', {
      sub: 'alice',
      scope: 'read write',
      roles: ['user'],
      exp: nowS() + 600,
      aud: 'api',
    });
    const out = await make({ audiences: ['api'] }).introspect('tok-1');
    assert.equal(out.ok, true);
    assert.deepEqual(out.ok && [out.claims.sub, out.claims.scope], ['alice', 'read write']);
    assert.equal(as.seen.at(-1)?.form.get('token_type_hint'), 'access_token');
  });

  test('authenticates with client_secret_post when configured', async () => {
    as.tokens.set('tok-post', { sub: 'a', exp: nowS() + 600 });
    const out = await make({ authMethod: 'client_secret_post' }).introspect('tok-post');
    assert.equal(out.ok, true);
    assert.equal(as.seen.at(-1)?.auth, undefined);
  });

  test('reuses an active answer within the TTL and never beyond the token exp', async () => {
    as.tokens.set('tok-2', { sub: 'alice', exp: nowS() + 30 });
    const i = make({ cacheSeconds: 60 });
    const before = as.seen.length;
    assert.equal((await i.introspect('tok-2')).ok, true);
    assert.equal((await i.introspect('tok-2')).ok, true);
    assert.equal(as.seen.length, before + 1, 'second call served from the cache');
    clock.advance(31_000);
    const out = await i.introspect('tok-2');
    assert.equal(out.ok ? 'ok' : out.reason, 'inactive', 'expired answer is not reused');
    assert.equal(as.seen.length, before + 2);
  });

  test('keeps an inactive answer only for the negative TTL', async () => {
    const i = make({ negativeCacheSeconds: 10 });
    const before = as.seen.length;
    assert.equal((await i.introspect('unknown')).ok, false);
    assert.equal((await i.introspect('unknown')).ok, false);
    assert.equal(as.seen.length, before + 1);
    as.tokens.set('unknown', { sub: 'late', exp: nowS() + 600 });
    clock.advance(11_000);
    assert.equal((await i.introspect('unknown')).ok, true);
  });

  test('refuses an active token for another audience', async () => {
    as.tokens.set('tok-aud', { sub: 'a', exp: nowS() + 600, aud: ['other'] });
    const out = await make({ audiences: ['api'] }).introspect('tok-aud');
    assert.equal(out.ok ? 'ok' : out.reason, 'wrong_audience');
  });

  test('fails closed as unavailable when the endpoint errors, or refuses the gateway credentials', async () => {
    as.setDown(true);
    const out = await make().introspect('tok-1');
    assert.deepEqual(out.ok ? 'ok' : [out.reason, out.unavailable], ['introspection_unavailable', true]);
    as.setDown(false);
    const wrong = await make({ clientSecret: 'nope' }).introspect('tok-1');
    assert.equal(wrong.ok ? 'ok' : wrong.reason, 'introspection_unavailable');
  });

  test('bounds the answer cache', async () => {
    const i = make({ maxCacheEntries: 3 });
    for (let n = 0; n < 10; n++) await i.introspect(`garbage-${n}`);
    assert.ok(i.cacheSize <= 3);
  });
});
