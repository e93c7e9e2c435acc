import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanDocument } from './twins.ts';

/**
 * A user directory whose admin-only deletes the scan cannot try on objects of its own: no sign-up, and the
 * users and group members are seeded, so a plain scan must not delete any of them. It learns whether an ordinary
 * user gets past the function's authorization from the answer to an id that does not exist.
 *
 * - vulnerable: authentication, then the lookup (404 "no such user"), then no role check (only admins are kept
 *   from deletion): alice gets the admin's 404 for a missing id, and would delete bob.
 * - fixed: authentication, the role (403), then the lookup.
 * - lookupFirst: the lookup before anything, so everyone, anonymous callers too, gets the same 404 for a
 *   missing id; then authentication and the role. Nothing to tell from the answer: no finding.
 */
type Mode = 'vulnerable' | 'fixed' | 'lookupFirst';

const idParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'integer' } });
const USER = {
  type: 'object',
  properties: { id: { type: 'integer' }, name: { type: 'string' }, role: { type: 'string' } },
};
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const SPEC = {
  openapi: '3.1.0',
  info: { title: 'directory', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'x-user' } } },
  security: [{ key: [] }],
  paths: {
    '/admin/users': {
      get: {
        operationId: 'listUsers',
        summary: 'All users',
        responses: { '200': { description: 'users', ...json({ type: 'array', items: USER }) } },
      },
    },
    '/admin/users/{id}': {
      get: {
        operationId: 'getUser',
        summary: 'A user',
        parameters: [idParam('id')],
        responses: {
          '200': { description: 'a user', ...json(USER) },
          '404': { description: 'no such user' },
        },
      },
    },
    '/admin/delete-user/{id}': {
      delete: {
        operationId: 'deleteUser',
        summary: 'Delete a user',
        parameters: [idParam('id')],
        responses: { '200': { description: 'deleted', ...json({ type: 'object' }) } },
      },
    },
    '/groups': {
      get: {
        operationId: 'listGroups',
        summary: 'Groups and their members',
        responses: {
          '200': {
            description: 'groups',
            ...json({
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'integer' },
                  name: { type: 'string' },
                  members: { type: 'array', items: { type: 'integer' } },
                },
              },
            }),
          },
        },
      },
    },
    '/groups/{gid}/members/{uid}': {
      delete: {
        operationId: 'removeMember',
        summary: 'Remove a member',
        description: 'Removes a member from a group. Administrators only.',
        parameters: [idParam('gid'), idParam('uid')],
        responses: { '200': { description: 'removed', ...json({ type: 'object' }) } },
      },
    },
  },
};

interface Directory {
  readonly url: string;
  readonly server: Server;
  readonly users: Map<number, { id: number; name: string; role: string }>;
  readonly groups: Map<number, { id: number; name: string; members: number[] }>;
  /** Every DELETE the API received, as `path status`. */
  readonly deletes: string[];
}

async function startDirectory(mode: Mode): Promise<Directory> {
  const users = new Map(
    [
      { id: 1, name: 'alice', role: 'user' },
      { id: 2, name: 'bob', role: 'user' },
      { id: 3, name: 'root', role: 'admin' },
      { id: 4, name: 'carol', role: 'user' },
      { id: 5, name: 'dave', role: 'user' },
    ].map((u) => [u.id, u]),
  );
  const groups = new Map([[10, { id: 10, name: 'staff-room', members: [1, 4, 5] }]]);
  const deletes: string[] = [];
  const { url, server } = await startServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, body: unknown) => {
      if (req.method === 'DELETE') deletes.push(`${path} ${status}`);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const caller = [...users.values()].find((u) => u.name === req.headers['x-user']);
    const admin = caller?.role === 'admin';
    const refuse = (status: number, error: string) => {
      send(status, { error });
      return true as const;
    };
    const authenticate = () => (caller ? undefined : refuse(401, 'authentication required'));
    const authorize = () => (admin ? undefined : refuse(403, 'administrators only'));
    // Each route: the guards and the lookups, in the order the mode puts them; a handler answered if true.
    const steps = (lookups: (() => true | undefined)[]): boolean => {
      const order =
        mode === 'vulnerable'
          ? [authenticate, ...lookups]
          : mode === 'fixed'
            ? [authenticate, authorize, ...lookups]
            : [...lookups, authenticate, authorize];
      for (const step of order) {
        if (res.headersSent) return true;
        step();
      }
      return res.headersSent;
    };
    if (req.method === 'GET' && path === '/admin/users') {
      if (authenticate() ?? authorize()) return;
      return send(200, [...users.values()]);
    }
    if (req.method === 'GET' && path === '/groups') {
      if (authenticate()) return;
      return send(200, [...groups.values()]);
    }
    let m = /^\/admin\/users\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      if (authenticate() ?? authorize()) return;
      const user = users.get(Number(m[1]));
      return user ? send(200, user) : send(404, { error: 'no such user' });
    }
    m = /^\/admin\/delete-user\/(\d+)$/.exec(path);
    if (req.method === 'DELETE' && m) {
      const id = Number(m[1]);
      const lookup = () => (users.has(id) ? undefined : refuse(404, 'no such user'));
      if (steps([lookup])) return;
      if (users.get(id)?.role === 'admin') return send(403, { error: 'admins cannot be deleted' });
      users.delete(id);
      return send(200, { deleted: id });
    }
    m = /^\/groups\/(\d+)\/members\/(\d+)$/.exec(path);
    if (req.method === 'DELETE' && m) {
      const group = groups.get(Number(m[1]));
      const uid = Number(m[2]);
      const lookups = [
        () => (group ? undefined : refuse(404, 'no such group')),
        () => (group?.members.includes(uid) ? undefined : refuse(404, 'no such member')),
      ];
      if (steps(lookups)) return;
      group!.members = group!.members.filter((x) => x !== uid);
      return send(200, { removed: uid });
    }
    send(404, { error: 'no route', path });
  });
  return { url, server, users, groups, deletes };
}

const SEEDED_DELETE = /^\/(admin\/delete-user|groups\/10\/members)\/[1-5] /;

describe('API5 on admin deletes the scan cannot try on objects of its own: an id that does not exist', () => {
  const runs = {} as Record<Mode, { result: ScanResult; api: Directory }>;
  before(async () => {
    for (const mode of ['vulnerable', 'fixed', 'lookupFirst'] as const) {
      const api = await startDirectory(mode);
      try {
        const result = await scanDocument(SPEC, api.url, {
          identities: [
            { name: 'alice', headers: { 'x-user': 'alice' } },
            { name: 'bob', headers: { 'x-user': 'bob' } },
          ],
          admin: { name: 'root', headers: { 'x-user': 'root' } },
          checks: ['API5'],
          ratePerSecond: 200,
        });
        runs[mode] = { result, api };
      } finally {
        api.server.close();
      }
    }
  });

  test('the vulnerable twin: an ordinary user gets the admin’s not-found past the authorization', () => {
    const { result } = runs.vulnerable;
    assert.deepEqual(operationsFound(result), ['scan/api5-bfla deleteUser', 'scan/api5-bfla removeMember']);
    for (const f of result.findings) {
      assert.equal(f.severity, 'medium');
      assert.match(f.message, /same not-found answer \(404\) as root/);
      assert.match(f.message, /refused \(401\)/);
      assert.match(f.message, /nothing was deleted/);
    }
    // The id of the user is made up and was confirmed missing by the admin's read of that user.
    const user = result.findings.find((f) => f.operation?.operationId === 'deleteUser')!;
    assert.equal(user.evidence?.adminReadNotFound, true);
    assert.match(String(user.evidence?.request), /\/admin\/delete-user\/19\d{8}$/);
    // The member is made up (and its group too: nothing gave the scan a group id for `gid`).
    const member = result.findings.find((f) => f.operation?.operationId === 'removeMember')!;
    assert.match(String(member.evidence?.request), /\/groups\/\d+\/members\/19\d{8}$/);
  });

  test('the fixed twin (role checked first) has no finding', () => {
    assert.deepEqual(operationsFound(runs.fixed.result), []);
  });

  test('an API that looks the id up before any authorization has no finding, and says why', () => {
    const { result } = runs.lookupFirst;
    assert.deepEqual(operationsFound(result), []);
    const cell = result.coverage.matrix.find(
      (c) => c.check === 'API5' && c.operation === 'DELETE /admin/delete-user/{id}',
    );
    assert.ok(cell, JSON.stringify(result.coverage.matrix));
    const said = [cell.reason, ...(cell.notes ?? [])].filter((x) => x !== undefined).join('\n');
    assert.match(
      said,
      /anonymous callers all get the same not-found \(404\): the API looks the object up before any authorization/,
    );
  });

  test('no user and no member is deleted, and no DELETE named a seeded id, on any of them', () => {
    for (const mode of ['vulnerable', 'fixed', 'lookupFirst'] as const) {
      const { api } = runs[mode];
      assert.deepEqual([...api.users.keys()], [1, 2, 3, 4, 5], mode);
      assert.deepEqual(api.groups.get(10)?.members, [1, 4, 5], mode);
      assert.deepEqual(
        api.deletes.filter((d) => SEEDED_DELETE.test(d)),
        [],
        mode,
      );
      assert.ok(api.deletes.length > 0, `${mode}: the probe sent its deletes`);
      assert.ok(
        api.deletes.every((d) => / 40[134]$/.test(d)),
        `${mode}: ${api.deletes.join(', ')}`,
      );
    }
  });
});
