import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readSql } from './sql-fold.ts';
import { mayBePhrase } from './sql-keywords.ts';
import { detectSQLi, detectSQLiByReading, isOneToken, isSqli, sqlReadings } from './sqli.ts';

describe('SQL folding', () => {
  test('folds arithmetic, lists and unary signs into one operand', () => {
    assert.equal(readSql('1+2-3 or 1,2,3', '', 'ansi').fingerprint, '1&1');
    assert.equal(readSql('select -1', '', 'ansi').fingerprint, 'E1');
  });

  test('merges two-word phrases such as UNION ALL and ORDER BY', () => {
    assert.equal(readSql('1 union all select 1 order by 1', '', 'ansi').fingerprint, '1UE1B');
  });

  test('skips leading comments, parentheses and unary signs', () => {
    assert.equal(readSql('/* x */ ((-1 or 1', '', 'ansi').fingerprint, '1&1');
  });

  test('keeps a final comment when fewer than five tokens remain', () => {
    assert.equal(readSql("a' or 1=1 -- x", "'", 'ansi').fingerprint, 's&1c');
  });

  test('reads IN followed by a parenthesis as an operator and a lone IN as a word', () => {
    assert.equal(readSql('x in (select 1)', '', 'ansi').fingerprint, 'no(E1');
    assert.equal(readSql('x in y', '', 'ansi').fingerprint, 'nnn');
  });

  test('collapses a fingerprint with an unreadable part to X', () => {
    assert.equal(readSql('1 /*!union*/ select', '', 'ansi').fingerprint, 'X');
  });
});

describe('detectSQLi', () => {
  test('detects a tautology that breaks out of a single-quoted string', () => {
    assert.deepEqual(detectSQLi("1' or '1'='1"), { match: true, fingerprint: 's&sos' });
  });

  test('detects UNION SELECT, stacked statements, time delays and comment truncation', () => {
    assert.equal(detectSQLi('1 union select 1,2--').fingerprint, '1UE1c');
    assert.equal(detectSQLi('1; drop table users').fingerprint, '1;Tnn');
    assert.equal(detectSQLi("' || pg_sleep(5)--").fingerprint, 's&f(1');
    assert.equal(detectSQLi("' waitfor delay '0:0:5'--").fingerprint, 'sEsc');
    assert.equal(detectSQLi("admin'--").fingerprint, 'sc');
  });

  test('detects a double-quote break-out with parentheses', () => {
    assert.equal(detectSQLi('") or ("a"="a').fingerprint, 's)&(s');
  });

  test('detects MySQL executable comments', () => {
    assert.equal(detectSQLi('/*!50000union*/ select 1').match, true);
  });

  test('does not flag names, sentences with apostrophes, e-mails or short phrases with SQL words', () => {
    for (const v of [
      "O'Brien",
      "it's a nice day, isn't it?",
      'john@example.com',
      '1 or 2',
      'select a plan',
      'order by 1--',
      'Drop me a line',
      'I like it and you?',
      '',
    ]) {
      assert.equal(detectSQLi(v).match, false, v);
    }
  });

  test('does not flag a number run into a word before a comment', () => {
    assert.equal(detectSQLi('12abc-- x').match, false);
  });

  test('detects a word compared with a sub-query', () => {
    assert.equal(detectSQLi('x in (select 1)').fingerprint, 'no(E1');
  });

  test('detects SQL after a word, as in a JSON member name that libmodsecurity calls json.<name>', () => {
    // libinjection's fingerprints, measured through @detectSQLi in libmodsecurity 3.0.9.
    for (const [v, fp] of [
      ['json.1 or sleep(3)', 'n&f(1'],
      ['json.1 AND 1=CONVERT(int,@@version)', 'n&1of'],
      ['json.1)) OR benchmark(10000000,MD5(1))#', 'n)&f('],
      ["abc or 'a'='a'", 'n&sos'],
      ['abc or 1=1--', 'n&1c'],
      ["json.) waitfor delay '0:0:20' --", 'n)Esc'],
      ['json. ORDER BY SLEEP(5)', 'nBf(1'],
      ['json. HAVING 1=1#', 'nB1c'],
      ['json. WHERE 1=1 AND 1=1', 'nk1&1'],
      ['json.+ SLEEP(10) + 1', 'nof(1'],
      ['json.or SLEEP(5)', 'nf(1)'],
      ['json. and (select substring(@@version,1,1))=1', 'n&(Ef'],
    ]) {
      assert.deepEqual(detectSQLi(v), { match: true, fingerprint: fp }, v);
    }
  });

  test('does not flag words joined by AND/OR, a clause word between words, or shell-like runs', () => {
    for (const v of [
      'rock and roll',
      'abc and 1',
      'fish and chips; peas',
      'on having group',
      'Price Where',
      'a)|id',
      'a);id',
      'json.&& ls -l /home/*',
      'json. OR x=x#',
      'json.select version();',
      'json.or benchmark(50000000,MD5(1))',
    ])
      assert.equal(detectSQLi(v).match, false, v);
  });

  test('does not flag a sentence that starts with USE or EXECUTE followed by words', () => {
    for (const v of [
      'Use multiple proxies to simulate multiple clients.',
      'Use multiple filters in the same request:',
      'Execute a remote php file using',
    ])
      assert.equal(detectSQLi(v).match, false, v);
    assert.equal(detectSQLi('exec master..xp_cmdshell "dir";').match, true);
  });

  test('detects a string break-out compared with names, and a statement ended then commented out', () => {
    for (const [v, fp] of [
      ["' or a=b", 's&n'],
      ["' or a like b", 's&n'],
      ["' or 1=1;--", 's&1;c'],
      ["' or 1=1;#", 's&1;c'],
    ])
      assert.deepEqual(detectSQLi(v), { match: true, fingerprint: fp }, v);
    // ...but not a word after the break-out, a lone `;--`, or SELECT * FROM a table quoted in text.
    for (const v of ["' or abc", "x';--", 'select * from users;', 'select * from users--'])
      assert.equal(detectSQLi(v).match, false, v);
    assert.equal(detectSQLi('select * from users where 1=1').match, true);
  });

  test('does not flag a string compared with a number alone, or UNION SELECT with nothing selected', () => {
    for (const v of ["' = 1", "'-1-1", "' < 5", 'union all select', 'except select'])
      assert.equal(detectSQLi(v).match, false, v);
    for (const [v, fp] of [
      ["' = 1 --", 'so1c'],
      ["' = 1 or 1", 'so1&1'],
      ['union select 1', 'UE1'],
    ])
      assert.deepEqual(detectSQLi(v), { match: true, fingerprint: fp }, v);
  });

  test('detects a comma and a sub-query right after a string, a word or a number', () => {
    for (const [v, fp] of [
      ["',(select if(count(*)!=-1,benchmark(3000000,MD5(1)),1))/*", 's,(Ef'],
      ["', (select 1)", 's,(E1'],
      ['x, (select y)', 'n,(En'],
    ])
      assert.deepEqual(detectSQLi(v), { match: true, fingerprint: fp }, v);
    for (const v of ["'), (select 1)", 'a, (select', "', 2, 3"]) assert.equal(detectSQLi(v).match, false, v);
  });

  test('flags a number followed by a space and a comment', () => {
    assert.equal(detectSQLi('1234 --').match, true);
  });

  test('reads the input again in MySQL comment rules only when it holds # or --x', () => {
    assert.equal(sqlReadings('1 or 2').length, 1);
    assert.equal(sqlReadings('1 # x').length, 2);
  });

  test('reads UTF-16 text as its UTF-8 bytes', () => {
    assert.equal(detectSQLi("é' or '1'='1").match, true);
  });
});

describe('the quick answer of detectSQLi', () => {
  // SQL words of every class, prefixes of the quoted-string forms, digits: joined into words and numbers.
  const PIECES = [
    'select',
    'union',
    'or',
    'and',
    'not',
    'null',
    'sleep',
    'benchmark',
    'exec',
    'drop',
    'order',
    'by',
    'true',
    'x',
    'b',
    'e',
    'n',
    'q',
    'u',
    'nq',
    '0',
    '1',
    '9',
    '0x',
    '0b',
    'E5',
    'f',
    'd',
    '_',
    'A',
    'Z',
    'current_user',
    'waitfor',
    'delay',
    'collate',
    'utl_http',
    'version',
    'char',
    'concat',
    'if',
  ];
  let seed = 11;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };

  test('words and numbers read as one token and never as injection', () => {
    let checked = 0;
    for (let k = 0; k < 30_000; k++) {
      let s = '';
      const n = 1 + Math.floor(next() * 4);
      for (let i = 0; i < n; i++) {
        // Dotted names too: `json.customer.id`, `select.x`, `utl_http.request`.
        if (i > 0 && next() < 0.3) s += '.';
        s += PIECES[Math.floor(next() * PIECES.length)];
      }
      if (next() < 0.2) s = s.replace(/[^0-9]/g, '') || '0';
      if (!isOneToken(s)) continue;
      checked++;
      for (const r of sqlReadings(s)) assert.ok(r.fingerprint.length <= 1, `${s}: ${r.fingerprint}`);
      assert.equal(detectSQLiByReading(s).match, false, s);
    }
    assert.ok(checked > 15_000, `${checked} words checked`);
  });

  test('what is not one word or number is read in full', () => {
    for (const s of ['1 union select 1', "a'", '1a', '9e9', 'a b', '', 'é', 'a-b', '#', '0x1f or 1'])
      assert.equal(isOneToken(s), false, s);
    // Dotted names are one word, unless a SQL word comes before a dot (the lexer cuts `select.x` there).
    for (const s of ['json.customer.id', 'json.items.array_0items.sku', 'a.b'])
      assert.equal(isOneToken(s), true, s);
    for (const s of ['select.x', 'json.', '.x', 'a..b', 'a.1', 'union.all'])
      assert.equal(isOneToken(s), false, s);
    for (const s of ["1' or '1'='1", '1 union select password from users--'])
      assert.equal(detectSQLi(s).match, true, s);
  });
});

describe('readings on shared token cells', () => {
  // detectSQLi reads every input on one set of token cells (sqli.ts SCRATCH): nothing of one reading may
  // leak into the next, and each answer must be the one fresh cells give (readSql without scratch).
  const inputs = [
    "1' or '1'='1",
    '1 union all select 1 order by 1',
    '1,(2),3,(4),5,(6) or 1=1',
    "a' or 1=1 -- x",
    '/* x */ ((-1 or 1',
    "x' and not exists (select 1)--",
    'Please deliver between 9 and 5; if nobody answers, leave it with the neighbour',
    'https://blog.example.com/posts/moats-and-drawbridges',
    "Dana O'Brien",
    '1 # x',
    '"a" "b" or "c"',
    'select the blue one if available',
    '',
  ];
  test('gives the fresh readings answer, in any order and repeated', () => {
    const fresh = (s: string) => {
      for (const r of sqlReadings(s)) if (isSqli(r, s)) return { match: true, fingerprint: r.fingerprint };
      return { match: false };
    };
    for (const order of [inputs, [...inputs].reverse(), [...inputs, ...inputs]])
      for (const s of order) assert.deepEqual({ ...detectSQLiByReading(s) }, fresh(s), s);
  });

  test('asks the word table for two-word phrases in any letter case', () => {
    for (const [a, b] of [
      ['UNION', 'ALL'],
      ['order', 'by'],
      ['Group', 'By'],
      ['insert', 'INTO'],
      ['waitfor', 'delay'],
      ['and', 'not'],
      ['not', 'in'],
      ['not', 'like'],
      ['select', 'distinct'],
    ])
      assert.equal(mayBePhrase(a, b), true, `${a} ${b}`);
    assert.equal(mayBePhrase('blue', 'one'), false);
    assert.equal(mayBePhrase('', 'x'), false);
  });
});
