import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Dialect, emptyToken, type QuoteContext, SqlLexer } from './sql-lexer.ts';

/** All tokens of `s` as `class:value` pairs. */
function lex(s: string, quote: QuoteContext = '', dialect: Dialect = 'ansi'): string[] {
  const lexer = new SqlLexer(s, quote, dialect);
  const out: string[] = [];
  const t = emptyToken();
  while (lexer.next(t)) out.push(`${t.type}:${t.val}`);
  return out;
}

describe('SQL tokenizer', () => {
  test('names keywords, numbers, strings and operators by their class', () => {
    assert.deepEqual(lex("SELECT a FROM t WHERE b = 'x' AND c >= 2.5"), [
      'E:SELECT',
      'n:a',
      'k:FROM',
      'n:t',
      'k:WHERE',
      'n:b',
      'o:=',
      's:x',
      '&:AND',
      'n:c',
      'o:>=',
      '1:2.5',
    ]);
  });

  test('starts inside a string in a quote context and records the missing opening quote', () => {
    const lexer = new SqlLexer("abc' or 1", "'", 'ansi');
    const t = emptyToken();
    assert.equal(lexer.next(t), true);
    assert.deepEqual([t.type, t.val, t.strOpen, t.strClose], ['s', 'abc', '', "'"]);
  });

  test('keeps a string open past doubled and backslash-escaped quotes', () => {
    assert.deepEqual(lex("'it''s' 'a\\'b' 'c\\\\'"), ["s:it''s", "s:a\\'b", 's:c\\\\']);
  });

  test('reads -- followed by a space as a comment, and --x as a comment only in ANSI', () => {
    assert.deepEqual(lex('1 -- x'), ['1:1', 'c:-- x']);
    assert.deepEqual(lex('1 --x'), ['1:1', 'c:--x']);
    assert.deepEqual(lex('1 --x', '', 'mysql'), ['1:1', 'o:-', 'o:-', 'n:x']);
  });

  test('reads # as an operator in ANSI and as a comment in MySQL', () => {
    assert.deepEqual(lex('1 # x'), ['1:1', 'o:#', 'n:x']);
    assert.deepEqual(lex('1 # x', '', 'mysql'), ['1:1', 'c:# x']);
  });

  test('marks MySQL executable comments and nested comments as evil', () => {
    assert.deepEqual(lex('/*!50000union*/'), ['X:/*!50000union*/']);
    assert.deepEqual(lex('/* a /* b */'), ['X:/* a /* b */']);
    assert.deepEqual(lex('/* a */'), ['c:/* a */']);
  });

  test('reads hex, binary, money and exponent forms as numbers and a bare exponent as a word', () => {
    assert.deepEqual(lex("0x1F x'ff' b'01' $1,000.50 1e5 1e"), [
      '1:0x1F',
      "1:x'ff'",
      "1:b'01'",
      '1:$1,000.50',
      '1:1e5',
      'n:1e',
    ]);
  });

  test('reads @ and @@ names as variables and two-character operators whole', () => {
    assert.deepEqual(lex('@@version||@x<=>1!=2'), [
      'v:version',
      '&:||',
      'v:x',
      'o:<=>',
      '1:1',
      'o:!=',
      '1:2',
    ]);
  });

  test('splits a keyword glued to a dot-name and keeps a dotted package function whole', () => {
    assert.deepEqual(lex('SELECT.1'), ['E:SELECT', '1:.1']);
    assert.deepEqual(lex('utl_http.request'), ['f:utl_http.request']);
  });

  test('reads PostgreSQL dollar-quoted and Oracle q-quoted strings', () => {
    assert.deepEqual(lex('$tag$ a $ b $tag$'), ['s: a $ b ']);
    assert.deepEqual(lex("q'[it's]'"), ["s:it's"]);
  });

  test('keeps at most 31 bytes of a token value and does not look up longer words', () => {
    const long = 'select'.repeat(10);
    const [tok] = lex(long);
    assert.equal(tok, `n:${long.slice(0, 31)}`);
  });
});
