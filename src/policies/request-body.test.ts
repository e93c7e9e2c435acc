import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseJson } from '../shared/json.ts';
import {
  BodyFormatError,
  checkJsonBody,
  checkJsonBounds,
  dispositionOf,
  findDuplicateKey,
  matchMediaType,
  mediaTypeParameter,
  parseMultipart,
} from './request-body.ts';

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

describe('JSON body check (bounds, then duplicate names)', () => {
  const bounds = { maxDepth: 8, maxArrayItems: 10, maxStringLength: 40, maxObjectProperties: 10 };
  const check = (text: string, rejectDuplicates = true) =>
    checkJsonBody(parseJson(text), text, bounds, rejectDuplicates);

  test('reports a duplicate name that the parsed value no longer shows', () => {
    assert.deepEqual(check('{"role":"user","role":"admin"}'), {
      pointer: '/role',
      detail: 'is given more than once',
    });
    assert.deepEqual(check('[1,{"a":{"b":[{"x":1,"y":2,"x":3}]}}]'), {
      pointer: '/1/a/b/0/x',
      detail: 'is given more than once',
    });
  });

  test('does not miss a duplicate hidden among colons and escaped quotes inside strings', () => {
    assert.equal(check('{"k":"say \\"a:b\\" \\\\","k":1}')?.pointer, '/k');
    assert.equal(check('{"a:b":1,"c":{"d":"::"},"a:b":2}')?.pointer, '/a:b');
    assert.equal(check('{"\\u0061":1,"a":2}')?.pointer, '/a');
  });

  test('accepts colons inside strings, equal names in different objects and a string root', () => {
    assert.equal(check('{"url":"https://x:1/a:b","esc":"\\\\","q":"\\":","o":{"url":"::"}}'), undefined);
    assert.equal(check('"a:b:c"'), undefined);
    assert.equal(check('[{"a":1},{"a":1}]'), undefined);
  });

  test('reports the bounds before a duplicate, and duplicates only when asked', () => {
    assert.deepEqual(check('{"s":"this string is longer than forty characters!!","a":1,"a":2}'), {
      pointer: '/s',
      detail: 'must NOT have more than 40 characters',
    });
    assert.equal(check('{"a":1,"a":2}', false), undefined);
  });

  test('finds a duplicate with an escaped name even after V8 was set up to misread it', () => {
    // On Node 24 this parse primes V8 so that JSON.parse reads the name `\u0061` as `\` (see shared/json.ts).
    JSON.parse('{"a:":{"\\u0061":60,"\\\\":1}}');
    assert.equal(check('{"a:":{"a":1,"\\u0061":2}}')?.pointer, '/a:/a');
  });

  test('finds a duplicate when the value nests deeper than the quick pass goes', () => {
    const deep = { ...bounds, maxDepth: 2000 };
    const text = '{"a":1,"a":2}';
    assert.equal(checkJsonBody(parseJson(text), text, deep, true)?.pointer, '/a');
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

  test('refuses a part in base64 or quoted-printable, which would be judged encoded', () => {
    for (const cte of ['base64', 'quoted-printable']) {
      const text = `--b\nContent-Disposition: form-data; name="a"\nContent-Transfer-Encoding: ${cte}\n\nPHNjcmlwdD4=\n--b--`;
      assert.throws(() => parseMultipart(body(text), 'b', 10), BodyFormatError);
    }
    const binary =
      '--b\nContent-Disposition: form-data; name="a"\nContent-Transfer-Encoding: binary\n\nx\n--b--';
    assert.equal(parseMultipart(body(binary), 'b', 10).length, 1);
  });
});

describe('Content-Disposition of a part', () => {
  test('keeps a quoted semicolon and a backslash inside the file name', () => {
    const d = dispositionOf('form-data; name="file"; filename="a;b\\..\\..\\win.ini"');
    assert.equal(d.type, 'form-data');
    assert.equal(d.parameters.get('name'), 'file');
    assert.equal(d.parameters.get('filename'), 'a;b\\..\\..\\win.ini');
  });

  test('refuses a parameter given twice', () => {
    assert.throws(() => dispositionOf('form-data; name="a"; name="b"'), BodyFormatError);
  });
});
