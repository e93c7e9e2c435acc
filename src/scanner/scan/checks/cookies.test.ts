import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ScanResponse } from '../client.ts';
import {
  cookieLines,
  idNumbersIn,
  jsonSecretsTrue,
  layersOf,
  phpLengths,
  phpSecretsTrue,
  postReadsOnly,
  raiseRole,
  replaceWord,
} from './cookies.ts';

const answer = (setCookie: string): ScanResponse => ({
  status: 200,
  headers: { 'set-cookie': setCookie },
  text: '',
  json: undefined,
  durationMs: 1,
  sent: { method: 'POST', url: 'http://x/login' },
});

describe('cookie values read and changed', () => {
  test('base64 JSON is read, changed and encoded again in the same alphabet and padding', () => {
    const raw = Buffer.from('{"user":"ines","uid":7}').toString('base64');
    const layer = layersOf(raw).find((l) => l.kind === 'base64 JSON');
    assert.ok(layer);
    const changed = replaceWord(layer.text, 'ines', 'tomas');
    assert.equal(changed, '{"user":"tomas","uid":7}');
    assert.equal(Buffer.from(layer.encode(changed), 'base64').toString(), changed);
  });

  test('a quoted, URL-encoded value keeps its quotes and encoding', () => {
    const layer = layersOf('"ines%3FTrue"')[0];
    assert.equal(layer.text, 'ines?True');
    assert.equal(layer.encode('tomas?True'), '"tomas%3FTrue"');
  });

  test('a JWT payload is one layer; a random hex session id reads as nothing but text', () => {
    const payload = Buffer.from('{"sub":"ines"}').toString('base64url');
    assert.ok(layersOf(`eyJhbGciOiJIUzI1NiJ9.${payload}.c2ln`).some((l) => l.kind === 'JWT payload'));
    assert.deepEqual(
      layersOf('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08').map((l) => l.kind),
      ['text'],
    );
  });

  test('a whole word only: 7 in 17 or ines in inesa is not the identity', () => {
    assert.equal(replaceWord('uid=17', '7', '8'), undefined);
    assert.equal(replaceWord('inesa', 'ines', 'tomas'), undefined);
    assert.equal(replaceWord('user=7&x=1', '7', '8'), 'user=8&x=1');
  });

  test('roles and admin flags are raised; a made-up role takes the same place', () => {
    assert.equal(raiseRole('{"rank":"member"}', 'guild'), '{"rank":"admin"}');
    assert.equal(raiseRole('u=ines&is_admin=false', 'c'), 'u=ines&is_admin=true');
    assert.equal(raiseRole('user', 'role'), 'admin');
    assert.equal(raiseRole('{"rank":"member"}', 'guild', 'pcxq'), '{"rank":"pcxq"}');
    assert.equal(raiseRole('{"name":"member"}', 'guild'), undefined);
    assert.equal(raiseRole('id=3|user_role=customer', 'u'), 'id=3|user_role=admin');
    assert.equal(raiseRole('{"accountType":"basic"}', 'u'), '{"accountType":"admin"}');
  });
});

describe('PHP serialized values and id numbers', () => {
  test('a string whose length changed gets its declared length right again', () => {
    const text = 'a:2:{s:3:"uid";i:12;s:4:"user";s:5:"hilde";}';
    const swapped = replaceWord(text, 'hilde', 'bo') ?? '';
    assert.equal(phpLengths(swapped), 'a:2:{s:3:"uid";i:12;s:4:"user";s:2:"bo";}');
    assert.equal(phpLengths('s:1:"çé";'), 's:4:"çé";');
  });

  test('a role and an admin flag of PHP serialized text are raised, lengths kept right', () => {
    assert.equal(raiseRole('a:1:{s:4:"role";s:6:"member";}', 'garden'), 'a:1:{s:4:"role";s:5:"admin";}');
    assert.equal(
      raiseRole('O:8:"stdClass":1:{s:8:"is_admin";b:0;}', 'u'),
      'O:8:"stdClass":1:{s:8:"is_admin";b:1;}',
    );
    assert.equal(raiseRole('a:1:{s:4:"role";s:4:"pcxq";}', 'u', 'pcxz'), undefined);
  });

  test('secret members become true (b:1) for a loose comparison; other members stay', () => {
    assert.equal(
      phpSecretsTrue('a:2:{s:4:"user";s:5:"hilde";s:5:"token";s:4:"ab12";}'),
      'a:2:{s:4:"user";s:5:"hilde";s:5:"token";b:1;}',
    );
    assert.equal(phpSecretsTrue('a:1:{s:4:"user";s:5:"hilde";}'), undefined);
    assert.equal(jsonSecretsTrue('{"user":"hilde","token": "ab12"}'), '{"user":"hilde","token": true}');
    assert.equal(jsonSecretsTrue('{"user":"hilde"}'), undefined);
  });

  test('small numbers under id-like keys, in JSON, PHP and key=value text; other numbers left', () => {
    assert.deepEqual(
      [...idNumbersIn('{"uid":12,"since":1733570000,"memberId":"41","n":3}')],
      [
        ['uid', '12'],
        ['memberId', '41'],
      ],
    );
    assert.deepEqual([...idNumbersIn('a:2:{s:3:"uid";i:12;s:4:"lang";i:2;}')], [['uid', '12']]);
    assert.deepEqual([...idNumbersIn('acct_no=1041&lang=2')], [['acct_no', '1041']]);
  });
});

describe('Set-Cookie flags', () => {
  test('each line apart, an Expires date with a comma kept in its line, deletions left out', () => {
    const lines = cookieLines(
      answer(
        'sid=abc; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT; HttpOnly, pref=1; SameSite=None, old=; Max-Age=0',
      ),
    );
    assert.deepEqual(
      lines.map((l) => [l.name, l.httpOnly, l.secure, l.sameSite]),
      [
        ['sid', true, false, undefined],
        ['pref', false, false, 'none'],
      ],
    );
    assert.ok(
      lines.every((l) => !l.line.includes('abc')),
      'no cookie value in the evidence',
    );
  });
});

test('a POST that only reads is no change a forged request could make', () => {
  for (const path of ['/items/search', '/reports/{id}/preview', '/price-quote', '/orders/export'])
    assert.equal(postReadsOnly(path), true, path);
  for (const path of ['/plots', '/plots/{plot_id}/water', '/searches', '/quotes/{id}/accept'])
    assert.equal(postReadsOnly(path), false, path);
});
