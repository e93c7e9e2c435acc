import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseActions, parseSecLang, parseVariables } from './parse.ts';

test('joins continued lines and assembles a chain under its first rule', () => {
  const text = [
    'SecRule REQUEST_METHOD "@streq POST" \\',
    '    "id:1,phase:1,chain,deny"',
    '    SecRule &REQUEST_HEADERS:Content-Length "@eq 0" "t:none"',
    'SecMarker END',
  ].join('\n');
  const parsed = parseSecLang(text, 'a.conf');
  assert.deepEqual(parsed.issues, []);
  assert.equal(parsed.rules.length, 2);
  assert.equal(parsed.rules[0].chained.length, 1);
  assert.equal(parsed.rules[0].chained[0].variables[0].count, true);
  assert.equal(parsed.rules[1].marker, 'END');
});

test('reports an unknown directive by file and line', () => {
  const parsed = parseSecLang('# comment\n\nSecFrobnicate On\n', 'x.conf');
  assert.deepEqual(parsed.issues, [{ file: 'x.conf', line: 3, message: 'unknown directive SecFrobnicate' }]);
});

test('reads exclusions, counts, regex keys and XPath targets', () => {
  const vars = parseVariables("REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|&ARGS|ARGS:'a b'|XML:/*");
  assert.deepEqual(
    vars.map((v) => [v.collection, v.key, v.keyRegex, v.count, v.exclude]),
    [
      ['REQUEST_COOKIES', undefined, undefined, false, false],
      ['REQUEST_COOKIES', undefined, '__utm', false, true],
      ['ARGS', undefined, undefined, true, false],
      ['ARGS', 'a b', undefined, false, false],
      ['XML', '/*', undefined, false, false],
    ],
  );
});

test('keeps commas inside quoted action values', () => {
  const acts = parseActions("id:5,msg:'a, b',setvar:'tx.x=+%{tx.y}',t:none,t:lowercase");
  assert.deepEqual(acts, [
    { name: 'id', value: '5' },
    { name: 'msg', value: 'a, b' },
    { name: 'setvar', value: 'tx.x=+%{tx.y}' },
    { name: 't', value: 'none' },
    { name: 't', value: 'lowercase' },
  ]);
});
