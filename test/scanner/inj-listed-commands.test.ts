import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { findingOn, headerIdentities, operationsFound, scanTwins, type TwinScans } from './twins.ts';

/**
 * A network appliance's maintenance API in the style of a Go chi service (`X-Auth-Token`, errors as `{"error":
 * "..."}`). The actions a caller may run are not in the document: `GET /api/diag` lists them (`allowed_actions`),
 * and `GET /api/tools` lists the tools as objects (`supportedTools: [{name, summary}]`); `POST /api/maint/exec
 * {task}` names its tasks only in its refusal (`unknown task; allowed tasks: df, true`). `POST /api/diag/run
 * {action}`, `POST /api/tools/invoke {tool}` and it refuse anything else with 400. Vulnerable: they check only that the
 * value starts with a listed name, then run it through a shell. Fixed: the value must be one of the names exactly,
 * run without a shell. A made-up value is refused by both twins, so the command canary after it proves nothing:
 * only a listed name followed by the canary reaches the shell.
 */
const json = (schema: object) => ({ 'application/json': { schema } });
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'appliance maintenance', version: '1.4' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'X-Auth-Token' } } },
  security: [{ token: [] }],
  paths: {
    '/api/diag': {
      get: {
        operationId: 'diagInfo',
        responses: {
          '200': { description: 'what the diagnostics can do', content: json({ type: 'object' }) },
        },
      },
    },
    '/api/diag/run': {
      post: {
        operationId: 'runDiag',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['action'],
            properties: { action: { type: 'string', description: 'an action GET /api/diag allows' } },
          }),
        },
        responses: { '200': { description: 'its output', content: json({ type: 'object' }) } },
      },
    },
    '/api/maint/exec': {
      post: {
        operationId: 'execTask',
        requestBody: {
          required: true,
          content: json({ type: 'object', required: ['task'], properties: { task: { type: 'string' } } }),
        },
        responses: { '200': { description: 'its output', content: json({ type: 'object' }) } },
      },
    },
    '/api/tools': {
      get: {
        operationId: 'listTools',
        responses: { '200': { description: 'the tools', content: json({ type: 'object' }) } },
      },
    },
    '/api/tools/invoke': {
      post: {
        operationId: 'invokeTool',
        requestBody: {
          required: true,
          content: json({ type: 'object', required: ['tool'], properties: { tool: { type: 'string' } } }),
        },
        responses: { '200': { description: 'its output', content: json({ type: 'object' }) } },
      },
    },
  },
};

const TOKENS: Record<string, string> = { 'ap-7f3a-alice': 'alice', 'ap-19c2-bob': 'bob' };
const ACTIONS = ['uptime', 'date', 'hostname'];
const TOOLS = ['whoami', 'pwd'];
const TASKS = ['df', 'true'];

function startAppliance(fixed: boolean): Promise<TestServer> {
  return startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://appliance').pathname;
    const fail = (status: number, error: string) => sendJson(res, status, { error });
    if (!TOKENS[String(req.headers['x-auth-token'] ?? '')]) return fail(401, 'unauthorized');
    if (path === '/api/diag' && req.method === 'GET')
      return sendJson(res, 200, { allowed_actions: ACTIONS, version: 'diag/2' });
    if (path === '/api/tools' && req.method === 'GET')
      return sendJson(res, 200, {
        supportedTools: TOOLS.map((name) => ({ name, summary: `runs ${name}` })),
      });
    const runs =
      req.method === 'POST' && path === '/api/diag/run'
        ? { field: 'action', names: ACTIONS }
        : req.method === 'POST' && path === '/api/tools/invoke'
          ? { field: 'tool', names: TOOLS }
          : req.method === 'POST' && path === '/api/maint/exec'
            ? { field: 'task', names: TASKS }
            : undefined;
    if (!runs) return fail(404, 'not found');
    const body = await readJson(req);
    const value = body?.[runs.field];
    if (typeof value !== 'string') return fail(400, `${runs.field} is required`);
    const allowed = fixed ? runs.names.includes(value) : runs.names.some((n) => value.startsWith(n));
    // The tasks are listed nowhere but in the refusal itself.
    if (!allowed)
      return fail(
        400,
        `unknown ${runs.field}${runs.field === 'task' ? `; allowed tasks: ${TASKS.join(', ')}` : ''}`,
      );
    const done = (err: Error | null, stdout: string) =>
      err ? fail(500, 'it failed') : sendJson(res, 200, { output: stdout.trim() });
    if (fixed) execFile(value, [], { timeout: 2000 }, done);
    else execFile('/bin/sh', ['-c', value], { timeout: 2000 }, done);
  });
}

describe('command inputs whose values an answer lists (allowed_actions, supportedTools): a listed value plus the canary', () => {
  let scans: TwinScans<TestServer>;
  before(async () => {
    scans = await scanTwins(SPEC, startAppliance, {
      identities: headerIdentities('X-Auth-Token', { alice: 'ap-7f3a-alice', bob: 'ap-19c2-bob' }),
      checks: ['API8'],
      ratePerSecond: 300,
    });
  });

  test('vulnerable: command injection on both runs, with a listed name before the canary', () => {
    const found = operationsFound(scans.vulnerable.result);
    assert.ok(found.includes('scan/api8-command-injection runDiag'), found.join('\n'));
    assert.ok(found.includes('scan/api8-command-injection invokeTool'), found.join('\n'));
    const diag = findingOn(scans.vulnerable.result, 'scan/api8-command-injection', 'runDiag');
    assert.match(String(diag?.evidence?.payload), /^(uptime|date|hostname)\W/);
    const tool = findingOn(scans.vulnerable.result, 'scan/api8-command-injection', 'invokeTool');
    assert.match(String(tool?.evidence?.payload), /^(whoami|pwd)\W/);
    // Listed only in the refusal's message.
    const task = findingOn(scans.vulnerable.result, 'scan/api8-command-injection', 'execTask');
    assert.match(String(task?.evidence?.payload), /^(df|true)\W/, found.join('\n'));
  });

  test('fixed twin: no injection finding', () => {
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((f) => /injection/.test(f)),
      [],
    );
  });
});
