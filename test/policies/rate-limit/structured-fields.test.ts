import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseItemList, parseList } from '../../kit/structured-fields.ts';

describe('RFC 9651 list parser (test helper)', () => {
  test('parses the draft-10 examples of RateLimit-Policy and RateLimit', () => {
    const policy = parseItemList('"burst";q=100;w=60,"daily";q=1000;w=86400');
    assert.deepEqual(
      policy.map((p) => [p.value, p.params.get('q'), p.params.get('w')]),
      [
        ['burst', 100, 60],
        ['daily', 1000, 86400],
      ],
    );
    const rl = parseItemList('"default";r=50;t=30;pk=:AQID:');
    assert.equal(rl[0].params.get('r'), 50);
    assert.deepEqual([...(rl[0].params.get('pk') as Uint8Array)], [1, 2, 3]);
  });

  test('rejects malformed fields', () => {
    for (const bad of [
      '"a";q=1,',
      '"a" "b"',
      '"a";Q=1',
      '"a;q=1',
      '"a";q=1234567890123456',
      '"a";pk=:!!:',
      'a,,b',
    ]) {
      assert.throws(() => parseList(bad), SyntaxError, bad);
    }
  });

  test('parses inner lists, tokens, booleans and decimals', () => {
    const l = parseList('(a b);x, tok;y=?0;z=1.5');
    assert.equal(l.length, 2);
  });
});
