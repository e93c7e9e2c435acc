/**
 * The demo shop (a trusting upstream that does no authorization of its own) scanned directly and through the
 * gateway with its OpenAPI-driven policies: the object- and function-level authorization findings the scan
 * makes directly are gone through the gateway.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { DEMO_SPEC, type DemoApi, startDemoApi } from '../../src/demo/api.ts';
import { type DemoIdp, demoAuthenticateConfig, startDemoIdp } from '../../src/demo/idp.ts';
import { runScan, type ScanResult } from '../../src/scanner/scan/index.ts';
import { startGateway, type TestGateway } from '../harness.ts';

const AUDIENCE = 'http://shop.test';

describe('the demo shop scanned directly and through the gateway', () => {
  let api: DemoApi;
  let idp: DemoIdp;
  let gw: TestGateway;
  let direct: ScanResult;
  let proxied: ScanResult;

  before(async () => {
    api = await startDemoApi({ port: 0 });
    idp = await startDemoIdp({ port: 0, audience: AUDIENCE });
    gw = await startGateway({
      specs: { 'openapi.yaml': await readFile(DEMO_SPEC, 'utf8') },
      config: {
        apis: [
          {
            name: 'shop',
            spec: 'openapi.yaml',
            upstream: { url: api.url },
            policies: { authenticate: demoAuthenticateConfig(idp), authorize: {}, protectResponse: {} },
          },
        ],
      },
    });
    // Directly, the shop believes whatever subject header it is given.
    direct = await runScan({
      spec: DEMO_SPEC,
      target: api.url,
      // The time-based injection probes ask for 300 ms instead of 1 s (controls unchanged), to shorten the test.
      timeDelayMs: 300,
      identities: [
        { name: 'alice', headers: { 'x-portcullis-subject': 'alice' }, params: { accountId: 'alice' } },
        { name: 'bob', headers: { 'x-portcullis-subject': 'bob' }, params: { accountId: 'bob' } },
      ],
    });
    // Through the gateway with --allow-destructive: alice and bob place an order each (a purchase, which a plain
    // scan never sends as a given identity), so the gateway is shown refusing the order reads too.
    proxied = await runScan({
      spec: DEMO_SPEC,
      target: gw.url,
      allowDestructive: true,
      // The time-based injection probes ask for 300 ms instead of 1 s (controls unchanged), to shorten the test.
      timeDelayMs: 300,
      identities: [
        { name: 'alice', bearer: await idp.tokenFor('alice'), params: { accountId: 'alice' } },
        { name: 'bob', bearer: await idp.tokenFor('bob'), params: { accountId: 'bob' } },
      ],
      admin: { name: 'admin', bearer: await idp.tokenFor('admin') },
    });
    const ids = (r: ScanResult) => [...new Set(r.findings.map((f) => f.rule.id))].sort().join(', ');
    console.log(
      `demo shop directly: ${direct.findings.length} findings (${ids(direct)}), ${direct.stats.requests} requests\n` +
        `through the gateway: ${proxied.findings.length} findings (${ids(proxied)}), ${proxied.stats.requests} requests`,
    );
  });

  after(async () => {
    await gw?.close();
    await idp?.close();
    await api?.close();
  });

  test('finds broken object and function level authorization on the trusting shop', () => {
    const paths = direct.findings
      .filter((f) => f.rule.id === 'scan/api1-bola-read')
      .map((f) => f.operation?.path);
    // A plain scan places no order as alice or bob (a purchase spends a given identity's money) and the shop has no
    // sign-up: the order by id is not reached, and the coverage says why.
    assert.deepEqual(paths.sort(), ['/accounts/{accountId}', '/accounts/{accountId}/orders']);
    assert.match(
      JSON.stringify(direct.coverage),
      /not sent as (alice|bob): a purchase spends a given identity's money \(--allow-destructive sends it\)/,
    );
    assert.ok(direct.findings.some((f) => f.rule.id === 'scan/api5-bfla'));
    assert.ok(direct.findings.some((f) => f.rule.id === 'scan/api3-sensitive-data-exposure'));
  });

  test('finds none of them through the gateway, whose rules come from the spec', () => {
    const open = new Set(proxied.findings.map((f) => f.rule.id));
    for (const id of [
      'scan/api1-bola-read',
      'scan/api5-bfla',
      'scan/api2-no-credentials',
      'scan/api2-invalid-token-accepted',
      'scan/api3-sensitive-data-exposure',
      'scan/api3-undeclared-response-fields',
    ]) {
      assert.ok(!open.has(id), `${id} still open through the gateway`);
    }
    assert.ok(proxied.stats.objectsCreated >= 2, 'the scan created no orders through the gateway');
  });
});
