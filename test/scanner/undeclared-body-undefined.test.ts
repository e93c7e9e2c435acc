import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * Routes whose document declares no request body (a NestJS `@Body() body: any`, a Koa handler reading
 * `ctx.request.body.x`): sent `{}`, they read a member nobody sent and say so only through JavaScript's `undefined`.
 * `POST /media/import` does `new URL(body.url)` and answers `200 {"ok": false, "reason": "Invalid URL"}`;
 * `POST /maintenance/task` answers `200 {"ok": false, "reason": "Unknown maintenance task: undefined"}`. The scan
 * must learn `url` and `task` from those answers and probe them: the vulnerable twin's import fetches any host
 * (API7, SSRF), the fixed twin's only hosts of its media CDN (`{"ok": false, "reason": "host not allowed"}`).
 *
 * Style: Koa-like (every answer 200 with `{ok, reason}` or `{ok, result}`, kebab-free lower-case paths, a
 * `X-Api-Token` header, no status codes for failures).
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'media desk', version: '0.9.0' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Api-Token' } } },
  security: [{ token: [] }],
  paths: {
    '/media/import': {
      post: {
        operationId: 'importMedia',
        summary: 'Import a file',
        responses: { '200': { description: '' } },
      },
    },
    '/maintenance/task': {
      post: { operationId: 'runTask', summary: 'Run a task', responses: { '200': { description: '' } } },
    },
    '/media': {
      get: { operationId: 'listMedia', responses: { '200': { description: 'imported files' } } },
    },
  },
};

const TOKENS = new Set(['tok-ana-1', 'tok-bo-2']);

function startDesk(fixed: boolean): Promise<TwinTarget & { tasks: string[] }> {
  const media: { id: number; from: string; bytes: number }[] = [];
  const tasks: string[] = [];
  return startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const raw = await readText(req);
    let body: Record<string, unknown> = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      return sendJson(res, 200, { ok: false, reason: 'Unexpected token in JSON' });
    }
    if (!TOKENS.has(String(req.headers['x-api-token'])))
      return sendJson(res, 200, { ok: false, reason: 'token' });
    if (req.method === 'GET' && path === '/media') return sendJson(res, 200, { ok: true, result: media });
    if (req.method === 'POST' && path === '/media/import') {
      let link: URL;
      try {
        link = new URL(body.url as string);
      } catch {
        return sendJson(res, 200, { ok: false, reason: 'Invalid URL' });
      }
      if (fixed && (link.protocol !== 'https:' || !link.hostname.endsWith('.cdn.mediadesk.example')))
        return sendJson(res, 200, { ok: false, reason: 'host not allowed' });
      if (isIP(link.hostname) === 0 && !/^localhost$/i.test(link.hostname) && !fixed)
        return sendJson(res, 200, { ok: false, reason: `could not resolve ${link.hostname}` });
      let bytes = -1;
      try {
        bytes = (await (await fetch(link, { signal: AbortSignal.timeout(1500) })).arrayBuffer()).byteLength;
      } catch {
        return sendJson(res, 200, { ok: false, reason: 'fetch failed' });
      }
      if (media.length < 50) media.push({ id: media.length + 1, from: link.href, bytes });
      return sendJson(res, 200, { ok: true, result: { id: media.length, bytes } });
    }
    if (req.method === 'POST' && path === '/maintenance/task') {
      const task = body.task as string;
      if (task !== 'reindex' && task !== 'vacuum')
        return sendJson(res, 200, { ok: false, reason: `Unknown maintenance task: ${task}` });
      if (tasks.length < 50) tasks.push(task);
      return sendJson(res, 200, { ok: true, result: { queued: task } });
    }
    return sendJson(res, 404, { ok: false, reason: 'not found' });
  }).then((api) => Object.assign(api, { tasks }));
}

describe('undeclared bodies learned from answers that name an `undefined` member', () => {
  let scans: TwinScans<TwinTarget & { tasks: string[] }>;
  before(async () => {
    scans = await scanTwins(SPEC, startDesk, {
      identities: [
        { name: 'ana', headers: { 'X-Api-Token': 'tok-ana-1' } },
        { name: 'bo', headers: { 'X-Api-Token': 'tok-bo-2' } },
      ],
      checks: ['API7'],
      ratePerSecond: 200,
    });
  });
  const ssrf = (kind: 'vulnerable' | 'fixed') =>
    scans[kind].result.findings
      .filter((f) => f.rule.id === 'scan/api7-ssrf')
      .map((f) => f.operation?.operationId);

  test('vulnerable: the import fetches what the learned url names (SSRF)', () => {
    assert.deepEqual(ssrf('vulnerable'), ['importMedia']);
  });
  test('fixed: none', () => {
    assert.deepEqual(ssrf('fixed'), []);
  });
  test('the task member is learned from "Unknown maintenance task: undefined" (body inferred)', () => {
    const rows = scans.vulnerable.result.coverage.matrix.filter((r) => r.operation.startsWith('POST '));
    assert.deepEqual(rows.map((r) => `${r.operation}: ${r.ids}`).sort(), [
      "POST /maintenance/task: request body not in the document, inferred from the API's error answers: task",
      "POST /media/import: request body not in the document, inferred from the API's error answers: url",
    ]);
  });
  test('no task was run (a made-up task name is none of them)', () => {
    for (const kind of ['vulnerable', 'fixed'] as const) assert.deepEqual(scans[kind].api.tasks, []);
  });
});
