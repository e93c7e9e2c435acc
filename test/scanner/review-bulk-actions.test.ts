import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Review finding (session 15, R1 S5, S7): a plain scan powers off a given identity's device. A device fleet API
 * (`Authorization: ApiKey <key>`, `{message}` errors): each user's devices and jobs are seeded (no creation route);
 * `POST /devices/reboot {device_id}`, `POST /devices/shutdown {device_id}` and `POST /jobs/stop {job_id}` act on the
 * object their body names. Nothing here is vulnerable: only the owner may act. At 3635cbb discovery and API3 sent
 * all three as alice with the ids her own lists gave (device 501, job 601): her device rebooted twice and was left
 * off, her running job stopped. The rule that holds back an action naming an id the API gave out applies only to a
 * path verb of the ACTING list, which has none of reboot, shutdown, stop; and `POST /jobs/cancel-all` (S7), whose
 * verb is in the list, went as alice too, as it names no id at all.
 */
const json = (name: string) => ({
  required: true,
  content: {
    'application/json': {
      schema: { type: 'object', required: [name], properties: { [name]: { type: 'integer' } } },
    },
  },
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'fleet', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ key: [] }],
  paths: {
    '/devices': { get: { operationId: 'listDevices', responses: { '200': { description: 'own devices' } } } },
    '/devices/reboot': {
      post: {
        operationId: 'rebootDevice',
        requestBody: json('device_id'),
        responses: { '202': { description: 'rebooting' } },
      },
    },
    '/devices/shutdown': {
      post: {
        operationId: 'shutdownDevice',
        requestBody: json('device_id'),
        responses: { '202': { description: 'powering off' } },
      },
    },
    '/jobs': { get: { operationId: 'listJobs', responses: { '200': { description: 'own jobs' } } } },
    '/jobs/cancel-all': {
      post: {
        operationId: 'cancelAllJobs',
        description: "Cancels every running job of the caller's.",
        responses: { '200': { description: 'done' } },
      },
    },
    '/jobs/stop': {
      post: {
        operationId: 'stopJob',
        requestBody: json('job_id'),
        responses: { '200': { description: 'stopped' } },
      },
    },
  },
};
const KEYS: Record<string, number> = {
  'ak-alice-5f2e9c1d7b3a': 1,
  'ak-bob-8c1d2e3f4a5b': 2,
  'ak-root-0a9b8c7d6e5f': 3,
};
const SEEDED = ['501 1 online', '502 2 online', 'job 601 1 running', 'job 602 2 running'];

async function startFleet() {
  const devices = [
    { id: 501, owner: 1, status: 'online' },
    { id: 502, owner: 2, status: 'online' },
  ];
  const jobs = [
    { id: 601, owner: 1, state: 'running' },
    { id: 602, owner: 2, state: 'running' },
  ];
  const { url, server } = await startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    const me = KEYS[String(req.headers.authorization ?? '').replace(/^ApiKey /, '')];
    if (me === undefined) return sendJson(res, 401, { message: 'ApiKey required' });
    if (req.method === 'GET' && path === '/devices')
      return sendJson(res, 200, { devices: devices.filter((d) => d.owner === me) });
    if (req.method === 'GET' && path === '/jobs')
      return sendJson(res, 200, { jobs: jobs.filter((j) => j.owner === me) });
    if (req.method === 'POST' && (path === '/devices/reboot' || path === '/devices/shutdown')) {
      const d = devices.find((x) => x.id === Number(b.device_id) && x.owner === me);
      if (!d) return sendJson(res, 404, { message: 'no such device' });
      d.status = path.endsWith('reboot') ? 'rebooting' : 'off';
      return sendJson(res, 202, { device_id: d.id, status: d.status });
    }
    if (req.method === 'POST' && path === '/jobs/cancel-all') {
      for (const j of jobs) if (j.owner === me && j.state === 'running') j.state = 'cancelled';
      return sendJson(res, 200, { done: true });
    }
    if (req.method === 'POST' && path === '/jobs/stop') {
      const j = jobs.find((x) => x.id === Number(b.job_id) && x.owner === me);
      if (!j) return sendJson(res, 404, { message: 'no such job' });
      j.state = 'stopped';
      return sendJson(res, 200, { job_id: j.id, state: j.state });
    }
    return sendJson(res, 404, { message: 'not found' });
  });
  const state = () => [
    ...devices.map((d) => `${d.id} ${d.owner} ${d.status}`),
    ...jobs.map((j) => `job ${j.id} ${j.owner} ${j.state}`),
  ];
  return { url, server, state };
}

const identity = (name: string, key: string) => ({ name, headers: { Authorization: `ApiKey ${key}` } });

describe("review: a plain scan reboots, powers off and stops nothing of a given identity's", () => {
  let api: Awaited<ReturnType<typeof startFleet>>;
  let result: ScanResult;
  before(async () => {
    api = await startFleet();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [identity('alice', 'ak-alice-5f2e9c1d7b3a'), identity('bob', 'ak-bob-8c1d2e3f4a5b')],
        admin: identity('root', 'ak-root-0a9b8c7d6e5f'),
        ratePerSecond: 200,
      });
    } finally {
      api.server.close();
    }
  });

  test('every device and job is as seeded', () => {
    assert.ok(result);
    assert.deepEqual(api.state(), SEEDED);
  });
});
