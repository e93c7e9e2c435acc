import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { readJson, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A project tracker in Laravel's style (Sanctum tokens `7|...` from `POST /api/login`, every record in `{"data":
 * ...}`, 422 `{"message", "errors": {field: [...]}}`, 403 `{"message": "This action is unauthorized."}`, 404 `{"message":
 * "No query results for model [App\\Models\\Task] 7"}`), with route-model binding: projects at
 * `/api/projects/{project}`, their tasks at `/api/projects/{project}/tasks/{task}`.
 *
 * Vulnerable: the task routes authorize the project (the caller's own, else 403) and then find the task by its id
 * alone (`Task::findOrFail($task)`), so a member reads, changes and deletes another member's task by naming it below
 * a project of its own. Fixed twin: the task is looked up among the project's tasks (`$project->tasks()
 * ->findOrFail($task)`): 404.
 *
 * A plain replay of another's task path is refused (403, the project is not the caller's) on both twins: only the
 * swap (the caller's own project, the other's task) shows the flaw. The scan makes the projects and tasks it swaps
 * (the caller's project and the other's task both its own), and the seeded ones stay as they were.
 */
const error422 = { description: 'validation failed' };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'tracker', version: '1.0.0' },
  components: { securitySchemes: { sanctum: { type: 'http', scheme: 'bearer' } } },
  security: [{ sanctum: [] }],
  paths: {
    '/api/login': {
      post: {
        operationId: 'login',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['email', 'password'],
                properties: { email: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'token' }, '422': error422 },
      },
    },
    '/api/projects': {
      get: { operationId: 'listProjects', responses: { '200': { description: 'projects' } } },
      post: {
        operationId: 'createProject',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name'],
                properties: { name: { type: 'string', maxLength: 80 } },
              },
            },
          },
        },
        responses: { '201': { description: 'created' }, '422': error422 },
      },
    },
    '/api/projects/{project}': {
      parameters: [{ name: 'project', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getProject', responses: { '200': { description: 'a project' } } },
    },
    '/api/projects/{project}/tasks': {
      parameters: [{ name: 'project', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'listTasks', responses: { '200': { description: 'tasks' } } },
      post: {
        operationId: 'createTask',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['title'],
                properties: {
                  title: { type: 'string', maxLength: 120 },
                  notes: { type: 'string', maxLength: 500 },
                },
              },
            },
          },
        },
        responses: { '201': { description: 'created' }, '422': error422 },
      },
    },
    '/api/projects/{project}/tasks/{task}': {
      parameters: [
        { name: 'project', in: 'path', required: true, schema: { type: 'integer' } },
        { name: 'task', in: 'path', required: true, schema: { type: 'integer' } },
      ],
      get: { operationId: 'getTask', responses: { '200': { description: 'a task' } } },
      patch: {
        operationId: 'updateTask',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  title: { type: 'string', maxLength: 120 },
                  notes: { type: 'string', maxLength: 500 },
                },
              },
            },
          },
        },
        responses: { '200': { description: 'updated' }, '422': error422 },
      },
      delete: { operationId: 'deleteTask', responses: { '204': { description: 'deleted' } } },
    },
  },
};

const USERS = [
  { id: 1, email: 'lena@tracker.test', password: 'lena-Tracker-9' },
  { id: 2, email: 'milo@tracker.test', password: 'milo-Tracker-4' },
];
interface Project {
  id: number;
  user_id: number;
  name: string;
}
interface Task {
  id: number;
  project_id: number;
  title: string;
  notes: string;
}
const seed = () => ({
  projects: [
    { id: 1, user_id: 1, name: 'Garden shed' },
    { id: 2, user_id: 2, name: 'Kitchen tiles' },
  ] as Project[],
  tasks: [
    { id: 1, project_id: 1, title: 'Order timber', notes: 'larch, 40 boards' },
    { id: 2, project_id: 2, title: 'Pick grout colour', notes: 'anthracite?' },
  ] as Task[],
});
type Data = ReturnType<typeof seed>;

function startTracker(fixed: boolean) {
  const data = seed();
  const tokens = new Map<string, number>();
  let next = 100;
  const started = startServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const message = (status: number, text: string) => sendJson(res, status, { message: text });
    const invalid = (field: string) =>
      sendJson(res, 422, {
        message: `The ${field} field is required.`,
        errors: { [field]: [`The ${field} field is required.`] },
      });
    if (req.method === 'POST' && path === '/api/login') {
      const body = await readJson(req);
      const u = USERS.find((x) => x.email === body?.email && x.password === body?.password);
      if (!u)
        return sendJson(res, 422, { message: 'These credentials do not match our records.', errors: {} });
      const token = `${tokens.size + 1}|${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
      tokens.set(token, u.id);
      return sendJson(res, 200, { token });
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const caller = token === undefined ? undefined : tokens.get(token);
    if (caller === undefined) return message(401, 'Unauthenticated.');
    if (path === '/api/projects') {
      if (req.method === 'GET')
        return sendJson(res, 200, { data: data.projects.filter((p) => p.user_id === caller) });
      if (req.method === 'POST') {
        const body = await readJson(req);
        if (typeof body?.name !== 'string' || body.name === '') return invalid('name');
        const p = { id: next++, user_id: caller, name: body.name };
        data.projects.push(p);
        return sendJson(res, 201, { data: p });
      }
    }
    const m = /^\/api\/projects\/(\d+)(?:\/tasks(?:\/(\d+))?)?$/.exec(path);
    if (!m) return message(404, 'Not Found');
    const project = data.projects.find((p) => String(p.id) === m[1]);
    if (!project) return message(404, `No query results for model [App\\Models\\Project] ${m[1]}`);
    if (project.user_id !== caller) return message(403, 'This action is unauthorized.');
    if (path === `/api/projects/${m[1]}`) {
      if (req.method === 'GET') return sendJson(res, 200, { data: project });
      return message(405, 'Method Not Allowed');
    }
    if (m[2] === undefined) {
      if (req.method === 'GET')
        return sendJson(res, 200, { data: data.tasks.filter((t) => t.project_id === project.id) });
      if (req.method === 'POST') {
        const body = await readJson(req);
        if (typeof body?.title !== 'string' || body.title === '') return invalid('title');
        const t = {
          id: next++,
          project_id: project.id,
          title: body.title,
          notes: typeof body.notes === 'string' ? body.notes : '',
        };
        data.tasks.push(t);
        return sendJson(res, 201, { data: t });
      }
      return message(405, 'Method Not Allowed');
    }
    const task = data.tasks.find((t) => String(t.id) === m[2] && (!fixed || t.project_id === project.id));
    if (!task) return message(404, `No query results for model [App\\Models\\Task] ${m[2]}`);
    if (req.method === 'GET') return sendJson(res, 200, { data: task });
    if (req.method === 'PATCH') {
      const body = await readJson(req);
      if (typeof body?.title === 'string') task.title = body.title;
      if (typeof body?.notes === 'string') task.notes = body.notes;
      return sendJson(res, 200, { data: task });
    }
    if (req.method === 'DELETE') {
      data.tasks.splice(data.tasks.indexOf(task), 1);
      res.writeHead(204);
      return res.end();
    }
    return message(405, 'Method Not Allowed');
  });
  return started.then((s) => ({ ...s, data }));
}

const SEEDED = JSON.stringify(seed());
const seededNow = (data: Data) =>
  JSON.stringify({
    projects: data.projects.filter((p) => p.id < 100),
    tasks: data.tasks.filter((t) => t.id < 100),
  });

describe("a task found by its id alone below the caller's own project: swapped writes and deletes", () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; data: Data }>;
  before(async () => {
    const login = (u: (typeof USERS)[number]) => ({
      name: u.email.split('@')[0],
      login: { path: '/api/login', body: { email: u.email, password: u.password } },
    });
    const scans = await scanTwins(SPEC, startTracker, {
      identities: [login(USERS[0]), login(USERS[1])],
      checks: ['API1'],
      ratePerSecond: 200,
    });
    for (const kind of ['vulnerable', 'fixed'] as const)
      runs[kind] = { result: scans[kind].result, data: scans[kind].api.data };
  });

  test("another's task read, changed and deleted below the caller's own project", () => {
    const found = operationsFound(runs.vulnerable.result);
    assert.ok(found.includes('scan/api1-bola-read getTask'), found.join('\n'));
    assert.ok(found.includes('scan/api1-bola-write updateTask'), found.join('\n'));
    assert.ok(found.includes('scan/api1-bola-delete deleteTask'), found.join('\n'));
    const write = runs.vulnerable.result.findings.find((f) => f.rule.id === 'scan/api1-bola-write');
    assert.match(write?.message ?? '', /below its own parent/);
  });

  test('the fixed twin: no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed.result), []);
  });

  test('the seeded projects and tasks are unchanged on both twins', () => {
    assert.equal(seededNow(runs.vulnerable.data), SEEDED);
    assert.equal(seededNow(runs.fixed.data), SEEDED);
  });
});
