/**
 * The SQL tokenizer behind `@detectSQLi` (issue 17): it reads an input the way a SQL engine of any common
 * dialect could, one token at a time, and names each token by its class (see sql-keywords.ts for words).
 * It follows the token rules of libinjection (the library ModSecurity's operator runs) so that both cut
 * the same input into the same tokens; the code is ours.
 *
 * The input is a byte string: one code unit per byte (latin1), as the rule engine hands transformed
 * values over. Every step moves forward, and each byte is examined a bounded number of times, so the
 * tokenizer runs in linear time.
 */
import { classifyOperator, classifyWord, upperAscii } from './sql-keywords.ts';

/** Token classes that are not words (words have their classes in sql-keywords.ts). */
export const T = {
  keyword: 'k',
  union: 'U',
  group: 'B',
  expression: 'E',
  sqlType: 't',
  func: 'f',
  bareword: 'n',
  number: '1',
  variable: 'v',
  string: 's',
  operator: 'o',
  logic: '&',
  comment: 'c',
  collate: 'A',
  leftParen: '(',
  rightParen: ')',
  leftBrace: '{',
  rightBrace: '}',
  dot: '.',
  comma: ',',
  colon: ':',
  semicolon: ';',
  tsql: 'T',
  unknown: '?',
  evil: 'X',
  backslash: '\\',
} as const;

/** Longest token value kept (libinjection keeps 31 bytes; longer words are never looked up). */
export const TOKEN_VALUE_MAX = 31;

/** One token; `len` is the kept length of `val` (at most TOKEN_VALUE_MAX), `pos` where it starts. */
export interface SqlToken {
  type: string;
  val: string;
  len: number;
  pos: number;
  /** The quote that opened a string (`'`, `"`, `` ` ``, or `q`, `u`, `$` for those forms); '' when the
   * string started before the input (the quote contexts). */
  strOpen: string;
  /** The quote that closed it; '' when the input ended inside the string. */
  strClose: string;
}

export function emptyToken(): SqlToken {
  return { type: '', val: '', len: 0, pos: 0, strOpen: '', strClose: '' };
}

export function copyToken(to: SqlToken, from: SqlToken): void {
  to.type = from.type;
  to.val = from.val;
  to.len = from.len;
  to.pos = from.pos;
  to.strOpen = from.strOpen;
  to.strClose = from.strClose;
}

export function clearToken(t: SqlToken): void {
  t.type = '';
  t.val = '';
  t.len = 0;
  t.pos = 0;
  t.strOpen = '';
  t.strClose = '';
}

/** The quote context: as written, or as if the input followed an opening `'` or `"`. */
export type QuoteContext = '' | "'" | '"';

/** How `#` and `--x` read: ANSI (`#` an operator, `--x` a comment) or MySQL (the other way round). */
export type Dialect = 'ansi' | 'mysql';

// Bytes that end a bare word, and those that end a variable name after `@`.
const WORD_END = new Set(' []{}<>:\\?=@!#~+-*/&|^%(),\';\t\n\v\f\r"\u00a0\u0000');
/** WORD_END by character code (bytes only: code units above 0xFF never end a word). */
const WORD_END_CODE = (() => {
  const t = new Uint8Array(256);
  for (const c of WORD_END) t[c.charCodeAt(0)] = 1;
  return t;
})();
const VAR_END = new Set(" <>:\\?=@!#~+-*/&|^%(),';\t\n\v\f\r'`\"");
const WHITE = new Set(' \t\n\v\f\r\u00a0\u0000');

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

function isHexDigit(c: string): boolean {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

function isAsciiLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/** Sets `t` from a slice of the input, keeping at most TOKEN_VALUE_MAX bytes. */
function assign(t: SqlToken, type: string, pos: number, val: string): void {
  const kept = val.length > TOKEN_VALUE_MAX ? val.slice(0, TOKEN_VALUE_MAX) : val;
  t.type = type;
  t.pos = pos;
  t.val = kept;
  t.len = kept.length;
}

/** Position of the two-byte sequence `ab` at or after `from`, or -1. */
function indexOfPair(s: string, a: string, b: string, from: number): number {
  return s.indexOf(a + b, from);
}

/**
 * Tokenizer state for one reading of one input. `next()` fills `into` with the next token and says whether
 * there was one; the counters tell the caller what it met on the way.
 */
export class SqlLexer {
  readonly s: string;
  readonly quote: QuoteContext;
  readonly dialect: Dialect;
  pos = 0;
  /** Tokens produced so far (comments included). */
  tokenCount = 0;
  /** `--` comments not followed by a space (only ANSI reads them as comments). */
  dashDashComments = 0;
  /** `#` signs met (only MySQL reads them as comments). */
  hashes = 0;

  constructor(s: string, quote: QuoteContext, dialect: Dialect) {
    this.s = s;
    this.quote = quote;
    this.dialect = dialect;
  }

  next(into: SqlToken): boolean {
    const s = this.s;
    clearToken(into);
    if (s.length === 0) return false;
    // In a quote context the input starts inside a string: read up to the matching quote first.
    if (this.pos === 0 && this.quote !== '') {
      this.pos = readString(s, 0, into, this.quote, 0);
      this.tokenCount++;
      return true;
    }
    while (this.pos < s.length) {
      this.pos = this.readAt(into);
      if (into.type !== '') {
        this.tokenCount++;
        return true;
      }
    }
    return false;
  }

  /** Reads the token starting at `this.pos` into `t`; returns where the next read starts. */
  private readAt(t: SqlToken): number {
    const s = this.s;
    const pos = this.pos;
    const c = s[pos];
    const code = s.charCodeAt(pos);
    if (code <= 32 || code === 127 || code === 0xa0) return pos + 1;
    // On the code, not the character: a jump table rather than a comparison per case (most bytes are letters,
    // which reach the default).
    switch (code) {
      case 0x21: // !
      case 0x26: // &
      case 0x2a: // *
      case 0x3a: // :
      case 0x3c: // <
      case 0x3d: // =
      case 0x3e: // >
      case 0x7c: // |
        return this.readOperator(t);
      case 0x22: // "
      case 0x27: // '
        return readString(s, pos, t, c, 1);
      case 0x23: // #
        return this.readHash(t);
      case 0x24: // $
        return this.readDollar(t);
      case 0x25: // %
      case 0x2b: // +
      case 0x5e: // ^
      case 0x7e: // ~
        assign(t, T.operator, pos, c);
        return pos + 1;
      case 0x28: // (
      case 0x29: // )
      case 0x2c: // ,
      case 0x3b: // ;
      case 0x7b: // {
      case 0x7d: // }
        assign(t, c, pos, c);
        return pos + 1;
      case 0x2d: // -
        return this.readDash(t);
      case 0x2e: // .
        return this.readNumber(t);
      case 0x2f: // /
        return this.readSlash(t);
      case 0x3f: // ?
      case 0x5d: // ]
        assign(t, T.unknown, pos, c);
        return pos + 1;
      case 0x40: // @
        return this.readVariable(t);
      case 0x5b: // [
        return this.readBracketWord(t);
      case 0x5c: // backslash
        if (s[pos + 1] === 'N') {
          // MySQL's \N is NULL.
          assign(t, T.number, pos, '\\N');
          return pos + 2;
        }
        assign(t, T.backslash, pos, '\\');
        return pos + 1;
      case 0x60: // `
        return this.readTick(t, pos);
      case 0x62: // b
      case 0x42: // B
        return this.readBitString(t, '01');
      case 0x78: // x
      case 0x58: // X
        return this.readBitString(t, '0123456789abcdefABCDEF');
      case 0x65: // e
      case 0x45: // E
        return this.readPrefixedString(t);
      case 0x6e: // n
      case 0x4e: // N
        // N'...' (national character set) or Oracle's nq'...'.
        if (pos + 2 < s.length && s[pos + 1] === "'") return this.readPrefixedString(t);
        return this.readQString(t, 1);
      case 0x71: // q
      case 0x51: // Q
        return this.readQString(t, 0);
      case 0x75: // u
      case 0x55: // U
        return this.readUnicodeString(t);
      default:
        if (isDigit(c)) return this.readNumber(t);
        return this.readWord(t, pos);
    }
  }

  private readLineComment(t: SqlToken): number {
    const s = this.s;
    const pos = this.pos;
    const nl = s.indexOf('\n', pos);
    if (nl === -1) {
      assign(t, T.comment, pos, s.slice(pos));
      return s.length;
    }
    assign(t, T.comment, pos, s.slice(pos, nl));
    return nl + 1;
  }

  private readHash(t: SqlToken): number {
    this.hashes++;
    if (this.dialect === 'mysql') return this.readLineComment(t);
    assign(t, T.operator, this.pos, '#');
    return this.pos + 1;
  }

  private readDash(t: SqlToken): number {
    const s = this.s;
    const pos = this.pos;
    if (s[pos + 1] === '-') {
      // `-- ` and a trailing `--` are comments everywhere; `--x` only outside MySQL.
      if (pos + 2 < s.length && WHITE.has(s[pos + 2])) return this.readLineComment(t);
      if (pos + 2 === s.length) return this.readLineComment(t);
      if (this.dialect === 'ansi') {
        this.dashDashComments++;
        return this.readLineComment(t);
      }
    }
    assign(t, T.operator, pos, '-');
    return pos + 1;
  }

  private readSlash(t: SqlToken): number {
    const s = this.s;
    const pos = this.pos;
    if (s[pos + 1] !== '*') {
      assign(t, T.operator, pos, '/');
      return pos + 1;
    }
    const close = indexOfPair(s, '*', '/', pos + 2);
    const end = close === -1 ? s.length : close + 2;
    let type: string = T.comment;
    // A comment that opens another inside it (PostgreSQL nests them, others do not) or a MySQL
    // executable comment `/*!...*/` cannot be read the same way by every engine: evil.
    if (close !== -1) {
      const inner = indexOfPair(s, '/', '*', pos + 2);
      if (inner !== -1 && inner < close) type = T.evil;
    }
    if (type === T.comment && pos + 2 < s.length && s[pos + 2] === '!') type = T.evil;
    assign(t, type, pos, s.slice(pos, end));
    return end;
  }

  private readOperator(t: SqlToken): number {
    const s = this.s;
    const pos = this.pos;
    if (pos + 1 >= s.length) {
      assign(t, T.operator, pos, s[pos]);
      return pos + 1;
    }
    if (s[pos] === '<' && s[pos + 1] === '=' && s[pos + 2] === '>') {
      assign(t, T.operator, pos, '<=>');
      return pos + 3;
    }
    const pair = s.slice(pos, pos + 2);
    const cls = classifyOperator(pair);
    if (cls !== undefined) {
      assign(t, cls, pos, pair);
      return pos + 2;
    }
    if (s[pos] === ':') {
      assign(t, T.colon, pos, ':');
      return pos + 1;
    }
    assign(t, T.operator, pos, s[pos]);
    return pos + 1;
  }

  private readDollar(t: SqlToken): number {
    const s = this.s;
    const pos = this.pos;
    if (pos + 1 === s.length) {
      assign(t, T.bareword, pos, '$');
      return s.length;
    }
    let n = 0;
    while (pos + 1 + n < s.length && '0123456789.,'.includes(s[pos + 1 + n])) n++;
    if (n === 1 && s[pos + 1] === '.') return this.readWord(t, pos);
    if (n > 0) {
      // Money: $1,000.00
      assign(t, T.number, pos, s.slice(pos, pos + 1 + n));
      return pos + 1 + n;
    }
    if (s[pos + 1] === '$') {
      // PostgreSQL $$dollar quoted$$ string.
      const close = indexOfPair(s, '$', '$', pos + 2);
      t.strOpen = '$';
      if (close === -1) {
        assign(t, T.string, pos + 2, s.slice(pos + 2));
        t.strClose = '';
        return s.length;
      }
      assign(t, T.string, pos + 2, s.slice(pos + 2, close));
      t.strClose = '$';
      return close + 2;
    }
    // $tag$ ... $tag$
    let tagLen = 0;
    while (pos + 1 + tagLen < s.length && isAsciiLetter(s[pos + 1 + tagLen])) tagLen++;
    if (tagLen === 0 || pos + tagLen + 1 === s.length || s[pos + tagLen + 1] !== '$') {
      assign(t, T.bareword, pos, '$');
      return pos + 1;
    }
    const tag = s.slice(pos, pos + tagLen + 2);
    const bodyStart = pos + tagLen + 2;
    const close = s.indexOf(tag, bodyStart);
    t.strOpen = '$';
    if (close === -1) {
      assign(t, T.string, bodyStart, s.slice(bodyStart));
      t.strClose = '';
      return s.length;
    }
    assign(t, T.string, bodyStart, s.slice(bodyStart, close));
    t.strClose = '$';
    return close + tagLen + 2;
  }

  private readNumber(t: SqlToken): number {
    const s = this.s;
    let pos = this.pos;
    const start = pos;
    if (s[pos] === '0' && pos + 1 < s.length) {
      const radix = s[pos + 1];
      const digits = radix === 'x' || radix === 'X' ? 'hex' : radix === 'b' || radix === 'B' ? 'bin' : '';
      if (digits !== '') {
        let n = 0;
        while (
          pos + 2 + n < s.length &&
          (digits === 'hex' ? isHexDigit(s[pos + 2 + n]) : s[pos + 2 + n] === '0' || s[pos + 2 + n] === '1')
        )
          n++;
        if (n === 0) {
          assign(t, T.bareword, pos, s.slice(pos, pos + 2));
          return pos + 2;
        }
        assign(t, T.number, pos, s.slice(pos, pos + 2 + n));
        return pos + 2 + n;
      }
    }
    while (pos < s.length && isDigit(s[pos])) pos++;
    if (pos < s.length && s[pos] === '.') {
      pos++;
      while (pos < s.length && isDigit(s[pos])) pos++;
      if (pos - start === 1) {
        // A lone dot.
        assign(t, T.dot, start, '.');
        return pos;
      }
    }
    let hasE = false;
    let hasExponent = false;
    if (pos < s.length && (s[pos] === 'e' || s[pos] === 'E')) {
      hasE = true;
      pos++;
      if (pos < s.length && (s[pos] === '+' || s[pos] === '-')) pos++;
      while (pos < s.length && isDigit(s[pos])) {
        hasExponent = true;
        pos++;
      }
    }
    // Oracle's float/double suffixes: 1.5f, 2d.
    if (pos < s.length && 'dDfF'.includes(s[pos])) {
      const after = s[pos + 1];
      if (pos + 1 === s.length || WHITE.has(after) || after === ';' || after === 'u' || after === 'U') pos++;
    }
    // `1e` or `1.5e` without digits is a word, not a number.
    assign(t, hasE && !hasExponent ? T.bareword : T.number, start, s.slice(start, pos));
    return pos;
  }

  private readVariable(t: SqlToken): number {
    const s = this.s;
    let pos = this.pos + 1;
    if (pos < s.length && s[pos] === '@') pos++;
    if (pos < s.length) {
      if (s[pos] === '`') {
        const end = this.readTick(t, pos);
        t.type = T.variable;
        return end;
      }
      if (s[pos] === "'" || s[pos] === '"') {
        const end = readString(s, pos, t, s[pos], 1);
        t.type = T.variable;
        return end;
      }
    }
    let n = 0;
    while (pos + n < s.length && !VAR_END.has(s[pos + n])) n++;
    assign(t, T.variable, pos, s.slice(pos, pos + n));
    return pos + n;
  }

  private readBracketWord(t: SqlToken): number {
    const s = this.s;
    const pos = this.pos;
    const close = s.indexOf(']', pos);
    const end = close === -1 ? s.length : close + 1;
    assign(t, T.bareword, pos, s.slice(pos, end));
    return end;
  }

  /** `` `name` ``: a MySQL quoted identifier; a function name stays a function, anything else is a word. */
  private readTick(t: SqlToken, pos: number): number {
    const end = readString(this.s, pos, t, '`', 1);
    t.type = classifyWord(t.val) === 'f' ? T.func : T.bareword;
    return end;
  }

  /** b'0101' and x'ff' literals are numbers; otherwise the letter starts a word. */
  private readBitString(t: SqlToken, digits: string): number {
    const s = this.s;
    const pos = this.pos;
    if (pos + 2 >= s.length || s[pos + 1] !== "'") return this.readWord(t, pos);
    let n = 0;
    while (pos + 2 + n < s.length && digits.includes(s[pos + 2 + n])) n++;
    if (pos + 2 + n >= s.length || s[pos + 2 + n] !== "'") return this.readWord(t, pos);
    assign(t, T.number, pos, s.slice(pos, pos + n + 3));
    return pos + n + 3;
  }

  /** E'...' (PostgreSQL escape string) and N'...' (national): a string after a one-letter prefix. */
  private readPrefixedString(t: SqlToken): number {
    const s = this.s;
    const pos = this.pos;
    if (pos + 2 >= s.length || s[pos + 1] !== "'") return this.readWord(t, pos);
    return readString(s, pos, t, "'", 2);
  }

  /** U&'...': PostgreSQL unicode escape string. */
  private readUnicodeString(t: SqlToken): number {
    const s = this.s;
    const pos = this.pos;
    if (pos + 2 < s.length && s[pos + 1] === '&' && s[pos + 2] === "'") {
      const end = readString(s, pos + 2, t, "'", 1);
      t.strOpen = 'u';
      if (t.strClose === "'") t.strClose = 'u';
      return end;
    }
    return this.readWord(t, pos);
  }

  /** Oracle's q'<...>' (and nq'...') strings with a chosen delimiter. */
  private readQString(t: SqlToken, offset: number): number {
    const s = this.s;
    const pos = this.pos + offset;
    if (pos >= s.length || (s[pos] !== 'q' && s[pos] !== 'Q') || pos + 2 >= s.length || s[pos + 1] !== "'") {
      return this.readWord(t, this.pos);
    }
    const open = s.charCodeAt(pos + 2);
    // A control byte, space or any non-ASCII byte cannot open it.
    if (open < 33 || open >= 128) return this.readWord(t, this.pos);
    const closers: Record<string, string> = { '(': ')', '[': ']', '{': '}', '<': '>' };
    const delim = closers[s[pos + 2]] ?? s[pos + 2];
    const close = indexOfPair(s, delim, "'", pos + 3);
    t.strOpen = 'q';
    if (close === -1) {
      assign(t, T.string, pos + 3, s.slice(pos + 3));
      t.strClose = '';
      return s.length;
    }
    assign(t, T.string, pos + 3, s.slice(pos + 3, close));
    t.strClose = 'q';
    return close + 2;
  }

  private readWord(t: SqlToken, pos: number): number {
    const s = this.s;
    let end = pos;
    while (end < s.length) {
      const c = s.charCodeAt(end);
      if (c <= 0xff && WORD_END_CODE[c] === 1) break;
      end++;
    }
    assign(t, T.bareword, pos, s.slice(pos, end));
    // `SELECT.1` or SELECT`col`: a keyword glued to what follows by a dot or a backtick ends there.
    for (let i = 0; i < t.len; i++) {
      const c = t.val[i];
      if (c === '.' || c === '`') {
        const cls = classifyWord(t.val.slice(0, i));
        if (cls !== undefined && cls !== 'n') {
          clearToken(t);
          assign(t, cls, pos, s.slice(pos, pos + i));
          return pos + i;
        }
      }
    }
    // Words too long to keep whole are never looked up.
    if (end - pos <= TOKEN_VALUE_MAX) t.type = classifyWord(t.val) ?? T.bareword;
    return end;
  }
}

/**
 * Reads a quoted string from `pos` (the quote itself when `offset` > 0; `offset` 0 means the opening quote
 * came before the input). A quote preceded by an odd number of backslashes, or doubled, does not close it.
 */
export function readString(s: string, pos: number, t: SqlToken, quote: string, offset: number): number {
  const start = pos + offset;
  t.strOpen = offset > 0 ? quote : '';
  let q = s.indexOf(quote, start);
  while (q !== -1) {
    let backslashes = 0;
    while (q - 1 - backslashes >= start && s[q - 1 - backslashes] === '\\') backslashes++;
    if (backslashes % 2 === 1) {
      q = s.indexOf(quote, q + 1);
    } else if (q + 1 < s.length && s[q + 1] === quote) {
      q = s.indexOf(quote, q + 2);
    } else {
      assign(t, T.string, start, s.slice(start, q));
      t.strClose = quote;
      return q + 1;
    }
  }
  assign(t, T.string, start, s.slice(start));
  t.strClose = '';
  return s.length;
}

/** Case-insensitive comparison of a token value with an upper-case word. */
export function valueIs(t: SqlToken, upper: string): boolean {
  return t.len === upper.length && upperAscii(t.val) === upper;
}
