import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JsonObject, Parameter } from '../core/api-document.ts';
import {
  claimedQueryNames,
  coerceScalar,
  compileParameterDecoder,
  type ParameterSources,
  ParameterStyleError,
  splitCookies,
  splitQuery,
} from './parameters.ts';

const components: Record<string, JsonObject> = {
  '#/components/schemas/Id': { type: 'integer' },
  '#/components/schemas/Color': {
    type: 'object',
    properties: { R: { type: 'integer' }, G: { type: 'integer' } },
  },
};
const resolve = (ref: string) => components[ref];

function param(p: Partial<Parameter> & Pick<Parameter, 'name' | 'in'>): Parameter {
  const style = p.style ?? (p.in === 'query' || p.in === 'cookie' ? 'form' : 'simple');
  return {
    required: false,
    explode: style === 'form',
    allowReserved: false,
    schema: { type: 'string' },
    deprecated: false,
    raw: {},
    ...p,
    style,
  };
}

function sources(
  s: Partial<{ path: Record<string, string>; query: string; headers: JsonObject; cookie: string }>,
) {
  return {
    path: s.path ?? {},
    query: splitQuery(s.query ?? ''),
    headers: (s.headers ?? {}) as ParameterSources['headers'],
    cookies: splitCookies(s.cookie),
  } satisfies ParameterSources;
}

const arr = { type: 'array', items: { type: 'integer' } };
const obj = { $ref: '#/components/schemas/Color' };

describe('path parameters', () => {
  const cases: Array<[string, boolean, JsonObject, string, unknown]> = [
    ['simple', false, { $ref: '#/components/schemas/Id' }, '5', 5],
    ['simple', false, arr, '3,4,5', [3, 4, 5]],
    ['simple', false, obj, 'R,100,G,200', { R: 100, G: 200 }],
    ['simple', true, obj, 'R=100,G=200', { R: 100, G: 200 }],
    ['label', false, { type: 'string' }, '.blue', 'blue'],
    ['label', false, arr, '.3,4,5', [3, 4, 5]],
    ['label', true, arr, '.3.4.5', [3, 4, 5]],
    ['label', true, obj, '.R=100.G=200', { R: 100, G: 200 }],
    ['matrix', false, { type: 'integer' }, ';id=5', 5],
    ['matrix', false, arr, ';id=3,4,5', [3, 4, 5]],
    ['matrix', true, arr, ';id=3;id=4;id=5', [3, 4, 5]],
    ['matrix', false, obj, ';id=R,100,G,200', { R: 100, G: 200 }],
    ['matrix', true, obj, ';R=100;G=200', { R: 100, G: 200 }],
  ];
  for (const [style, explode, schema, raw, expected] of cases) {
    test(`decodes ${style} explode=${explode} ${raw} to ${JSON.stringify(expected)}`, () => {
      const d = compileParameterDecoder(param({ name: 'id', in: 'path', style, explode, schema }), resolve);
      assert.deepEqual(d(sources({ path: { id: raw } })), { present: true, value: expected });
    });
  }

  test('percent-decodes after splitting so an encoded comma stays inside one item', () => {
    const d = compileParameterDecoder(param({ name: 'id', in: 'path', schema: { type: 'array' } }), resolve);
    assert.deepEqual(d(sources({ path: { id: 'a%2Cb,c%20d' } })), { present: true, value: ['a,b', 'c d'] });
  });

  test('reports malformed percent-encoding as an error instead of throwing', () => {
    const d = compileParameterDecoder(param({ name: 'id', in: 'path' }), resolve);
    assert.deepEqual(d(sources({ path: { id: '%E0%A4%A' } })), {
      present: true,
      error: 'malformed percent-encoding',
    });
  });

  test('keeps a non-numeric value as a string so the validator reports the type error', () => {
    const d = compileParameterDecoder(
      param({ name: 'id', in: 'path', schema: { type: 'integer' } }),
      resolve,
    );
    assert.deepEqual(d(sources({ path: { id: '12abc' } })), { present: true, value: '12abc' });
  });

  test('rejects a label value without its leading dot', () => {
    const d = compileParameterDecoder(param({ name: 'id', in: 'path', style: 'label' }), resolve);
    assert.equal((d(sources({ path: { id: 'blue' } })) as { error: string }).error.includes('"."'), true);
  });
});

describe('query parameters', () => {
  test('decodes form explode arrays from repeated names', () => {
    const d = compileParameterDecoder(param({ name: 'id', in: 'query', schema: arr }), resolve);
    assert.deepEqual(d(sources({ query: 'id=3&x=1&id=4' })), { present: true, value: [3, 4] });
  });

  test('decodes form non-explode arrays from one comma list', () => {
    const d = compileParameterDecoder(
      param({ name: 'id', in: 'query', explode: false, schema: arr }),
      resolve,
    );
    assert.deepEqual(d(sources({ query: 'id=3,4,5' })), { present: true, value: [3, 4, 5] });
  });

  test('decodes form explode objects from their declared members', () => {
    const d = compileParameterDecoder(param({ name: 'color', in: 'query', schema: obj }), resolve);
    assert.deepEqual(d(sources({ query: 'R=100&G=200&other=1' })), {
      present: true,
      value: { R: 100, G: 200 },
    });
  });

  test('decodes spaceDelimited and pipeDelimited arrays', () => {
    const space = compileParameterDecoder(
      param({ name: 'id', in: 'query', style: 'spaceDelimited', explode: false, schema: arr }),
      resolve,
    );
    const pipe = compileParameterDecoder(
      param({ name: 'id', in: 'query', style: 'pipeDelimited', explode: false, schema: arr }),
      resolve,
    );
    assert.deepEqual(space(sources({ query: 'id=3%204+5' })), { present: true, value: [3, 4, 5] });
    assert.deepEqual(pipe(sources({ query: 'id=3|4%7C5' })), { present: true, value: [3, 4, 5] });
  });

  test('decodes deepObject members, including percent-encoded brackets', () => {
    const d = compileParameterDecoder(
      param({ name: 'color', in: 'query', style: 'deepObject', explode: true, schema: obj }),
      resolve,
    );
    assert.deepEqual(d(sources({ query: 'color[R]=100&color%5BG%5D=200' })), {
      present: true,
      value: { R: 100, G: 200 },
    });
  });

  test('rejects nested deepObject members', () => {
    const d = compileParameterDecoder(
      param({ name: 'color', in: 'query', style: 'deepObject', explode: true, schema: obj }),
      resolve,
    );
    assert.equal('error' in d(sources({ query: 'color[R][x]=1' })), true);
  });

  test('rejects a scalar given twice as parameter pollution', () => {
    const d = compileParameterDecoder(
      param({ name: 'limit', in: 'query', schema: { type: 'integer' } }),
      resolve,
    );
    assert.deepEqual(d(sources({ query: 'limit=1&limit=2' })), {
      present: true,
      error: 'parameter given more than once',
    });
  });

  test('treats plus as a space and coerces booleans', () => {
    const s = compileParameterDecoder(param({ name: 'q', in: 'query' }), resolve);
    const b = compileParameterDecoder(
      param({ name: 'b', in: 'query', schema: { type: 'boolean' } }),
      resolve,
    );
    assert.deepEqual(s(sources({ query: 'q=a+b%2Bc' })), { present: true, value: 'a b+c' });
    assert.deepEqual(b(sources({ query: 'b=true' })), { present: true, value: true });
  });

  test('reports an absent parameter as not present', () => {
    const d = compileParameterDecoder(param({ name: 'q', in: 'query' }), resolve);
    assert.deepEqual(d(sources({ query: 'other=1' })), { present: false });
  });

  test('parses parameters described with application/json content', () => {
    const d = compileParameterDecoder(
      param({ name: 'f', in: 'query', contentType: 'application/json', schema: { type: 'object' } }),
      resolve,
    );
    assert.deepEqual(d(sources({ query: 'f=%7B%22a%22%3A1%7D' })), { present: true, value: { a: 1 } });
    assert.deepEqual(d(sources({ query: 'f=%7Bnope' })), {
      present: true,
      error: 'not valid application/json',
    });
  });

  test('lists the query names a form explode object claims', () => {
    assert.deepEqual(claimedQueryNames(param({ name: 'color', in: 'query', schema: obj }), resolve), [
      'R',
      'G',
    ]);
    assert.deepEqual(claimedQueryNames(param({ name: 'q', in: 'query' }), resolve), ['q']);
  });
});

describe('header and cookie parameters', () => {
  test('decodes simple header arrays and objects', () => {
    const a = compileParameterDecoder(param({ name: 'X-Ids', in: 'header', schema: arr }), resolve);
    const o = compileParameterDecoder(
      param({ name: 'X-Color', in: 'header', explode: true, schema: obj }),
      resolve,
    );
    assert.deepEqual(a(sources({ headers: { 'x-ids': '1, 2,3' } })), { present: true, value: [1, 2, 3] });
    assert.deepEqual(o(sources({ headers: { 'x-color': 'R=1,G=2' } })), {
      present: true,
      value: { R: 1, G: 2 },
    });
  });

  test('decodes form cookies, arrays as comma lists', () => {
    const a = compileParameterDecoder(
      param({ name: 'ids', in: 'cookie', explode: false, schema: arr }),
      resolve,
    );
    const s = compileParameterDecoder(param({ name: 'sid', in: 'cookie' }), resolve);
    const src = sources({ cookie: 'sid=ab%20c; ids=1,2' });
    assert.deepEqual(a(src), { present: true, value: [1, 2] });
    assert.deepEqual(s(src), { present: true, value: 'ab c' });
  });

  test('refuses at load a style that does not fit the location', () => {
    assert.throws(
      () => compileParameterDecoder(param({ name: 'x', in: 'header', style: 'form' }), resolve),
      ParameterStyleError,
    );
  });
});

describe('coerceScalar', () => {
  test('keeps as a string an integer a double cannot hold, so the type check refuses it', () => {
    const integer = new Set(['integer', 'number']);
    assert.equal(coerceScalar('9007199254740991', integer), 9007199254740991);
    assert.equal(coerceScalar('9007199254740993', integer), '9007199254740993');
    assert.equal(coerceScalar('-9007199254740993', integer), '-9007199254740993');
    assert.equal(coerceScalar('1.5e300', new Set(['number'])), 1.5e300);
  });
});
