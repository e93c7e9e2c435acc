import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { problems } from '../../../src/core/problems.ts';
import { type DemoIdp, demoAuthenticateConfig, startDemoIdp } from '../../../src/demo/idp.ts';
import { echoHandler, startProxy, type TestProxy } from '../../harness.ts';

const DEMO_SPEC = readFileSync(new URL('../../../src/demo/openapi.yaml', import.meta.url), 'utf8');
const AUDIENCE = 'http://shop.portcullis.test';

describe('identity through the whole gateway (demo shop spec, real oidc-provider)', () => {
  let idp: DemoIdp;
  let gw: TestProxy;
  let lastUpstream: Record<string, unknown> = {};

  before(async () => {
    idp = await startDemoIdp({ port: 0, audience: AUDIENCE });
    gw = await startProxy({
      upstream: (req, res) => {
        lastUpstream = req.headers;
        echoHandler(req, res);
      },
      spec: DEMO_SPEC,
      api: { name: 'shop', policies: { authenticate: demoAuthenticateConfig(idp) } },
    });
  });
  after(async () => {
    await gw.close();
    await idp.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(gw.url + path, { headers });
  const bearer = async (user: 'alice' | 'bob' | 'admin') => ({
    authorization: `Bearer ${await idp.tokenFor(user)}`,
  });

  test('answers 401 with a Bearer challenge for the API realm when no token is sent', async () => {
    const res = await get('/accounts/alice');
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="shop"');
    assert.equal(((await res.json()) as { type: string }).type, problems.unauthorized.type);
  });

  test('forwards a user reading their own account with the subject header set by the gateway', async () => {
    const res = await get('/accounts/alice', { ...(await bearer('alice')), 'x-portcullis-subject': 'admin' });
    assert.equal(res.status, 200);
    assert.equal(lastUpstream['x-portcullis-subject'], 'alice');
    assert.equal(lastUpstream['x-portcullis-roles'], 'user');
  });

  test("refuses a user reading another user's account by the object-level rule", async () => {
    const res = await get('/accounts/bob', await bearer('alice'));
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { type: string }).type, problems.forbidden.type);
    const event = gw.events.findLast((e) => e['event.action'] === 'authorize');
    assert.equal(event?.['event.reason'], 'rule_denied');
  });

  test("lets the admin read another user's account", async () => {
    assert.equal((await get('/accounts/bob', await bearer('admin'))).status, 200);
  });

  test('refuses an ordinary user on an admin operation with 403 insufficient_scope', async () => {
    const res = await get('/admin/users', await bearer('bob'));
    assert.equal(res.status, 403);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope", scope="shop:admin"/);
  });

  test('forwards public operations without a token', async () => {
    assert.equal((await get('/products')).status, 200);
  });
});
