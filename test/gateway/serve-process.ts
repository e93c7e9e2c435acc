/**
 * What the multi-worker tests (workers-events, workers-metrics) share: the config of a one-API gateway
 * and load spread over the workers. The `serve` process itself is test/kit/process.ts's.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { stringify } from 'yaml';
import { httpRequest, op, openapi, tempFiles } from '../harness.ts';

/**
 * Writes the config of a one-API gateway (`shop`, GET /items) in front of `upstreamUrl`, with the admin
 * listener on (`token`) and the given `monitor` block; returns the config file's path.
 */
export async function writeShopConfig(
  upstreamUrl: string,
  opts: { token: string; monitor: Record<string, unknown> },
): Promise<string> {
  const dir = await tempFiles({ 'api.yaml': openapi({ '/items': { get: op('listItems') } }) });
  const configFile = path.join(dir, 'portcullis.yaml');
  await writeFile(
    configFile,
    stringify({
      version: 1,
      server: { listen: [{ host: '127.0.0.1', port: 0 }] },
      admin: { enabled: true, host: '127.0.0.1', port: 0, token: opts.token },
      logging: { level: 'warn', accessLog: false },
      monitor: opts.monitor,
      apis: [{ name: 'shop', spec: 'api.yaml', upstream: { url: upstreamUrl } }],
    }),
  );
  return configFile;
}

/**
 * Sends `n` GET /items over four lanes, each request on a new connection, so the cluster hands them to
 * its workers in turn; every answer must be 200.
 */
export async function sendSpread(gatewayUrl: string, n: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      assert.equal((await httpRequest(gatewayUrl, { path: '/items' })).status, 200);
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
}

/** Load that runs until stopped: four lanes of GET /items, each request on a new connection. */
export interface Load {
  /** Answers with status 200 so far. */
  ok(): number;
  /** Stops sending; resolves once the requests under way are answered, with the final counts. */
  stop(): Promise<{ ok: number; failed: number }>;
}

/**
 * Starts sending GET /items to `gatewayUrl` over four lanes. A request whose connection fails (a worker
 * killed under it) counts as failed: its event was never made.
 */
export function startLoad(gatewayUrl: string): Load {
  let ok = 0;
  let failed = 0;
  let running = true;
  // A connection handed to a worker as it is killed may never be answered: give up on it after 5 s.
  const once = () =>
    new Promise<boolean>((resolve) => {
      const req = http.get(`${gatewayUrl}/items`, { agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
  const lane = async () => {
    while (running) {
      if (await once()) ok++;
      else failed++;
    }
  };
  const lanes = Promise.all([lane(), lane(), lane(), lane()]);
  return {
    ok: () => ok,
    async stop() {
      running = false;
      await lanes;
      return { ok, failed };
    },
  };
}
