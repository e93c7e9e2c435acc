import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bodyKindOf,
  compileMediaTypeMatcher,
  hasContentCoding,
  parseMediaType,
  unreadableCharset,
} from './media-type.ts';

const parsed = (v: string) => {
  const m = parseMediaType(v);
  return m && { essence: m.essence, parameters: Object.fromEntries(m.parameters) };
};

describe('parseMediaType (RFC 9110 §8.3.1)', () => {
  test('lower-cases type, subtype and parameter names and unquotes values', () => {
    assert.deepEqual(parsed('Application/JSON ; Charset="UTF-8";  q=1'), {
      essence: 'application/json',
      parameters: { charset: 'UTF-8', q: '1' },
    });
    assert.deepEqual(parsed('text/plain;a="x\\"y;z"'), { essence: 'text/plain', parameters: { a: 'x"y;z' } });
    assert.deepEqual(parsed('application/json;'), { essence: 'application/json', parameters: {} });
  });

  test('refuses what is not a media type, and a parameter given twice', () => {
    for (const bad of [
      '',
      'json',
      'application/',
      '/json',
      'application/json, text/plain',
      'application/json; charset',
      'application/json; charset = utf-8',
      'application/json; a="unterminated',
      'application/json; charset=utf-8; charset=utf-16',
      'application/json; CHARSET=utf-8; charset=utf-8',
      'appli cation/json',
    ]) {
      assert.equal(parseMediaType(bad), undefined, bad);
    }
  });
});

describe('compileMediaTypeMatcher', () => {
  const match = (keys: string[], actual: string | undefined) =>
    compileMediaTypeMatcher(keys)(actual === undefined ? undefined : parseMediaType(actual));

  test('prefers the exact type, then the range, then */*', () => {
    const keys = ['*/*', 'application/*', 'application/json'];
    assert.equal(match(keys, 'application/json'), 'application/json');
    assert.equal(match(keys, 'application/xml'), 'application/*');
    assert.equal(match(keys, 'text/plain'), '*/*');
    assert.equal(match(['application/json'], 'text/plain'), undefined);
  });

  test('matches a key with parameters to a request without them, and the other way round', () => {
    assert.equal(
      match(['application/json; charset=utf-8'], 'application/json'),
      'application/json; charset=utf-8',
    );
    assert.equal(
      match(['application/json; charset=utf-8'], 'Application/Json;charset="UTF-8"'),
      'application/json; charset=utf-8',
    );
    assert.equal(match(['application/json'], 'application/json; charset=utf-8'), 'application/json');
  });

  test('does not match a key whose parameter the request contradicts', () => {
    assert.equal(match(['application/json; charset=utf-8'], 'application/json; charset=utf-16'), undefined);
    assert.equal(match(['text/plain; format=flowed'], 'text/plain; format=fixed'), undefined);
  });

  test('picks the key with more parameters matched among keys of one specificity', () => {
    const keys = ['text/plain', 'text/plain; charset=utf-8'];
    assert.equal(match(keys, 'text/plain; charset=utf-8'), 'text/plain; charset=utf-8');
    assert.equal(match(keys, 'text/plain'), 'text/plain');
  });

  test('matches a body without Content-Type only to */*', () => {
    assert.equal(match(['application/octet-stream', 'application/*'], undefined), undefined);
    assert.equal(match(['application/json', '*/*'], undefined), '*/*');
  });
});

describe('body readings', () => {
  test('reads +json suffixes and text/json as JSON, forms, multipart, text and the rest as bytes', () => {
    const kind = (v: string) => bodyKindOf(parseMediaType(v));
    assert.equal(kind('application/merge-patch+json'), 'json');
    assert.equal(kind('application/vnd.acme.order+json; version=2'), 'json');
    assert.equal(kind('text/json'), 'json');
    assert.equal(kind('application/x-www-form-urlencoded'), 'form');
    assert.equal(kind('multipart/form-data; boundary=x'), 'multipart');
    assert.equal(kind('text/csv'), 'text');
    assert.equal(kind('application/octet-stream'), 'bytes');
    assert.equal(kind('application/xml'), 'bytes');
    assert.equal(bodyKindOf(undefined), 'bytes');
  });

  test('refuses JSON and form bodies in any charset but UTF-8', () => {
    const why = (ct: string, body = '{}') => {
      const m = parseMediaType(ct);
      return unreadableCharset(bodyKindOf(m), m, Buffer.from(body));
    };
    assert.equal(why('application/json; charset=UTF-8'), undefined);
    assert.equal(why('application/json'), undefined);
    assert.match(why('application/json; charset=utf-16') ?? '', /UTF-8/);
    assert.match(why('application/json; charset=iso-8859-1') ?? '', /UTF-8/);
    assert.match(why('application/x-www-form-urlencoded; charset=utf-16le', 'a=1') ?? '', /UTF-8/);
  });

  test('accepts text in an ASCII-compatible charset only when every byte is ASCII', () => {
    const why = (ct: string, body: Buffer) => {
      const m = parseMediaType(ct);
      return unreadableCharset(bodyKindOf(m), m, body);
    };
    assert.equal(why('text/plain; charset=ISO-8859-1', Buffer.from('plain words')), undefined);
    assert.notEqual(why('text/plain; charset=ISO-8859-1', Buffer.from([0x63, 0x61, 0x66, 0xe9])), undefined);
    assert.notEqual(why('text/plain; charset=utf-16le', Buffer.from('a\u0000', 'latin1')), undefined);
  });

  test('recognises a content coding other than identity', () => {
    assert.equal(hasContentCoding(undefined), false);
    assert.equal(hasContentCoding('identity'), false);
    assert.equal(hasContentCoding('gzip'), true);
    assert.equal(hasContentCoding('identity, br'), true);
  });
});
