/**
 * Whole-system tests of how spec schemas are read (issue 13 items 5 and 6): `$ref`/`$id`/`$anchor` per
 * JSON Schema 2020-12, refusal at load of what cannot be judged (a `$ref` that names nothing, a pattern
 * that needs backtracking), exact integers, and prototype member names, through a real gateway in front
 * of a real echo upstream.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GatewayBuildError } from '../../../src/gateway/gateway.ts';
import {
  echoHandler,
  op,
  openapi,
  startGateway,
  startProxy,
  startServer,
  type TestProxy,
} from '../../harness.ts';

// A common e-mail pattern with nested quantifiers: on a backtracking engine, a run of letters and one
// character that fails the match cost 2^n steps (a 60-byte query held the event loop for 18 s).
const EMAIL =
  '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$';

const spec = openapi(
  {
    '/shirts': {
      post: op('createShirt', {
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Shirt' } } },
        },
      }),
    },
    '/transfers': {
      post: op('transfer', {
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Transfer' } } },
        },
      }),
    },
    '/users': {
      get: op('findUser', {
        parameters: [
          { name: 'email', in: 'query', required: true, schema: { type: 'string', pattern: EMAIL } },
        ],
      }),
    },
    '/accounts/{id}': {
      get: op('getAccount', {
        parameters: [
          { name: 'id', in: 'path', required: true, schema: { type: 'integer', format: 'int64' } },
        ],
      }),
    },
    '/objects': {
      post: op('createObject', {
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['constructor'],
                properties: { constructor: { type: 'string' }, toString: { type: 'string' } },
              },
            },
          },
        },
      }),
    },
  },
  {
    components: {
      schemas: {
        Size: { $anchor: 'Size', type: 'string', enum: ['S', 'M', 'L'] },
        Shirt: {
          $id: 'https://schemas.example.com/shirt',
          type: 'object',
          required: ['size'],
          properties: { size: { $ref: '/shirt-size' }, colour: { $ref: '#/$defs/colour' } },
          $defs: {
            colour: { type: 'string', maxLength: 10 },
            size: { $id: '/shirt-size', type: 'string', enum: ['S', 'M', 'L'] },
          },
        },
        Transfer: {
          type: 'object',
          properties: {
            from: { type: 'integer', format: 'int64' },
            to: { type: 'integer', format: 'int64' },
          },
        },
      },
    },
  },
);

interface Echo {
  url: string;
  body: string;
}

describe('spec schemas through the gateway', () => {
  let gw: TestProxy;
  before(async () => {
    gw = await startProxy({
      upstream: echoHandler,
      spec,
      api: { name: 'shop', policies: { validateRequest: {} } },
    });
  });
  after(() => gw.close());

  const post = (path: string, body: string) =>
    fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const pointers = async (res: Response) =>
    ((await res.json()) as { errors: { pointer: string }[] }).errors.map((e) => e.pointer);

  test('serves every operation of an API whose schemas use $anchor, $id and $defs', async () => {
    assert.equal((await post('/shirts', '{"size":"M","colour":"red"}')).status, 200);
    const bad = await post('/shirts', '{"size":"XXL","colour":"a very long colour"}');
    assert.equal(bad.status, 400);
    assert.deepEqual((await pointers(bad)).sort(), ['#/body/colour', '#/body/size']);
    assert.equal((await fetch(`${gw.url}/users?email=ann.lee%40example.com`)).status, 200);
  });

  test('answers a crafted query against a backtracking e-mail pattern with 400', async () => {
    const res = await fetch(`${gw.url}/users?email=${'a'.repeat(60)}!`);
    assert.equal(res.status, 400);
    assert.deepEqual(await pointers(res), ['#/query/email']);
  });

  test('refuses a body whose ids differ from others only beyond 2^53, and forwards exact ones', async () => {
    const res = await post('/transfers', '{"from":9007199254740993,"to":9007199254740992}');
    assert.equal(res.status, 400);
    assert.deepEqual(await pointers(res), ['#/body/from']);
    const ok = await post('/transfers', '{"from":9007199254740991,"to":1}');
    assert.equal(ok.status, 200);
  });

  test('refuses a path id beyond 2^53 instead of rounding it', async () => {
    assert.equal((await fetch(`${gw.url}/accounts/9007199254740993`)).status, 400);
    assert.equal((await fetch(`${gw.url}/accounts/9007199254740991`)).status, 200);
  });

  test('validates members named constructor and toString and forwards them unchanged', async () => {
    const ok = await post('/objects', '{"constructor":"a","toString":"b"}');
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(((await ok.json()) as Echo).body), { constructor: 'a', toString: 'b' });
    const missing = await post('/objects', '{}');
    assert.equal(missing.status, 400);
    assert.deepEqual(await pointers(missing), ['#/body/constructor']);
    assert.equal((await post('/objects', '{"constructor":"a","toString":7}')).status, 400);
  });
});

describe('spec schemas the gateway refuses at load', () => {
  const build = async (schemas: Record<string, unknown>, paths: Record<string, unknown> = {}) => {
    const up = await startServer(echoHandler);
    try {
      const gw = await startGateway({
        specs: { 'openapi.yaml': openapi(paths, { components: { schemas } }) },
        config: {
          apis: [
            {
              name: 'shop',
              spec: 'openapi.yaml',
              upstream: { url: up.url },
              policies: { validateRequest: {} },
            },
          ],
        },
      });
      await gw.close();
      return [];
    } catch (e) {
      if (!(e instanceof GatewayBuildError)) throw e;
      return e.issues;
    } finally {
      await up.close();
    }
  };

  test('refuses a $ref to an anchor that does not exist, naming the spec file and the pointer', async () => {
    const issues = await build({ Shirt: { type: 'object', properties: { size: { $ref: '#Size' } } } });
    assert.equal(issues.length, 1);
    assert.match(
      issues[0],
      /^apis\[0\]\.spec: \/.*\/openapi\.yaml at \/components\/schemas\/Shirt\/properties\/size\/\$ref: \$ref "#Size" names nothing/,
    );
  });

  test('refuses a pattern that needs backtracking, naming the pattern and where it is', async () => {
    const issues = await build(
      { Code: { type: 'string', pattern: '^(\\w+)-\\1$' } },
      {
        '/codes': {
          post: op('createCode', {
            requestBody: {
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Code' } } },
            },
          }),
        },
      },
    );
    assert.equal(issues.length, 1);
    assert.match(
      issues[0],
      /^apis\[0\] \(operation createCode\): .*openapi\.yaml at \/components\/schemas\/Code\/pattern: /,
    );
    assert.ok(issues[0].includes(JSON.stringify('^(\\w+)-\\1$')), issues[0]);
    assert.match(issues[0], /backreference/);
  });
});

describe('authorization rules over body integers', () => {
  test('denies a rule that would compare a body integer a double cannot hold, instead of rounding it', async () => {
    const up = await startServer(echoHandler);
    try {
      const gw = await startGateway({
        specs: {
          'openapi.yaml': openapi({
            '/transfers': {
              post: op('transfer', {
                requestBody: { content: { 'application/json': { schema: { type: 'object' } } } },
              }),
            },
          }),
        },
        config: {
          apis: [
            {
              name: 'bank',
              spec: 'openapi.yaml',
              upstream: { url: up.url },
              // Accounts 7 and 2^53 may transfer; validateRequest is off, so the rule alone decides.
              policies: {
                authenticate: { schemes: {} },
                authorize: {
                  allowAnonymous: true,
                  rule: 'request.body.from == 7 || request.body.from == 9007199254740992',
                },
              },
            },
          ],
        },
      });
      try {
        const send = (body: string) =>
          fetch(`${gw.url}/transfers`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
        assert.equal((await send('{"from":7}')).status, 200);
        assert.equal((await send('{"from":1}')).status, 403);
        // 2^53 + 1 is another account, which a double reads as 2^53: no body integer beyond ±(2^53−1)
        // reaches a rule, so both are denied.
        assert.equal((await send('{"from":9007199254740993}')).status, 403);
        assert.equal((await send('{"from":9007199254740992}')).status, 403);
      } finally {
        await gw.close();
      }
    } finally {
      await up.close();
    }
  });
});
