/**
 * Folding: the tokens of an input are reduced to at most five that show its shape — `1 + 2` reads as one
 * number, `UNION ALL` as one union, unary signs and casts vanish, `((` is one parenthesis — and the classes
 * of those five make the fingerprint (`s&1c` is "string, AND, number, comment"). The folding rules are the
 * ones libinjection applies (so that the fingerprints are comparable with ModSecurity's), in our own code.
 *
 * Work is linear: every token is read once, and each rule either consumes tokens or moves on.
 */

import { classifyWord, mayBePhrase } from './sql-keywords.ts';
import {
  clearToken,
  copyToken,
  type Dialect,
  emptyToken,
  type QuoteContext,
  SqlLexer,
  type SqlToken,
  T,
  TOKEN_VALUE_MAX,
  valueIs,
} from './sql-lexer.ts';

/** Most tokens a fingerprint keeps. */
export const MAX_TOKENS = 5;

/** One reading of an input: its fingerprint, the folded tokens and what the lexer counted. */
export interface SqlReading {
  readonly fingerprint: string;
  readonly tokens: readonly SqlToken[];
  /** Tokens the lexer produced before folding (comments included). */
  readonly tokenCount: number;
  /** Whether the input holds comment syntax MySQL reads differently (`#`, `--x`). */
  readonly mysqlDiffers: boolean;
}

/** Token cells for readSql's `scratch`. */
export function scratchTokens(): SqlToken[] {
  const v: SqlToken[] = [];
  for (let k = 0; k < MAX_TOKENS + 4; k++) v.push(emptyToken());
  return v;
}

function isUnary(t: SqlToken): boolean {
  if (t.type !== T.operator) return false;
  switch (t.len) {
    case 1:
      return t.val === '+' || t.val === '-' || t.val === '!' || t.val === '~';
    case 2:
      return t.val === '!!';
    case 3:
      return valueIs(t, 'NOT');
    default:
      return false;
  }
}

function isArithmetic(t: SqlToken): boolean {
  return t.type === T.operator && t.len === 1 && '*/-+%'.includes(t.val);
}

const MERGE_FIRST = new Set<string>([
  T.keyword,
  T.bareword,
  T.operator,
  T.union,
  T.func,
  T.expression,
  T.tsql,
  T.sqlType,
]);
const MERGE_SECOND = new Set<string>([...MERGE_FIRST, T.logic]);

/** `UNION` + `ALL` → `UNION ALL` when the pair is a known phrase; the first token takes the phrase's class. */
function mergePhrase(a: SqlToken, b: SqlToken): boolean {
  if (!MERGE_FIRST.has(a.type) || !MERGE_SECOND.has(b.type)) return false;
  const phraseLen = a.len + b.len + 1;
  if (phraseLen >= TOKEN_VALUE_MAX + 1) return false;
  // Most pairs of words are no phrase: told from the signature table without building the phrase.
  if (!mayBePhrase(a.val, b.val)) return false;
  const phrase = `${a.val} ${b.val}`;
  const cls = classifyWord(phrase);
  if (cls === undefined) return false;
  a.type = cls;
  a.val = phrase;
  a.len = phraseLen;
  return true;
}

/** Words that are column names unless a `(` follows, then they are functions (SQL Server, MySQL). */
const FUNCTION_IF_CALLED = new Set([
  'USER_ID',
  'USER_NAME',
  'DATABASE',
  'PASSWORD',
  'USER',
  'CURRENT_USER',
  'CURRENT_DATE',
  'CURRENT_TIME',
  'CURRENT_TIMESTAMP',
  'LOCALTIME',
  'LOCALTIMESTAMP',
]);

function upper(t: SqlToken): string {
  return t.val.toUpperCase();
}

/**
 * Reads `input` in one context and folds it; returns the folded tokens (at most five). `scratch`, when
 * given (MAX_TOKENS + 4 tokens, see `scratchTokens`), holds the tokens instead of new ones: the reading's
 * tokens are then valid until the next reading made with the same scratch.
 */
export function readSql(
  input: string,
  quote: QuoteContext,
  dialect: Dialect,
  scratch?: SqlToken[],
): SqlReading {
  const lexer = new SqlLexer(input, quote, dialect);
  let v: SqlToken[];
  if (scratch === undefined) {
    // A plain loop: Array.from over an array-like object is many times slower, on every value read.
    v = [];
    for (let k = 0; k < MAX_TOKENS + 4; k++) v.push(emptyToken());
  } else {
    v = scratch;
    for (let k = 0; k < MAX_TOKENS + 4; k++) clearToken(v[k]);
  }
  const n = fold(lexer, v);
  const tokens = v.slice(0, n);
  // A trailing empty, unclosed backtick (`foo`` ` ) is how PHP comments out the rest: read it as a comment.
  const last = tokens[n - 1];
  if (n > 2 && last.type === T.bareword && last.strOpen === '`' && last.len === 0 && last.strClose === '') {
    last.type = T.comment;
  }
  let fingerprint = '';
  for (let k = 0; k < n; k++) fingerprint += tokens[k].type;
  if (fingerprint.includes(T.evil)) fingerprint = T.evil;
  return {
    fingerprint,
    tokens,
    tokenCount: lexer.tokenCount,
    mysqlDiffers: lexer.dashDashComments > 0 || lexer.hashes > 0,
  };
}

function fold(lexer: SqlLexer, v: SqlToken[]): number {
  // The cell past the token slots (readSql makes MAX_TOKENS + 4).
  const lastComment = v[MAX_TOKENS + 3];
  let pos = 0;
  let left = 0;
  let more = true;

  // Leading comments, opening parentheses, type names and unary signs say nothing: skip them.
  while (more) {
    more = lexer.next(v[0]);
    const t = v[0];
    if (!(t.type === T.comment || t.type === T.leftParen || t.type === T.sqlType || isUnary(t))) break;
  }
  if (!more) return 0;
  pos = 1;

  /** Reads tokens until `count` are pending after `left` (comments are remembered, not kept). */
  const fill = (count: number) => {
    while (more && pos <= MAX_TOKENS && pos - left < count) {
      more = lexer.next(v[pos]);
      if (more) {
        if (v[pos].type === T.comment) {
          copyToken(lastComment, v[pos]);
        } else {
          lastComment.type = '';
          pos++;
        }
      }
    }
  };

  for (;;) {
    if (pos >= MAX_TOKENS && restartsAfterFive(v)) {
      // `1,(2)` style lists fill the five slots without showing anything: start over after them.
      if (pos > MAX_TOKENS) {
        copyToken(v[1], v[MAX_TOKENS]);
        pos = 2;
      } else {
        pos = 1;
      }
      left = 0;
    }
    if (!more || left >= MAX_TOKENS) {
      left = pos;
      break;
    }

    fill(2);
    if (pos - left < 2) {
      left = pos;
      continue;
    }
    const a = v[left];
    const b = v[left + 1];
    if (a.type === T.string && b.type === T.string) {
      // 'a' 'b' is one string in SQL.
      pos--;
      continue;
    } else if (a.type === T.semicolon && b.type === T.semicolon) {
      pos--;
      continue;
    } else if ((a.type === T.operator || a.type === T.logic) && (isUnary(b) || b.type === T.sqlType)) {
      pos--;
      left = 0;
      continue;
    } else if (a.type === T.leftParen && isUnary(b)) {
      pos--;
      if (left > 0) left--;
      continue;
    } else if (mergePhrase(a, b)) {
      pos--;
      if (left > 0) left--;
      continue;
    } else if (a.type === T.semicolon && b.type === T.func && b.len >= 2 && upper(b).startsWith('IF')) {
      // After `;`, IF is Transact-SQL control flow, not the IF() function.
      b.type = T.tsql;
      continue;
    } else if (
      (a.type === T.bareword || a.type === T.variable) &&
      b.type === T.leftParen &&
      FUNCTION_IF_CALLED.has(upper(a))
    ) {
      a.type = T.func;
      continue;
    } else if (a.type === T.keyword && (valueIs(a, 'IN') || valueIs(a, 'NOT IN'))) {
      // `IN (` compares; a lone IN (as in IN BOOLEAN MODE) is just a word.
      a.type = b.type === T.leftParen ? T.operator : T.bareword;
      continue;
    } else if (a.type === T.operator && (valueIs(a, 'LIKE') || valueIs(a, 'NOT LIKE'))) {
      if (b.type === T.leftParen) a.type = T.func;
    } else if (
      a.type === T.sqlType &&
      (b.type === T.bareword ||
        b.type === T.number ||
        b.type === T.sqlType ||
        b.type === T.leftParen ||
        b.type === T.func ||
        b.type === T.variable ||
        b.type === T.string)
    ) {
      copyToken(a, b);
      pos--;
      left = 0;
      continue;
    } else if (a.type === T.collate && b.type === T.bareword) {
      // Collation names are too many to list; one with `_` is taken for a type name.
      if (b.val.includes('_')) {
        b.type = T.sqlType;
        left = 0;
      }
    } else if (a.type === T.backslash) {
      // T-SQL reads `\%1` as `0 % 1` and `\1` as `1`.
      if (isArithmetic(b)) {
        a.type = T.number;
      } else {
        copyToken(a, b);
        pos--;
      }
      left = 0;
      continue;
    } else if (a.type === T.leftParen && b.type === T.leftParen) {
      pos--;
      left = 0;
      continue;
    } else if (a.type === T.rightParen && b.type === T.rightParen) {
      pos--;
      left = 0;
      continue;
    } else if (a.type === T.leftBrace && b.type === T.bareword) {
      // ODBC `{fn expr}` / MySQL `{ident expr}`: keep the expression. `{ ``` is unreadable: evil.
      if (b.len === 0) {
        b.type = T.evil;
        return left + 2;
      }
      left = 0;
      pos -= 2;
      continue;
    } else if (b.type === T.rightBrace) {
      pos--;
      left = 0;
      continue;
    }

    fill(3);
    if (pos - left < 3) {
      left = pos;
      continue;
    }
    const x = v[left];
    const y = v[left + 1];
    const z = v[left + 2];
    if (x.type === T.number && y.type === T.operator && z.type === T.number) {
      // 1 + 1 is a number.
      pos -= 2;
      left = 0;
      continue;
    } else if (x.type === T.operator && y.type !== T.leftParen && z.type === T.operator) {
      left = 0;
      pos -= 2;
      continue;
    } else if (x.type === T.logic && z.type === T.logic) {
      pos -= 2;
      left = 0;
      continue;
    } else if (
      x.type === T.variable &&
      y.type === T.operator &&
      (z.type === T.variable || z.type === T.number || z.type === T.bareword)
    ) {
      pos -= 2;
      left = 0;
      continue;
    } else if (
      (x.type === T.bareword || x.type === T.number) &&
      y.type === T.operator &&
      (z.type === T.number || z.type === T.bareword)
    ) {
      pos -= 2;
      left = 0;
      continue;
    } else if (
      (x.type === T.bareword || x.type === T.number || x.type === T.variable || x.type === T.string) &&
      y.type === T.operator &&
      y.val === '::' &&
      z.type === T.sqlType
    ) {
      // PostgreSQL cast `x::int` is x.
      pos -= 2;
      left = 0;
      continue;
    } else if (
      (x.type === T.bareword || x.type === T.number || x.type === T.string || x.type === T.variable) &&
      y.type === T.comma &&
      (z.type === T.number || z.type === T.bareword || z.type === T.string || z.type === T.variable)
    ) {
      // A list of values reads as its first.
      pos -= 2;
      left = 0;
      continue;
    } else if (
      (x.type === T.expression || x.type === T.group || x.type === T.comma) &&
      isUnary(y) &&
      z.type === T.leftParen
    ) {
      // SELECT + ( → SELECT (
      copyToken(y, z);
      pos--;
      left = 0;
      continue;
    } else if (
      (x.type === T.keyword || x.type === T.expression || x.type === T.group) &&
      isUnary(y) &&
      (z.type === T.number ||
        z.type === T.bareword ||
        z.type === T.variable ||
        z.type === T.string ||
        z.type === T.func)
    ) {
      // SELECT - 1 → SELECT 1
      copyToken(y, z);
      pos--;
      left = 0;
      continue;
    } else if (
      x.type === T.comma &&
      isUnary(y) &&
      (z.type === T.number || z.type === T.bareword || z.type === T.variable || z.type === T.string)
    ) {
      // `1,-1` reads as `1`: drop the sign and go back to fold the list.
      copyToken(y, z);
      left = 0;
      pos -= 3;
      continue;
    } else if (x.type === T.comma && isUnary(y) && z.type === T.func) {
      copyToken(y, z);
      pos--;
      left = 0;
      continue;
    } else if (x.type === T.bareword && y.type === T.dot && z.type === T.bareword) {
      // schema.table
      pos -= 2;
      left = 0;
      continue;
    } else if (x.type === T.expression && y.type === T.dot && z.type === T.bareword) {
      copyToken(y, z);
      pos--;
      left = 0;
      continue;
    } else if (x.type === T.func && y.type === T.leftParen && z.type !== T.rightParen) {
      // USER() takes no argument: USER(x) is some other word.
      if (valueIs(x, 'USER')) x.type = T.bareword;
    }
    left++;
  }

  // A comment at the very end is part of the shape when there is room for it.
  if (left < MAX_TOKENS && lastComment.type === T.comment) {
    copyToken(v[left], lastComment);
    left++;
  }
  return Math.min(left, MAX_TOKENS);
}

/** The four shapes of five tokens after which folding starts over (lists and nested arithmetic). */
function restartsAfterFive(v: SqlToken[]): boolean {
  const t0 = v[0].type;
  const t1 = v[1].type;
  const t2 = v[2].type;
  const t3 = v[3].type;
  const t4 = v[4].type;
  return (
    (t0 === T.number &&
      (t1 === T.operator || t1 === T.comma) &&
      t2 === T.leftParen &&
      t3 === T.number &&
      t4 === T.rightParen) ||
    (t0 === T.bareword &&
      t1 === T.operator &&
      t2 === T.leftParen &&
      (t3 === T.bareword || t3 === T.number) &&
      t4 === T.rightParen) ||
    (t0 === T.number && t1 === T.rightParen && t2 === T.comma && t3 === T.leftParen && t4 === T.number) ||
    (t0 === T.bareword && t1 === T.rightParen && t2 === T.operator && t3 === T.leftParen && t4 === T.bareword)
  );
}
