import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { context, exchange } from '../../../test/kit/operation.ts';
import { createManualClock } from '../../core/clock.ts';
import type { PolicyHandler } from '../../core/policy.ts';
import { type Problem, problems } from '../../core/problems.ts';
import { credentialHash } from '../../shared/credential-hash.ts';
import { createBanList } from '../../state/bans.ts';
import { createMemoryStore } from '../../state/memory-store.ts';
import { banPolicy, banPrincipalPolicy } from './policy.ts';

function setup() {
  const clock = createManualClock();
  const store = createMemoryStore({ clock });
  const { ctx } = context(store, clock);
  const bans = createBanList({ store, clock });
  return { clock, ctx, bans };
}

describe('ban policy', () => {
  test('refuses a banned client address with 403 banned and Retry-After', async () => {
    const { ctx, bans, clock } = setup();
    await bans.ban('ip', '203.0.113.9', { reason: 'manual', source: 'manual', ttlSeconds: 90 });
    clock.advance(30_000);
    const h = (await banPolicy.compile({ mode: 'enforce' }, ctx)) as PolicyHandler;
    const p = (await h.onRequest!(exchange({ ip: '203.0.113.9' }))) as Problem;
    assert.equal(p.problem, problems.banned);
    assert.deepEqual(p.headers, { 'retry-after': '60' });
    assert.equal(p.reason, 'banned_ip');
  });

  test('lets other addresses through', async () => {
    const { ctx, bans } = setup();
    await bans.ban('ip', '203.0.113.9', { reason: 'manual', source: 'manual', ttlSeconds: 90 });
    const h = (await banPolicy.compile({ mode: 'enforce' }, ctx)) as PolicyHandler;
    assert.equal(await h.onRequest!(exchange({ ip: '203.0.113.10' })), undefined);
  });

  test('refuses a banned bearer token, compared by hash, before authentication', async () => {
    const { ctx, bans } = setup();
    await bans.ban('token', credentialHash('leaked.jwt.value'), {
      reason: 'r',
      source: 'manual',
      ttlSeconds: 60,
    });
    const h = (await banPolicy.compile({ mode: 'enforce' }, ctx)) as PolicyHandler;
    const p = (await h.onRequest!(
      exchange({ headers: { authorization: 'Bearer leaked.jwt.value' } }),
    )) as Problem;
    assert.equal(p.problem, problems.banned);
    assert.equal(p.reason, 'banned_token');
    assert.equal(await h.onRequest!(exchange({ headers: { authorization: 'Bearer other' } })), undefined);
  });

  test('refuses a banned API key sent in a configured header', async () => {
    const { ctx, bans } = setup();
    await bans.ban('token', credentialHash('k-123'), { reason: 'r', source: 'manual', ttlSeconds: 60 });
    const h = (await banPolicy.compile(
      { mode: 'enforce', apiKeyHeaders: ['x-api-key'] },
      ctx,
    )) as PolicyHandler;
    const p = (await h.onRequest!(exchange({ headers: { 'x-api-key': 'k-123' } }))) as Problem;
    assert.equal(p.reason, 'banned_token');
  });

  test('compiles to nothing when every check is off', async () => {
    const { ctx } = setup();
    assert.equal(await banPolicy.compile({ mode: 'enforce', checkIp: false, checkToken: false }, ctx), null);
  });
});

describe('banPrincipal policy', () => {
  test('refuses an authenticated caller whose subject is banned', async () => {
    const { ctx, bans } = setup();
    await bans.ban('subject', 'mallory', { reason: 'r', source: 'auto' });
    const h = (await banPrincipalPolicy.compile({ mode: 'enforce' }, ctx)) as PolicyHandler;
    const p = (await h.onRequest!(exchange({ principal: { subject: 'mallory' } }))) as Problem;
    assert.equal(p.problem, problems.banned);
    assert.equal(p.reason, 'banned_subject');
    assert.equal(await h.onRequest!(exchange({ principal: { subject: 'alice' } })), undefined);
  });

  test('refuses a caller of a banned consumer', async () => {
    const { ctx, bans } = setup();
    await bans.ban('consumer', 'acme', { reason: 'r', source: 'manual', ttlSeconds: 60 });
    const h = (await banPrincipalPolicy.compile({ mode: 'enforce' }, ctx)) as PolicyHandler;
    const p = (await h.onRequest!(
      exchange({ principal: { subject: 'svc-1', consumer: 'acme' } }),
    )) as Problem;
    assert.equal(p.reason, 'banned_consumer');
  });

  test('lets an unauthenticated request through (the address check is the ban stage)', async () => {
    const { ctx } = setup();
    const h = (await banPrincipalPolicy.compile({ mode: 'enforce' }, ctx)) as PolicyHandler;
    assert.equal(await h.onRequest!(exchange()), undefined);
  });
});
