import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JsonObject, SpecVersion } from '../core/api-document.ts';
import { buildApiDocument, SpecError } from './load.ts';
import { createSchemaCompiler, SchemaCompileError } from './schema.ts';

function api(version: SpecVersion, schemas: JsonObject) {
  return buildApiDocument('/spec.yaml', version, {
    openapi: version === '3.1' ? '3.1.0' : '3.0.3',
    info: { title: 't', version: '1' },
    paths: {},
    components: { schemas },
  });
}

const pet = {
  type: 'object',
  required: ['name'],
  properties: {
    id: { type: 'integer', readOnly: true },
    name: { type: 'string', maxLength: 10 },
    secret: { type: 'string', writeOnly: true },
  },
};

describe('OpenAPI 3.0 schemas', () => {
  const c = createSchemaCompiler(
    api('3.0', {
      Pet: pet,
      Dog: { allOf: [{ $ref: '#/components/schemas/Pet' }, { properties: { bark: { type: 'boolean' } } }] },
      Free: { type: 'object' },
      Open: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: true },
    }),
  );

  test('accepts null for a nullable type and refuses it otherwise', () => {
    const v = c.compile({ type: 'string', nullable: true }, 'request');
    assert.deepEqual(v.check(null).violations, []);
    assert.equal(c.compile({ type: 'string' }, 'request').check(null).violations.length, 1);
  });

  test('accepts null for a nullable enum', () => {
    assert.deepEqual(
      c.compile({ type: 'string', enum: ['a'], nullable: true }, 'request').check(null).violations,
      [],
    );
  });

  test('applies a boolean exclusiveMinimum as a strict bound', () => {
    const v = c.compile({ type: 'integer', minimum: 5, exclusiveMinimum: true }, 'request');
    assert.equal(v.check(5).violations.length, 1);
    assert.deepEqual(v.check(6).violations, []);
  });

  test('ignores discriminator, xml and example instead of failing to compile', () => {
    const v = c.compile(
      {
        oneOf: [{ $ref: '#/components/schemas/Pet' }],
        discriminator: { propertyName: 'name' },
        xml: { name: 'x' },
        example: { name: 'a' },
      },
      'request',
    );
    assert.deepEqual(v.check({ name: 'rex' }).violations, []);
  });

  test('rejects an undeclared property although the spec omits additionalProperties', () => {
    const r = c
      .compile({ $ref: '#/components/schemas/Pet' }, 'request')
      .check({ name: 'rex', isAdmin: true });
    assert.deepEqual(r.violations, [{ pointer: '/isAdmin', detail: 'is not a declared property' }]);
  });

  test('accepts the members of every allOf branch and rejects others', () => {
    const v = c.compile({ $ref: '#/components/schemas/Dog' }, 'request');
    assert.deepEqual(v.check({ name: 'rex', bark: true }).violations, []);
    assert.deepEqual(v.check({ name: 'rex', bark: true, role: 'admin' }).violations, [
      { pointer: '/role', detail: 'is not a declared property' },
    ]);
  });

  test('closes nested objects and array items', () => {
    const v = c.compile(
      { type: 'array', items: { type: 'object', properties: { a: { type: 'string' } } } },
      'request',
    );
    assert.deepEqual(v.check([{ a: 'x' }, { a: 'y', b: 1 }]).violations, [
      { pointer: '/1/b', detail: 'is not a declared property' },
    ]);
  });

  test('leaves free-form objects and explicit additionalProperties open', () => {
    assert.deepEqual(
      c.compile({ $ref: '#/components/schemas/Free' }, 'request').check({ x: 1 }).violations,
      [],
    );
    assert.deepEqual(
      c.compile({ $ref: '#/components/schemas/Open' }, 'request').check({ x: 1 }).violations,
      [],
    );
  });

  test('refuses a readOnly property in a request but does not require it', () => {
    const v = c.compile({ $ref: '#/components/schemas/Pet' }, 'request');
    assert.deepEqual(v.check({ name: 'rex', id: 4 }).violations, [
      { pointer: '/id', detail: 'is read-only or not allowed' },
    ]);
  });

  test('strips writeOnly and undeclared properties from a response in place', () => {
    const v = c.compile({ $ref: '#/components/schemas/Dog' }, 'response');
    const data = { id: 1, name: 'rex', secret: 's3cret', bark: false, internal: { x: 1 } };
    const r = v.check(data, true);
    assert.deepEqual(r, { violations: [], stripped: 2 });
    assert.deepEqual(data, { id: 1, name: 'rex', bark: false });
  });

  test('reports violations by pointer without the rejected value', () => {
    const r = c.compile({ $ref: '#/components/schemas/Pet' }, 'request').check({ name: 'x'.repeat(11) });
    assert.equal(r.violations[0].pointer, '/name');
    assert.equal(r.violations[0].detail.includes('xxxxxxxxxxx'), false);
  });

  test('cuts long undeclared member names short in pointers', () => {
    const long = 'x'.repeat(500);
    const r = c.compile({ $ref: '#/components/schemas/Pet' }, 'request').check({ name: 'a', [long]: 1 });
    assert.equal(r.violations[0].pointer, `/${'x'.repeat(64)}...`);
  });

  test('validates OpenAPI formats int32 and byte', () => {
    assert.equal(
      c.compile({ type: 'integer', format: 'int32' }, 'request').check(2 ** 31).violations.length,
      1,
    );
    assert.equal(c.compile({ type: 'string', format: 'byte' }, 'request').check('a$b').violations.length, 1);
    assert.deepEqual(c.compile({ type: 'string', format: 'byte' }, 'request').check('aGk=').violations, []);
  });

  test('accepts patterns with escapes that are only valid without the u flag', () => {
    const v = c.compile({ type: 'string', pattern: '^[a-z\\_]+$' }, 'request');
    assert.deepEqual(v.check('a_b').violations, []);
    assert.equal(v.check('a-b').violations.length, 1);
  });

  test('refuses at load a $ref that does not exist', () => {
    assert.throws(() => c.compile({ $ref: '#/components/schemas/Nope' }, 'request'), SchemaCompileError);
  });
});

describe('OpenAPI 3.1 schemas', () => {
  const c = createSchemaCompiler(
    api('3.1', {
      Pet: pet,
      Node: {
        type: 'object',
        properties: { value: { type: 'integer' }, next: { $ref: '#/components/schemas/Node' } },
      },
    }),
  );

  test('accepts type arrays with null and numeric exclusiveMinimum', () => {
    assert.deepEqual(c.compile({ type: ['string', 'null'] }, 'request').check(null).violations, []);
    assert.equal(c.compile({ type: 'number', exclusiveMinimum: 0 }, 'request').check(0).violations.length, 1);
  });

  test('applies $ref siblings as JSON Schema 2020-12 does', () => {
    const v = c.compile({ $ref: '#/components/schemas/Pet', required: ['secret'] }, 'request');
    assert.deepEqual(v.check({ name: 'a' }).violations, [{ pointer: '/secret', detail: 'is required' }]);
  });

  test('validates recursive schemas and closes every level', () => {
    const v = c.compile({ $ref: '#/components/schemas/Node' }, 'request');
    assert.deepEqual(v.check({ value: 1, next: { value: 2, next: { value: 3 } } }).violations, []);
    assert.deepEqual(v.check({ value: 1, next: { value: 2, evil: true } }).violations, [
      { pointer: '/next/evil', detail: 'is not a declared property' },
    ]);
  });

  test('supports prefixItems and const', () => {
    const v = c.compile({ type: 'array', prefixItems: [{ const: 'a' }, { type: 'integer' }] }, 'request');
    assert.deepEqual(v.check(['a', 1]).violations, []);
    assert.equal(v.check(['b', 1]).violations[0].pointer, '/0');
  });
});

/** A 3.1 compiler over these component schemas; `paths` may add operations. */
function compiler31(schemas: JsonObject, paths: JsonObject = {}) {
  return createSchemaCompiler(
    buildApiDocument('/specs/shop.yaml', '3.1', {
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths,
      components: { schemas },
    }),
  );
}
const errorsOf = (v: { check(d: unknown): { violations: readonly { pointer: string }[] } }, data: unknown) =>
  v.check(data).violations.map((x) => x.pointer);

// Cases written from JSON Schema 2020-12 Core §8.2 (base URI, $id, $anchor, $defs) and §8.2.3 ($ref).
describe('OpenAPI 3.1 schema identifiers (JSON Schema 2020-12)', () => {
  test('resolves a plain-name fragment to the $anchor of the document', () => {
    const c = compiler31({
      Size: { $anchor: 'Size', type: 'string', enum: ['S', 'M', 'L'] },
      Shirt: { type: 'object', properties: { size: { $ref: '#Size' } } },
    });
    const v = c.compile({ $ref: '#/components/schemas/Shirt' }, 'request');
    assert.deepEqual(errorsOf(v, { size: 'M' }), []);
    assert.deepEqual(errorsOf(v, { size: 'XXL' }), ['/size']);
    assert.deepEqual(errorsOf(v, { size: 'M', extra: 1 }), ['/extra']);
  });

  test('compiles every other schema of a document that declares an $anchor', () => {
    const c = compiler31({
      Size: { $anchor: 'Size', type: 'string' },
      Pet: { type: 'object', properties: { name: { type: 'string' } } },
    });
    assert.deepEqual(errorsOf(c.compile({ $ref: '#/components/schemas/Pet' }, 'request'), { name: 'a' }), []);
    assert.deepEqual(errorsOf(c.compile({ $ref: '#Size' }, 'response'), 1), ['']);
  });

  test('resolves a $ref to $defs against the nearest $id, not the OpenAPI document', () => {
    const c = compiler31({
      Order: {
        $id: 'https://example.com/schemas/order',
        type: 'object',
        properties: { qty: { $ref: '#/$defs/quantity' } },
        $defs: { quantity: { type: 'integer', minimum: 1 } },
      },
    });
    const v = c.compile({ $ref: '#/components/schemas/Order' }, 'request');
    assert.deepEqual(errorsOf(v, { qty: 2 }), []);
    assert.deepEqual(errorsOf(v, { qty: 0 }), ['/qty']);
    assert.deepEqual(errorsOf(v, { qty: 2, admin: true }), ['/admin']);
  });

  test('resolves a relative $id against the base URI of its parent', () => {
    const c = compiler31({
      Root: {
        $id: 'https://example.com/root/main.json',
        $defs: { Code: { $id: 'types/code.json', type: 'string', maxLength: 3 } },
        type: 'object',
        properties: { code: { $ref: 'types/code.json' } },
      },
      // The same resource, named by its absolute URI from elsewhere in the document.
      Other: { $ref: 'https://example.com/root/types/code.json' },
    });
    assert.deepEqual(
      errorsOf(c.compile({ $ref: '#/components/schemas/Root' }, 'request'), { code: 'abcd' }),
      ['/code'],
    );
    assert.deepEqual(errorsOf(c.compile({ $ref: '#/components/schemas/Other' }, 'request'), 'abcd'), ['']);
  });

  test('resolves a relative $id of a component against the document, and a $ref naming it', () => {
    const c = compiler31({
      Id: { $id: 'id.json', type: 'integer' },
      Ref: { type: 'object', properties: { id: { $ref: 'id.json' } } },
    });
    assert.deepEqual(errorsOf(c.compile({ $ref: '#/components/schemas/Ref' }, 'request'), { id: 'x' }), [
      '/id',
    ]);
  });

  test('scopes an $anchor to the resource of its $id', () => {
    const c = compiler31({
      Money: {
        $id: 'https://example.com/money',
        type: 'object',
        properties: { currency: { $ref: '#currency' } },
        $defs: { c: { $anchor: 'currency', type: 'string', pattern: '^[A-Z]{3}$' } },
      },
      Price: { $ref: 'https://example.com/money#currency' },
    });
    assert.deepEqual(
      errorsOf(c.compile({ $ref: '#/components/schemas/Money' }, 'request'), { currency: 'eur' }),
      ['/currency'],
    );
    assert.deepEqual(errorsOf(c.compile({ $ref: '#/components/schemas/Price' }, 'request'), 'EUR'), []);
  });

  test('refuses an anchor that exists only inside another resource', () => {
    assert.throws(
      () =>
        compiler31({
          Money: { $id: 'https://example.com/money', $defs: { c: { $anchor: 'currency', type: 'string' } } },
          Price: { $ref: '#currency' },
        }),
      (e: Error) => e instanceof SpecError && e.pointer === '/components/schemas/Price/$ref',
    );
  });

  test('reads a pointer that names nothing in the document against the top schema it is written in', () => {
    // As in a standalone JSON Schema pasted into the spec: `#/$defs/n` means the body schema's `$defs`.
    const body = {
      type: 'object',
      properties: { n: { $ref: '#/$defs/n' } },
      $defs: { n: { type: 'integer', maximum: 9 } },
    };
    const c = compiler31(
      { Tree: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#' } } } } },
      {
        '/n': {
          post: {
            requestBody: { content: { 'application/json': { schema: body } } },
            responses: { '200': { description: 'ok' } },
          },
        },
      },
    );
    const v = c.compile(body, 'request');
    assert.deepEqual(errorsOf(v, { n: 3 }), []);
    assert.deepEqual(errorsOf(v, { n: 10 }), ['/n']);
    // `#` would name the OpenAPI document, which is no schema: it names the top schema instead.
    const tree = c.compile({ $ref: '#/components/schemas/Tree' }, 'request');
    assert.deepEqual(errorsOf(tree, { kids: [{ kids: [] }] }), []);
    assert.deepEqual(errorsOf(tree, { kids: [1] }), ['/kids/0']);
  });

  test('closes an object reached through an $anchor at the use site', () => {
    const c = compiler31({
      User: { $anchor: 'User', type: 'object', properties: { name: { type: 'string' } } },
    });
    assert.deepEqual(errorsOf(c.compile({ $ref: '#User' }, 'request'), { name: 'a', role: 'admin' }), [
      '/role',
    ]);
  });
});

describe('unresolvable $ref', () => {
  test('refuses at load a plain-name fragment with no such $anchor, naming the file and pointer', () => {
    assert.throws(
      () => compiler31({ Shirt: { type: 'object', properties: { size: { $ref: '#Size' } } } }),
      (e: Error) =>
        e instanceof SpecError &&
        e.pointer === '/components/schemas/Shirt/properties/size/$ref' &&
        e.message.startsWith('/specs/shop.yaml at /components/schemas/Shirt/properties/size/$ref:') &&
        e.message.includes('"#Size"'),
    );
  });

  test('refuses at load a pointer to a missing component in an operation schema', () => {
    assert.throws(
      () =>
        compiler31(
          {},
          {
            '/pets': {
              post: {
                requestBody: {
                  content: { 'application/json': { schema: { $ref: '#/components/schemas/Missing' } } },
                },
                responses: { '200': { description: 'ok' } },
              },
            },
          },
        ),
      (e: Error) =>
        e instanceof SpecError &&
        e.pointer === '/paths/~1pets/post/requestBody/content/application~1json/schema/$ref',
    );
  });

  test('refuses a pointer to an inherited member such as constructor', () => {
    assert.throws(
      () => compiler31({ A: { $ref: '#/components/schemas/constructor' } }),
      (e: Error) => e instanceof SpecError && e.pointer === '/components/schemas/A/$ref',
    );
  });

  test('keeps OpenAPI 3.0 rules: a pointer is read against the document only', () => {
    assert.throws(
      () =>
        api('3.0', { N: { properties: { n: { $ref: '#/$defs/n' } }, $defs: { n: { type: 'integer' } } } }),
      (e: Error) => e instanceof SpecError && e.pointer === '/components/schemas/N/properties/n/$ref',
    );
  });

  test('keeps OpenAPI 3.0 rules: $anchor means nothing and a plain-name fragment is refused', () => {
    assert.throws(
      () => api('3.0', { Size: { $anchor: 'Size', type: 'string' }, Shirt: { $ref: '#Size' } }),
      (e: Error) => e instanceof SpecError && e.pointer === '/components/schemas/Shirt/$ref',
    );
  });
});

describe('property names that are Object.prototype members', () => {
  const schema = JSON.parse(
    '{"type":"object","required":["constructor","toString","__proto__"],"properties":{"__proto__":{"type":"integer"},"constructor":{"type":"string"},"toString":{"type":"boolean"}}}',
  ) as JsonObject;
  for (const version of ['3.0', '3.1'] as const) {
    const c = createSchemaCompiler(api(version, {}));
    const v = c.compile(schema, 'request');

    test(`validates members named __proto__, constructor and toString (${version})`, () => {
      assert.deepEqual(
        v.check(JSON.parse('{"__proto__":1,"constructor":"a","toString":true}')).violations,
        [],
      );
      assert.deepEqual(errorsOf(v, JSON.parse('{"__proto__":"x","constructor":1,"toString":"no"}')).sort(), [
        '/__proto__',
        '/constructor',
        '/toString',
      ]);
    });

    test(`finds inherited members missing, not present (${version})`, () => {
      assert.deepEqual(errorsOf(v, {}).sort(), ['/__proto__', '/constructor', '/toString']);
    });
  }

  test('refuses an undeclared __proto__ member and strips it without touching the prototype', () => {
    const v = createSchemaCompiler(api('3.1', {})).compile(
      { type: 'object', properties: { a: { type: 'integer' } } },
      'request',
    );
    const data = JSON.parse('{"a":1,"__proto__":{"admin":true}}');
    assert.deepEqual(errorsOf(v, data), ['/__proto__']);
    assert.deepEqual(v.check(data, true), { violations: [], stripped: 1 });
    assert.deepEqual(Object.keys(data), ['a']);
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
  });

  test('keeps a declared __proto__ member in place after a check', () => {
    const c = createSchemaCompiler(api('3.1', {}));
    const v = c.compile(schema, 'request');
    const data = JSON.parse('{"__proto__":1,"constructor":"a","toString":true}');
    v.check(data, true);
    assert.equal(Object.hasOwn(data, '__proto__'), true);
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
  });
});

describe('patterns', () => {
  const c = createSchemaCompiler(api('3.1', {}));

  test('matches a pattern by code point, as the u flag does', () => {
    const v = c.compile({ type: 'string', pattern: '^.$' }, 'request');
    assert.deepEqual(v.check('😀').violations, []);
    assert.equal(v.check('ab').violations.length, 1);
  });

  test('applies patternProperties keys by code point too', () => {
    const v = c.compile(
      { type: 'object', patternProperties: { '^.$': { type: 'integer' } }, additionalProperties: false },
      'request',
    );
    assert.deepEqual(v.check({ '😀': 1 }).violations, []);
    assert.equal(v.check({ ab: 1 }).violations.length, 1);
  });

  test('refuses at load a pattern with a backreference, naming it and its pointer', () => {
    const bad = createSchemaCompiler(
      api('3.1', { Tag: { type: 'object', properties: { code: { type: 'string', pattern: '^(a+)\\1$' } } } }),
    );
    assert.throws(
      () => bad.compile({ $ref: '#/components/schemas/Tag' }, 'request'),
      (e: Error) =>
        e instanceof SchemaCompileError &&
        e.message.includes('/spec.yaml at /components/schemas/Tag/properties/code/pattern') &&
        e.message.includes('"^(a+)\\\\1$"'),
    );
  });

  test('refuses at load a patternProperties key with a lookahead, naming its pointer', () => {
    const bad = createSchemaCompiler(
      api('3.1', { Map: { type: 'object', patternProperties: { '^(?!x)': { type: 'string' } } } }),
    );
    assert.throws(
      () => bad.compile({ $ref: '#/components/schemas/Map' }, 'request'),
      (e: Error) =>
        e instanceof SchemaCompileError &&
        e.message.includes('/components/schemas/Map/patternProperties/^(?!x)'),
    );
  });

  test('answers a backtracking e-mail pattern on a crafted value', () => {
    // On a backtracking engine this value takes longer than the age of the universe; RE2 reads it once.
    const v = c.compile(
      {
        type: 'string',
        pattern:
          '^([a-zA-Z0-9])(([\\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$',
      },
      'request',
    );
    assert.equal(v.check(`${'a'.repeat(100)}!`).violations.length, 1);
    assert.deepEqual(v.check('ann.lee@example.com').violations, []);
  });
});

describe('integers a double cannot hold', () => {
  const c = createSchemaCompiler(api('3.1', {}));
  test('refuses an integer beyond 2^53 - 1 and accepts the largest safe one', () => {
    for (const schema of [
      { type: 'integer' },
      { type: 'integer', format: 'int64' },
      { type: ['integer', 'null'] },
    ]) {
      const v = c.compile(schema, 'request');
      assert.deepEqual(v.check(2 ** 53 - 1).violations, []);
      assert.deepEqual(v.check(-(2 ** 53 - 1)).violations, []);
      assert.equal(v.check(2 ** 53).violations.length > 0, true);
      assert.equal(v.check(1e300).violations.length > 0, true);
    }
  });

  test('lets a response carry large integers of the upstream, as before', () => {
    assert.deepEqual(
      c.compile({ type: 'integer', format: 'int64' }, 'response').check(2 ** 60).violations,
      [],
    );
  });

  test('leaves large doubles alone where the schema says number', () => {
    assert.deepEqual(c.compile({ type: 'number' }, 'request').check(1e300).violations, []);
  });
});
