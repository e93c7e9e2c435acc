/**
 * SQL injection detection by lexing, in the spirit of libinjection: the value is cut into SQL tokens as a
 * database would see it if pasted into a query (as is, or after an opening `'` or `"` it would close), and
 * the token stream is checked for shapes that only make sense as SQL: a closed string followed by a boolean
 * operator, a stacked statement, `UNION SELECT`, a comment cutting the query short, time-delay functions.
 * The lexer is one pass; the rules look at a bounded number of tokens around each position.
 */

import type { Paranoia } from './types.ts';

/** Token kinds, one letter each (as in a libinjection fingerprint). */
type Kind =
  | 's' // string literal
  | 'n' // number or literal constant
  | 'w' // bare word (identifier)
  | 'f' // function name (a word followed by `(`)
  | 'v' // variable (@x, @@x)
  | 'k' // keyword
  | 'E' // statement keyword (SELECT, DROP, ...)
  | 'U' // set operator (UNION, INTERSECT, EXCEPT)
  | '&' // boolean operator (AND, OR, XOR, &&, ||)
  | 'o' // other operator
  | 'c' // comment
  | '(' // open parenthesis
  | ')' // close parenthesis
  | ',' // comma
  | ';' // statement separator
  | '.' // dot
  | '?'; // anything SQL does not know

interface Token {
  readonly k: Kind;
  /** Lower-cased text for words, keywords, operators and comments' opener; '' otherwise. */
  readonly v: string;
  /** For strings: whether the closing quote was found. For comments: whether the body holds a quote. */
  readonly flag?: boolean;
}

// Tokens are never changed once made, so those that carry no client text are made once and shared: a value
// of prose lexes into dozens of tokens, and most of them are these or reserved words.
const STRING_CLOSED: Token = { k: 's', v: '', flag: true };
const STRING_OPEN: Token = { k: 's', v: '', flag: false };
const NUMBER: Token = { k: 'n', v: '' };
const BACKQUOTE_NAME: Token = { k: 'w', v: '`' };
const LONE_AT: Token = { k: '?', v: '@' };
const UNKNOWN: Token = { k: '?', v: '' };
const OR_OR: Token = { k: '&', v: '||' };
const AND_AND: Token = { k: '&', v: '&&' };
const ASSIGN: Token = { k: 'o', v: ':=' };
const ORDER_BY: Token = { k: 'k', v: 'order by' };
const GROUP_BY: Token = { k: 'k', v: 'group by' };
/** Comment tokens by opener, unflagged and flagged. */
const COMMENTS: Readonly<Record<'#' | '--' | '/*', readonly [Token, Token]>> = {
  '#': [
    { k: 'c', v: '#', flag: false },
    { k: 'c', v: '#', flag: true },
  ],
  '--': [
    { k: 'c', v: '--', flag: false },
    { k: 'c', v: '--', flag: true },
  ],
  '/*': [
    { k: 'c', v: '/*', flag: false },
    { k: 'c', v: '/*', flag: true },
  ],
};
/** One-character tokens by character code: punctuation (`(`, `)`, `,`, `;`, `.`) and arithmetic operators. */
const CHAR_TOKENS: ReadonlyArray<Token | undefined> = (() => {
  const out: Array<Token | undefined> = [];
  for (const c of '(),;.') out[c.charCodeAt(0)] = { k: c as Kind, v: '' };
  for (const c of '+-*/%^|&~') out[c.charCodeAt(0)] = { k: 'o', v: c };
  return out;
})();

const STATEMENTS = new Set([
  'select',
  'insert',
  'update',
  'delete',
  'drop',
  'create',
  'alter',
  'truncate',
  'exec',
  'execute',
  'declare',
  'shutdown',
  'grant',
  'revoke',
  'merge',
]);
const SET_OPERATORS = new Set(['union', 'intersect', 'except']);
const BOOLEANS = new Set(['and', 'or', 'xor']);
const CONSTANTS = new Set(['null', 'true', 'false']);
const WORD_OPERATORS = new Set(['like', 'rlike', 'regexp', 'sounds', 'is', 'div', 'mod', 'ilike', 'glob']);
const KEYWORDS = new Set([
  'from',
  'where',
  'into',
  'values',
  'table',
  'tables',
  'database',
  'databases',
  'schema',
  'view',
  'procedure',
  'function',
  'trigger',
  'column',
  'set',
  'having',
  'limit',
  'offset',
  'case',
  'when',
  'then',
  'else',
  'end',
  'in',
  'between',
  'exists',
  'waitfor',
  'delay',
  'outfile',
  'dumpfile',
  'top',
  'with',
  'nowait',
  'order by',
  'group by',
  'analyse',
  'begin',
  'user',
  'index',
  'all',
  'distinct',
]);
/** Words that are dropped: they never change whether a shape is SQL. */
const NOISE = new Set(['not', 'binary']);

/** Functions that have no business in ordinary input: time delays, file access, error-based extraction. */
const STRONG_FUNCTIONS = new Set([
  'sleep',
  'benchmark',
  'pg_sleep',
  'load_file',
  'extractvalue',
  'updatexml',
  'xp_cmdshell',
  'sys_eval',
  'sys_exec',
  'dbms_pipe.receive_message',
  'dbms_lock.sleep',
  'utl_inaddr.get_host_address',
  'utl_http.request',
  'randomblob',
  'pg_read_file',
  'gtid_subset',
  'name_const',
  'geometrycollection',
  'multipoint',
  'polygon',
  'linestring',
  'exp',
  'floor',
  'rand',
  'json_keys',
  'make_set',
  'elt',
  'is_srvrolemember',
  'db_name',
  'convert',
  'cast',
  'ctxsys.drithsx.sn',
  'char',
  'chr',
  'concat',
  'concat_ws',
  'group_concat',
  'substring',
  'substr',
  'mid',
  'ascii',
  'ord',
  'hex',
  'unhex',
  'version',
  'database',
  'user',
  'current_user',
  'system_user',
  'session_user',
  'schema',
  'if',
  'isnull',
  'ifnull',
  'iif',
  'length',
  'count',
]);
/** Catalogue tables an attacker enumerates. */
const CATALOGUES = [
  'information_schema',
  'sysobjects',
  'syscolumns',
  'sys.tables',
  'sys.objects',
  'mysql.user',
  'pg_catalog',
  'pg_shadow',
  'pg_user',
  'sqlite_master',
  'sqlite_schema',
  'all_tables',
  'user_tables',
  'dba_users',
  'master..',
  'msysobjects',
];
const SYSTEM_VARIABLES = new Set([
  'version',
  'datadir',
  'hostname',
  'basedir',
  'servername',
  'tmpdir',
  'spid',
  'language',
  'version_compile_os',
  'innodb_version',
  'user',
]);

function isSpace(c: number): boolean {
  return c <= 32 || c === 0xa0 || c === 0x2028 || c === 0x2029 || c === 0xfeff;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isWordStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 36;
}
function isWordChar(c: number): boolean {
  return isWordStart(c) || isDigit(c);
}
function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * The lexer's output, reused from one value to the next (a value of prose lexes into dozens of tokens, and
 * this runs on every body string): the list of the current reading, read by the rules until the next
 * `tokenize`. Its slots from `count` on hold `undefined`, so the rules find its end by the first missing
 * token, never by `length` (which is the most tokens any reading had). Tokens that carry client text
 * (names, variables, comparison operators) come from `pool`, rewritten in place. `release` empties both once
 * a value is judged: nothing of it stays. Lists that grew past `KEEP_TOKENS` are dropped then.
 */
let tokens: Token[] = [];
let count = 0;
let pool: Array<{ k: Kind; v: string }> = [];
let pooled = 0;
/** The most pool slots any reading of the current value used: a later reading may use fewer. */
let pooledMost = 0;
const KEEP_TOKENS = 4096;

function push(t: Token): void {
  tokens[count++] = t;
}

/** A token with client text, from the pool. */
function named(k: Kind, v: string): Token {
  const t = pool[pooled];
  if (t === undefined) {
    const made = { k, v };
    pool[pooled++] = made;
    return made;
  }
  t.k = k;
  t.v = v;
  pooled++;
  return t;
}

/** Empties the token list and the pool (see `tokens`). */
function release(): void {
  if (tokens.length > KEEP_TOKENS || pool.length > KEEP_TOKENS) {
    tokens = [];
    pool = [];
  } else {
    // Slots from `count` on are empty already.
    tokens.fill(undefined as unknown as Token, 0, count);
    const used = Math.max(pooled, pooledMost);
    for (let i = 0; i < used; i++) pool[i].v = '';
  }
  count = 0;
  pooled = 0;
  pooledMost = 0;
}

/** For tests: how many pool slots still hold client text (0 once `detectSqli` has returned). */
export function pooledTextCount(): number {
  let n = 0;
  for (const t of pool) if (t.v !== '') n++;
  return n;
}

/**
 * Cuts `s` into tokens: the current list (see `tokens`), which this replaces. With `quote`, the value is read
 * as if it followed that opening quote: the text up to the first unescaped matching quote becomes one closed
 * string token.
 */
function tokenize(s: string, quote: number): Token[] {
  const before = count;
  count = 0;
  if (pooled > pooledMost) pooledMost = pooled;
  pooled = 0;
  let i = s.length;
  if (quote !== 0) {
    const end = findQuoteEnd(s, 0, quote);
    if (end >= 0) {
      push(STRING_CLOSED);
      i = end + 1;
    }
  } else i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    i = isSpace(c) ? i + 1 : readToken(s, i, c, quote);
  }
  for (let j = count; j < before; j++) tokens[j] = undefined as unknown as Token;
  return tokens;
}

/** Reads the token (or comment) starting with `c` at `i` into the list; the index after it. */
function readToken(s: string, i: number, c: number, quote: number): number {
  const c1 = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
  if ((c === 47 && c1 === 42) || (c === 42 && c1 === 47)) return readBlockComment(s, i, quote);
  if ((c === 45 && c1 === 45) || c === 35) return readLineComment(s, i);
  if (c === 39 || c === 34 || c === 96) return readQuoted(s, i, c);
  const prev = count > 0 ? tokens[count - 1].k : '';
  const unary =
    (c === 45 || c === 43) &&
    (isDigit(c1) || c1 === 46) &&
    (prev === '' || prev === 'o' || prev === '&' || prev === '(' || prev === ',' || prev === 'k');
  if (isDigit(c) || (c === 46 && isDigit(c1)) || unary) return readNumber(s, unary ? i + 1 : i);
  if (isWordStart(c)) return readWord(s, i);
  if (c === 64) return readVariable(s, i);
  if (c === 38 && (isWordStart(c1) || c1 === 35)) {
    // An HTML character reference (`&lt;`, `&#39;`) is markup, not the `&` operator.
    let j = i + 1;
    while (j < s.length && j - i < 12 && (isWordChar(s.charCodeAt(j)) || s.charCodeAt(j) === 35)) j++;
    if (s.charCodeAt(j) === 59) return j + 1;
  }
  return readOperator(s, i, c, c1);
}

/** `-- ...` or `# ...` up to the end of the line, flagged when it holds a quote. */
function readLineComment(s: string, i: number): number {
  const hash = s.charCodeAt(i) === 35;
  let end = s.indexOf('\n', i);
  if (end < 0) end = s.length;
  let quoted = false;
  for (let j = i + (hash ? 1 : 2); j < end && !quoted; j++) {
    const c = s.charCodeAt(j);
    quoted = c === 39 || c === 34;
  }
  push(COMMENTS[hash ? '#' : '--'][quoted ? 1 : 0]);
  return end + 1;
}

/** A quoted string (flagged when closed) or a backquoted name, up to its closing quote or the end. */
function readQuoted(s: string, i: number, c: number): number {
  if (c === 96) {
    const end = s.indexOf('`', i + 1);
    push(BACKQUOTE_NAME);
    return end < 0 ? s.length : end + 1;
  }
  const end = findQuoteEnd(s, i + 1, c);
  push(end >= 0 ? STRING_CLOSED : STRING_OPEN);
  return end < 0 ? s.length : end + 1;
}

/**
 * `/* ... *\/` is skipped; MySQL runs the body of `/*! ... *\/`, so only its opener (and version) is. An
 * unclosed comment ends the value (a comment token, flagged when a quote follows); a stray `*\/` is skipped.
 */
function readBlockComment(s: string, i: number, quote: number): number {
  if (s.charCodeAt(i) === 42) return i + 2;
  if (s.charCodeAt(i + 2) === 33) {
    let j = i + 3;
    while (j < s.length && isDigit(s.charCodeAt(j))) j++;
    return j;
  }
  const end = s.indexOf('*/', i + 2);
  if (end >= 0) return end + 2;
  push(COMMENTS['/*'][s.indexOf(String.fromCharCode(quote || 39), i) >= 0 ? 1 : 0]);
  return s.length;
}

/** A decimal (with fraction and exponent) or `0x` hexadecimal number starting at `i`. */
function readNumber(s: string, i: number): number {
  const n = s.length;
  if (s.charCodeAt(i) === 48 && (s.charCodeAt(i + 1) | 32) === 120) {
    i += 2;
    while (i < n && isHexDigit(s.charCodeAt(i))) i++;
  } else {
    while (i < n && (isDigit(s.charCodeAt(i)) || s.charCodeAt(i) === 46)) i++;
    if ((s.charCodeAt(i) | 32) === 101 && (isDigit(s.charCodeAt(i + 1)) || s.charCodeAt(i + 1) === 45)) {
      i += 2;
      while (i < n && isDigit(s.charCodeAt(i))) i++;
    }
  }
  push(NUMBER);
  return i;
}

/**
 * A word; qualified names (`information_schema.tables`, `master..xp_cmdshell`) stay one word. Its characters
 * are ASCII, so it is lower-cased only when it holds a capital.
 */
function readWord(s: string, i: number): number {
  const n = s.length;
  let capital = isCapital(s.charCodeAt(i));
  let j = i + 1;
  while (j < n) {
    const d = s.charCodeAt(j);
    if (isWordChar(d)) {
      capital ||= isCapital(d);
      j++;
    } else if (d === 46 && (isWordStart(s.charCodeAt(j + 1)) || s.charCodeAt(j + 1) === 46)) j++;
    else break;
  }
  const word = s.slice(i, j);
  pushWord(capital ? word.toLowerCase() : word, s, j);
  return j;
}

function isCapital(c: number): boolean {
  return c >= 65 && c <= 90;
}

/** `@name` or `@@name` (a variable), or a lone `@`. */
function readVariable(s: string, i: number): number {
  let j = i + 1;
  if (s.charCodeAt(j) === 64) j++;
  const start = j;
  while (j < s.length && (isWordChar(s.charCodeAt(j)) || s.charCodeAt(j) === 46)) j++;
  push(j === start ? LONE_AT : named('v', s.slice(i, j).toLowerCase()));
  return j;
}

/** Operators (`||`, `&&`, comparisons, arithmetic, `:=`), punctuation, or an unknown character. */
function readOperator(s: string, i: number, c: number, c1: number): number {
  if ((c === 124 && c1 === 124) || (c === 38 && c1 === 38)) {
    push(c === 124 ? OR_OR : AND_AND);
    return i + 2;
  }
  if (c === 61 || c === 60 || c === 62 || c === 33) {
    let j = i + 1;
    while (j < s.length && j - i < 3 && (s.charCodeAt(j) === 61 || s.charCodeAt(j) === 62)) j++;
    const op = s.slice(i, j);
    if (op !== '!') push(named('o', op));
    return j;
  }
  if (
    c === 43 ||
    c === 45 ||
    c === 42 ||
    c === 47 ||
    c === 37 ||
    c === 94 ||
    c === 124 ||
    c === 38 ||
    c === 126
  ) {
    push(CHAR_TOKENS[c] as Token);
    return i + 1;
  }
  if (c === 58 && c1 === 61) {
    push(ASSIGN);
    return i + 2;
  }
  push(c === 40 || c === 41 || c === 44 || c === 59 || c === 46 ? (CHAR_TOKENS[c] as Token) : UNKNOWN);
  return i + 1;
}

function pushWord(word: string, s: string, after: number): void {
  const last = count > 0 ? tokens[count - 1] : undefined;
  if (NOISE.has(word)) return;
  if (last !== undefined && word === 'by' && last.k === 'k' && (last.v === 'order' || last.v === 'group')) {
    tokens[count - 1] = last.v === 'order' ? ORDER_BY : GROUP_BY;
    return;
  }
  if (last !== undefined && last.k === 'U' && (word === 'all' || word === 'distinct')) return;
  const known = WORD_KINDS.get(word);
  if (known !== undefined && known !== 'k') {
    push(WORD_TOKENS.get(word) as Token);
    return;
  }
  // Look ahead (boundedly, so the lexer stays linear) for the `(` that makes a word a function call.
  const limit = Math.min(s.length, after + 128);
  let j = after;
  while (j < limit && isSpace(s.charCodeAt(j))) j++;
  // MySQL allows comments between a function name and its parenthesis.
  if (s.charCodeAt(j) === 47 && s.charCodeAt(j + 1) === 42) {
    const end = s.indexOf('*/', j + 2);
    if (end >= 0 && end + 2 <= limit) {
      j = end + 2;
      while (j < limit && isSpace(s.charCodeAt(j))) j++;
    }
  }
  if (known === undefined) push(named(s.charCodeAt(j) === 40 ? 'f' : 'w', word));
  else push((s.charCodeAt(j) === 40 ? CALL_TOKENS : WORD_TOKENS).get(word) as Token);
}

/** Every reserved word with its token kind, looked up once per word. */
const WORD_KINDS: ReadonlyMap<string, Kind> = new Map<string, Kind>([
  ...[...KEYWORDS, 'order', 'group'].map((w) => [w, 'k'] as [string, Kind]),
  ...[...WORD_OPERATORS].map((w) => [w, 'o'] as [string, Kind]),
  ...[...CONSTANTS].map((w) => [w, 'n'] as [string, Kind]),
  ...[...BOOLEANS].map((w) => [w, '&'] as [string, Kind]),
  ...[...SET_OPERATORS].map((w) => [w, 'U'] as [string, Kind]),
  ...[...STATEMENTS].map((w) => [w, 'E'] as [string, Kind]),
]);

/** The token of each reserved word (its kind from `WORD_KINDS`), and of each as a function call. */
const WORD_TOKENS: ReadonlyMap<string, Token> = new Map(
  [...WORD_KINDS].map(([v, k]): [string, Token] => [v, { k, v }]),
);
const CALL_TOKENS: ReadonlyMap<string, Token> = new Map(
  [...WORD_KINDS].map(([v]): [string, Token] => [v, { k: 'f', v }]),
);

/** Index of the quote closing a string that starts at `from`, honouring `\` escapes and doubled quotes. */
function findQuoteEnd(s: string, from: number, quote: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      i++;
      continue;
    }
    if (c === quote) {
      if (i > from && s.charCodeAt(i + 1) === quote) {
        i++;
        continue;
      }
      return i;
    }
  }
  return -1;
}

const COMPARISONS = new Set([
  '=',
  '==',
  '<',
  '>',
  '<=',
  '>=',
  '<>',
  '!=',
  '<=>',
  'like',
  'rlike',
  'regexp',
  'is',
]);

const EQUALITIES = new Set(['=', '==', '<>', '!=', '<=>', 'like', 'rlike', 'regexp', 'is']);
const ARITHMETIC = new Set(['*', '+', '-', '/', '%']);
/** Functions that choose between their arguments on a condition. */
const BRANCHING = new Set(['if', 'iif', 'elt', 'make_set']);

function isOperand(t: Token | undefined): boolean {
  return t !== undefined && (t.k === 'n' || t.k === 's' || t.k === 'w' || t.k === 'v' || t.k === 'f');
}

function isLiteral(t: Token | undefined): boolean {
  return t !== undefined && (t.k === 'n' || t.k === 's');
}

/** Index just after the operand at `i` (skips a function's argument list), or the end of the list. */
function afterOperand(t: Token[], i: number): number {
  if (t[i].k !== 'f') return i + 1;
  let depth = 0;
  let j = i + 1;
  for (; t[j] !== undefined && j < i + 64; j++) {
    if (t[j].k === '(') depth++;
    else if (t[j].k === ')') {
      depth--;
      if (depth <= 0) return j + 1;
    }
  }
  while (t[j] !== undefined) j++;
  return j;
}

/** Whether `t` is the `IN` of `x in (...)` (lexed as a keyword, or as a call when `(` follows). */
function isIn(t: Token | undefined): boolean {
  return t !== undefined && (t.k === 'k' || t.k === 'f') && t.v === 'in';
}

/**
 * Whether the tokens at `i` form an expression that is always true (or a probe), written so that it holds
 * whatever the row: two identical names (`x=x`), parenthesised literals (`('x')=('x')`), a literal in a
 * list holding a literal (`'a' in ('a')`), a literal between two literals, `x is null`, a column compared
 * with a character function (`name like char(37)`). Used after a boolean operator that follows a closed
 * quote or a number. Returns the index after the expression, or -1.
 */
function tautologyEnd(t: Token[], i: number): number {
  let a = t[i];
  let j = i + 1;
  // A parenthesised literal: `('x')=('x'`.
  if (a?.k === '(' && isLiteral(t[i + 1]) && t[i + 2]?.k === ')') {
    a = t[i + 1];
    j = i + 3;
  }
  if (!isOperand(a) || a.k === 'f') return -1;
  const op = t[j];
  const b = t[j + 1];
  if (op === undefined || b === undefined) return -1;
  if (op.k === 'o' && EQUALITIES.has(op.v)) {
    if (op.v === 'is') return b.k === 'n' && b.v === 'null' ? j + 2 : -1;
    if (a.k === 'w' && b.k === 'w' && a.v === b.v) return j + 2;
    if (isLiteral(a) && b.k === '(' && isLiteral(t[j + 2])) return j + 3;
    return a.k === 'w' && b.k === 'f' && STRONG_FUNCTIONS.has(b.v) && t[j + 2]?.k === '(' ? j + 2 : -1;
  }
  if (!isLiteral(a)) return -1;
  if (isIn(op)) return b.k === '(' && isLiteral(t[j + 2]) ? j + 3 : -1;
  if (op.k === 'k' && op.v === 'between' && isLiteral(b) && t[j + 2]?.k === '&' && isLiteral(t[j + 3])) {
    // `between 9 and 5` is also prose: only when nothing but SQL follows.
    const rest = t[j + 4];
    return rest === undefined || rest.k === 'c' || rest.k === ';' || rest.k === ')' ? j + 4 : -1;
  }
  return -1;
}

/** Whether `t` at `i` starts an always-true expression (see `tautologyEnd`). */
function isTautology(t: Token[], i: number): boolean {
  return tautologyEnd(t, i) >= 0;
}

/** Whether the tokens at `i` read as a condition: `x = y`, `f(...)`, `(select ...)`, `exists(...)`. */
function isCondition(t: Token[], i: number, p: Paranoia): boolean {
  const a = t[i];
  if (a === undefined) return false;
  if (a.k === 'v') return true;
  if (a.k === 'f') return STRONG_FUNCTIONS.has(a.v) || p >= 2;
  if (a.k === '(') {
    const b = t[i + 1];
    return b !== undefined && (b.k === 'E' || b.k === '(' || isCondition(t, i + 1, p) || isTautology(t, i));
  }
  if (a.k === 'k' && (a.v === 'exists' || a.v === 'case')) return true;
  if (isOperand(a)) {
    const j = afterOperand(t, i);
    const op = t[j];
    if (op === undefined) return a.k === 'n' && a.v !== '' && p >= 2;
    if (op.k === 'o' && (COMPARISONS.has(op.v) || p >= 2)) {
      const b = t[j + 1];
      return isOperand(b) || b?.k === '(' || (p >= 2 && b === undefined);
    }
    if (op.k === 'k' && (op.v === 'in' || op.v === 'between')) return true;
    if (op.k === 'c') return a.k !== 'w' || p >= 2;
    return false;
  }
  return false;
}

/** Whether a statement keyword at `i` starts something shaped like a real statement. */
function isStatement(t: Token[], i: number, p: Paranoia): boolean {
  const e = t[i];
  const a = t[i + 1];
  const b = t[i + 2];
  const c = t[i + 3];
  if (a === undefined) return e.v === 'shutdown' || (p >= 3 && e.k === 'E');
  switch (e.v) {
    case 'select':
      return isSelect(t, i, p);
    case 'drop':
    case 'create':
    case 'alter':
    case 'truncate':
      return isDefinition(a, b, c, p);
    case 'delete':
      return (
        is(a, 'k', 'from') &&
        (b?.k === 'w' || b?.k === 'k') &&
        (c === undefined || c.k === 'c' || c.k === ';' || is(c, 'k', 'where'))
      );
    case 'insert':
      // `insert into users values (...)`, `insert into users(a, b) ...` (the table then reads as a call).
      return is(a, 'k', 'into') && (b?.k === 'w' || b?.k === 'f');
    case 'update':
      return (a.k === 'w' || a.k === 'k') && is(b, 'k', 'set') && c?.k === 'w' && t[i + 4]?.k === 'o';
    case 'exec':
    case 'execute':
      return (
        (a.k === 'w' && isSystemProcedure(a.v)) || a.k === '(' || a.k === 'f' || a.k === 'v' || a.k === 's'
      );
    case 'declare':
      return a.k === 'v';
    case 'shutdown':
      return a.k === 'c' || a.k === ';' || is(a, 'k', 'with');
    case 'grant':
    case 'revoke':
      return p >= 2;
    default:
      return p >= 3;
  }
}

/** `select` at `i`, followed by a select list that reads as SQL (a literal, `*`, a call, `x from y`). */
function isSelect(t: Token[], i: number, p: Paranoia): boolean {
  const a = t[i + 1];
  const b = t[i + 2];
  const c = t[i + 3];
  if (a.k === 'n' || a.k === 's')
    return (
      b === undefined ||
      b.k === ',' ||
      b.k === 'c' ||
      b.k === ';' ||
      is(b, 'k', 'from') ||
      b.k === 'U' ||
      b.k === ')'
    );
  if (a.k === 'v' || a.k === 'f' || a.k === '(') return true;
  if (a.k === 'o' && a.v === '*') return b === undefined || is(b, 'k', 'from');
  if (a.k === 'k' && (a.v === 'all' || a.v === 'distinct' || a.v === 'top')) {
    // `select distinct x from`, `select top 1 *`: judge what follows as the select list.
    return (
      b !== undefined &&
      (b.k === 'n' ||
        b.k === 'f' ||
        b.k === 'v' ||
        (b.k === 'o' && b.v === '*') ||
        (b.k === 'w' && (c?.k === ',' || is(c, 'k', 'from'))))
    );
  }
  if (a.k === 'w') {
    if (b?.k === ',') return true;
    if (is(b, 'k', 'from') && (c?.k === 'w' || c?.k === '(')) {
      const d = t[i + 4];
      return (
        (d === undefined && p >= 2) ||
        d?.k === 'c' ||
        d?.k === ';' ||
        d?.k === 'k' ||
        d?.k === ')' ||
        d?.k === 'U' ||
        p >= 2
      );
    }
  }
  return false;
}

/** `drop table x`, `create user y`...: a data definition statement on a named object. */
function isDefinition(a: Token, b: Token | undefined, c: Token | undefined, p: Paranoia): boolean {
  return (
    a.k === 'k' &&
    (a.v === 'table' ||
      a.v === 'database' ||
      a.v === 'schema' ||
      a.v === 'view' ||
      a.v === 'procedure' ||
      a.v === 'function' ||
      a.v === 'trigger' ||
      a.v === 'user' ||
      a.v === 'index') &&
    b !== undefined &&
    (b.k === 'w' || b.k === 's' || b.k === 'k') &&
    (c === undefined || c.k === 'c' || c.k === ';' || c.k === '(' || c.k === 'k' || c.k === ',' || p >= 2)
  );
}

/** MSSQL extended and system procedures (`xp_cmdshell`, `sp_configure`, `master..xp_dirtree`). */
function isSystemProcedure(name: string): boolean {
  return name.startsWith('xp_') || name.startsWith('sp_') || name.startsWith('master.');
}

function is(t: Token | undefined, k: Kind, v: string): boolean {
  return t !== undefined && t.k === k && t.v === v;
}

const CLAUSES = new Set(['order by', 'group by', 'having', 'limit', 'procedure', 'where']);

/** Rules for a value read after an opening quote: `t[0]` is the string the attacker closed. */
function quoteContext(t: Token[], p: Paranoia): boolean {
  const a = t[1];
  const b = t[2];
  const c = t[3];
  if (a === undefined) return false;
  switch (a.k) {
    case '&':
      return booleanAfterQuote(t, p);
    case ';':
      if (b === undefined) return p >= 3;
      return b.k === 'E' || is(b, 'k', 'waitfor') || is(b, 'k', 'begin') || p >= 2;
    case 'c':
      // `'#'` in prose: the comment body holds the closing quote, so it is not cutting a query short.
      return a.v !== '#' || !a.flag;
    case ')':
      if (b === undefined) return p >= 3;
      return (
        (b.k === '&' && (isCondition(t, 3, p) || isTautology(t, 3))) ||
        (b.k === ';' && (c === undefined || c.k === 'E' || c.k === 'c' || is(c, 'k', 'waitfor') || p >= 2)) ||
        b.k === 'U' ||
        b.k === 'c' ||
        b.k === ')' ||
        (b.k === 'k' && CLAUSES.has(b.v))
      );
    case 'U':
      return b !== undefined && (b.k === 'E' || b.k === '(');
    case 'o':
      if (b === undefined) return p >= 3;
      if (b.k === '(' && c?.k === 'E') return true;
      if (b.k === 'f') return true;
      if (isOperand(b)) {
        const d = t[afterOperand(t, 2)];
        return d !== undefined && (d.k === '&' || d.k === 'c' || d.k === ';' || (p >= 2 && d.k === 'o'));
      }
      return p >= 3;
    case 'k':
      if (CLAUSES.has(a.v) && b !== undefined && (isOperand(b) || b.k === '(')) {
        const d = t[afterOperand(t, 2)];
        return (
          d === undefined ||
          d.k === 'c' ||
          d.k === ';' ||
          d.k === ',' ||
          d.k === 'o' ||
          d.k === '&' ||
          d.k === ')' ||
          d.k === 'k' ||
          (p >= 2 && b.k !== 'w')
        );
      }
      return p >= 3 && a.v !== 'in';
    case 'E':
      // `x'exec master..xp_cmdshell 'dir'--`: a system procedure runs without `;` in MSSQL.
      if ((a.v === 'exec' || a.v === 'execute') && b?.k === 'w' && isSystemProcedure(b.v)) return true;
      return p >= 2 && isStatement(t, 1, p);
    default:
      return false;
  }
}

/** After the quote, a boolean: `' or 1=1`, `' and sleep(5)`, `' or 'a'='a`, `' and exists`. */
function booleanAfterQuote(t: Token[], p: Paranoia): boolean {
  const b = t[2];
  const c = t[3];
  if (b === undefined) return p >= 3;
  if (b.k === 'f' || b.k === '(' || b.k === 'E' || b.k === 'U' || isTautology(t, 2)) return true;
  if (b.k === 'n' || b.k === 'v') {
    // `' or 1=1`, `' or 1--`, `' and @x`; not `5'11" and 180 lbs`.
    return (
      c === undefined ||
      c.k === 'o' ||
      c.k === 'c' ||
      c.k === ';' ||
      c.k === ')' ||
      c.k === '&' ||
      c.k === 'k' ||
      p >= 2
    );
  }
  if (b.k === 's' || b.k === 'w') {
    if (c === undefined) return p >= 2 && b.k === 'w';
    return (
      c.k === 'o' ||
      c.k === 'c' ||
      c.k === ';' ||
      c.k === '&' ||
      c.k === ')' ||
      (c.k === 'k' && (c.v === 'in' || c.v === 'between'))
    );
  }
  if (b.k === 'k') return b.v === 'exists' || b.v === 'case' || p >= 2;
  return p >= 3;
}

/** Rules that hold wherever they appear in the token stream. */
function anywhere(t: Token[], p: Paranoia): boolean {
  for (let i = 0; t[i] !== undefined; i++) if (ruleAt(t, i, p)) return true;
  return false;
}

/** Whether a rule for the kind of token `i` holds there. */
function ruleAt(t: Token[], i: number, p: Paranoia): boolean {
  switch (t[i].k) {
    case 'U':
      return unionAt(t, i, p);
    case ';':
      return stackedAt(t, i, p);
    case 'E':
      return statementAt(t, i, p);
    case 'f':
      return functionCallAt(t, i, p);
    case 'k':
      return keywordAt(t, i, p);
    case 'v':
      return systemVariableAt(t, i, p);
    case '&':
      return booleanAt(t, i, p);
    case '(':
      return numericComparisonAt(t, i);
    default:
      return false;
  }
}

/** `union (select`, and `union select` after a literal or a comment, or starting a statement. */
function unionAt(t: Token[], i: number, p: Paranoia): boolean {
  const y = t[i + 1];
  if (y === undefined) return false;
  if (y.k === '(' && t[i + 2]?.k === 'E') return true;
  if (y.k !== 'E' || y.v !== 'select') return false;
  const prev = t[i - 1];
  if (prev !== undefined && (prev.k === 'n' || prev.k === 's' || prev.k === ')' || prev.k === 'c'))
    return true;
  return isStatement(t, i + 1, p);
}

/** A stacked query: `; select ...`, `; waitfor`, `; declare`. */
function stackedAt(t: Token[], i: number, p: Paranoia): boolean {
  const y = t[i + 1];
  if (y !== undefined && y.k === 'E' && isStatement(t, i + 1, p)) return true;
  return is(y, 'k', 'waitfor') || is(y, 'k', 'declare');
}

/** A statement at the start, or after `(` (a subquery) or, at paranoia 2, after a boolean. */
function statementAt(t: Token[], i: number, p: Paranoia): boolean {
  if (i === 0 && isStatement(t, 0, p)) return true;
  if (t[i - 1]?.k === '(' && t[i].v === 'select' && isStatement(t, i, p)) return true;
  return p >= 2 && (t[i - 1]?.k === '(' || t[i - 1]?.k === '&') && isStatement(t, i, p);
}

/** The functions attacks call (`sleep`, `xp_cmdshell`, `extractvalue`...) with an argument list that reads as SQL. */
function functionCallAt(t: Token[], i: number, p: Paranoia): boolean {
  const x = t[i];
  if (
    !(STRONG_FUNCTIONS.has(x.v) || x.v.startsWith('xp_') || x.v.startsWith('utl_') || x.v.startsWith('dbms_'))
  )
    return false;
  // The argument list must itself read as SQL: `sleep(5)`, `char(0x41)`, `extractvalue(1,concat(...))`.
  const a = t[i + 2];
  const b = t[i + 3];
  if (a === undefined) return false;
  const sqlArg =
    ((a.k === 'n' || a.k === 's' || a.k === 'v') && (b?.k === ')' || b?.k === ',' || b?.k === 'o')) ||
    a.k === 'E' ||
    (a.k === 'f' && STRONG_FUNCTIONS.has(a.v)) ||
    (a.k === '(' && b?.k === 'E');
  if (!sqlArg) return false;
  if (isStrongFunction(x.v)) return true;
  // `iif(1=1,1,1/0)`, `elt(4521=4521,1)`: a branch on a comparison of two literals (sqlmap's probes).
  if (
    BRANCHING.has(x.v) &&
    isLiteral(a) &&
    b?.k === 'o' &&
    EQUALITIES.has(b.v) &&
    isLiteral(t[i + 4]) &&
    (t[i + 5]?.k === ',' || t[i + 5]?.k === ')')
  ) {
    return true;
  }
  const prev = t[i - 1];
  // Weaker functions count when they follow SQL syntax (an operator, a boolean, a clause).
  if (
    prev !== undefined &&
    (prev.k === '&' || prev.k === 'E' || prev.k === ',' || prev.k === 'o' || prev.k === '(') &&
    p >= 2
  ) {
    return true;
  }
  return prev !== undefined && prev.k === '&' && a.k === 'f';
}

/** Functions that are an attack by themselves once their arguments read as SQL. */
function isStrongFunction(name: string): boolean {
  return (
    name === 'sleep' ||
    name === 'benchmark' ||
    name === 'pg_sleep' ||
    name === 'load_file' ||
    name === 'extractvalue' ||
    name === 'updatexml' ||
    name === 'sys_eval' ||
    name === 'sys_exec' ||
    name === 'gtid_subset' ||
    name === 'pg_read_file' ||
    name.startsWith('xp_') ||
    name.startsWith('utl_') ||
    name.startsWith('dbms_')
  );
}

/** `case when <condition> then`, `waitfor delay '...'`, `into outfile`, `from information_schema...`. */
function keywordAt(t: Token[], i: number, p: Paranoia): boolean {
  const x = t[i];
  // `case when 1=1 then`: a conditional written in SQL.
  if (x.v === 'case' && is(t[i + 1], 'k', 'when') && isCondition(t, i + 2, p)) {
    for (let j = i + 3; t[j] !== undefined && j < i + 12; j++) if (is(t[j], 'k', 'then')) return true;
  }
  if (x.v === 'waitfor') {
    const y = t[i + 1];
    if (y !== undefined && (y.v === 'delay' || y.v === 'time' || y.v === '') && t[i + 2]?.k === 's')
      return true;
  }
  if (x.v === 'into') {
    const y = t[i + 1];
    if (y !== undefined && (y.v === 'outfile' || y.v === 'dumpfile')) return true;
  }
  if (x.v === 'from' && t[i + 1]?.k === 'w') {
    const name = t[i + 1].v;
    for (const cat of CATALOGUES) if (name.startsWith(cat)) return true;
  }
  return false;
}

/** `@@version` and other system variables, at paranoia 1 only after SQL. */
function systemVariableAt(t: Token[], i: number, p: Paranoia): boolean {
  const x = t[i];
  if (!x.v.startsWith('@@') || !SYSTEM_VARIABLES.has(x.v.slice(2))) return false;
  const prev = t[i - 1];
  return p >= 2 || (prev !== undefined && prev.k !== '?' && prev.k !== 'w');
}

/** A tautology or probe after a boolean: `or 1=1`, `and 'a'='a'`, `or 2>1`, `or x=x--`. */
function booleanAt(t: Token[], i: number, p: Paranoia): boolean {
  if (
    isLiteral(t[i + 1]) &&
    t[i + 2]?.k === 'o' &&
    (EQUALITIES.has(t[i + 2].v) || p >= 2) &&
    isLiteral(t[i + 3])
  ) {
    // At the very start (`or 1=1`) only when nothing but SQL follows.
    const rest = t[i + 4];
    if (i > 0 || p >= 2 || rest === undefined || rest.k === 'c' || rest.k === '&' || rest.k === ';')
      return true;
  }
  if (p >= 2 && isOperand(t[i - 1]) && isCondition(t, i + 1, p) && t[i + 1]?.k !== 'w') return true;
  // The same name on both sides (`hi or a=a`, `or x=x--`), when nothing but SQL follows.
  if (t[i + 1]?.k === 'w' && t[i + 3]?.k === 'w' && t[i + 1].v === t[i + 3].v && isTautology(t, i + 1)) {
    const rest = t[i + 4];
    if (rest === undefined || rest.k === 'c' || rest.k === '&' || rest.k === ';' || rest.k === ')')
      return true;
  }
  return false;
}

/** `(4521=4521)*4522`: a parenthesised comparison of two literals used as a number. */
function numericComparisonAt(t: Token[], i: number): boolean {
  return (
    isLiteral(t[i + 1]) &&
    t[i + 2]?.k === 'o' &&
    EQUALITIES.has(t[i + 2].v) &&
    isLiteral(t[i + 3]) &&
    t[i + 4]?.k === ')' &&
    t[i + 5]?.k === 'o' &&
    ARITHMETIC.has(t[i + 5].v)
  );
}

/** Rules for a value that sits where a number would (`id=1 or 1=1`). */
function numericContext(t: Token[], p: Paranoia): boolean {
  let i = 0;
  if (t[0]?.k === ')') {
    // `) or ('a'='a`, `) or (a=a`: the value closes the application's parenthesis first.
    while (t[i]?.k === ')') i++;
    return t[i]?.k === '&' && (isCondition(t, i + 1, p) || isTautology(t, i + 1));
  }
  while (t[i]?.k === '(') i++;
  const first = t[i];
  if (
    first === undefined ||
    !((first.k === 'n' && (first.v === '' || p >= 2)) || (p >= 2 && first.k === 'w'))
  ) {
    return false;
  }
  const a = t[i + 1];
  if (a === undefined) return false;
  switch (a.k) {
    case '&':
      return (isCondition(t, i + 2, p) && t[i + 2].k !== 'w') || isTautology(t, i + 2);
    case ')': {
      let j = i + 2;
      while (t[j]?.k === ')') j++;
      const b = t[j];
      return (
        b !== undefined &&
        ((b.k === '&' && (isCondition(t, j + 1, p) || isTautology(t, j + 1))) ||
          b.k === 'U' ||
          b.k === ';' ||
          b.k === 'c')
      );
    }
    case 'o':
      return (COMPARISONS.has(a.v) || p >= 2) && t[i + 2]?.k === '(' && t[i + 3]?.k === 'E';
    case ';':
      return t[i + 2] !== undefined && (t[i + 2].k === 'E' || is(t[i + 2], 'k', 'waitfor') || p >= 2);
    case 'k': {
      if (!CLAUSES.has(a.v)) return false;
      let k = i + 2;
      // `1 group by userid having 1=1--`: a grouping, then the condition on it.
      if (a.v === 'group by' && isOperand(t[k]) && is(t[k + 1], 'k', 'having')) k += 2;
      else if (a.v !== 'having') k = -1;
      // `1 having 1=1`: a condition on a clause that only SQL has.
      if (k > 0 && (isCondition(t, k, p) || isTautology(t, k))) return true;
      const b = t[i + 2];
      const c = t[i + 3];
      return b !== undefined && b.k === 'n' && (c === undefined || c.k === 'c' || c.k === ',' || c.k === ';');
    }
    case 'c':
      return p >= 2 && a.v !== '#';
    default:
      return false;
  }
}

/** Whether `s` (already decoded) reads as SQL injection at paranoia `p`. */
export function detectSqli(s: string, p: Paranoia): boolean {
  if (!mayBeSql(s)) return false;
  try {
    return readsAsSql(s, p);
  } finally {
    release();
  }
}

/** `detectSqli` past its pre-check: each reading is lexed into the list the one before it used. */
function readsAsSql(s: string, p: Paranoia): boolean {
  const plain = tokenize(s, 0);
  if (anywhere(plain, p) || numericContext(plain, p)) return true;
  for (let n = 0; n < 2; n++) {
    const q = n === 0 ? 39 : 34;
    if (!hasBreakingQuote(s, q)) continue;
    const t = tokenize(s, q);
    if (t[1] !== undefined && (quoteContext(t, p) || anywhere(t, p))) return true;
  }
  if (p >= 3 && s.indexOf('`') >= 0) {
    const t = tokenize(s, 96);
    if (t[1] !== undefined && quoteContext(t, p)) return true;
  }
  return false;
}

/**
 * Whether `s` holds a quote that could close a string: one not sitting between two letters the way an
 * apostrophe does (`O'Brien`, `it's`). Those cannot be followed by SQL without a space or symbol.
 */
function hasBreakingQuote(s: string, q: number): boolean {
  for (let i = s.indexOf(String.fromCharCode(q)); i >= 0; i = s.indexOf(String.fromCharCode(q), i + 1)) {
    const before = i > 0 ? s.charCodeAt(i - 1) : 0;
    const after = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    if (!(isLetter(before) && isLetter(after))) return true;
  }
  return false;
}

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c >= 0xc0;
}

/** Cheap pre-check: SQL injection needs at least one character that is not a letter, digit or space. */
function mayBeSql(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(isWordChar(c) || c === 32)) return true;
  }
  // Pure words and spaces can still be `1 or true` / `1 union select ...`; the lexer decides.
  return s.indexOf(' ') >= 0;
}
