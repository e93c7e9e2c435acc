import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { createCert } from '../../src/cli/commands/cert.ts';
import { GatewayBuildError } from '../../src/gateway/gateway.ts';
import {
  echoHandler,
  op,
  openapi,
  startGateway,
  startServer,
  type TestServer,
  tempFiles,
} from '../harness.ts';
import { runCli } from '../kit/process.ts';

describe('reload', () => {
  let upstream: TestServer;
  before(async () => {
    upstream = await startServer(echoHandler);
  });
  after(() => upstream.close());

  test('swaps the route table under load with zero failed requests', async () => {
    const specA = openapi({ '/a': { get: op('getA') }, '/both': { get: op('getBoth') } });
    const specB = openapi({ '/b': { get: op('getB') }, '/both': { get: op('getBoth') } });
    const gw = await startGateway({
      specs: { 'a.yaml': specA, 'b.yaml': specB },
      config: { apis: [{ name: 'x', spec: 'a.yaml', upstream: { url: upstream.url } }] },
    });
    try {
      const statuses = new Map<number, number>();
      let errors = 0;
      let stop = false;
      const agent = new Agent({ connections: 16 });
      const worker = async () => {
        while (!stop) {
          try {
            const r = await request(`${gw.url}/both`, { dispatcher: agent });
            await r.body.dump();
            statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
          } catch {
            errors++;
          }
        }
      };
      const workers = Array.from({ length: 16 }, worker);
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 30));
        await gw.reload({
          apis: [{ name: 'x', spec: i % 2 === 0 ? 'b.yaml' : 'a.yaml', upstream: { url: upstream.url } }],
        });
      }
      stop = true;
      await Promise.all(workers);
      await agent.close();
      assert.equal(errors, 0);
      assert.deepEqual([...statuses.keys()], [200]);
      assert.ok((statuses.get(200) ?? 0) >= 20, `only ${statuses.get(200)} requests made it`);
      // The last reload (i = 9) applied a.yaml: /a is served, /b is gone.
      assert.equal((await fetch(`${gw.url}/a`)).status, 200);
      assert.equal((await fetch(`${gw.url}/b`)).status, 404);
    } finally {
      await gw.close();
    }
  });

  test('refuses a bad new config and keeps serving the old one', async () => {
    const gw = await startGateway({
      specs: { 'a.yaml': openapi({ '/a': { get: op('getA') } }), 'broken.yaml': 'openapi: 3.1.0\npaths: [' },
      config: { apis: [{ name: 'x', spec: 'a.yaml', upstream: { url: upstream.url } }] },
    });
    try {
      await assert.rejects(
        gw.reload({ apis: [{ name: 'x', spec: 'broken.yaml', upstream: { url: upstream.url } }] }),
        (err: unknown) =>
          err instanceof GatewayBuildError && /apis\[0\]\.spec: .*not valid YAML/.test(err.issues[0]),
      );
      await assert.rejects(
        gw.reload({
          apis: [{ name: 'x', spec: 'a.yaml', upstream: { url: upstream.url }, operations: { nope: {} } }],
        }),
        (err: unknown) =>
          err instanceof GatewayBuildError &&
          err.issues[0].startsWith('apis[0].operations.nope: no operation with this operationId'),
      );
      assert.equal((await fetch(`${gw.url}/a`)).status, 200);
    } finally {
      await gw.close();
    }
  });

  test('drains in-flight requests on shutdown', async () => {
    const slow = await startServer((_req, res) => setTimeout(() => res.end('done'), 300));
    const gw = await startGateway({
      specs: { 'a.yaml': openapi({ '/a': { get: op('getA') } }) },
      config: { apis: [{ name: 'x', spec: 'a.yaml', upstream: { url: slow.url } }] },
    });
    const pending = fetch(`${gw.url}/a`).then(async (r) => [r.status, await r.text()]);
    await new Promise((r) => setTimeout(r, 100));
    await gw.close();
    assert.deepEqual(await pending, [200, 'done']);
    await assert.rejects(fetch(`${gw.url}/a`));
    await slow.close();
  });
});

describe('TLS', () => {
  let upstream: TestServer;
  let certs: { certFile: string; keyFile: string };
  let dir: string;
  before(async () => {
    upstream = await startServer(echoHandler);
    dir = await tempFiles({});
    certs = await createCert({
      outDir: path.join(dir, 'certs'),
      hosts: ['localhost', '127.0.0.1'],
      days: 2,
      out: () => {},
    });
  });
  after(() => upstream.close());

  async function tlsGateway(extra: Record<string, unknown> = {}) {
    return startGateway({
      specs: { 'a.yaml': openapi({ '/a': { get: op('getA') } }) },
      config: {
        server: {
          listen: [{ host: '127.0.0.1', port: 0, tls: { certFile: certs.certFile, keyFile: certs.keyFile } }],
          ...extra,
        },
        apis: [{ name: 'x', spec: 'a.yaml', upstream: { url: upstream.url } }],
      },
    });
  }

  function connect(url: string, opts: tls.ConnectionOptions): Promise<tls.TLSSocket> {
    const u = new URL(url);
    return new Promise((resolve, reject) => {
      const s = tls.connect(
        { host: u.hostname, port: Number(u.port), rejectUnauthorized: false, ...opts },
        () => resolve(s),
      );
      s.once('error', reject);
    });
  }

  test('serves HTTPS with TLS 1.3 and sends HSTS', async () => {
    const gw = await tlsGateway();
    try {
      const res = await new Promise<{ status: number; hsts: string | undefined }>((resolve, reject) => {
        https
          .get(`${gw.url}/a`, { ca: [readFileSync(certs.certFile)], servername: 'localhost' }, (r) => {
            r.resume();
            resolve({
              status: r.statusCode ?? 0,
              hsts: r.headers['strict-transport-security'] as string | undefined,
            });
          })
          .on('error', reject);
      });
      assert.equal(res.status, 200);
      assert.equal(res.hsts, 'max-age=63072000; includeSubDomains');
      const s = await connect(gw.url, {});
      assert.equal(s.getProtocol(), 'TLSv1.3');
      s.destroy();
    } finally {
      await gw.close();
    }
  });

  test('refuses TLS 1.1 and TLS 1.0 handshakes', async () => {
    const gw = await tlsGateway();
    try {
      for (const v of ['TLSv1.1', 'TLSv1'] as const) {
        await assert.rejects(
          connect(gw.url, { minVersion: v, maxVersion: v, ciphers: 'DEFAULT:@SECLEVEL=0' }),
          /alert|version|wrong|handshake|ECONNRESET/i,
        );
      }
      const ok = await connect(gw.url, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
      assert.equal(ok.getProtocol(), 'TLSv1.2');
      // Mozilla intermediate: forward-secret AEAD suites only on TLS 1.2.
      assert.match(ok.getCipher().name, /^ECDHE-(RSA|ECDSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/);
      ok.destroy();
    } finally {
      await gw.close();
    }
  });

  test('reloads a replaced certificate without dropping an open connection', async () => {
    const gw = await tlsGateway();
    try {
      const before = await connect(gw.url, {});
      const firstFingerprint = before.getPeerCertificate().fingerprint256;
      await createCert({ outDir: path.join(dir, 'certs'), hosts: ['localhost'], days: 3, out: () => {} });
      let after = firstFingerprint;
      for (let i = 0; i < 50 && after === firstFingerprint; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const s = await connect(gw.url, {});
        after = s.getPeerCertificate().fingerprint256;
        s.destroy();
      }
      assert.notEqual(after, firstFingerprint);
      // The connection opened before the swap still works.
      before.write('GET /a HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      const reply = await new Promise<string>((resolve) => {
        let text = '';
        before.on('data', (c) => {
          text += c;
        });
        before.on('end', () => resolve(text));
      });
      assert.match(reply, /^HTTP\/1\.1 200 /);
    } finally {
      await gw.close();
    }
  });

  test('redirects plain HTTP to HTTPS when asked to', async () => {
    const gw = await startGateway({
      specs: { 'a.yaml': openapi({ '/a': { get: op('getA') } }) },
      config: {
        server: { listen: [{ host: '127.0.0.1', port: 0, redirectToHttps: 8443 }] },
        apis: [{ name: 'x', spec: 'a.yaml', upstream: { url: upstream.url } }],
      },
    });
    try {
      const r = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const u = new URL(gw.url);
        http
          .get(
            { host: u.hostname, port: u.port, path: '/a?q=1', headers: { host: 'api.example.com' } },
            resolve,
          )
          .on('error', reject);
      });
      r.resume();
      assert.equal(r.statusCode, 308);
      assert.equal(r.headers.location, 'https://api.example.com:8443/a?q=1');
    } finally {
      await gw.close();
    }
  });
});

describe('portcullis config check', () => {
  test('exits 0 for a usable config and 1 listing every problem with its path', async () => {
    const dir = await tempFiles({ 'api.yaml': openapi({ '/a': { get: op('getA') } }) });
    const good = path.join(dir, 'good.yaml');
    await writeFile(
      good,
      stringify({
        version: 1,
        apis: [{ name: 'x', spec: 'api.yaml', upstream: { url: 'http://127.0.0.1:1' } }],
      }),
    );
    const ok = await runCli(['config', 'check', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /good\.yaml: OK \(1 API\)/);

    const bad = path.join(dir, 'bad.yaml');
    await writeFile(
      bad,
      'version: 1\nadmin:\n  prot: 9090\napis:\n  - name: x\n    spec: api.yaml\n    upstream: { url: ftp://nope }\n    operations: { missing: {} }\n',
    );
    const err = await runCli(['config', 'check', bad]);
    assert.equal(err.code, 1);
    assert.deepEqual(err.stdout.trim().split('\n').sort(), [
      'admin.prot: unknown key (did you mean port?) (line 3)',
      'apis[0].upstream.url: must be an http:// or https:// URL (line 7)',
    ]);
  });

  test('reports compile problems (missing spec) after the schema passes', async () => {
    const dir = await tempFiles({});
    const file = path.join(dir, 'c.yaml');
    await writeFile(
      file,
      stringify({
        version: 1,
        apis: [{ name: 'x', spec: 'nope.yaml', upstream: { url: 'http://127.0.0.1:1' } }],
      }),
    );
    const err = await runCli(['config', 'check', file]);
    assert.equal(err.code, 1);
    assert.match(err.stdout, /^apis\[0\]\.spec: .*nope\.yaml: cannot read the file \(ENOENT\)$/m);
  });

  test('serve exits 2 with the config field named when a listener file is missing, leaving nothing running', async () => {
    const dir = await tempFiles({ 'api.yaml': openapi({ '/a': { get: op('getA') } }) });
    const cert = await createCert({ outDir: dir, hosts: ['127.0.0.1'], days: 1, out: () => {} });
    await writeFile(
      path.join(dir, 'portcullis.yaml'),
      stringify({
        version: 1,
        server: {
          listen: [
            {
              host: '127.0.0.1',
              port: 0,
              tls: {
                certFile: cert.certFile,
                keyFile: cert.keyFile,
                clientAuth: { caFile: cert.certFile, crlFile: 'revoked.crl' },
              },
            },
          ],
        },
        admin: { port: 0 },
        monitor: { events: { store: 'sqlite', sqlite: { path: './events.db' } } },
        apis: [{ name: 'x', spec: 'api.yaml', upstream: { url: 'http://127.0.0.1:9' } }],
      }),
    );
    // The monitor (SQLite, its checkpointing thread) has started by then: it must be stopped again, or the
    // process would never exit; the test's timeout would catch that.
    const err = await runCli(['serve', '--config', path.join(dir, 'portcullis.yaml')], {
      killAfterMs: 60_000,
    });
    assert.equal(err.signal, null);
    assert.equal(err.code, 2);
    assert.equal(
      err.stderr,
      `portcullis: server.listen[0].tls.clientAuth.crlFile: cannot read ${path.join(dir, 'revoked.crl')} (ENOENT)\n`,
    );
  });

  test('prints one readable line and exits 2 for an unknown command', async () => {
    const err = await runCli(['frobnicate']);
    assert.equal(err.code, 2);
    assert.equal(err.stderr, 'portcullis: unknown command "frobnicate"; run "portcullis help"\n');
  });
});
