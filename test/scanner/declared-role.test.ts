import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Workspace members in a Django REST style (trailing slashes, `X-Api-Key`, 201 with the id only): the
 * request schemas DECLARE the privilege fields as plain strings without an enum (`role` on creation,
 * `access_level` on update), as documents generated from loose models do. Vulnerable: whatever value is sent
 * is stored. Fixed twin: a creation's role is always `viewer`, and an update's access level is `read` or
 * `write` (anything else: 422). Only declared fields are ever stored, so the undeclared privileged names
 * find nothing in either twin: the declared ones are the flaw.
 */
const MEMBER = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    role: { type: 'string' },
    access_level: { type: 'string' },
  },
};
const SPEC = {
  openapi: '3.0.1',
  info: { title: 'workspace', version: '1.4' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/members/': {
      post: {
        operationId: 'createMember',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name'],
                properties: {
                  name: { type: 'string' },
                  role: { type: 'string', description: 'Member role' },
                },
              },
            },
          },
        },
        responses: {
          '201': {
            description: 'created',
            content: {
              'application/json': { schema: { type: 'object', properties: { id: { type: 'integer' } } } },
            },
          },
        },
      },
    },
    '/members/{id}/': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getMember',
        responses: {
          '200': { description: 'a member', content: { 'application/json': { schema: MEMBER } } },
        },
      },
      patch: {
        operationId: 'updateMember',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { name: { type: 'string' }, access_level: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'updated', content: { 'application/json': { schema: MEMBER } } } },
      },
    },
  },
};

interface Member {
  id: number;
  name: string;
  role: string;
  access_level: string;
  creator: string;
}

async function startWorkspace(fixed: boolean): Promise<{ url: string; server: Server }> {
  const members = new Map<number, Member>();
  let next = 100;
  const view = (m: Member) => ({ id: m.id, name: m.name, role: m.role, access_level: m.access_level });
  return startServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const user = { 'k-alice': 'alice', 'k-bob': 'bob' }[String(req.headers['x-api-key'])];
    if (!user) return send(403, { detail: 'Authentication credentials were not provided.' });
    const m = /^\/members\/(?:(\d+)\/)?$/.exec((req.url ?? '').split('?')[0]);
    if (!m) return send(404, { detail: 'Not found.' });
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      if (raw !== '') {
        try {
          body = JSON.parse(raw);
        } catch {
          return send(400, { detail: 'JSON parse error' });
        }
      }
      if (m[1] === undefined) {
        if (req.method !== 'POST') return send(405, { detail: 'Method not allowed.' });
        if (typeof body.name !== 'string') return send(400, { name: ['This field is required.'] });
        const role = !fixed && typeof body.role === 'string' ? body.role : 'viewer';
        const member = { id: next++, name: body.name, role, access_level: 'read', creator: user };
        members.set(member.id, member);
        return send(201, { id: member.id });
      }
      const member = members.get(Number(m[1]));
      if (!member || member.creator !== user) return send(404, { detail: 'Not found.' });
      if (req.method === 'GET') return send(200, view(member));
      if (req.method !== 'PATCH') return send(405, { detail: 'Method not allowed.' });
      if (typeof body.name === 'string') member.name = body.name;
      if (typeof body.access_level === 'string') {
        if (fixed && !['read', 'write'].includes(body.access_level)) {
          return send(422, { access_level: ['Not a valid choice.'] });
        }
        member.access_level = body.access_level;
      }
      send(200, view(member));
    });
  });
}

describe('API3 on privilege fields the request schema declares as free strings', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startWorkspace, {
      identities: [
        { name: 'alice', headers: { 'x-api-key': 'k-alice' } },
        { name: 'bob', headers: { 'x-api-key': 'k-bob' } },
      ],
      checks: ['API3'],
      ratePerSecond: 200,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  test('reports role stored by a creation and access_level by an update, read back from the member', () => {
    assert.deepEqual(operationsFound(results.vulnerable), [
      'scan/api3-mass-assignment createMember',
      'scan/api3-mass-assignment updateMember',
    ]);
    const byOp = (id: string) => results.vulnerable.findings.find((f) => f.operation?.operationId === id);
    assert.match(
      byOp('createMember')?.message ?? '',
      /stored fields a client must not set: role \(privileged value\)\./,
    );
    assert.match(byOp('updateMember')?.message ?? '', /access_level \(privileged value\)/);
  });

  test('finds nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(results.fixed), []);
  });
});
