import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApiDocument } from '../../../openapi/load.ts';
import { ordinaryValues, signup } from './throwaway.ts';

const ok = { responses: { '201': { description: 'made' } } };
const json = (properties: Record<string, unknown>) => ({
  requestBody: { content: { 'application/json': { schema: { type: 'object', properties } } } },
});

test("an admin-made account of the scan's own gets the lowest privilege values", () => {
  const spec = buildApiDocument('/u.yaml', '3.1', {
    openapi: '3.1.0',
    info: { title: 't', version: '1' },
    paths: {
      '/admin/users': {
        post: {
          ...ok,
          ...json({
            username: { type: 'string' },
            password: { type: 'string' },
            role: { type: 'string', enum: ['teller', 'customer', 'admin'] },
            is_admin: { type: 'boolean' },
            groups: { type: 'array', items: { type: 'string', enum: ['staff', 'members'] } },
            level: { type: 'string', enum: ['root', 'superuser'] },
            user_type: { type: 'string' },
          }),
        },
      },
    },
  });
  const s = signup({ spec } as never);
  assert.ok(s);
  assert.deepEqual(ordinaryValues({ spec }, s), {
    role: 'customer',
    is_admin: false,
    groups: ['members'],
    // A list with nothing but privileged values: not sent.
    level: undefined,
    user_type: 'user',
  });
});
