import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startRuntime } from '../../src/cli/runtime.ts';
import type { PolicyDefinition } from '../../src/core/policy.ts';
import { problem, problems } from '../../src/core/problems.ts';
import type { AccessRecord } from '../../src/gateway/gateway.ts';
import {
  buildConfig,
  echoHandler,
  httpRequest,
  op,
  openapi,
  startGateway,
  startServer,
  type TestServer,
  tempFiles,
} from '../harness.ts';

const run = promisify(execFile);

const get = (url: string, path: string, headers: Record<string, string> = {}) =>
  httpRequest(url, { path, headers });

describe('routing', () => {
  let upstream: TestServer;
  before(async () => {
    upstream = await startServer(echoHandler);
  });
  after(() => upstream.close());

  test('serves several APIs by host and base path, stripping the base path before forwarding', async () => {
    const gw = await startGateway({
      specs: {
        'v1.yaml': openapi({ '/users/{id}': { get: op('getUserV1') } }),
        'v2.yaml': openapi({ '/users/{id}': { get: op('getUserV2') }, '/users/me': { get: op('getMe') } }),
      },
      config: {
        apis: [
          { name: 'v1', spec: 'v1.yaml', basePath: '/api', upstream: { url: `${upstream.url}/legacy` } },
          {
            name: 'v2',
            spec: 'v2.yaml',
            basePath: '/api/v2',
            hosts: ['api.example.com'],
            upstream: { url: upstream.url },
          },
        ],
      },
    });
    try {
      const a = await get(gw.url, '/api/users/7', { host: 'anything.example' });
      assert.equal(JSON.parse(a.body).url, '/legacy/users/7');
      assert.equal(gw.access.at(-1)?.['portcullis.operation_id'], 'getUserV1');
      const b = await get(gw.url, '/api/v2/users/7', { host: 'api.example.com' });
      assert.equal(JSON.parse(b.body).url, '/users/7');
      assert.equal(gw.access.at(-1)?.['portcullis.operation_id'], 'getUserV2');
      // A literal path segment wins over a template (OpenAPI: concrete paths first).
      await get(gw.url, '/api/v2/users/me', { host: 'api.example.com' });
      assert.equal(gw.access.at(-1)?.['portcullis.operation_id'], 'getMe');
      // The v2 base path on another host falls to v1, which does not declare it.
      assert.equal((await get(gw.url, '/api/v2/users/7', { host: 'other.example' })).status, 404);
    } finally {
      await gw.close();
    }
  });

  test('answers 421 to a host no API serves and 400 to a malformed Host', async () => {
    const gw = await startGateway({
      specs: { 'a.yaml': openapi({ '/a': { get: op('getA') } }) },
      config: {
        apis: [{ name: 'a', spec: 'a.yaml', hosts: ['api.example.com'], upstream: { url: upstream.url } }],
      },
    });
    try {
      const r = await get(gw.url, '/a', { host: 'evil.example.com' });
      assert.equal(r.status, 421);
      assert.equal(JSON.parse(r.body).type, problems.misdirectedRequest.type);
      assert.equal((await get(gw.url, '/a', { host: 'bad host/x' })).status, 400);
      assert.equal((await get(gw.url, '/a', { host: 'api.example.com:8080' })).status, 200);
    } finally {
      await gw.close();
    }
  });

  test('forwards undeclared traffic in report mode and logs it as such', async () => {
    const gw = await startGateway({
      specs: { 'a.yaml': openapi({ '/a': { get: op('getA') } }) },
      config: {
        apis: [{ name: 'a', spec: 'a.yaml', undeclared: 'report', upstream: { url: upstream.url } }],
      },
    });
    try {
      const r = await get(gw.url, '/not/in/spec?x=1');
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.body).url, '/not/in/spec?x=1');
      assert.equal(gw.access.at(-1)?.['portcullis.decision'], 'undeclared_reported');
      assert.equal(gw.access.at(-1)?.['http.route'], undefined);
    } finally {
      await gw.close();
    }
  });

  test('answers 431 to a request head larger than maxHeaderBytes', async () => {
    const gw = await startGateway({
      specs: { 'a.yaml': openapi({ '/a': { get: op('getA') } }) },
      config: {
        server: { maxHeaderBytes: 2048 },
        apis: [{ name: 'a', spec: 'a.yaml', upstream: { url: upstream.url } }],
      },
    });
    try {
      const r = await get(gw.url, '/a', { 'x-big': 'y'.repeat(4000) });
      assert.equal(r.status, 431);
      assert.equal(JSON.parse(r.body).type, problems.headersTooLarge.type);
    } finally {
      await gw.close();
    }
  });
});

describe('policy modes', () => {
  /** A policy defined in the test: denies requests that carry `x-deny`. */
  const denyHeader: PolicyDefinition = {
    name: 'denyHeader',
    stage: 'validate',
    description: 'test policy',
    schema: { type: 'object', properties: {} },
    compile: () => ({
      onRequest: (ex) =>
        ex.req.headers['x-deny']
          ? problem(problems.forbidden, 'denied by test', { reason: 'test_denied' })
          : undefined,
    }),
  };

  async function withPolicy(mode: 'enforce' | 'report') {
    const upstream = await startServer(echoHandler);
    const dir = await tempFiles({ 'a.yaml': openapi({ '/a': { get: op('getA') } }) });
    // Build and validate the config against a registry that knows the test policy.
    const config = buildConfig(
      { apis: [{ name: 'a', spec: 'a.yaml', upstream: { url: upstream.url } }] },
      dir,
    );
    config.apis[0].policies = { denyHeader: { mode, enabled: true } };
    const access: AccessRecord[] = [];
    const runtime = await startRuntime({
      config,
      logger: pino({ level: 'silent' }),
      accessLog: (r) => access.push(r),
      policies: [denyHeader],
    });
    return { runtime, upstream, access, url: runtime.urls[0] };
  }

  test('enforce mode stops the request with the policy problem', async () => {
    const { runtime, upstream, access, url } = await withPolicy('enforce');
    try {
      const r = await get(url, '/a', { 'x-deny': '1' });
      assert.equal(r.status, 403);
      assert.equal(JSON.parse(r.body).detail, 'denied by test');
      assert.equal(access.at(-1)?.['portcullis.decision'], 'test_denied');
      assert.equal(access.at(-1)?.['portcullis.denied_by'], 'denyHeader');
      assert.equal((await get(url, '/a')).status, 200);
      const metrics = await (await fetch(`http://127.0.0.1:${runtime.adminAddress!.port}/metrics`)).text();
      assert.match(
        metrics,
        /portcullis_decisions_total\{api="a",policy="denyHeader",reason="test_denied"\} 1/,
      );
    } finally {
      await runtime.close();
      await upstream.close();
    }
  });

  test('report mode lets the request through and records what it would have done', async () => {
    const { runtime, upstream, access, url } = await withPolicy('report');
    try {
      const r = await get(url, '/a', { 'x-deny': '1' });
      assert.equal(r.status, 200);
      assert.equal(access.at(-1)?.['portcullis.decision'], 'allow');
      assert.deepEqual(access.at(-1)?.['portcullis.reported'], ['denyHeader:test_denied']);
    } finally {
      await runtime.close();
      await upstream.close();
    }
  });
});

describe('TLS to the upstream', () => {
  test('verifies an https upstream against the configured CA, with SNI and a client certificate', async () => {
    const dir = await tempFiles({ 'a.yaml': openapi({ '/a': { get: op('getA') } }) });
    const sh = (cmd: string) => run('sh', ['-c', cmd], { cwd: dir });
    // A private CA, a server certificate for upstream.internal and a client certificate for the gateway.
    await sh(
      [
        'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca',
        'openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key -out srv.csr -subj /CN=upstream.internal',
        "printf 'subjectAltName=DNS:upstream.internal' > srv.ext",
        'openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext',
        'openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cli.key -out cli.csr -subj /CN=portcullis-gateway',
        'openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem -days 2',
      ].join(' && '),
    );
    let seenClient = '';
    let seenSni = '';
    const upstream = https.createServer(
      {
        key: readFileSync(path.join(dir, 'srv.key')),
        cert: readFileSync(path.join(dir, 'srv.pem')),
        ca: readFileSync(path.join(dir, 'ca.pem')),
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        seenClient = String(socket.getPeerCertificate().subject?.CN);
        seenSni = (socket as TLSSocket & { servername?: string }).servername ?? '';
        res.end('secure');
      },
    );
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    const port = (upstream.address() as AddressInfo).port;
    const tlsConfig = {
      caFile: path.join(dir, 'ca.pem'),
      certFile: path.join(dir, 'cli.pem'),
      keyFile: path.join(dir, 'cli.key'),
      servername: 'upstream.internal',
    };
    const gw = await startGateway({
      specs: {},
      config: {
        apis: [
          {
            name: 'a',
            spec: path.join(dir, 'a.yaml'),
            upstream: { url: `https://127.0.0.1:${port}`, tls: tlsConfig },
          },
        ],
      },
    });
    try {
      const r = await get(gw.url, '/a');
      assert.equal(r.body, 'secure');
      assert.equal(seenClient, 'portcullis-gateway');
      assert.equal(seenSni, 'upstream.internal');
    } finally {
      await gw.close();
    }
    // Without the private CA the upstream's certificate is not trusted: 502, never a silent downgrade.
    const untrusted = await startGateway({
      specs: {},
      config: {
        apis: [
          {
            name: 'a',
            spec: path.join(dir, 'a.yaml'),
            upstream: { url: `https://127.0.0.1:${port}`, tls: { servername: 'upstream.internal' } },
          },
        ],
      },
    });
    try {
      const r = await get(untrusted.url, '/a');
      assert.equal(r.status, 502);
      assert.equal(untrusted.access.at(-1)?.['portcullis.decision'], 'upstream_tls_error');
    } finally {
      await untrusted.close();
      upstream.close();
      upstream.closeAllConnections();
    }
  });
});
