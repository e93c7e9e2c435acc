import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildApiDocument } from './load.ts';
import { createSchemaCompiler, SchemaCompileError } from './schema.ts';
import type { JsonObject, SpecVersion } from './types.ts';

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
