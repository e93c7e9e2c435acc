import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A neighbourhood tool library in a Laravel-like style (errors as `{"message"}`, bearer keys, `{"data": ...}`
 * envelopes). Every member sees every tool: `GET /tools` lists them all, `GET /tools/{id}` shows any one (by design,
 * on both twins). `GET /tools/{id}/loans` shows a tool's loans, all of them to its owner and their own to others: a
 * tool the scan just made has none, so everyone gets `{"data": [], "total": 0}`. `GET /tools/{id}/keybox` gives the
 * code of the box the tool is kept in: vulnerable, to anyone; fixed twin, to its owner only (404).
 *
 * Bob reading alice's tool, which his own list shows alike, is no finding; nor are two empty pages alike. The
 * keybox code is.
 */
const idParam = [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }];
const failure = { description: 'error' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'tool library', version: '1' },
  components: { securitySchemes: { key: { type: 'http', scheme: 'bearer' } } },
  security: [{ key: [] }],
  paths: {
    '/tools': {
      get: { operationId: 'listTools', responses: { '200': { description: 'every tool' } } },
      post: {
        operationId: 'addTool',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name'],
                properties: {
                  name: { type: 'string', maxLength: 60 },
                  notes: { type: 'string', maxLength: 200 },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'tool' } },
      },
    },
    '/tools/{id}': {
      get: {
        operationId: 'getTool',
        parameters: idParam,
        responses: { '200': { description: 'tool' }, '404': failure },
      },
    },
    '/tools/{id}/loans': {
      get: { operationId: 'toolLoans', parameters: idParam, responses: { '200': { description: 'loans' } } },
    },
    '/tools/{id}/keybox': {
      get: {
        operationId: 'toolKeybox',
        parameters: idParam,
        responses: { '200': { description: 'code' }, '404': failure },
      },
    },
  },
};

const KEYS: Record<string, string> = { 'Bearer tl-alice-90ab': 'alice', 'Bearer tl-bob-12cd': 'bob' };

interface Tool {
  id: number;
  owner: string;
  name: string;
  notes: string;
  keybox: string;
}

function startLibrary(fixed: boolean) {
  const tools: Tool[] = [
    { id: 1, owner: 'alice', name: 'Hedge trimmer', notes: 'charge first', keybox: '4471' },
    { id: 2, owner: 'bob', name: 'Ladder 3m', notes: '', keybox: '0926' },
  ];
  let next = 3;
  const shown = ({ keybox: _, ...t }: Tool) => t;
  return startServer(async (req, res) => {
    const body = await readJson(req);
    const path = new URL(req.url ?? '/', 'http://tools').pathname;
    const message = (status: number, text: string) => sendJson(res, status, { message: text });
    const who = KEYS[String(req.headers.authorization ?? '')];
    if (!who) return message(401, 'Unauthenticated.');
    if (path === '/tools' && req.method === 'GET') return sendJson(res, 200, { data: tools.map(shown) });
    if (path === '/tools' && req.method === 'POST') {
      if (typeof body?.name !== 'string' || body.name === '')
        return message(422, 'The name field is required.');
      const tool: Tool = {
        id: next++,
        owner: who,
        name: body.name.slice(0, 60),
        notes: typeof body.notes === 'string' ? body.notes.slice(0, 200) : '',
        keybox: String(1000 + ((next * 7919) % 9000)),
      };
      tools.push(tool);
      return sendJson(res, 201, { data: shown(tool) });
    }
    const m = /^\/tools\/(\d+)(\/loans|\/keybox)?$/.exec(path);
    const tool = m ? tools.find((t) => t.id === Number(m[1])) : undefined;
    if (!m || !tool || req.method !== 'GET') return message(404, 'Not Found.');
    if (m[2] === undefined) return sendJson(res, 200, { data: shown(tool) });
    if (m[2] === '/loans') return sendJson(res, 200, { data: [], total: 0 });
    if (fixed && tool.owner !== who) return message(404, 'Not Found.');
    return sendJson(res, 200, { data: { tool_id: tool.id, keybox_code: tool.keybox, owner: tool.owner } });
  });
}

describe("API1 reports no read of what the other's own list shows alike, nor two empty pages", () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startLibrary>>>>>;
  before(async () => {
    Object.assign(
      scans,
      await scanTwins(SPEC, startLibrary, {
        identities: [
          { name: 'alice', bearer: 'tl-alice-90ab' },
          { name: 'bob', bearer: 'tl-bob-12cd' },
        ],
        ratePerSecond: 200,
        checks: ['API1'],
      }),
    );
  });

  test('vulnerable: the keybox code only', () => {
    assert.deepEqual(operationsFound(scans.vulnerable.result), ['scan/api1-bola-read toolKeybox']);
  });

  test('fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(scans.fixed.result), []);
  });
});
