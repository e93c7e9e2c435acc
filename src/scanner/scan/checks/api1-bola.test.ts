import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { buildApiDocument, loadApiDocument } from '../../../openapi/load.ts';
import { pathValues } from '../planner.ts';
import {
  actingPathEntity,
  inputEntity,
  markBody,
  markNumbers,
  personalMembers,
  recordless,
  referencedEntity,
} from './api1-bola.ts';

describe('the update body API1 sends', () => {
  test('marks free-text strings only, so enums, dates and bounded fields stay valid', async () => {
    const spec = await loadApiDocument(
      path.join(import.meta.dirname, '../../../../test/fixtures/scan-targets/fastapi-petclinic/openapi.yaml'),
    );
    const schema = { $ref: '#/components/schemas/PetUpdate' };
    const body = markBody(spec, schema, { name: 'Rex', species: 'dog', birth_date: '2020-01-01' }, 'pcbola1');
    assert.deepEqual(body, { name: 'pcbola1', species: 'dog', birth_date: '2020-01-01' });
    const short = markBody(spec, { type: 'string', maxLength: 3 }, 'abc', 'pcbola1');
    assert.equal(short, 'abc');
  });
});

describe('the action body API1 sends and the path values it judges', () => {
  test('moves numbers to a value the owner will see, within bounds, and leaves enums alone', async () => {
    const spec = await loadApiDocument(
      path.join(import.meta.dirname, '../../../../test/fixtures/scan-targets/fastapi-petclinic/openapi.yaml'),
    );
    const schema = {
      type: 'object',
      properties: {
        limit: { type: 'number' },
        small: { type: 'integer', minimum: 1, maximum: 10 },
        level: { type: 'integer', enum: [1, 2] },
      },
    };
    assert.deepEqual(markNumbers(spec, schema, { limit: 1000, small: 1, level: 1 }), {
      limit: 4242,
      small: 2,
      level: 1,
    });
  });

  test('reads the values of a concrete path by parameter, inside segments too', () => {
    assert.deepEqual(
      pathValues('/api/v{version}/members/{member_no}/card', '/api/v2/members/M-1%2Fx/card?a=1'),
      [
        { name: 'version', value: '2' },
        { name: 'member_no', value: 'M-1/x' },
      ],
    );
  });
});

describe('the reference fields API1 points at another identity’s objects', () => {
  test('names the referenced collection, in any spelling', () => {
    assert.equal(referencedEntity('credit_card_id'), 'creditcard');
    assert.equal(referencedEntity('paymentMethodId'), 'paymentmethod');
    assert.equal(referencedEntity('address_ids'), 'address');
  });

  test('leaves out recipients and people, which a caller may rightly name', () => {
    for (const field of [
      'to_account_id',
      'recipientCardId',
      'payee_id',
      'friend_id',
      'account_id',
      'user_id',
    ]) {
      assert.equal(referencedEntity(field), undefined, field);
    }
    assert.equal(referencedEntity('id'), undefined);
  });
});

describe('the object an acting input names', () => {
  test('a plain id names the entity of the path, beside its verb or inside it', () => {
    assert.equal(actingPathEntity('/appointments/cancel'), 'appointment');
    assert.equal(actingPathEntity('/api/v1/orders/cancel'), 'order');
    assert.equal(actingPathEntity('/cancel-appointment'), 'appointment');
    assert.equal(actingPathEntity('/api/cancelBooking'), 'booking');
    assert.equal(inputEntity('id', '/appointments/cancel'), 'appointment');
    assert.equal(inputEntity('ids', '/v2/tickets/close'), 'ticket');
  });

  test('a named id by its name; people, recipients and other inputs name none', () => {
    assert.equal(inputEntity('order_id', '/orders/cancel'), 'order');
    assert.equal(inputEntity('bookingId', '/cancel'), 'booking');
    assert.equal(inputEntity('order_no', '/orders/cancel'), 'order');
    assert.equal(inputEntity('user_id', '/users/ban'), undefined);
    assert.equal(inputEntity('to_id', '/transfers/send'), undefined);
    assert.equal(inputEntity('reason', '/orders/cancel'), undefined);
    assert.equal(inputEntity('video', '/videos/delete'), undefined);
  });
});

describe('the personal data of a record anyone reads by id', () => {
  const get = { get: { responses: { '200': { description: 'ok' } } } };
  const doc = buildApiDocument('/people.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 'people', version: '1' },
    paths: {
      '/tenants/{id}': get,
      '/buildings/{id}': get,
      '/tenants/{id}/payments': get,
      '/users/{id}/stats': get,
      '/orders/{id}': get,
    },
  });
  const op = (path: string) => doc.operations.find((o) => o.path === path)!;

  test("a person's record: its contact and money members, not a machine's address", () => {
    const record = {
      id: 1,
      fullName: 'A B',
      email: 'a@b.example',
      phone: '+1 555',
      walletAddress: '0xab',
      rentBalance: 0,
    };
    assert.deepEqual(personalMembers(op('/tenants/{id}'), { data: record }), [
      'email',
      'phone',
      'rentBalance',
    ]);
  });

  test("a record that is nobody's (no person collection, owner or name) shows nothing personal", () => {
    assert.deepEqual(
      personalMembers(op('/buildings/{id}'), { id: 1, address: '14 Canal St', phone: '+1 555' }),
      [],
    );
  });

  test('a record naming its person by an owner member counts outside a collection of people', () => {
    assert.deepEqual(
      personalMembers(op('/orders/{id}'), { id: 3, userId: 8, shippingAddress: '1 Main St' }),
      ['shippingAddress'],
    );
  });

  test("a list below a person's item: its items' money moves, not a counter", () => {
    const payments = { _embedded: { payments: [{ paidOn: '2026-11-01', amount: 790 }] } };
    assert.deepEqual(personalMembers(op('/tenants/{id}/payments'), payments), ['amount']);
    assert.deepEqual(personalMembers(op('/users/{id}/stats'), { totalPosts: 5, followers: [{ id: 2 }] }), []);
  });
});

describe('an answer that holds no record is no evidence of a read', () => {
  test('empty lists and pages are recordless; a record, a list of records or a message is not', () => {
    for (const empty of [
      [],
      {},
      { data: [] },
      { data: [], total: 0, next: null },
      { items: [], meta: { page: 1 } },
      // A HAL page of a Spring API (review R1-1: its empty refunds were evidence of a read of alice's data).
      {
        _embedded: { refunds: [] },
        _links: { self: { href: 'http://127.0.0.1/api/orders/1003/refunds?page=0&size=20' } },
        page: { size: 0, totalElements: 0, totalPages: 0, number: 0 },
      },
      // A Spring Data page as Jackson writes it.
      {
        content: [],
        pageable: {
          pageNumber: 0,
          pageSize: 20,
          sort: { empty: true, sorted: false, unsorted: true },
          offset: 0,
        },
        totalElements: 0,
        totalPages: 0,
        last: true,
        first: true,
        numberOfElements: 0,
        empty: true,
      },
    ])
      assert.equal(recordless(empty), true, JSON.stringify(empty));
    for (const full of [
      { id: 3, title: 'x' },
      [{ id: 3 }],
      { data: [{ id: 3 }] },
      { data: { id: 3 } },
      { status: 'ok' },
      { items: [], owner: 'alice' },
      { _embedded: { refunds: [{ id: 7, amountCents: 500 }] }, _links: { self: { href: '/x' } } },
      { content: [], owner: { name: 'alice' } },
      'text',
      null,
    ])
      assert.equal(recordless(full), false, JSON.stringify(full));
  });
});
