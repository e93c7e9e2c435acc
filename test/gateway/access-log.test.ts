/**
 * The access log of a `portcullis serve` process: one JSON line per request on stdout, buffered, and all
 * of it written out when the process stops.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { echoHandler, op, openapi, startServer, type TestServer, tempFiles } from '../harness.ts';
import { startServeProcess } from '../kit/process.ts';

describe('access log of a gateway process', () => {
  let upstream: TestServer;
  let configFile: string;
  before(async () => {
    upstream = await startServer(echoHandler);
    const dir = await tempFiles({
      'api.yaml': openapi({
        '/items/{id}': {
          get: op('getItem', {
            parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          }),
        },
      }),
    });
    configFile = path.join(dir, 'portcullis.yaml');
    await writeFile(
      configFile,
      stringify({
        version: 1,
        server: { listen: [{ host: '127.0.0.1', port: 0 }] },
        admin: { enabled: false },
        logging: { level: 'info', accessLog: true },
        monitor: { enabled: false },
        apis: [{ name: 'shop', spec: 'api.yaml', upstream: { url: upstream.url } }],
      }),
    );
  });
  after(() => upstream.close());

  test('writes one line per request, every one of them, by the time the process has stopped', async () => {
    const serve = await startServeProcess(configFile);
    const N = 300;
    for (let i = 1; i <= N; i++) {
      const res = await fetch(`${serve.gatewayUrl}/items/${i % 7 === 0 ? 'abc' : i}`);
      await res.arrayBuffer();
    }
    serve.child.kill('SIGTERM');
    assert.equal(await serve.closed, 0);

    const access = serve
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r.msg === 'access');
    assert.equal(access.length, N);
    assert.deepEqual(
      access.map((r) => r['url.path']),
      Array.from({ length: N }, (_, k) => `/items/${(k + 1) % 7 === 0 ? 'abc' : k + 1}`),
    );
    assert.equal(access[0]['http.route'], '/items/{id}');
    assert.equal(access[0]['http.response.status_code'], 200);
    assert.equal(access[0]['portcullis.api'], 'shop');
    assert.equal(typeof access[0]['http.request.id'], 'string');
  });
});
