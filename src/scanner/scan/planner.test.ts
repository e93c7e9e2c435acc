import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ApiDocument, Operation } from '../../core/api-document.ts';
import { buildApiDocument, loadApiDocument } from '../../openapi/load.ts';
import { encodeBody, FilePart, type ScanResponse } from './client.ts';
import { CONFIRMED } from './harvest.ts';
import {
  actingInputs,
  captureId,
  createdValue,
  createsInSubCollection,
  creationCollection,
  draftCreation,
  inDeclaredEncoding,
  inputActs,
  isAdminOperation,
  isBusinessFlow,
  isCreationOperation,
  isLinkedCreation,
  isLoginOperation,
  isUuid,
  itemParam,
  linkedItemRoute,
  listedValue,
  loginByWords,
  madeUpId,
  madeUpOfShape,
  madeUpUuid,
  memberParam,
  missingFields,
  moneyMoveReason,
  movesMoney,
  noteConfirmedReader,
  ObjectRegistry,
  opActs,
  paidByCaller,
  pathActs,
  placeholderExample,
  planRequest,
  privilegedArea,
  purchases,
  requiresAuth,
  stateActs,
  withoutMadeUpCodes,
  writeTarget,
  xmlLeaves,
} from './planner.ts';

const SPEC = fileURLToPath(
  new URL('../../../test/fixtures/vulnerable-api/vulnerable.openapi.yaml', import.meta.url),
);

function response(json: unknown, headers: Record<string, string> = {}): ScanResponse {
  return {
    status: 201,
    headers,
    text: JSON.stringify(json),
    json,
    durationMs: 1,
    sent: { method: 'POST', url: 'x' },
  };
}

describe('request planning', () => {
  let spec: ApiDocument;
  const op = (id: string): Operation => spec.operations.find((o) => o.id === id)!;
  before(async () => {
    spec = await loadApiDocument(SPEC);
  });

  test('classifies login, admin, business-flow, creation and secured operations', () => {
    assert.deepEqual(
      spec.operations.filter((o) => isLoginOperation(spec, o)).map((o) => o.id),
      ['login'],
    );
    assert.deepEqual(
      spec.operations.filter(isAdminOperation).map((o) => o.id),
      ['adminListUsers'],
    );
    assert.deepEqual(
      spec.operations.filter((o) => isBusinessFlow(spec, o)).map((o) => o.id),
      ['redeemCoupon'],
    );
    assert.deepEqual(
      spec.operations.filter((o) => isCreationOperation(spec, o)).map((o) => o.id),
      ['createNote'],
    );
    assert.equal(requiresAuth(op('login')), false);
    assert.equal(requiresAuth(op('getNote')), true);
  });

  test('fills a path parameter with the id an identity captured from its own create response', () => {
    const objects = new ObjectRegistry();
    const id = captureId(spec, op('createNote'), response({ id: 'n-1', title: 't' }));
    assert.equal(id, 'n-1');
    objects.add({
      collection: '/v2/notes',
      path: '/v2/notes/n-1',
      id: 'n-1',
      owner: 'alice',
      body: {},
      createdBy: op('createNote'),
    });
    const mine = planRequest(spec, op('getNote'), objects, { owner: 'alice' });
    assert.equal(mine.path, '/v2/notes/n-1');
    assert.equal(mine.ownedPath, true);
    const theirs = planRequest(spec, op('getNote'), objects, { owner: 'bob' });
    assert.notEqual(theirs.path, '/v2/notes/n-1');
    assert.equal(theirs.ownedPath, false);
    assert.equal(objects.isScanCreated('/v2/notes/n-1'), true);
    assert.equal(objects.isScanCreated('/v2/notes/other'), false);
  });

  test('captures an id from the Location header when the body has none', () => {
    assert.equal(captureId(spec, op('createNote'), response(undefined, { location: '/v2/notes/77' })), '77');
  });

  test('sends required query parameters and those with examples, with their examples', () => {
    assert.equal(
      planRequest(spec, op('searchProducts'), new ObjectRegistry()).path,
      '/v2/products?search=lamp',
    );
    assert.equal(planRequest(spec, op('listNotes'), new ObjectRegistry()).path, '/v2/notes');
    assert.equal(
      planRequest(spec, op('listNotes'), new ObjectRegistry(), { params: { limit: '5' } }).path,
      '/v2/notes?limit=5',
    );
  });

  test('samples a JSON body from the request schema', () => {
    const req = planRequest(spec, op('redeemCoupon'), new ObjectRegistry());
    assert.deepEqual(req.body, { code: 'WELCOME10' });
    const signUp = planRequest(spec, op('signUp'), new ObjectRegistry()).body as Record<string, string>;
    assert.deepEqual(Object.keys(signUp).sort(), ['email', 'password', 'username']);
    assert.match(signUp.email, /@example\.com$/);
  });
});

describe('request planning with harvested values (a MongoDB-style API)', () => {
  const KANBAN = fileURLToPath(
    new URL('../../../test/fixtures/scan-targets/express-kanban/openapi.yaml', import.meta.url),
  );
  let spec: ApiDocument;
  const op = (method: string, path: string): Operation =>
    spec.operations.find((o) => o.method === method && o.path === path)!;
  before(async () => {
    spec = await loadApiDocument(KANBAN);
  });

  test('takes a registration beside the login under /auth for no login', () => {
    assert.equal(isLoginOperation(spec, op('POST', '/api/auth/login')), true);
    assert.equal(isLoginOperation(spec, op('POST', '/api/auth/register')), false);
  });

  test('fills path parameters with ids the identity saw, and says when it had to invent one', () => {
    const objects = new ObjectRegistry();
    objects.harvest.setOrdinary(['alice', 'bob']);
    objects.harvest.record('alice', '/api/boards', {
      success: true,
      data: [{ _id: '6b15910c1c0c4d10d278a075', title: 'Roadmap' }],
    });
    const mine = planRequest(spec, op('GET', '/api/boards/{boardId}'), objects, { owner: 'alice' });
    assert.equal(mine.path, '/api/boards/6b15910c1c0c4d10d278a075');
    assert.deepEqual([mine.ownedPath, mine.invented], [true, []]);
    // Bob has seen no board: he gets Alice's (a value the API gave out), which is not his own.
    const theirs = planRequest(spec, op('GET', '/api/boards/{boardId}'), objects, { owner: 'bob' });
    assert.equal(theirs.path, '/api/boards/6b15910c1c0c4d10d278a075');
    assert.equal(theirs.ownedPath, false);
    const card = planRequest(spec, op('DELETE', '/api/boards/{boardId}/cards/{cardId}'), objects, {
      owner: 'alice',
    });
    assert.deepEqual(card.invented, ['cardId']);
  });
});

describe("a document's placeholder examples", () => {
  test('are told from real examples', () => {
    for (const v of [
      'string',
      'any',
      'Example',
      'test',
      '<account>',
      'your_token',
      '...',
      '{{iban}}',
      '',
      'account_no',
    ])
      assert.ok(placeholderExample(v, 'account_no'), v);
    assert.ok(placeholderExample('user@example.com', 'email'));
    for (const v of [
      'CO-4411-0001',
      'DE89370400440532013000',
      'alice',
      42,
      'testing-ground-7',
      'ann@shop.test',
    ])
      assert.ok(!placeholderExample(v, 'account_no'), String(v));
  });

  test('give way to a value the API gave out, in a body and in a query', () => {
    const spec = buildApiDocument('/lookup.yaml', '3.0', {
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      paths: {
        '/transfers': {
          post: {
            requestBody: {
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      account_no: { type: 'string', example: 'string' },
                      note: { type: 'string', example: 'string' },
                      iban: { type: 'string', example: 'DE00123' },
                    },
                  },
                },
              },
            },
            responses: { '200': { description: 'ok' } },
          },
        },
        '/statement': {
          get: {
            parameters: [
              { name: 'account_no', in: 'query', required: true, example: 'any', schema: { type: 'string' } },
            ],
            responses: { '200': { description: 'ok' } },
          },
        },
      },
    });
    const objects = new ObjectRegistry();
    objects.harvest.setOrdinary(['alice', 'bob']);
    objects.harvest.record('alice', '/account', { account_no: 'CO-4411-0001', note: 'hi', iban: 'DE99' });
    const post = spec.operations.find((o) => o.path === '/transfers')!;
    const body = planRequest(spec, post, objects, { owner: 'alice' }).body as Record<string, unknown>;
    // In a write, the number's placeholder gives way; free text keeps its sample, a real example stays.
    assert.deepEqual(body, { account_no: 'CO-4411-0001', note: 'string', iban: 'DE00123' });
    const get = spec.operations.find((o) => o.path === '/statement')!;
    assert.equal(
      planRequest(spec, get, objects, { owner: 'alice' }).path,
      '/statement?account_no=CO-4411-0001',
    );
    // In a read that finds (`POST /members/find`), any input's placeholder gives way; a secret's never does.
    const finder = buildApiDocument('/find.yaml', '3.0', {
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      paths: {
        '/members/find': {
          post: {
            requestBody: {
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      note: { type: 'string', example: 'string' },
                      reset_code: { type: 'string', example: 'string' },
                    },
                  },
                },
              },
            },
            responses: { '200': { description: 'ok' } },
          },
        },
      },
    });
    objects.harvest.record('alice', '/account', { reset_code: 'RC-77' });
    assert.deepEqual(planRequest(finder, finder.operations[0], objects, { owner: 'alice' }).body, {
      note: 'hi',
      reset_code: 'string',
    });
    // Nothing given out: the placeholder is all there is.
    assert.equal(
      planRequest(spec, get, new ObjectRegistry(), { owner: 'alice' }).path,
      '/statement?account_no=any',
    );
  });
});

test('knows a POST that moves money by its path words, or by a sum beside where it goes', () => {
  const body = (props: Record<string, object>) => ({
    requestBody: { content: { 'application/json': { schema: { type: 'object', properties: props } } } },
    responses: { '200': { description: 'ok' } },
  });
  const spec = buildApiDocument('/money.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/api/wallet/topup': { post: body({ amount: { type: 'number' } }) },
      '/api/tips': { post: body({ to_user: { type: 'string' }, amount: { type: 'number' } }) },
      '/transfer.php': { post: body({}) },
      '/api/sendMoney': { post: body({}) },
      '/api/transactions': { post: body({ to_account_id: { type: 'integer' }, amount: { type: 'number' } }) },
      '/api/notes': { post: body({ text: { type: 'string' } }) },
      '/api/orders': { post: body({ product_id: { type: 'integer' }, amount: { type: 'integer' } }) },
      '/api/messages/send': { post: body({ to: { type: 'string' }, text: { type: 'string' } }) },
    },
  });
  const moves = (path: string) => movesMoney(spec, spec.operations.find((o) => o.path === path)!);
  for (const p of ['/api/wallet/topup', '/api/tips', '/transfer.php', '/api/sendMoney', '/api/transactions'])
    assert.ok(moves(p), p);
  for (const p of ['/api/notes', '/api/orders', '/api/messages/send']) assert.ok(!moves(p), p);
  const why = (path: string) => moneyMoveReason(spec, spec.operations.find((o) => o.path === path)!);
  assert.equal(why('/transfer.php'), 'its path says transfer');
  assert.equal(why('/api/transactions'), 'it takes a sum (amount) and where it goes (to_account_id)');
  assert.equal(why('/api/notes'), undefined);
});

test("knows a purchase by its prose or a documented 402, whatever its path's last word", () => {
  const op = (extra: Record<string, unknown>) => ({
    requestBody: { content: { 'application/json': { schema: { type: 'object', properties: {} } } } },
    responses: { '201': { description: 'ok' } },
    ...extra,
  });
  const spec = buildApiDocument('/paid.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/giftcards': { post: op({ description: "Buys a gift card paid from the member's credit." }) },
      '/bookings': { post: op({ description: "The price is taken from the member's credit." }) },
      '/lessons': {
        post: op({ responses: { '201': { description: 'ok' }, '402': { description: 'short' } } }),
      },
      '/policies': { post: op({ operationId: 'buyPolicy' }) },
      '/notes': { post: op({ summary: 'Adds a note to the buying guide' }) },
    },
  });
  const paid = (path: string) => paidByCaller(spec, spec.operations.find((o) => o.path === path)!);
  for (const p of ['/giftcards', '/bookings', '/lessons']) assert.ok(paid(p), p);
  for (const p of ['/policies', '/notes']) assert.ok(!paid(p), p);
});

test('an order placed unpaid, with a payment of its own in the document, is no purchase (review R1-4)', () => {
  const op = (summary: string) => ({
    summary,
    requestBody: { content: { 'application/json': { schema: { type: 'object', properties: {} } } } },
    responses: { '201': { description: 'ok' } },
  });
  const doc = (withPay: boolean) =>
    buildApiDocument('/orders.yaml', '3.0', {
      openapi: '3.0.3',
      info: { title: 't', version: '1' },
      paths: {
        '/api/orders': { post: op('Place an order at a store; it waits for payment') },
        '/api/carts/checkout': { post: op('Places the order: the card is charged') },
        ...(withPay
          ? {
              '/api/orders/{orderId}/pay': {
                post: {
                  ...op('The card is charged'),
                  parameters: [{ name: 'orderId', in: 'path', required: true }],
                },
              },
            }
          : {}),
      },
    });
  const paid = (spec: ReturnType<typeof doc>, path: string) =>
    paidByCaller(spec, spec.operations.find((o) => o.path === path)!);
  assert.equal(paid(doc(true), '/api/orders'), false);
  assert.equal(paid(doc(true), '/api/orders/{orderId}/pay'), true);
  assert.equal(paid(doc(true), '/api/carts/checkout'), true);
  // Without a payment of its own, "waits for payment" may still be paid on placing: a purchase, as before.
  assert.equal(paid(doc(false), '/api/orders'), true);
});

test('an optional coupon-like member gets no made-up value; a required or documented one stays (review R1-4)', () => {
  const spec = buildApiDocument('/coupons.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {},
    components: {
      schemas: {
        Promo: { type: 'object', properties: { promo_code: { type: 'string', example: 'SPRING10' } } },
      },
    },
  });
  const schema = {
    type: 'object',
    required: ['voucher'],
    properties: {
      couponCode: { type: 'string' },
      voucher: { type: 'string' },
      promo_code: { type: 'string' },
      note: { type: 'string' },
    },
  };
  assert.deepEqual(
    withoutMadeUpCodes(spec, schema, {
      couponCode: 'portcullis-1a2b',
      voucher: 'pc-x',
      promo_code: 'SPRING10',
      note: 'n',
    }),
    { voucher: 'pc-x', promo_code: 'SPRING10', note: 'n' },
  );
  assert.equal(withoutMadeUpCodes(spec, schema, 'text'), 'text');
});

test('a GET named by a noun that is also a verb reads, unless its words say it acts (review R1-R1)', () => {
  const get = (description: string) => ({
    get: { description, responses: { '200': { description: 'ok' } } },
  });
  const spec = buildApiDocument('/nouns.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/candidates/{id}/resume': get("The candidate's CV."),
      '/jobs/{id}/resume': get('Resumes a paused job.'),
      '/devices/{id}/restart': get('Legacy endpoint for the wall display.'),
      '/meters/{id}/power': get('The last power reading.'),
    },
  });
  const acts = (path: string) => opActs(spec, spec.operations.find((o) => o.path === path)!);
  assert.equal(acts('/candidates/{id}/resume'), false);
  assert.equal(acts('/meters/{id}/power'), false);
  assert.equal(acts('/jobs/{id}/resume'), true);
  assert.equal(acts('/devices/{id}/restart'), true);
});

test("accepting one's quote or checking out one's cart is a purchase (R1-S4)", () => {
  const post = { post: { responses: { '200': { description: 'ok' } } } };
  const spec = buildApiDocument('/quotes.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/quotes/{quoteId}/accept': post,
      '/carts/{id}/checkout': post,
      '/quotes/{quoteId}/duplicate': post,
      '/tickets/{id}/accept': post,
    },
  });
  const buys = (path: string) =>
    purchases(spec, spec.operations.find((o) => o.path === path)!, { path: path.replace(/\{[^}]+\}/, '3') });
  assert.ok(buys('/quotes/{quoteId}/accept'));
  assert.ok(buys('/carts/{id}/checkout'));
  assert.ok(!buys('/quotes/{quoteId}/duplicate'));
  assert.ok(!buys('/tickets/{id}/accept'));
});

test('tells the creation of a draft, a quote or a cart from a payment', () => {
  const body = (props: Record<string, object>) => ({
    requestBody: { content: { 'application/json': { schema: { type: 'object', properties: props } } } },
    responses: { '201': { description: 'ok' } },
  });
  const item = (name: string) => ({
    get: {
      parameters: [{ name, in: 'path', required: true, schema: { type: 'integer' } }],
      responses: { '200': { description: 'ok' } },
    },
  });
  const spec = buildApiDocument('/drafts.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/invoices': { post: body({ amount: { type: 'integer' }, status: { type: 'string' } }) },
      '/invoices/{id}': item('id'),
      '/quotes': { post: body({ amount: { type: 'integer' } }) },
      '/quotes/{id}': item('id'),
      '/carts/{cart_id}/items': { post: body({ sku: { type: 'string' }, quantity: { type: 'integer' } }) },
      '/payments': {
        post: body({ to_account: { type: 'string' }, amount: { type: 'integer' }, status: {} }),
      },
      '/invoices/{id}/pay': { post: body({ status: { type: 'string' } }) },
    },
  });
  const draft = (path: string, sent: unknown) =>
    draftCreation(spec, spec.operations.find((o) => o.path === path && o.method === 'POST')!, sent);
  assert.equal(
    draft('/invoices', { amount: 5, status: 'draft' }),
    'it creates a draft (status: "draft"), no payment',
  );
  assert.equal(draft('/invoices', { amount: 5, status: 'issued' }), undefined);
  assert.equal(
    draft('/invoices', { amount: 5, isDraft: true }),
    'it creates a draft (isDraft: true), no payment',
  );
  assert.equal(draft('/quotes', { amount: 5 }), 'it creates a quote, no payment');
  assert.equal(draft('/carts/{cart_id}/items', { sku: 'a', quantity: 1 }), 'it creates a cart, no payment');
  // Money sent to someone, or a path of paying, is never a draft whatever its status says.
  assert.equal(draft('/payments', { to_account: 'x', amount: 5, status: 'draft' }), undefined);
  assert.equal(draft('/invoices/{id}/pay', { status: 'draft' }), undefined);
  const summed = buildApiDocument('/drafts2.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/v1/invoices': {
        post: { ...body({ amount_cents: { type: 'integer' } }), summary: 'Create a draft invoice' },
      },
      '/v1/bills': { post: { ...body({ amount: { type: 'integer' } }), summary: 'Pay a bill (no draft)' } },
    },
  });
  const bySummary = (path: string) =>
    draftCreation(summed, summed.operations.find((o) => o.path === path)!, { amount_cents: 1 });
  assert.equal(bySummary('/v1/invoices'), 'it creates a draft (its summary says so), no payment');
  assert.equal(bySummary('/v1/bills'), undefined);
});

describe('request planning for RPC-style paths', () => {
  const ok = { responses: { '200': { description: 'ok' } } };
  const rpc = buildApiDocument('/rpc.yaml', '3.1', {
    openapi: '3.1.0',
    info: { title: 't', version: '1' },
    paths: {
      '/cards': { get: ok },
      '/cards/create': { post: ok },
      '/cards/{card_id}/freeze': {
        post: {
          ...ok,
          parameters: [{ name: 'card_id', in: 'path', required: true, schema: { type: 'integer' } }],
        },
      },
      '/api/v{version}/members/{member_no}': {
        get: {
          ...ok,
          parameters: [
            {
              name: 'version',
              in: 'path',
              required: true,
              schema: { type: 'integer', enum: [1, 2, 3], default: 3 },
            },
            { name: 'member_no', in: 'path', required: true, schema: { type: 'string' } },
          ],
        },
      },
      '/tools/add': { post: ok },
      '/tickets/': { post: ok },
      '/tickets/{id}/': {
        get: { ...ok, parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }] },
      },
    },
  });
  const op = (method: string, path: string) =>
    rpc.operations.find((o) => o.method === method && o.path === path)!;

  test('takes POST /cards/create for a creation in /cards, whose members have only actions below them', () => {
    assert.equal(memberParam(rpc, '/cards'), 'card_id');
    assert.equal(creationCollection(rpc, op('POST', '/cards/create')), '/cards');
    assert.equal(isCreationOperation(rpc, op('POST', '/cards/create')), true);
    // A verb beside nothing that has members is no creation.
    assert.equal(isCreationOperation(rpc, op('POST', '/tools/add')), false);
    assert.equal(captureId(rpc, op('POST', '/cards/create'), response({ card_id: 9 })), '9');
  });

  test('takes Django-style item paths with a trailing slash for the members of a collection', () => {
    assert.equal(itemParam(rpc, '/tickets/'), 'id');
    assert.equal(isCreationOperation(rpc, op('POST', '/tickets/')), true);
  });

  test('fills a parameter inside a segment, and a listed version without making it anyone’s data', () => {
    const objects = new ObjectRegistry();
    objects.harvest.add({
      key: 'member_no',
      value: 'M-1',
      entity: 'login',
      source: 'login',
      identity: 'alice',
    });
    objects.harvest.setOrdinary(['alice', 'bob']);
    const req = planRequest(rpc, op('GET', '/api/v{version}/members/{member_no}'), objects, {
      owner: 'alice',
    });
    assert.equal(req.path, '/api/v3/members/M-1');
    assert.deepEqual(req.invented, []);
    assert.equal(req.ownedPath, true);
    assert.equal(listedValue(rpc, { type: 'string', enum: ['a', 'b'] }), 'a');
    assert.equal(listedValue(rpc, { const: 'v2' }), 'v2');
    assert.equal(listedValue(rpc, { type: 'string' }), undefined);
  });
});

describe('capturing the id of a created object', () => {
  const cards = buildApiDocument('/cards.yaml', '3.1', {
    openapi: '3.1.0',
    info: { title: 'cards', version: '1' },
    paths: {
      '/members/{id}/cards': {
        post: {
          operationId: 'createCard',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '201': { description: 'created' } },
        },
      },
      '/members/{id}/cards/{cardId}': {
        get: {
          operationId: 'getCard',
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'cardId', in: 'path', required: true, schema: { type: 'string' } },
          ],
          responses: { '200': { description: 'a card' } },
        },
      },
    },
  });
  const create = cards.operations.find((o) => o.id === 'createCard')!;

  test('takes the member named like the item parameter in another spelling (`{cardId}`, `card_id`)', () => {
    assert.equal(
      captureId(cards, create, response({ member_id: 'm-1', card_id: 'c-1', last4: '1111' })),
      'c-1',
    );
    assert.equal(captureId(cards, create, response({ data: { 'card-id': 'c-2' } })), 'c-2');
    assert.equal(captureId(cards, create, response({ member_id: 'm-1', last4: '1111' })), undefined);
  });

  test('fills a nested path with an object below the parent it chose', () => {
    const objects = new ObjectRegistry();
    const add = (collection: string, path: string) =>
      objects.add({
        collection,
        path,
        id: path.split('/').pop()!,
        owner: 'alice',
        body: {},
        createdBy: create,
      });
    add('/members', '/members/m1');
    add('/members', '/members/m2');
    add('/members/{id}/cards', '/members/m2/cards/c2');
    add('/members/{id}/cards', '/members/m1/cards/c1');
    const get = cards.operations.find((o) => o.id === 'getCard')!;
    const req = planRequest(cards, get, objects, { owner: 'alice' });
    assert.equal(req.path, '/members/m1/cards/c1');
    assert.equal(req.ownedPath, true);
  });
});

describe('form-encoded and multipart bodies', () => {
  const ok = { responses: { '201': { description: 'ok' } } };
  const form = (type: string, properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    ...ok,
    requestBody: {
      content: {
        [type]: { schema: { type: 'object', required: Object.keys(properties), properties }, ...extra },
      },
    },
  });
  const doc = buildApiDocument('/forms.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/avatars': {
        post: form(
          'multipart/form-data',
          {
            avatar: { type: 'string', format: 'binary' },
            label: { type: 'string' },
            size: { type: 'integer' },
          },
          { encoding: { avatar: { contentType: 'image/png' } } },
        ),
      },
      '/imports': { post: form('multipart/form-data', { data: { type: 'string', format: 'binary' } }) },
      '/subscribe': { post: form('application/x-www-form-urlencoded', { email: { type: 'string' } }) },
      '/notes': { post: form('application/json', { text: { type: 'string' } }) },
    },
  });
  const op = (path: string) => doc.operations.find((o) => o.path === path)!;

  test('a multipart body gets its declared content type and a harmless file of the declared type', async () => {
    const req = inDeclaredEncoding(
      doc,
      planRequest(doc, op('/avatars'), new ObjectRegistry()),
      op('/avatars'),
    );
    assert.equal(req.headers?.['content-type'], 'multipart/form-data');
    const body = req.body as Record<string, unknown>;
    assert.ok(body.avatar instanceof FilePart);
    assert.equal((body.avatar as FilePart).contentType, 'image/png');
    const encoded = encodeBody(body, req.headers?.['content-type']);
    assert.match(encoded.contentType, /^multipart\/form-data; boundary=----portcullis[0-9a-f]{32}$/);
    // Parsed back as a server would (the platform's own multipart parser; nothing is started).
    const parsed = await new Response(encoded.bytes, {
      headers: { 'content-type': encoded.contentType },
    }).formData();
    const file = parsed.get('avatar') as File;
    assert.equal(file.name, 'portcullis-scan.png');
    assert.deepEqual([...new Uint8Array(await file.arrayBuffer()).slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.equal(parsed.get('label'), String(body.label));
    assert.equal(parsed.get('size'), '1');
    assert.match(encoded.shown, /<\d+ bytes>/);
  });

  test('a file input without a declared type gets a text file; a check that set one keeps it', () => {
    const req = inDeclaredEncoding(
      doc,
      planRequest(doc, op('/imports'), new ObjectRegistry()),
      op('/imports'),
    );
    assert.equal((req.body as { data: FilePart }).data.filename, 'portcullis-scan.txt');
    const mine = new FilePart('x.json', 'application/json', '{}');
    const kept = inDeclaredEncoding(
      doc,
      { method: 'POST', path: '/imports', body: { data: mine } },
      op('/imports'),
    );
    assert.equal((kept.body as { data: FilePart }).data, mine);
  });

  test('a form-encoded body is sent form-encoded; JSON stays JSON', () => {
    const req = planRequest(doc, op('/subscribe'), new ObjectRegistry(), { body: { email: 'a@b.c', n: 2 } });
    assert.equal(req.headers?.['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(encodeBody(req.body, req.headers?.['content-type']).bytes, 'email=a%40b.c&n=2');
    const json = planRequest(doc, op('/notes'), new ObjectRegistry());
    assert.equal(json.headers?.['content-type'], undefined);
    assert.equal(inDeclaredEncoding(doc, json, op('/notes')), json);
    assert.match(String(encodeBody(json.body, undefined).bytes), /^\{"text":/);
  });

  test('a JSON-family body goes with the declared type; application/json when declared; never JSON Patch', () => {
    const media = (...types: string[]) =>
      buildApiDocument('/media.yaml', '3.0', {
        openapi: '3.0.3',
        info: { title: 't', version: '1' },
        paths: {
          '/a': {
            patch: {
              ...ok,
              requestBody: {
                content: Object.fromEntries(
                  types.map((t) => [
                    t,
                    { schema: { type: 'object', properties: { n: { type: 'string' } } } },
                  ]),
                ),
              },
            },
          },
        },
      });
    const typeOf = (...types: string[]) => {
      const d = media(...types);
      return planRequest(d, d.operations[0], new ObjectRegistry()).headers?.['content-type'];
    };
    assert.equal(typeOf('application/merge-patch+json'), 'application/merge-patch+json');
    assert.equal(typeOf('application/vnd.api+json'), 'application/vnd.api+json');
    assert.equal(typeOf('application/merge-patch+json', 'application/json'), undefined);
    assert.equal(typeOf('application/json; charset=utf-8'), undefined);
    assert.equal(typeOf('application/json-patch+json'), undefined);
    assert.equal(
      typeOf('application/json-patch+json', 'application/merge-patch+json'),
      'application/merge-patch+json',
    );
    const d = media('application/merge-patch+json');
    const sent = inDeclaredEncoding(
      d,
      { method: 'PATCH', path: '/a', headers: {} as Record<string, string>, body: { n: 'x' } },
      d.operations[0],
    );
    assert.equal(sent.headers?.['content-type'], 'application/merge-patch+json');
    assert.equal(encodeBody(sent.body, sent.headers?.['content-type']).bytes, '{"n":"x"}');
  });

  test('reads the fields an error says are missing from the body', () => {
    const pydantic = {
      detail: [
        { type: 'missing', loc: ['body', 'event'], msg: 'Field required' },
        { type: 'missing', loc: ['query', 'page'], msg: 'Field required' },
        { type: 'string_type', loc: ['body', 'seat'], msg: 'Input should be a valid string' },
      ],
    };
    assert.deepEqual(missingFields(pydantic), ['event']);
    assert.deepEqual(missingFields({ error: "'quantity' is required" }), ['quantity']);
    assert.deepEqual(missingFields({ message: 'missing field `amount` at line 1' }), ['amount']);
    assert.deepEqual(missingFields(undefined, 'Internal Server Error'), []);
  });
});

describe('business flows', () => {
  const ok = { responses: { '200': { description: 'ok' } } };
  const doc = buildApiDocument('/flows.yaml', '3.1', {
    openapi: '3.1.0',
    info: { title: 't', version: '1' },
    paths: {
      '/promo-codes/apply': { post: { ...ok, operationId: 'applyPromo' } },
      '/promote': { post: { ...ok, operationId: 'promote' } },
      '/users/promote-to-admin': { post: { ...ok, operationId: 'promoteToAdmin' } },
      '/referrals/redeem': { post: { ...ok, operationId: 'redeemReferral' } },
    },
  });

  test('a promotion code is a business flow, promoting an account is not', () => {
    assert.deepEqual(
      doc.operations.filter((o) => isBusinessFlow(doc, o)).map((o) => o.id),
      ['applyPromo', 'redeemReferral'],
    );
  });
});

test('manager, back office and ops name a privileged area only as the first segment after the prefixes', () => {
  for (const path of [
    '/api/manager/reports',
    '/api/v1/manager/payroll/{id}',
    '/backoffice/orders',
    '/api/back-office/refunds',
    '/v2/ops/jobs',
    '/rest/api-v1/ops/queues/{name}',
  ])
    assert.equal(privilegedArea(path), true, path);
  for (const path of [
    '/users/{id}/manager',
    '/api/v1/users/{id}/manager',
    '/api/teams/{id}/ops',
    '/api/managers/{id}',
    '/api/manager',
    '/api/v1/opsgenie/alerts',
    '/api/v1/reports/manager/{id}',
  ])
    assert.equal(privilegedArea(path), false, path);
});

test('the ids an acting request names by its query or body, and which of them the scan created', () => {
  const doc = buildApiDocument('/acting.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/appointments/cancel': {
        get: {
          parameters: [
            { name: 'id', in: 'query', schema: { type: 'integer' } },
            { name: 'kind_id', in: 'query', schema: { type: 'string', enum: ['k1', 'k2'] } },
          ],
          responses: { '200': { description: 'ok' } },
        },
      },
      '/orders/cancel': { post: { responses: { '200': { description: 'ok' } } } },
      '/orders/search': { post: { responses: { '200': { description: 'ok' } } } },
    },
  });
  const op = (path: string) => doc.operations.find((o) => o.path === path)!;
  assert.deepEqual(
    actingInputs(doc, op('/appointments/cancel'), { path: '/appointments/cancel?id=5&kind_id=k1' }),
    [{ name: 'id', value: '5' }],
  );
  assert.deepEqual(
    actingInputs(doc, op('/orders/cancel'), {
      path: '/orders/cancel',
      body: { order_id: 301, reason: 'late', ids: [7, '8'], order: { orderNo: 'A-1' }, is_paid: true },
    }),
    [
      { name: 'order_id', value: '301' },
      { name: 'ids', value: '7' },
      { name: 'ids', value: '8' },
      { name: 'orderNo', value: 'A-1' },
    ],
  );
  assert.deepEqual(
    actingInputs(doc, op('/orders/cancel'), { path: '/orders/cancel', body: 'order_id=9&x=1' }),
    [{ name: 'order_id', value: '9' }],
  );
  assert.deepEqual(
    actingInputs(doc, op('/orders/cancel'), { path: '/orders/cancel', body: '{"order_id": 4}' }),
    [{ name: 'order_id', value: '4' }],
  );
  assert.equal(
    actingInputs(doc, op('/orders/cancel'), { path: '/orders/cancel', body: { reason: 'x' } }),
    undefined,
  );
  // A search acts on nothing.
  assert.equal(
    actingInputs(doc, op('/orders/search'), { path: '/orders/search', body: { order_id: 1 } }),
    undefined,
  );

  const objects = new ObjectRegistry();
  objects.add({
    collection: '/orders',
    path: '/orders/77',
    id: '77',
    owner: 'alice',
    body: { id: 77, order_no: 'ORD-9', user_id: 2 },
    createdBy: op('/orders/cancel'),
  });
  assert.equal(createdValue(objects, '77'), true);
  assert.equal(createdValue(objects, 'ORD-9'), true);
  // Its owner's id is no id of the object.
  assert.equal(createdValue(objects, '2'), false);
  assert.equal(createdValue(objects, '301'), false);
});

test('the writes that name an object by their path, and the creations in a sub-collection that do not', () => {
  const id = { name: 'order_id', in: 'path', required: true, schema: { type: 'integer' } };
  const post = { post: { parameters: [id], responses: { '200': { description: 'ok' } } } };
  const doc = buildApiDocument('/writes.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/orders/{order_id}': {
        get: { parameters: [id], responses: { '200': { description: 'ok' } } },
        ...post,
      },
      '/orders/{order_id}:cancel': post,
      '/orders/{order_id}/markAsPaid': post,
      '/orders/{order_id}/stornieren': post,
      '/orders/{order_id}/notes': {
        get: {
          parameters: [id],
          responses: {
            '200': {
              description: 'notes',
              content: { 'application/json': { schema: { type: 'array', items: { type: 'object' } } } },
            },
          },
        },
        ...post,
      },
      '/orders/{order_id}/lines': post,
      '/orders/{order_id}/lines/{line_id}': {
        get: { parameters: [id, { ...id, name: 'line_id' }], responses: { '200': { description: 'ok' } } },
      },
      '/orders/{order_id}/summary': {
        get: { parameters: [id], responses: { '200': { description: 'a summary, no list' } } },
        ...post,
      },
      '/{lang}/orders/{order_id}/ship': {
        post: {
          parameters: [id, { name: 'lang', in: 'path', required: true, schema: { enum: ['en', 'de'] } }],
          responses: { '200': { description: 'ok' } },
        },
      },
    },
  });
  const op = (method: string, path: string) =>
    doc.operations.find((o) => o.method === method && o.path === path)!;
  // Verbs beside a parameter and in camelCase act; a word no list has does not (the runner's write rule does).
  assert.equal(pathActs('/orders/{order_id}:cancel'), true);
  assert.equal(pathActs('/orders/{order_id}/markAsPaid'), true);
  assert.equal(pathActs('/users/{id}/resetPassword'), true);
  assert.equal(pathActs('/invoices/{id}/settle'), true);
  // A verb after its noun acts too (`message_delete.php`, `messageDelete`, `order-cancel`), a noun that
  // starts like one does not (`settings`).
  for (const p of ['/message_delete.php', '/messageDelete', '/api/message-delete', '/api/order_cancel'])
    assert.equal(pathActs(p), true, p);
  assert.equal(pathActs('/api/user_settings'), false);
  assert.equal(pathActs('/orders/{order_id}/stornieren'), false);
  assert.equal(pathActs('/settings/{id}'), false);
  assert.equal(pathActs('/bookmarks/{id}'), false);
  const target = (method: string, path: string, concrete: string) =>
    writeTarget(doc, op(method === 'PUT' ? 'POST' : method, path), method, concrete);
  assert.deepEqual(target('POST', '/orders/{order_id}', '/orders/3'), {
    ids: ['3'],
    object: '/orders/3',
    last: '3',
  });
  assert.deepEqual(target('POST', '/orders/{order_id}:cancel', '/orders/3:cancel'), {
    ids: ['3'],
    object: '/orders/3',
    last: '3',
  });
  assert.equal(target('POST', '/orders/{order_id}/markAsPaid', '/orders/3/markAsPaid')?.object, '/orders/3');
  assert.equal(target('POST', '/orders/{order_id}/stornieren', '/orders/3/stornieren')?.object, '/orders/3');
  // A POST where nothing documents a list is a write on the order; a listed or itemised sub-collection is not.
  assert.equal(target('POST', '/orders/{order_id}/summary', '/orders/3/summary')?.object, '/orders/3');
  assert.equal(target('POST', '/orders/{order_id}/notes', '/orders/3/notes'), undefined);
  assert.equal(target('POST', '/orders/{order_id}/lines', '/orders/3/lines'), undefined);
  // A version or a kind the document lists names nothing; an older version's path aligns by its end.
  assert.deepEqual(target('POST', '/{lang}/orders/{order_id}/ship', '/en/orders/4/ship')?.ids, ['4']);
  assert.deepEqual(target('POST', '/orders/{order_id}', '/api/v0/orders/5')?.ids, ['5']);
  // Reads change nothing.
  assert.equal(target('GET', '/orders/{order_id}', '/orders/3'), undefined);
  assert.equal(madeUpId('987654321'), true);
  assert.equal(madeUpId('pcv1a2b3c4d'), true);
  assert.equal(madeUpId('portcullis-25c6cf05-93d4-4c59-872b-0de0abb1bf23'), true);
  assert.equal(madeUpId('3'), false);
  assert.equal(madeUpId('pcv1a2b3c4d|echo x'), false);
});

test('made-up uuids are well-formed uuids the scan knows as its own; values of a shape get one of theirs', () => {
  const made = madeUpUuid();
  assert.ok(isUuid(made), made);
  assert.match(made, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(madeUpUuid(), made);
  assert.equal(madeUpId(made), true);
  assert.equal(madeUpId('3f2b8c1e-9d4a-4e2b-a1c3-5d6e7f809a1b'), false);
  assert.ok(madeUpId(madeUpOfShape('3f2b8c1e-9d4a-4e2b-a1c3-5d6e7f809a1b')!));
  assert.ok(isUuid(madeUpOfShape(undefined, { type: 'string', format: 'uuid' })));
  assert.equal(madeUpOfShape('42'), '987654321');
  assert.equal(madeUpOfShape('INV-7'), undefined);
});

test('the ids an XML document names, as the acting guard reads them', () => {
  assert.deepEqual(xmlLeaves('<?xml version="1.0"?><root><order_id>1</order_id><note>hi</note></root>'), {
    version: ['1.0'],
    order_id: ['1'],
    note: ['hi'],
  });
  assert.deepEqual(xmlLeaves('<cancel><order id="7"/></cancel>'), { id: ['7'] });
  const doc = buildApiDocument('/xml.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: { '/orders/cancel': { post: { responses: { '200': { description: 'ok' } } } } },
  });
  assert.deepEqual(
    actingInputs(doc, doc.operations[0], {
      path: '/orders/cancel',
      body: '<?xml version="1.0" encoding="UTF-8"?>\n<root><order_id>1</order_id><value>portcullis</value></root>',
    }),
    [{ name: 'order_id', value: '1' }],
  );
});

test('an action input naming a verb of change makes a request act, whatever its path says', () => {
  assert.equal(
    inputActs({ path: '/api/items/bulk-action', body: { action: 'delete', item_ids: [6] } }),
    true,
  );
  assert.equal(inputActs({ path: '/api/items?op=remove&id=5' }), true);
  assert.equal(inputActs({ path: '/rpc', body: { request: { bulkAction: 'soft_delete' } } }), true);
  assert.equal(inputActs({ path: '/rpc', body: 'action=archive&ids=4' }), true);
  // Asking or exporting does not act; nor does a verb under a name that is no action input.
  assert.equal(
    inputActs({ path: '/api/items/bulk-action', body: { action: 'export', item_ids: [6] } }),
    false,
  );
  assert.equal(inputActs({ path: '/notes', body: { title: 'delete me', kind: 'cancel' } }), false);
  assert.equal(inputActs({ path: '/items?q=delete' }), false);
});

describe('creations whose items live under another path', () => {
  const op = (path: string, method = 'get') => ({
    [method]: {
      parameters: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...(method === 'post'
        ? {
            requestBody: {
              content: {
                'application/json': { schema: { type: 'object', properties: { title: { type: 'string' } } } },
              },
            },
          }
        : {}),
      responses: { '200': { description: 'ok' } },
    },
  });
  const doc = buildApiDocument('/s.json', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/v1/posts': op('/v1/posts', 'post'),
      '/v1/post/{postId}': { ...op('/v1/post/{postId}'), ...op('/v1/post/{postId}', 'delete') },
      '/api/orders/create': op('/api/orders/create', 'post'),
      '/api/order/{id}': { ...op('/api/order/{id}'), ...op('/api/order/{id}', 'delete') },
      '/api/label/{id}': op('/api/label/{id}', 'delete'),
      '/api/labels/create': op('/api/labels/create', 'post'),
      '/users/{uid}/notes': op('/users/{uid}/notes', 'post'),
      '/notes/{note_id}': op('/notes/{note_id}'),
      '/users/{uid}/purchases': op('/users/{uid}/purchases', 'post'),
      '/purchases/{purchase_id}': op('/purchases/{purchase_id}'),
      '/cards/createCreditCard': op('/cards/createCreditCard', 'post'),
      '/credit-cards/{cardId}': op('/credit-cards/{cardId}'),
      '/v1/posts/search': op('/v1/posts/search', 'post'),
      '/v1/posts/cancel': op('/v1/posts/cancel', 'post'),
      '/tags': op('/tags', 'post'),
      '/tags/{tag}': op('/tags/{tag}'),
    },
  });
  const find = (path: string) => doc.operations.find((o) => o.path === path && o.method === 'POST')!;

  test('links by the resource name, singular or plural, a create word dropped, the path prefix aside', () => {
    assert.deepEqual(linkedItemRoute(doc, find('/v1/posts')), {
      base: '/v1/posts',
      collection: '/v1/post',
      param: 'postId',
    });
    assert.deepEqual(linkedItemRoute(doc, find('/api/orders/create')), {
      base: '/api/orders',
      collection: '/api/order',
      param: 'id',
    });
    assert.deepEqual(linkedItemRoute(doc, find('/users/{uid}/notes')), {
      base: '/users/{uid}/notes',
      collection: '/notes',
      param: 'note_id',
    });
    assert.equal(linkedItemRoute(doc, find('/cards/createCreditCard'))?.collection, '/credit-cards');
    // A POST that asks or acts is no creation; one beside its own item route is creationCollection's.
    assert.equal(linkedItemRoute(doc, find('/v1/posts/search')), undefined);
    assert.equal(linkedItemRoute(doc, find('/v1/posts/cancel')), undefined);
    assert.equal(linkedItemRoute(doc, find('/tags')), undefined);
    assert.ok(isLinkedCreation(doc, find('/v1/posts')));
    // An order stays a business flow (not sent as a given identity), linked or not.
    assert.ok(isBusinessFlow(doc, find('/api/orders/create')));
    assert.equal(isLinkedCreation(doc, find('/api/orders/create')), false);
    // The creation under a user adds beside the user: the runner's write-target rule does not hold it.
    assert.ok(createsInSubCollection(doc, find('/users/{uid}/notes')));
    // A purchase under a user stays a write to that user (the runner holds it to users the scan registered).
    assert.equal(createsInSubCollection(doc, find('/users/{uid}/purchases')), false);
    // An item route without a GET is never linked (nothing could show the id names the object made).
    assert.equal(linkedItemRoute(doc, find('/api/labels/create')), undefined);
  });
});

describe('bodies in a record envelope', () => {
  const doc = buildApiDocument('/s.json', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/api/sessions': {
        post: {
          requestBody: {
            content: {
              'application/vnd.api+json': {
                schema: {
                  type: 'object',
                  properties: {
                    data: {
                      type: 'object',
                      properties: {
                        type: { type: 'string', enum: ['sessions'] },
                        attributes: {
                          type: 'object',
                          properties: { handle: { type: 'string' }, password: { type: 'string' } },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          responses: { '201': { description: 'ok' } },
        },
      },
      '/orders': {
        post: {
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    order: {
                      type: 'object',
                      properties: { product_id: { type: 'integer' }, note: { type: 'string' } },
                    },
                  },
                },
              },
            },
          },
          responses: { '201': { description: 'ok' } },
        },
      },
    },
  });
  test('a login whose password is in data.attributes is a login', () => {
    assert.ok(isLoginOperation(doc, doc.operations.find((o) => o.path === '/api/sessions')!));
  });
  test('foreign keys of a Rails-style record get ids the API gave out', () => {
    const objects = new ObjectRegistry();
    objects.harvest.add({ key: 'id', value: 77, entity: 'product', source: '/products', identity: 'a' });
    const op = doc.operations.find((o) => o.path === '/orders')!;
    const req = planRequest(doc, op, objects, { owner: 'a' });
    assert.deepEqual((req.body as { order: { product_id: number } }).order.product_id, 77);
  });
});

describe("a creation's owner member", () => {
  const spec = buildApiDocument('/owner.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/orders': {
        post: {
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    userId: { type: 'integer', example: 1 },
                    target_user_id: { type: 'integer', example: 1 },
                    note: { type: 'string' },
                  },
                },
              },
            },
          },
          responses: { '201': { description: 'ok' } },
        },
      },
    },
  });
  const post = spec.operations.find((o) => o.path === '/orders')!;
  const directory = (objects: ObjectRegistry) => {
    objects.harvest.setOrdinary(['alice', 'bob']);
    for (const who of ['alice', 'bob'])
      objects.harvest.record(who, '/users', [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 8 }]);
  };
  const body = (objects: ObjectRegistry, owner?: string) =>
    planRequest(spec, post, objects, owner ? { owner } : {}).body as Record<string, unknown>;

  test("is the caller's own id from its login answer, not a directory's last user", () => {
    const objects = new ObjectRegistry();
    objects.harvest.record('alice', 'login', { token: 't', user: { id: 2, email: 'a@x.test' } });
    directory(objects);
    const sent = body(objects, 'alice');
    assert.equal(sent.userId, 2);
    // A role in front of it names another on purpose: filled as before (an id the API gave out).
    assert.ok([1, 2, 3, 8].includes(sent.target_user_id as number), String(sent.target_user_id));
  });

  test("is the id a read of the caller's own record gave (an API-key identity has no login answer)", () => {
    const objects = new ObjectRegistry();
    objects.harvest.record('alice', '/api/me', { data: { id: 3, name: 'Alice' } });
    objects.harvest.record('bob', '/api/me', { data: { id: 1, name: 'Bob' } });
    directory(objects);
    assert.equal(body(objects, 'alice').userId, 3);
    // A profile's own id may be a profile number: not taken.
    const profiles = new ObjectRegistry();
    profiles.harvest.record('alice', '/auth/profile', { id: 44, name: 'Alice' });
    directory(profiles);
    assert.equal('userId' in body(profiles, 'alice'), false);
  });

  test('is left out when no own id is known, or with no caller', () => {
    const objects = new ObjectRegistry();
    directory(objects);
    assert.equal('userId' in body(objects, 'alice'), false);
    assert.equal('userId' in body(objects), false);
  });
});

test('a webhook path or an event or state input naming a change makes a request act, a creation does not', () => {
  const post = (extra: Record<string, unknown> = {}) => ({
    post: { ...extra, responses: { '201': { description: 'ok' } } },
  });
  const doc = buildApiDocument('/state.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/api/hooks/moderation': post({ security: [] }),
      '/events': post({ security: [] }),
      '/calendar/events': post(),
      '/orders/transition': post(),
      '/listings': { ...post(), get: { responses: { '200': { description: 'ok' } } } },
      '/listings/{id}': { get: { responses: { '200': { description: 'ok' } } } },
      '/webhooks': post(),
      '/invoices/search': post(),
      '/webhooks/{id}': { get: { responses: { '200': { description: 'ok' } } } },
    },
  });
  const op = (path: string) => doc.operations.find((o) => o.path === path && o.method === 'POST')!;
  const hook = { path: '/api/hooks/moderation', body: { event: 'listing.flagged', data: { listing_id: 1 } } };
  assert.equal(stateActs(doc, op('/api/hooks/moderation'), hook), true);
  assert.deepEqual(actingInputs(doc, op('/api/hooks/moderation'), hook), [
    { name: 'listing_id', value: '1' },
  ]);
  // A public events route is a provider's; one behind the API's own login files the caller's calendar.
  assert.equal(stateActs(doc, op('/events'), { path: '/events', body: { type: 'x', user_id: 2 } }), true);
  assert.equal(
    stateActs(doc, op('/calendar/events'), { path: '/calendar/events', body: { venue_id: 2 } }),
    false,
  );
  // Event and state inputs act by their values' words: a change, a state it leaves or one it grants.
  for (const body of [
    { order_id: 5, state: 'shipped' },
    { order_id: 5, toStatus: 'Cancelled' },
    { order: { id: 5, transition: 'approve' } },
    { eventType: 'invoice.paid', invoice_id: 5 },
  ])
    assert.equal(stateActs(doc, op('/orders/transition'), { path: '/orders/transition', body }), true);
  assert.equal(
    stateActs(doc, op('/orders/transition'), {
      path: '/orders/transition',
      body: { order_id: 5, state: 'pending' },
    }),
    false,
  );
  assert.equal(
    stateActs(doc, op('/orders/transition'), {
      path: '/orders/transition',
      body: { order_id: 5, note: 'paid' },
    }),
    false,
  );
  // A search that filters by a state asks.
  assert.equal(
    stateActs(doc, op('/invoices/search'), {
      path: '/invoices/search',
      body: { status: 'paid', customer_id: 3 },
    }),
    false,
  );
  // Registering a webhook is a creation like any other.
  assert.equal(
    stateActs(doc, op('/webhooks'), { path: '/webhooks', body: { project_id: 3, url: 'x' } }),
    false,
  );
  // A creation that sets its own state files a record; its inputs are not held by this rule.
  assert.equal(
    stateActs(doc, op('/listings'), { path: '/listings', body: { title: 'a', status: 'approved' } }),
    false,
  );
});

describe('a write under an id discovery only confirmed', () => {
  const doc = buildApiDocument('/orgs.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/orgs/{org_id}/projects': {
        parameters: [{ name: 'org_id', in: 'path', required: true, schema: { type: 'integer', example: 1 } }],
        get: { responses: { '200': { description: 'ok' } } },
        post: {
          requestBody: { content: { 'application/json': { schema: { type: 'object' } } } },
          responses: { '201': { description: 'ok' } },
        },
      },
    },
  });
  const op = (method: string) => doc.operations.find((o) => o.method === method)!;

  test('goes under one the writer itself read; with none, a made-up id, not the example', () => {
    const objects = new ObjectRegistry();
    objects.harvest.add({ key: 'org_id', value: '1', entity: 'org', source: CONFIRMED, identity: '' });
    objects.harvest.add({ key: 'org_id', value: '2', entity: 'org', source: CONFIRMED, identity: '' });
    noteConfirmedReader(objects, 'org', '1', 'alice');
    noteConfirmedReader(objects, 'org', '2', 'bob');
    assert.equal(planRequest(doc, op('POST'), objects, { owner: 'alice' }).path, '/orgs/1/projects');
    assert.equal(planRequest(doc, op('POST'), objects, { owner: 'bob' }).path, '/orgs/2/projects');
    const carol = planRequest(doc, op('POST'), objects, { owner: 'carol' });
    assert.notEqual(carol.path, '/orgs/1/projects');
    assert.notEqual(carol.path, '/orgs/2/projects');
    assert.deepEqual(carol.invented, ['org_id']);
    // Reads keep any confirmed id (the other identity's is what API1 replays).
    assert.equal(planRequest(doc, op('GET'), objects, { owner: 'alice' }).path, '/orgs/2/projects');
  });
});

describe('loginByWords', () => {
  const body = (properties: Record<string, unknown>, description?: string) => ({
    ...(description !== undefined ? { description } : {}),
    content: { 'application/json': { schema: { type: 'object', properties } } },
  });
  const creds = { username: { type: 'string' }, password: { type: 'string' } };
  const doc = buildApiDocument('/words.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 'words', version: '1' },
    paths: {
      '/api/sqlivuln': {
        post: {
          summary: 'SQLI using POST method',
          requestBody: body(creds, 'login not protected'),
          responses: { '200': { description: 'login using creds' } },
        },
      },
      '/api/accounts/new': {
        post: {
          summary: 'Sign up with your credentials',
          requestBody: body(creds),
          responses: { '201': { description: 'ok' } },
        },
      },
      '/api/password': {
        post: {
          summary: 'Change the credentials of a user',
          requestBody: body(creds),
          responses: { '200': { description: 'ok' } },
        },
      },
      '/api/pets': {
        post: {
          summary: 'Add a pet, signed in',
          requestBody: body({
            name: { type: 'string' },
            password: { type: 'string' },
            age: { type: 'integer' },
          }),
          responses: { '200': { description: 'ok' } },
        },
      },
      '/api/vault': {
        post: {
          summary: 'Open the vault',
          requestBody: body(creds),
          responses: { '200': { description: 'the vault' } },
        },
      },
    },
  });
  const at = (path: string) => loginByWords(doc, doc.operations.find((o) => o.path === path)!);
  test('a body of a user name and a password whose words say log in / creds is a login', () => {
    assert.equal(at('/api/sqlivuln'), true);
  });
  test('a sign-up or a change of password is none, nor a body of more fields, nor one whose words say nothing', () => {
    assert.deepEqual(['/api/accounts/new', '/api/password', '/api/pets', '/api/vault'].map(at), [
      false,
      false,
      false,
      false,
    ]);
  });
});
