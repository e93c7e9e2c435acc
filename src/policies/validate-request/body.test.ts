import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BodyFormatError,
  checkJsonBounds,
  findDuplicateKey,
  matchMediaType,
  mediaTypeParameter,
  parseMultipart,
} from './body.ts';

describe('media types', () => {
  test('prefers the exact declared type, then the range, then */*', () => {
    assert.equal(
      matchMediaType(['application/json', 'application/*', '*/*'], 'application/json'),
      'application/json',
    );
    assert.equal(matchMediaType(['application/*', '*/*'], 'application/xml'), 'application/*');
    assert.equal(matchMediaType(['*/*'], 'text/plain'), '*/*');
    assert.equal(matchMediaType(['application/json'], 'text/plain'), undefined);
  });

  test('reads quoted parameters', () => {
    assert.equal(mediaTypeParameter('multipart/form-data; boundary="a b"', 'boundary'), 'a b');
    assert.equal(mediaTypeParameter('text/plain; charset=utf-8', 'boundary'), undefined);
  });
});

describe('duplicate JSON member names', () => {
  test('finds a repeated name with its pointer, also in nested arrays', () => {
    assert.equal(findDuplicateKey('{"role":"user","role":"admin"}'), '/role');
    assert.equal(findDuplicateKey('{"a":[{"x":1},{"x":1,"y":{"k":1,"k":2}}]}'), '/a/1/y/k');
  });

  test('compares names after unescaping', () => {
    assert.equal(findDuplicateKey('{"role":1,"r\\u006fle":2}'), '/role');
  });

  test('finds a duplicate among many members', () => {
    const members = Array.from({ length: 5000 }, (_, i) => `"k${i}":${i}`);
    assert.equal(findDuplicateKey(`{${members.join(',')}}`), undefined);
    assert.equal(findDuplicateKey(`{${members.join(',')},"k4999":1}`), '/k4999');
  });

  test('accepts the same name in different objects and names inside strings', () => {
    assert.equal(findDuplicateKey('{"a":{"x":1},"b":{"x":1},"c":"{\\"a\\":1}","d":["a","a"]}'), undefined);
  });
});

describe('JSON bounds', () => {
  const bounds = { maxDepth: 3, maxArrayItems: 2, maxStringLength: 5, maxObjectProperties: 2 };
  test('reports the first violation by pointer', () => {
    assert.deepEqual(checkJsonBounds({ a: [1, 2, 3] }, bounds), {
      pointer: '/a',
      detail: 'must NOT have more than 2 items',
    });
    assert.deepEqual(checkJsonBounds({ a: 'toolong' }, bounds), {
      pointer: '/a',
      detail: 'must NOT have more than 5 characters',
    });
    assert.deepEqual(checkJsonBounds({ a: { b: { c: {} } } }, bounds), {
      pointer: '/a/b/c',
      detail: 'nests deeper than 3 levels',
    });
    assert.deepEqual(checkJsonBounds({ a: 1, b: 2, c: 3 }, bounds), {
      pointer: '',
      detail: 'must NOT have more than 2 properties',
    });
    assert.equal(checkJsonBounds({ a: [1, 2], b: 'ok' }, bounds), undefined);
  });

  test('walks a very deep value without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(checkJsonBounds(deep, { ...bounds, maxDepth: 200_000 }), undefined);
  });
});

describe('multipart bodies', () => {
  const body = (parts: string) => Buffer.from(parts.replaceAll('\n', '\r\n'));
  test('splits parts with names, file names and content types', () => {
    const parts = parseMultipart(
      body(
        '--XyZ\nContent-Disposition: form-data; name="title"\n\nhello\n--XyZ\n' +
          'Content-Disposition: form-data; name="file"; filename="a.png"\nContent-Type: image/png\n\n\u0001\u0002\n--XyZ--\n',
      ),
      'XyZ',
      10,
    );
    assert.deepEqual(
      parts.map((p) => [p.name, p.filename, p.contentType, p.data.toString('latin1')]),
      [
        ['title', undefined, undefined, 'hello'],
        ['file', 'a.png', 'image/png', '\u0001\u0002'],
      ],
    );
  });

  test('refuses an unterminated body and too many parts', () => {
    assert.throws(
      () => parseMultipart(body('--b\nContent-Disposition: form-data; name="a"\n\nx'), 'b', 10),
      BodyFormatError,
    );
    const many = `${'--b\nContent-Disposition: form-data; name="a"\n\nx\n'.repeat(3)}--b--`;
    assert.throws(() => parseMultipart(body(many), 'b', 2), /too many/);
  });
});
