import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startGateway, startServer } from '../harness.ts';

/**
 * A scheduled scan's own time (`scans[].scan.timeoutSeconds`): a slow staging API (every answer after 300 ms) with a
 * dozen reads. With `timeoutSeconds: 1` the scan's deadline is one second, not the default 55: the report says the
 * scan had 1 s and names the checks that ran out of it. A value outside 1..3600 is refused by the config check.
 */
const paths: Record<string, unknown> = {};
for (const name of ['plants', 'pots', 'seeds', 'tools', 'beds', 'crops']) {
  paths[`/${name}`] = {
    get: { operationId: `list_${name}`, responses: { '200': { description: name } } },
  };
  paths[`/${name}/{id}`] = {
    get: {
      operationId: `get_${name}`,
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      responses: { '200': { description: name } },
    },
  };
}
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'garden', version: '1.0.0' },
  security: [{ key: [] }],
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Garden-Key' } } },
  paths,
};

function scanJob(timeoutSeconds: unknown, target: string) {
  return {
    name: 'nightly',
    api: 'garden',
    everyMinutes: 1440,
    initialDelaySeconds: 3600,
    audit: false,
    scan: {
      target,
      identities: [
        { name: 'alice', headers: { 'X-Garden-Key': 'gk-alice-7731' } },
        { name: 'bob', headers: { 'X-Garden-Key': 'gk-bob-1902' } },
      ],
      checks: ['API1', 'API2', 'API4', 'API8'],
      ratePerSecond: 200,
      timeoutSeconds,
    },
  };
}

test('scans[].scan.timeoutSeconds is the scheduled scan deadline', async () => {
  const api = await startServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      const key = String(req.headers['x-garden-key'] ?? '');
      if (key !== 'gk-alice-7731' && key !== 'gk-bob-1902') {
        res.statusCode = 401;
        return res.end('{"error":"no key"}');
      }
      const m = /^\/(\w+)(?:\/(\d+))?$/.exec(new URL(req.url ?? '/', 'http://x').pathname);
      if (req.method !== 'GET' || !m) {
        res.statusCode = 404;
        return res.end('{"error":"not found"}');
      }
      res.end(JSON.stringify(m[2] ? { id: Number(m[2]), name: m[1] } : [{ id: 1, name: m[1] }]));
    }, 300);
  });
  const gw = await startGateway({
    specs: { 'api.yaml': SPEC },
    config: {
      apis: [
        {
          name: 'garden',
          spec: 'api.yaml',
          upstream: { url: api.url },
          policies: { authenticate: { enabled: false } },
        },
      ],
      scans: [scanJob(1, api.url)],
    },
  }).catch(async (err: unknown) => {
    await api.close();
    throw err;
  });
  try {
    const [scan] = (await gw.runtime.scans.runNow('nightly')) as ScanResult[];
    const time = scan.notes?.find((n) => n.startsWith('time:'));
    assert.ok(time, (scan.notes ?? []).join('\n'));
    assert.match(time, /^time: the scan had 1 s \(scanTimeoutMs\)/);
    assert.ok(scan.timedOut.length + (scan.notRun?.length ?? 0) > 0, time);
  } finally {
    await gw.close();
    await api.close();
  }
});

test('a scheduled scan timeout outside 1..3600 seconds is refused', async () => {
  for (const bad of [0, 3601, 'soon']) {
    await assert.rejects(
      startGateway({
        specs: { 'api.yaml': SPEC },
        config: {
          apis: [{ name: 'garden', spec: 'api.yaml', upstream: { url: 'http://127.0.0.1:9' } }],
          scans: [scanJob(bad, 'http://127.0.0.1:9')],
        },
      }),
      /timeoutSeconds/,
      String(bad),
    );
  }
});
