import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * An uptime-monitor API in hapi's manner: errors are Boom objects (`{statusCode, error, message}`), a member's
 * key goes in `X-Monitor-Key`, ids are prefixed strings (`mon_7c1e`), lists come as `{count, monitors}`.
 *
 * - `POST /monitors {name, target_url (uri), interval}` makes a monitor and probes its target once at once;
 * - incidents are opened by the probes only (no creation), `GET /incidents` lists the caller's, and
 *   `POST /incidents/bulk {incident_ids, state: [closed, open]}` sets the state of several (the document lists
 *   `closed` first).
 *
 * Vulnerable twin: the first probe fetches whatever the URL names (the scan's loopback canary too), and the bulk
 * update takes any member's incidents. Fixed twin: a URL naming a loopback or private address is refused, the bulk
 * update keeps to the caller's incidents.
 *
 * What the scan must not do on either twin: make the API reach a host outside the machine (a sampled
 * `https://example.com/` is fetched by both twins' first probe: outbound traffic the user did not ask for), or
 * change a seeded incident's state (a sampled `closed` with an id the list gave out closes a member's own open
 * incident: discovery's plain request, nothing in the path or an action input says it acts).
 */
const boom = (code: number) => ({ description: String(code) });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'uptime', version: '3.1.0' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Monitor-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/monitors': {
      get: { operationId: 'listMonitors', responses: { '200': boom(200) } },
      post: {
        operationId: 'createMonitor',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name', 'target_url'],
                properties: {
                  name: { type: 'string', maxLength: 40 },
                  target_url: { type: 'string', format: 'uri' },
                  interval: { type: 'integer', minimum: 30 },
                },
              },
            },
          },
        },
        responses: { '201': boom(201), '400': boom(400) },
      },
    },
    '/monitors/{monitor_id}': {
      get: {
        operationId: 'getMonitor',
        parameters: [{ name: 'monitor_id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': boom(200), '404': boom(404) },
      },
    },
    '/incidents': { get: { operationId: 'listIncidents', responses: { '200': boom(200) } } },
    '/incidents/bulk': {
      post: {
        operationId: 'bulkState',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['incident_ids', 'state'],
                properties: {
                  incident_ids: { type: 'array', items: { type: 'string' } },
                  state: { type: 'string', enum: ['closed', 'open'] },
                },
              },
            },
          },
        },
        responses: { '200': boom(200) },
      },
    },
  },
};

interface Monitor {
  id: string;
  owner: string;
  name: string;
  target_url: string;
  interval: number;
}
interface Incident {
  id: string;
  owner: string;
  monitor: string;
  state: 'open' | 'closed';
}

const KEYS: Record<string, string> = { 'mk-ines-41c9e0': 'ines', 'mk-omar-8d2b7f': 'omar' };
const SEED: Monitor[] = [
  { id: 'mon_4a10', owner: 'ines', name: 'shop', target_url: 'http://shop.internal/health', interval: 60 },
  { id: 'mon_4a11', owner: 'ines', name: 'api', target_url: 'http://api.internal/health', interval: 60 },
  { id: 'mon_9b20', owner: 'omar', name: 'blog', target_url: 'http://blog.internal/', interval: 300 },
];
const INCIDENTS: Incident[] = [
  { id: 'inc_0301', owner: 'ines', monitor: 'mon_4a11', state: 'open' },
  { id: 'inc_0302', owner: 'omar', monitor: 'mon_9b20', state: 'open' },
];

/** A host on this machine or a private network (what the fixed twin refuses to probe). */
function inside(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    /^(127|10|0)\./.test(h) ||
    /^192\.168\./.test(h) ||
    /^169\.254\./.test(h) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(h) ||
    /^\d+$/.test(h) ||
    /^0x/.test(h) ||
    h === '::1' ||
    h === '::' ||
    h.startsWith('::ffff:')
  );
}

function startUptime(fixed: boolean) {
  const monitors = SEED.map((m) => ({ ...m }));
  const incidents = INCIDENTS.map((i) => ({ ...i }));
  /** Every host a first probe went (or, for a host outside the machine, would have gone) to. */
  const probed: string[] = [];
  let next = 0x7c10;
  return startServer(async (req, res) => {
    const text = await readText(req);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const fail = (statusCode: number, error: string, message: string) =>
      send(statusCode, { statusCode, error, message });
    const member = KEYS[String(req.headers['x-monitor-key'] ?? '')];
    if (!member) return fail(401, 'Unauthorized', 'Missing authentication');
    const path = new URL(req.url ?? '/', 'http://uptime').pathname;
    const body = (): Record<string, unknown> | undefined => {
      try {
        const b = JSON.parse(text);
        return b !== null && typeof b === 'object' && !Array.isArray(b) ? b : undefined;
      } catch {
        return undefined;
      }
    };
    if (req.method === 'GET' && path === '/monitors') {
      const mine = monitors.filter((m) => m.owner === member);
      return send(200, { count: mine.length, monitors: mine });
    }
    if (req.method === 'POST' && path === '/monitors') {
      const b = body();
      if (!b || typeof b.name !== 'string' || typeof b.target_url !== 'string')
        return fail(400, 'Bad Request', '"name" and "target_url" are required');
      let url: URL;
      try {
        url = new URL(b.target_url);
      } catch {
        return fail(400, 'Bad Request', '"target_url" must be a valid uri');
      }
      if (!/^https?:$/.test(url.protocol)) return fail(400, 'Bad Request', '"target_url" must be http(s)');
      if (fixed && inside(url.hostname))
        return fail(400, 'Bad Request', '"target_url" names a private address');
      probed.push(url.hostname);
      let first = 'unreachable';
      // Only hosts on this machine are really fetched here: a test never reaches out.
      if (inside(url.hostname) && !fixed) {
        try {
          const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
          first = `${r.status} ${(await r.text()).slice(0, 200)}`;
        } catch {
          first = 'unreachable';
        }
      }
      const m: Monitor = {
        id: `mon_${(next++).toString(16)}`,
        owner: member,
        name: b.name.slice(0, 40),
        target_url: b.target_url,
        interval: typeof b.interval === 'number' ? b.interval : 60,
      };
      monitors.push(m);
      return send(201, { ...m, first_probe: first });
    }
    if (req.method === 'GET' && path === '/incidents') {
      const mine = incidents.filter((i) => i.owner === member);
      return send(200, { count: mine.length, incidents: mine });
    }
    if (req.method === 'POST' && path === '/incidents/bulk') {
      const b = body();
      if (!b || !Array.isArray(b.incident_ids) || (b.state !== 'open' && b.state !== 'closed'))
        return fail(400, 'Bad Request', '"incident_ids" and "state" are required');
      const ids = (b.incident_ids as unknown[]).map(String);
      const chosen = incidents.filter((i) => ids.includes(i.id) && (!fixed || i.owner === member));
      for (const i of chosen) i.state = b.state;
      return send(200, { updated: chosen.map((i) => i.id) });
    }
    const one = /^\/monitors\/(mon_[0-9a-f]+)$/.exec(path);
    if (req.method === 'GET' && one) {
      const m = monitors.find((x) => x.id === one[1]);
      return m && m.owner === member ? send(200, m) : fail(404, 'Not Found', 'monitor not found');
    }
    return fail(404, 'Not Found', 'Not Found');
  }).then((api) => Object.assign(api, { monitors, incidents, probed }));
}

/**
 * A host name DNS could resolve outside the machine: not loopback or private, not under `.invalid` (RFC 6761), not
 * under `.aa` (ISO 3166 user-assigned, never delegated: the ReDoS probe's `http://a.aa/...`), and a host name at all.
 */
const resolvable = (h: string) =>
  /^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$/i.test(h) && !/\.(invalid|aa)$/i.test(h) && !inside(h);

const identities = [
  { name: 'ines', headers: { 'X-Monitor-Key': 'mk-ines-41c9e0' } },
  { name: 'omar', headers: { 'X-Monitor-Key': 'mk-omar-8d2b7f' } },
];

describe('sampled values stay on the machine and act on nothing: a .invalid URL, the enum value that names no change', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startUptime>>>>>;
  before(async () => {
    Object.assign(scans, await scanTwins(SPEC, startUptime, { identities, ratePerSecond: 300 }));
  });

  test('neither twin was made to reach a host outside the machine (only loopback and .invalid hosts)', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const outside = scans[kind].api.probed.filter(resolvable);
      assert.deepEqual(outside, [], `${kind}: ${scans[kind].api.probed.join(', ')}`);
      assert.ok(scans[kind].api.probed.length > 0, `${kind}: the creation was sent`);
    }
  });

  test('no seeded monitor or incident changed on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const seeded = scans[kind].api.monitors.filter((m) => SEED.some((s) => s.id === m.id));
      assert.deepEqual(seeded, SEED, kind);
      assert.deepEqual(scans[kind].api.incidents, INCIDENTS, kind);
    }
  });

  test('the vulnerable twin: SSRF through target_url', () => {
    assert.ok(
      operationsFound(scans.vulnerable.result).includes('scan/api7-ssrf createMonitor'),
      operationsFound(scans.vulnerable.result).join('\n'),
    );
  });

  test('the fixed twin: no SSRF', () => {
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => f.startsWith('scan/api7')),
      [],
      operationsFound(scans.fixed.result).join('\n'),
    );
  });
});
