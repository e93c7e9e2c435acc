import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderJson } from '../../src/scanner/report/json.ts';
import { renderText } from '../../src/scanner/report/text.ts';
import { createScanClient } from '../../src/scanner/scan/client.ts';
import { runScan, type ScanResult } from '../../src/scanner/scan/runner.ts';

/** A target that crashes (stops listening, its connections cut) and comes back on the same port. */
function start(port = 0): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url }));
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

function crash(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

test('a target that went away after answering is waited for while it restarts, and the refusals are counted', async () => {
  let server = await start();
  const port = (server.address() as AddressInfo).port;
  const client = createScanClient({
    target: `http://127.0.0.1:${port}`,
    concurrency: 2,
    ratePerSecond: 1000,
    timeoutMs: 5000,
  });
  try {
    assert.equal((await client.send({ method: 'GET', path: '/before' })).status, 200);
    await crash(server);
    const restarted = new Promise<Server>((resolve) => setTimeout(() => resolve(start(port)), 600));
    const res = await client.trySend({ method: 'GET', path: '/during' });
    server = await restarted;
    assert.equal(res?.status, 200);
    assert.deepEqual(res?.json, { path: '/during' });
    assert.equal(client.refusedAfterAnswering(), 1);
  } finally {
    await client.close();
    await crash(server);
  }
});

test('a target that never answered is not waited for, and one that stays down fails within the request timeout', async () => {
  const server = await start();
  const port = (server.address() as AddressInfo).port;
  await crash(server);
  const client = createScanClient({
    target: `http://127.0.0.1:${port}`,
    concurrency: 2,
    ratePerSecond: 1000,
    timeoutMs: 5000,
  });
  try {
    assert.equal(await client.trySend({ method: 'GET', path: '/' }), undefined);
    assert.equal(client.refusedAfterAnswering(), 0);
  } finally {
    await client.close();
  }
  const back = await start();
  const short = createScanClient({
    target: `http://127.0.0.1:${(back.address() as AddressInfo).port}`,
    concurrency: 1,
    ratePerSecond: 1000,
    timeoutMs: 1000,
    // The refused request after the cut one waits for a restart: 1 s here, not the 15 s default.
    restartPatienceMs: 1000,
  });
  try {
    assert.equal((await short.send({ method: 'GET', path: '/' })).status, 200);
    await crash(back);
    // A request on the kept-alive connection the crash cut is not sent again (it may be what crashed it).
    assert.equal(await short.trySend({ method: 'GET', path: '/' }), undefined);
    assert.equal(await short.trySend({ method: 'GET', path: '/' }), undefined);
  } finally {
    await short.close();
  }
});

test('a target that stays down is waited for up to the patience; later requests fail at once until it answers again', async () => {
  let server = await start();
  const port = (server.address() as AddressInfo).port;
  const client = createScanClient({
    target: `http://127.0.0.1:${port}`,
    concurrency: 1,
    ratePerSecond: 1000,
    timeoutMs: 10_000,
    restartPatienceMs: 1000,
  });
  const servers: Server[] = [server];
  try {
    assert.equal((await client.send({ method: 'GET', path: '/' })).status, 200);
    await crash(server);
    await client.trySend({ method: 'GET', path: '/cut' }); // the kept-alive connection the crash cut, if any
    assert.equal(await client.trySend({ method: 'GET', path: '/a' }), undefined); // waited, then gave up
    const refusals = client.refusedAfterAnswering();
    // Sent once each, without the waits: if they waited, the restart 0.5 s later would let /c through.
    const back = new Promise<Server>((resolve) => setTimeout(() => resolve(start(port)), 500));
    assert.equal(await client.trySend({ method: 'GET', path: '/b' }), undefined);
    assert.equal(await client.trySend({ method: 'GET', path: '/c' }), undefined);
    server = await back;
    servers.push(server);
    assert.equal(client.refusedAfterAnswering(), refusals + 2);
    assert.equal((await client.send({ method: 'GET', path: '/d' })).status, 200);
    await crash(server);
    await client.trySend({ method: 'GET', path: '/cut' });
    const restarted = new Promise<Server>((resolve) => setTimeout(() => resolve(start(port)), 300));
    assert.equal(
      (await client.trySend({ method: 'GET', path: '/e' }))?.status,
      200,
      'waits again once answered',
    );
    servers.push(await restarted);
  } finally {
    await client.close();
    for (const s of servers) if (s.listening) await crash(s);
  }
});

const SPEC = `openapi: 3.0.3
info: { title: restarts, version: '1' }
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
security: [{ bearer: [] }]
paths:
  /items:
    get:
      responses:
        '200': { description: the items }
`;

/** Scans the tiny target with API8 and API9; `during` is called when API8 starts (and may crash the server). */
async function scanTarget(during?: (port: number) => Promise<Server>): Promise<ScanResult> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-restart-'));
  const servers = [await start()];
  const port = (servers[0].address() as AddressInfo).port;
  const restarted: Promise<Server>[] = [];
  try {
    await writeFile(join(dir, 'openapi.yaml'), SPEC);
    return await runScan({
      spec: join(dir, 'openapi.yaml'),
      target: `http://127.0.0.1:${port}`,
      identities: [
        { name: 'alice', bearer: 'alice-token' },
        { name: 'bob', bearer: 'bob-token' },
      ],
      checks: ['API8', 'API9'],
      ratePerSecond: 200,
      onProgress: (p) => {
        if (during && p.check === 'API8' && p.checksDone === 0 && restarted.length === 0) {
          restarted.push(crash(servers[0]).then(() => during(port)));
        }
      },
    });
  } finally {
    for (const s of await Promise.all(restarted)) servers.push(s);
    for (const s of servers) if (s.listening) await crash(s);
    await rm(dir, { recursive: true, force: true });
  }
}

test('a scan whose target went down and came back says so in its warnings, the terminal and the JSON report', async () => {
  const result = await scanTarget(
    (port) => new Promise((resolve) => setTimeout(() => resolve(start(port)), 600)),
  );
  assert.equal(result.targetOutages.times, 1);
  assert.ok(result.targetOutages.refusedRequests >= 1);
  assert.deepEqual(result.targetOutages.phases, ['API8']);
  assert.equal(result.targetOutages.downAtEnd, false);
  const warning = `THE TARGET STOPPED ANSWERING once during the scan (in API8; ${result.targetOutages.refusedRequests} request${result.targetOutages.refusedRequests === 1 ? '' : 's'} refused): checks after that may have tested nothing`;
  assert.equal(result.warnings[0], warning);
  assert.ok(renderText(result).includes(`! ${warning}`));
  const json = JSON.parse(renderJson(result));
  assert.deepEqual(json.targetOutages, result.targetOutages);
  assert.equal(json.warnings[0], warning);
});

test('a scan whose target answered throughout reports no outage', async () => {
  const result = await scanTarget();
  assert.deepEqual(result.targetOutages, { times: 0, refusedRequests: 0, phases: [], downAtEnd: false });
  assert.ok(!result.warnings.some((w) => /STOPPED ANSWERING/.test(w)));
  assert.deepEqual(JSON.parse(renderJson(result)).targetOutages, result.targetOutages);
});
