import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JsonSchema } from '../../../core/api-document.ts';
import { buildApiDocument } from '../../../openapi/load.ts';
import {
  base64Input,
  headerInputs,
  namesObject,
  namesPerson,
  type ObjectInput,
  objectInputEntity,
  objectInputs,
  otherInputs,
  readPathEntity,
  readsByInput,
} from './object-inputs.ts';

const ok = { '200': { description: 'ok' } };
const q = (name: string, schema: object = { type: 'string' }) => ({ name, in: 'query', schema });
const SPEC = buildApiDocument('/reads.yaml', '3.0', {
  openapi: '3.0.3',
  info: { title: 'reads', version: '1' },
  paths: {
    '/invoice': {
      get: { parameters: [q('account'), q('format', { type: 'string', enum: ['pdf'] })], responses: ok },
    },
    '/receipt': {
      get: {
        parameters: [q('ref'), q('page', { type: 'integer' }), q('sort'), q('flag', { type: 'boolean' })],
        responses: ok,
      },
    },
    '/orders/view': {
      post: {
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  order_id: { type: 'integer' },
                  note: { type: 'string' },
                  flags: { type: 'object' },
                },
              },
            },
          },
        },
        responses: ok,
      },
    },
    '/orders/cancel': { post: { responses: ok } },
    '/appointments/cancel': { get: { parameters: [q('id')], responses: ok } },
    '/orders/{id}': { get: { parameters: [{ name: 'id', in: 'path', required: true }], responses: ok } },
    '/getInvoice': { post: { responses: ok } },
    '/lockers/open': { post: { responses: ok }, get: { parameters: [q('locker_no')], responses: ok } },
    '/cards/load': { post: { responses: ok } },
    '/messages/read': { post: { responses: ok } },
    '/coupons/redeem': { get: { parameters: [q('code')], responses: ok } },
    '/orders': { post: { responses: ok } },
  },
});
const op = (method: string, path: string) => {
  const found = SPEC.operations.find((o) => o.method === method && o.path === path);
  assert.ok(found, `${method} ${path}`);
  return found;
};

describe('reads whose object an input outside the path names', () => {
  test('a GET that does not act and a POST whose last segment reads; not actions, item routes or creations', () => {
    assert.equal(readsByInput(SPEC, op('GET', '/invoice')), true);
    assert.equal(readsByInput(SPEC, op('POST', '/orders/view')), true);
    assert.equal(readsByInput(SPEC, op('POST', '/getInvoice')), true);
    assert.equal(readsByInput(SPEC, op('POST', '/orders/cancel')), false);
    assert.equal(readsByInput(SPEC, op('GET', '/appointments/cancel')), false);
    assert.equal(readsByInput(SPEC, op('GET', '/orders/{id}')), false);
    assert.equal(readsByInput(SPEC, op('POST', '/orders')), false);
    // Paths that do more than read, whatever the method: a locker opened, a card topped up, a message marked read.
    for (const [method, path] of [
      ['POST', '/lockers/open'],
      ['GET', '/lockers/open'],
      ['POST', '/cards/load'],
      ['POST', '/messages/read'],
      ['GET', '/coupons/redeem'],
    ])
      assert.equal(readsByInput(SPEC, op(method, path)), false, `${method} ${path}`);
  });

  test('the inputs that name an object: id-like and account-like names, not listed values or objects', () => {
    assert.deepEqual(
      objectInputs(SPEC, op('GET', '/invoice')).map((i) => `${i.in}:${i.name}`),
      ['query:account'],
    );
    assert.deepEqual(
      objectInputs(SPEC, op('POST', '/orders/view')).map((i) => `${i.in}:${i.name}`),
      ['body:order_id'],
    );
    for (const name of ['id', 'order_id', 'orderId', 'invoice_no', 'policyNumber', 'account', 'email', 'uid'])
      assert.equal(namesObject(name), true, name);
    for (const name of ['format', 'page', 'note', 'valid', 'q']) assert.equal(namesObject(name), false, name);
    // Others that may name an object by value: not paging, sorting, searching or booleans.
    assert.deepEqual(
      otherInputs(SPEC, op('GET', '/receipt')).map((i) => i.name),
      ['ref'],
    );
    assert.deepEqual(
      otherInputs(SPEC, op('POST', '/orders/view')).map((i) => i.name),
      ['note'],
    );
  });

  test('the entity of a read path and of an input; persons and accounts by name or by the path', () => {
    assert.equal(readPathEntity('/orders/view'), 'order');
    assert.equal(readPathEntity('/api/v2/getInvoice'), 'invoice');
    assert.equal(readPathEntity('/api/account.php'), 'account');
    assert.equal(readPathEntity('/order-details'), 'order');
    assert.equal(objectInputEntity('order_id', '/x'), 'order');
    assert.equal(objectInputEntity('invoiceNo', '/x'), 'invoice');
    assert.equal(objectInputEntity('id', '/claims/show'), 'claim');
    for (const [name, path] of [
      ['user_id', '/x'],
      ['userId', '/x'],
      ['account', '/x'],
      ['email', '/x'],
      ['username', '/x'],
      ['uid', '/x'],
      ['id', '/profile'],
      ['id', '/api/account.php'],
    ])
      assert.equal(namesPerson(name, path), true, `${name} ${path}`);
    for (const [name, path] of [
      ['order_id', '/x'],
      ['id', '/orders'],
      ['claim_no', '/x'],
    ])
      assert.equal(namesPerson(name, path), false, `${name} ${path}`);
  });

  test('ids that go base64-encoded: by the schema, or by an example that is the base64 of a short id', () => {
    const input = (schema: JsonSchema, example?: unknown): ObjectInput => ({
      name: 'id',
      in: 'query',
      schema,
      example,
    });
    assert.equal(base64Input(SPEC, input({ type: 'string', format: 'byte' })), true);
    assert.equal(base64Input(SPEC, input({ type: 'string' }, 'Mg==')), true);
    assert.equal(base64Input(SPEC, input({ type: 'string' }, 'MTAwMQ==')), true);
    for (const example of ['1234', 'abcd', 'alice', 'c3Vw', undefined])
      assert.equal(base64Input(SPEC, input({ type: 'string' }, example)), false, String(example));
  });
});

describe('headerInputs', () => {
  const h = (name: string, schema: object = { type: 'string' }) => ({ name, in: 'header', schema });
  const doc = buildApiDocument('/headers.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 'headers', version: '1' },
    paths: {
      '/profile': {
        get: {
          parameters: [
            h('X-User-Id', { type: 'integer' }),
            h('X-CustomerId'),
            h('X-Request-Id'),
            h('X-Api-Key'),
            h('X-Order-Id'),
            h('Accept-Language'),
          ],
          responses: ok,
        },
      },
    },
  });
  test('takes the headers that name a person, named as an input is, and no credential or request id', () => {
    const op = doc.operations.find((o) => o.path === '/profile')!;
    assert.deepEqual(
      headerInputs(doc, op).map((i) => [i.name, i.header]),
      [
        ['user_id', 'X-User-Id'],
        ['customer_id', 'X-CustomerId'],
      ],
    );
  });
});
