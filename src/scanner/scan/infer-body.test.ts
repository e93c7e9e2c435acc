import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  fieldProblems,
  inferredSchema,
  kindOfName,
  mendNested,
  recordOf,
  shapeFields,
} from './infer-body.ts';

const names = (json: unknown, text = '') => fieldProblems(json, text).map((p) => p.name);

describe('fields an error answer names', () => {
  test('pydantic v2: missing, kinds, allowed values, unwanted fields; the bare body location names none', () => {
    assert.deepEqual(names({ detail: [{ type: 'missing', loc: ['body'], msg: 'Field required' }] }), []);
    const p = fieldProblems({
      detail: [
        { type: 'missing', loc: ['body', 'title'], msg: 'Field required' },
        { type: 'int_parsing', loc: ['body', 'portions'], msg: 'Input should be a valid integer' },
        {
          type: 'enum',
          loc: ['body', 'cuisine'],
          msg: "Input should be 'thai', 'greek' or 'mexican'",
          ctx: { expected: "'thai', 'greek' or 'mexican'" },
        },
        { type: 'extra_forbidden', loc: ['body', 'colour'], msg: 'Extra inputs are not permitted' },
        { type: 'missing', loc: ['query', 'page'], msg: 'Field required' },
      ],
    });
    assert.deepEqual(p, [
      { name: 'title', missing: true },
      { name: 'portions', missing: false, kind: 'integer' },
      { name: 'cuisine', missing: false, allowed: ['thai', 'greek', 'mexican'] },
      { name: 'colour', missing: false, extra: true },
    ]);
  });

  test('pydantic v1, express-validator, Joi, celebrate, Django REST framework, marshmallow', () => {
    assert.deepEqual(
      names({ detail: [{ loc: ['body', 'qty'], msg: 'field required', type: 'value_error.missing' }] }),
      ['qty'],
    );
    assert.deepEqual(
      fieldProblems({ errors: [{ type: 'field', path: 'price', msg: 'must be numeric', location: 'body' }] }),
      [{ name: 'price', missing: false, kind: 'number' }],
    );
    assert.deepEqual(names({ errors: [{ param: 'email', msg: 'Invalid value', location: 'query' }] }), []);
    assert.deepEqual(
      fieldProblems({
        error: { details: [{ path: ['due'], message: '"due" is required', type: 'any.required' }] },
      }),
      [{ name: 'due', missing: true }],
    );
    assert.deepEqual(names({ validation: { body: { keys: ['label'], message: '"label" is required' } } }), [
      'label',
    ]);
    assert.deepEqual(
      fieldProblems({ title: ['This field is required.'], pages: ['A valid integer is required.'] }),
      [
        { name: 'title', missing: true },
        { name: 'pages', missing: false, kind: 'integer' },
      ],
    );
    assert.deepEqual(names({ messages: { json: { name: ['Missing data for required field.'] } } }), ['name']);
  });

  test('plain messages, in text or in a JSON member; words that name the request are no fields', () => {
    assert.deepEqual(names(undefined, 'username is required'), ['username']);
    assert.deepEqual(names({ error: "missing field 'court_id'" }), ['court_id']);
    assert.deepEqual(names(undefined, "KeyError: 'event'"), ['event']);
    assert.deepEqual(names(undefined, 'The due date field is required.'), ['due_date']);
    assert.deepEqual(
      names(undefined, 'Missing required fields: title, body and tags'),
      ['title', 'body', 'tags'].filter((n) => n !== 'body'),
    );
    assert.deepEqual(fieldProblems(undefined, 'slot must be a valid date (YYYY-MM-DD)'), [
      { name: 'slot', missing: false, kind: 'date' },
    ]);
    assert.deepEqual(names(undefined, 'Authentication is required'), []);
    assert.deepEqual(names({ detail: 'Request body is required' }), []);
    assert.deepEqual(names({ error: 'nothing to update' }), []);
  });

  test("JavaScript's undefined for a member nobody sent: `Unknown test action: undefined`, `Invalid URL`", () => {
    assert.deepEqual(names({ success: false, error: 'Unknown test action: undefined' }), ['action']);
    assert.deepEqual(names({ result: { error: 'Unknown debug command: undefined' } }), ['command']);
    assert.deepEqual(names({ error: 'Invalid mode = undefined' }), ['mode']);
    // The answer's own members (`networkError`, `reason`) are no fields of the body.
    assert.deepEqual(
      fieldProblems({ success: false, error: 'Invalid URL', networkError: 'ERR_INVALID_URL' }),
      [{ name: 'url', missing: true, kind: 'url' }],
    );
    assert.deepEqual(names({ ok: false, reason: 'Invalid URL' }), ['url']);
    // A value that was sent and is unknown names nothing missing; nor does an invalid URL inside a sentence.
    assert.deepEqual(names({ error: 'Unknown debug command: pcx12ab' }), []);
    assert.deepEqual(names({ error: 'Invalid URL given for the avatar, try again' }), []);
  });
});

describe('members below a field', () => {
  test("pydantic's longer loc: where below the field; a list that needs items", () => {
    const p = fieldProblems({
      detail: [
        { type: 'missing', loc: ['body', 'items', 0, 'sku'], msg: 'Field required' },
        { type: 'int_parsing', loc: ['body', 'items', 0, 'qty'], msg: 'Input should be a valid integer' },
        { type: 'missing', loc: ['body', 'address', 'city'], msg: 'Field required' },
        {
          type: 'too_short',
          loc: ['body', 'tags'],
          msg: 'List should have at least 1 item after validation, not 0',
          ctx: { min_length: 1 },
        },
        {
          type: 'extra_forbidden',
          loc: ['body', 'address', 'planet'],
          msg: 'Extra inputs are not permitted',
        },
      ],
    });
    assert.deepEqual(
      p.map((x) => [x.name, x.at, x.missing, x.kind, x.minItems]),
      [
        ['items', [0, 'sku'], true, undefined, undefined],
        ['items', [0, 'qty'], false, 'integer', undefined],
        ['address', ['city'], true, undefined, undefined],
        ['tags', undefined, false, 'array', 1],
      ],
    );
    const items = mendNested(mendNested([{}], p[0]), p[1]) as Record<string, unknown>[];
    assert.match(String(items[0].sku), /^portcullis-/);
    assert.equal(items[0].qty, 1);
    assert.deepEqual(Object.keys(mendNested(undefined, p[2]) as object), ['city']);
    assert.equal(mendNested([{ qty: 1 }], p[1]), undefined, 'nothing to mend');
    assert.deepEqual(mendNested([], p[1], 7), [{ qty: 7 }]);
  });
});

describe('fields runtimes name when nothing validates the body', () => {
  test('Mongoose, Sequelize, Prisma', () => {
    assert.deepEqual(
      fieldProblems({
        message: 'Recipe validation failed',
        errors: {
          title: { message: 'Path `title` is required.', kind: 'required', path: 'title' },
          portions: {
            message: 'Cast to Number failed for value "x" (type string) at path "portions"',
            kind: 'Number',
            path: 'portions',
          },
        },
      }),
      [
        { name: 'title', missing: true },
        { name: 'portions', missing: false, kind: 'number' },
      ],
    );
    assert.deepEqual(names(undefined, 'notNull Violation: Recipe.title cannot be null'), ['title']);
    assert.deepEqual(names({ error: 'Argument `title` is missing.' }), ['title']);
  });

  test("PHP's notices of a member not sent, before the answer, JSON or not", () => {
    const notice =
      '<br />\n<b>Notice</b>:  Undefined index: id in <b>/var/www/html/message_delete.php</b> on line <b>4</b><br />\n{"ok":false}';
    assert.deepEqual(names({ ok: false }, notice), ['id']);
    assert.deepEqual(fieldProblems(undefined, notice), [{ name: 'id', missing: true }]);
    assert.deepEqual(
      names(undefined, 'Warning: Undefined array key "to_account" in /srv/app/transfer.php on line 9'),
      ['to_account'],
    );
    assert.deepEqual(names(undefined, "PHP Notice:  Undefined index: 'subject' in /app/send.php on line 3"), [
      'subject',
    ]);
    // Numeric keys and variables name no member.
    assert.deepEqual(names(undefined, 'Notice: Undefined offset: 0 in /a.php on line 2'), []);
    assert.deepEqual(names(undefined, 'Warning: Undefined array key 0 in /a.php on line 2'), []);
    assert.deepEqual(names(undefined, 'Warning: Undefined variable $user in /a.php on line 2'), []);
  });

  test('Werkzeug, Express, Go, Jackson, System.Text.Json, Spring, ASP.NET, NestJS, Zod', () => {
    assert.deepEqual(names(undefined, '<pre>KeyError: &#39;title&#39;</pre>'), ['title']);
    assert.deepEqual(
      names(undefined, "TypeError: Cannot destructure property 'slot' of 'req.body' as it is undefined."),
      ['slot'],
    );
    assert.deepEqual(
      fieldProblems(
        undefined,
        'json: cannot unmarshal string into Go struct field Recipe.portions of type int',
      ),
      [{ name: 'portions', missing: false, kind: 'integer' }],
    );
    assert.deepEqual(
      fieldProblems({
        message:
          'JSON parse error: Cannot deserialize value of type `java.lang.Integer` from String "x": not a valid Integer value (through reference chain: demo.Recipe["portions"])',
      }),
      [{ name: 'portions', missing: false, kind: 'integer' }],
    );
    assert.deepEqual(
      fieldProblems({
        errors: {
          '$.portions': [
            'The JSON value could not be converted to System.Int32. Path: $.portions | LineNumber: 0',
          ],
        },
      }).find((p) => p.name === 'portions')?.kind,
      'integer',
    );
    assert.deepEqual(names({ errors: [{ field: 'title', defaultMessage: 'must not be blank' }] }), ['title']);
    assert.deepEqual(names({ errors: { Title: ['The Title field is required.'] } }), ['Title']);
    assert.deepEqual(
      fieldProblems({
        statusCode: 400,
        message: ['title should not be empty', 'portions must be an integer number'],
      }),
      [
        { name: 'title', missing: true },
        { name: 'portions', missing: false, kind: 'integer' },
      ],
    );
    assert.deepEqual(
      fieldProblems({
        issues: [
          {
            code: 'invalid_type',
            expected: 'number',
            received: 'undefined',
            path: ['portions'],
            message: 'Required',
          },
        ],
      }),
      [{ name: 'portions', missing: true }],
    );
  });
});

describe('fields a record of the resource suggests', () => {
  test('its own ids, owner, timestamps, secrets and privileges left out; free text fresh, code words kept', () => {
    const fields = shapeFields({
      id: 4,
      owner_id: 2,
      title: 'Pad thai',
      status: 'draft',
      category_id: 'c-19',
      portions: 2,
      created_at: '2026-01-01T00:00:00Z',
      role: 'user',
      password_hash: 'x',
      tags: ['a'],
    });
    assert.deepEqual([...fields.keys()], ['title', 'status', 'category_id', 'portions']);
    assert.match(String(fields.get('title')?.value), /^portcullis-/);
    assert.deepEqual(fields.get('status'), { value: 'draft', kept: true });
    assert.deepEqual(fields.get('category_id'), { value: 'c-19', kept: true });
    assert.deepEqual(fields.get('portions'), { value: 2, kept: true });
  });

  test('the record of a list, a wrapper or an item', () => {
    assert.deepEqual(recordOf([{ a: 1, b: 2 }]), { a: 1, b: 2 });
    assert.deepEqual(recordOf({ items: [{ a: 1, b: 2 }], total: 1 }), { a: 1, b: 2 });
    assert.deepEqual(recordOf({ data: { a: 1, b: 2 } }), { a: 1, b: 2 });
    assert.equal(recordOf([]), undefined);
  });

  test('names say a kind when nothing else does', () => {
    assert.equal(kindOfName('court_id'), 'integer');
    assert.equal(kindOfName('isPublic'), 'boolean');
    assert.equal(kindOfName('contactEmail'), 'email');
    assert.equal(kindOfName('title'), 'string');
  });

  test('the adopted schema: a fresh string is sampled again, values the API gave are kept and listed', () => {
    const schema = inferredSchema(
      new Map([
        ['title', { value: 'portcullis-1a2b3c4d', kept: false }],
        ['cuisine', { value: 'thai', kept: true }],
        ['portions', { value: 1, kept: false }],
        ['username', { value: 'zoe', kept: true }],
      ]),
      new Map([['cuisine', ['thai', 'greek']]]),
      "the API's error answers",
      new Map([['username', 'username']]),
    );
    assert.deepEqual(schema, {
      type: 'object',
      properties: {
        title: { type: 'string' },
        cuisine: { type: 'string', enum: ['thai', 'greek'], example: 'thai' },
        portions: { type: 'integer', example: 1 },
        username: { type: 'string', example: 'zoe', 'x-portcullis-own': 'username' },
      },
      required: ['title', 'cuisine', 'portions', 'username'],
      'x-portcullis-inferred': "the API's error answers",
    });
  });
});
