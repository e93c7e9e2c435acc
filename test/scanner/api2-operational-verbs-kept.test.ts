import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { scanDocument } from './twins.ts';

/**
 * Safety (review R1-S5): verbs of operations are verbs of change. A render-farm API in a Go style (plain `{error}`
 * answers, `X-Farm-Key` given as identity headers): each user's render nodes and queued renders are seeded (no
 * creation route); `POST /nodes/reboot {node_id}`, `POST /nodes/power-off {node_id}`, `POST /renders/stop
 * {render_id}`, `POST /alerts/{alert_id}/ack` and the wall display's legacy `GET /nodes/{node_id}/restart` act on
 * the object they name. Nothing is vulnerable: only the owner may act. Those verbs were missing from the list of
 * verbs of change, so the ids the owner's own lists gave went out as the owner: a plain scan rebooted, powered off
 * and stopped a given identity's real objects. Now nothing a given identity owns changes.
 */
const body = (name: string) => ({
  required: true,
  content: {
    'application/json': {
      schema: { type: 'object', required: [name], properties: { [name]: { type: 'integer' } } },
    },
  },
});
const ok = (d: string) => ({ '200': { description: d } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'render farm', version: '4' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Farm-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/nodes': { get: { operationId: 'listNodes', responses: ok('own nodes') } },
    '/nodes/reboot': {
      post: { operationId: 'rebootNode', requestBody: body('node_id'), responses: ok('rebooting') },
    },
    '/nodes/power-off': {
      post: { operationId: 'powerOffNode', requestBody: body('node_id'), responses: ok('powering off') },
    },
    '/nodes/{node_id}/restart': {
      get: {
        operationId: 'restartNode',
        description: 'Restarts the node (legacy GET for the wall display).',
        parameters: [{ name: 'node_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: ok('restarting'),
      },
    },
    '/renders': { get: { operationId: 'listRenders', responses: ok('own renders') } },
    '/renders/stop': {
      post: { operationId: 'stopRender', requestBody: body('render_id'), responses: ok('stopped') },
    },
    '/alerts': { get: { operationId: 'listAlerts', responses: ok('own alerts') } },
    '/alerts/{alert_id}/ack': {
      post: {
        operationId: 'ackAlert',
        parameters: [{ name: 'alert_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: ok('acknowledged'),
      },
    },
  },
};
const KEYS: Record<string, number> = { 'fk-mila-71c2d9': 1, 'fk-otto-43a8b0': 2, 'fk-ops-9e1f66': 3 };
const SEEDED = [
  'node 701 1 up 0',
  'node 702 2 up 0',
  'render 801 1 queued',
  'render 802 2 queued',
  'alert 901 1 open',
  'alert 902 2 open',
];

async function startFarm() {
  const nodes = [
    { id: 701, owner: 1, power: 'up', restarts: 0 },
    { id: 702, owner: 2, power: 'up', restarts: 0 },
  ];
  const renders = [
    { id: 801, owner: 1, state: 'queued' },
    { id: 802, owner: 2, state: 'queued' },
  ];
  const alerts = [
    { id: 901, owner: 1, state: 'open' },
    { id: 902, owner: 2, state: 'open' },
  ];
  const { url, server } = await startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const path = (req.url ?? '/').split('?')[0];
    const me = KEYS[String(req.headers['x-farm-key'] ?? '')];
    if (me === undefined) return sendJson(res, 401, { error: 'farm key required' });
    const mine = <T extends { owner: number }>(list: T[]) => list.filter((x) => x.owner === me);
    if (req.method === 'GET' && path === '/nodes') return sendJson(res, 200, { nodes: mine(nodes) });
    if (req.method === 'GET' && path === '/renders') return sendJson(res, 200, { renders: mine(renders) });
    if (req.method === 'GET' && path === '/alerts') return sendJson(res, 200, { alerts: mine(alerts) });
    const restart = /^\/nodes\/(\d+)\/restart$/.exec(path);
    const node = (id: unknown) => mine(nodes).find((n) => n.id === Number(id));
    if (req.method === 'GET' && restart) {
      const n = node(restart[1]);
      if (!n) return sendJson(res, 404, { error: 'no such node' });
      n.restarts++;
      return sendJson(res, 200, { node_id: n.id, restarting: true });
    }
    if (req.method === 'POST' && (path === '/nodes/reboot' || path === '/nodes/power-off')) {
      const n = node(b.node_id);
      if (!n) return sendJson(res, 404, { error: 'no such node' });
      if (path.endsWith('reboot')) n.restarts++;
      else n.power = 'off';
      return sendJson(res, 200, { node_id: n.id, power: n.power });
    }
    if (req.method === 'POST' && path === '/renders/stop') {
      const r = mine(renders).find((x) => x.id === Number(b.render_id));
      if (!r) return sendJson(res, 404, { error: 'no such render' });
      r.state = 'stopped';
      return sendJson(res, 200, { render_id: r.id, state: r.state });
    }
    const ack = /^\/alerts\/(\d+)\/ack$/.exec(path);
    if (req.method === 'POST' && ack) {
      const a = mine(alerts).find((x) => x.id === Number(ack[1]));
      if (!a) return sendJson(res, 404, { error: 'no such alert' });
      a.state = 'acknowledged';
      return sendJson(res, 200, { alert_id: a.id, state: a.state });
    }
    return sendJson(res, 404, { error: 'not found' });
  });
  const state = () => [
    ...nodes.map((n) => `node ${n.id} ${n.owner} ${n.power} ${n.restarts}`),
    ...renders.map((r) => `render ${r.id} ${r.owner} ${r.state}`),
    ...alerts.map((a) => `alert ${a.id} ${a.owner} ${a.state}`),
  ];
  return { url, server, state };
}

const identity = (name: string, key: string) => ({ name, headers: { 'X-Farm-Key': key } });

describe("a plain scan reboots, powers off, restarts, stops and acknowledges nothing of a given identity's", () => {
  let api: Awaited<ReturnType<typeof startFarm>>;
  let result: ScanResult;
  before(async () => {
    api = await startFarm();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: [identity('mila', 'fk-mila-71c2d9'), identity('otto', 'fk-otto-43a8b0')],
        admin: identity('ops', 'fk-ops-9e1f66'),
        ratePerSecond: 200,
      });
    } finally {
      api.server.close();
    }
  });

  test('every node, render and alert is as seeded', () => {
    assert.ok(result.stats.requests > 0);
    assert.deepEqual(api.state(), SEEDED);
  });
});
