import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiDocument, Operation, Parameter } from '../../core/api-document.ts';
import {
  compileCrsExclusions,
  compileTypedArgs,
  eventData,
  exclusionProblem,
  MAX_EVENT_DATA,
  type TypedArgTable,
  typedArgsOf,
} from './crs.ts';

const spec = { resolve: () => undefined } as unknown as ApiDocument;

function param(name: string, schema: Record<string, unknown>): Parameter {
  return {
    name,
    in: 'query',
    required: false,
    style: 'form',
    explode: true,
    allowReserved: false,
    schema,
    deprecated: false,
    raw: {},
  } as Parameter;
}

function operation(
  parameters: Parameter[],
  body?: Record<string, unknown>,
  mediaType = 'application/json',
): Operation {
  return {
    id: 'op',
    parameters,
    requestBody:
      body === undefined ? undefined : { required: true, content: { [mediaType]: { schema: body } } },
  } as unknown as Operation;
}

const table = compileTypedArgs(
  operation(
    [
      param('page', { type: 'integer' }),
      param('sort', { enum: ['name', '-name'] }),
      param('id', { type: 'string', format: 'uuid' }),
      param('q', { type: 'string' }),
    ],
    {
      type: 'object',
      properties: {
        age: { type: 'integer' },
        bio: { type: 'string' },
        address: { type: 'object', properties: { zip: { type: 'integer' }, city: { type: 'string' } } },
        when: { type: 'string', format: 'date-time' },
      },
    },
  ),
  spec,
) as TypedArgTable;

const typed = (query: string, body?: string, contentType = 'application/json') =>
  typedArgsOf(
    table,
    query,
    body === undefined ? undefined : contentType,
    body === undefined ? undefined : Buffer.from(body),
    () => (body === undefined ? undefined : JSON.parse(body)),
  );

describe('CRS exclusions', () => {
  test('ids without targets remove whole rules, ranges expand to every id in them', () => {
    const ex = compileCrsExclusions([{ ids: [942100, '920270-920272'] }], 'op');
    assert.deepEqual([...(ex?.removeIds ?? [])], [942100, 920270, 920271, 920272]);
    assert.equal(ex?.removeTargets, undefined);
  });

  test('targets remove variables from the rules named by id or by tag', () => {
    const ex = compileCrsExclusions(
      [
        { ids: [942100], targets: ['ARGS:comment'] },
        { tags: ['attack-xss'], targets: ['ARGS:json.bio', 'REQUEST_COOKIES:session'] },
      ],
      'op',
    );
    assert.deepEqual(ex?.removeTargets?.get(942100), ['ARGS:comment']);
    assert.deepEqual(ex?.removeTargetsByTag?.get('attack-xss'), ['ARGS:json.bio', 'REQUEST_COOKIES:session']);
    assert.equal(ex?.removeIds, undefined);
  });

  test('an exclusion limited to other operations does not apply', () => {
    assert.equal(compileCrsExclusions([{ ids: [942100], operations: ['other'] }], 'op'), undefined);
    assert.ok(
      compileCrsExclusions([{ tags: ['attack-sqli'], operations: ['op'] }], 'op')?.removeTags?.has(
        'attack-sqli',
      ),
    );
  });

  test('a reversed or oversized id range and an exclusion naming no rule are config errors', () => {
    assert.equal(exclusionProblem({ ids: ['942999-942000'] }, 0)?.[0], 'exclusions[0].ids[0]');
    assert.equal(exclusionProblem({ ids: ['1-900000'] }, 1)?.[0], 'exclusions[1].ids[0]');
    assert.equal(exclusionProblem({ ids: [], targets: ['ARGS:a'] }, 2)?.[0], 'exclusions[2]');
    assert.equal(exclusionProblem({ ids: [942100] }, 0), undefined);
  });
});

describe('schema awareness', () => {
  test('query arguments of the declared type are typed, free text is not', () => {
    const t = typed('page=3&sort=-name&id=0f8fad5b-d9cb-469f-a165-70867728950e&q=hello');
    assert.deepEqual([...(t ?? [])].sort(), [
      ['id', 'format'],
      ['page', 'number'],
      ['sort', 'enum'],
    ]);
  });

  test('a value that is not of the declared type leaves its argument to the rules', () => {
    assert.equal(typed("page=1'%20OR%201=1--&sort=name")?.has('page'), false);
    assert.equal(typed('sort=name%3Cscript%3E')?.has('sort'), undefined);
  });

  test('a repeated argument with one value not of its type is not typed at all', () => {
    const t = typed("page=1&page=1'%20union%20select%201--");
    assert.equal(t?.has('page') ?? false, false);
  });

  test('JSON members of the declared type are typed under their ModSecurity names', () => {
    const t = typed(
      '',
      JSON.stringify({
        age: 31,
        bio: 'x',
        address: { zip: 10115, city: 'Berlin' },
        when: '2024-05-01T10:00:00Z',
      }),
    );
    assert.deepEqual([...(t ?? [])].sort(), [
      ['json.address.zip', 'number'],
      ['json.age', 'number'],
      ['json.when', 'format'],
    ]);
  });

  test('a JSON member named twice, or a body with escaped keys, is not typed', () => {
    assert.equal(typed('', `{"age":"1' or '1'='1","age":5}`), undefined);
    assert.equal(typed('', '{"\\u0061ge":"<script>","age":5}'), undefined);
  });

  test('a form body is typed only under the form media type', () => {
    const form = compileTypedArgs(
      operation(
        [],
        { type: 'object', properties: { qty: { type: 'integer' } } },
        'application/x-www-form-urlencoded',
      ),
      spec,
    ) as TypedArgTable;
    const of = (body: string, ct: string) => typedArgsOf(form, '', ct, Buffer.from(body), () => undefined);
    assert.equal(of('qty=4', 'application/x-www-form-urlencoded')?.get('qty'), 'number');
    assert.equal(of('qty=4', 'text/plain'), undefined);
    assert.equal(of('qty=4%27', 'application/x-www-form-urlencoded'), undefined);
  });

  test('an enum listing a value that looks like an attack is not trusted', () => {
    const t = compileTypedArgs(operation([param('mode', { enum: ["' or 1=1", 'safe'] })]), spec);
    assert.equal(t, undefined);
  });
});

describe('event data', () => {
  test('masks tokens and secret assignments and cuts long data', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl';
    assert.equal(eventData(`Bearer ${jwt}`), 'Bearer [redacted JWT]');
    assert.equal(eventData('password=hunter2&x=1'), 'password=[redacted]&x=1');
    const long = eventData(`' or 1=1 ${'a'.repeat(1000)}`);
    assert.equal(long.length, MAX_EVENT_DATA + 1);
    assert.ok(long.endsWith('…'));
  });
});
