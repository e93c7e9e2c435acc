import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { scanDocument } from './twins.ts';

/**
 * A Koa-style task board whose body parser runs before its anti-forgery check: a body that is not JSON is answered
 * 415 `{"message": "body must be JSON"}` whoever sends it, and only then is a write without the session's `X-CSRF-Token`
 * refused with 403. The bearer token comes from `POST /v1/session`, the anti-forgery token only from `GET /v1/csrf`,
 * which the scan does not know to send. So every real write of the scan is refused with 403, but API8's cut-short JSON
 * body gets a 415: the "every write refused" warning must still be given (a probe's malformed body is no write attempt).
 */
const body = (properties: Record<string, unknown>) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties } } },
});
const idParam = [{ name: 'taskId', in: 'path', required: true, schema: { type: 'integer' } }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'task board', version: '1' },
  components: {
    securitySchemes: {
      token: { type: 'http', scheme: 'bearer' },
      csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
    },
  },
  security: [{ token: [], csrf: [] }],
  paths: {
    '/v1/session': {
      post: {
        operationId: 'openSession',
        security: [],
        requestBody: body({ login: { type: 'string' }, secret: { type: 'string' } }),
        responses: { '201': { description: 'token' } },
      },
    },
    '/v1/tasks': {
      get: { operationId: 'listTasks', responses: { '200': { description: 'tasks' } } },
      post: {
        operationId: 'addTask',
        requestBody: body({
          title: { type: 'string', maxLength: 80 },
          due: { type: 'string', format: 'date' },
        }),
        responses: { '201': { description: 'task' } },
      },
    },
    '/v1/tasks/{taskId}': {
      get: { operationId: 'getTask', parameters: idParam, responses: { '200': { description: 'task' } } },
      patch: {
        operationId: 'editTask',
        parameters: idParam,
        requestBody: body({ title: { type: 'string' }, done: { type: 'boolean' } }),
        responses: { '200': { description: 'task' } },
      },
    },
  },
};

const PEOPLE: Record<string, string> = { kai: 'Kai-board-5512', lu: 'Lu-board-9034' };

function startBoard() {
  const tokens = new Map<string, string>();
  const tasks = [
    { id: 1, owner: 'kai', title: 'glaze the bowls', done: false },
    { id: 2, owner: 'lu', title: 'order clay', done: false },
  ];
  const refused = { malformed: 0, forgery: 0 };
  return startServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const path = new URL(req.url ?? '/', 'http://board').pathname;
    let parsed: Record<string, unknown> = {};
    if (req.method !== 'GET' && text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        refused.malformed++;
        return reply(415, { message: 'body must be JSON' });
      }
    }
    if (req.method === 'POST' && path === '/v1/session') {
      if (typeof parsed.login !== 'string' || PEOPLE[parsed.login] !== parsed.secret)
        return reply(401, { message: 'wrong login or secret' });
      const token = randomBytes(16).toString('hex');
      tokens.set(token, parsed.login);
      return reply(201, { token });
    }
    const who = tokens.get(String(req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!who) return reply(401, { message: 'no session' });
    if (req.method !== 'GET') {
      refused.forgery++;
      return reply(403, { message: 'missing or wrong X-CSRF-Token' });
    }
    const mine = tasks.filter((t) => t.owner === who);
    if (path === '/v1/tasks') return reply(200, { items: mine });
    const m = /^\/v1\/tasks\/(\d+)$/.exec(path);
    const t = m ? mine.find((x) => x.id === Number(m[1])) : undefined;
    return t ? reply(200, t) : reply(404, { message: 'no such task' });
  }).then((api) => Object.assign(api, { refused }));
}

describe("the 'every write refused' warning counts real writes, not a probe's malformed body", () => {
  let result: ScanResult;
  let refused: { malformed: number; forgery: number };
  before(async () => {
    const api = await startBoard();
    try {
      result = await scanDocument(SPEC, api.url, {
        identities: Object.entries(PEOPLE).map(([login, secret]) => ({
          name: login,
          login: { path: '/v1/session', body: { login, secret } },
        })),
        checks: ['API1', 'API3', 'API8'],
        ratePerSecond: 200,
      });
      refused = api.refused;
    } finally {
      await api.close();
    }
  });

  test('a malformed-body probe was answered 415 and every write 403', () => {
    assert.ok(refused.malformed >= 1, JSON.stringify(refused));
    assert.ok(refused.forgery >= 4, JSON.stringify(refused));
  });

  test('the warning is given and names X-CSRF-Token', () => {
    const line = result.warnings.find((w) => w.startsWith('EVERY WRITE WAS REFUSED'));
    assert.ok(line, result.warnings.join('\n'));
    assert.match(line, /all answered 403 .*X-CSRF-Token/);
  });
});
