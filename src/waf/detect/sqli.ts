/**
 * `@detectSQLi` (issue 17): reads the input as SQL in the contexts an injected value can land in — as
 * written, after an opening `'`, after an opening `"` — and in the ANSI and MySQL readings of comments,
 * folds each reading to its fingerprint, and reports SQL injection when a fingerprint has the shape of
 * an injected SQL fragment (sql-shape.ts) and does not fall under one of the known benign exceptions.
 */
import { toByteString } from './bytes.ts';
import { readSql, type SqlReading, scratchTokens } from './sql-fold.ts';
import { classifyWord } from './sql-keywords.ts';
import { T } from './sql-lexer.ts';
import { isInjectionShape } from './sql-shape.ts';

/** What `@detectSQLi` answers. */
export interface SqliDetection {
  readonly match: boolean;
  /** The fingerprint of the reading that matched (for example `s&1c`). */
  readonly fingerprint?: string;
}

/** Tells whether `input` reads as SQL injection, the way libinjection's `libinjection_sqli` decides. */
export function detectSQLi(input: string): SqliDetection {
  if (isOneToken(input)) return NO_MATCH;
  return detectSQLiByReading(input);
}

/**
 * Whether `input` is a run of digits, or a word (an ASCII letter or `_`, then letters, digits, `_`), or
 * words joined by dots (`json.customer.id`) none of whose leading parts before a dot is a SQL word. Such an
 * input holds no quote (so only the plain reading is tried), no `#` or `--` (so no MySQL reading), and the
 * lexer reads it as one token: digits to the end; a word start to the first character that ends a word
 * (the prefixed string forms b'', x'', e'', n'', q'', u&'' all need a quote or `&` after the letter, else
 * they read a word too; a dot does not end a word, and the word is only cut at a dot when the part before
 * it is a SQL word, as in `SELECT.1`). A fingerprint of one token is never injection (sql-shape.ts: only
 * the `X` of an executable comment is, which needs `/*!` or `{`). So detectSQLi answers no at once (most
 * argument values and names are such); sqli.test.ts checks this against the full reading.
 */
export function isOneToken(input: string): boolean {
  const n = input.length;
  if (n === 0) return false;
  const first = input.charCodeAt(0);
  if (first >= 0x30 && first <= 0x39) {
    for (let i = 1; i < n; i++) {
      const c = input.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return false;
    }
    return true;
  }
  let segmentStart = true;
  for (let i = 0; i < n; i++) {
    const c = input.charCodeAt(i);
    const letter = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f;
    if (segmentStart) {
      if (!letter) return false;
      segmentStart = false;
    } else if (c === 0x2e) {
      // The lexer cuts the word here when what precedes is a SQL word (other than a plain name).
      const cls = classifyWord(input.slice(0, i));
      if (cls !== undefined && cls !== 'n') return false;
      segmentStart = true;
    } else if (!letter && !(c >= 0x30 && c <= 0x39)) return false;
  }
  return !segmentStart;
}

/**
 * Token cells the readings below share: each reading is judged before the next is made, and only its
 * fingerprint leaves (not its tokens), so one set of cells serves every reading of every input.
 */
const SCRATCH = scratchTokens();
const NO_MATCH: SqliDetection = Object.freeze({ match: false });

/** The readings alone, without the quick answer of detectSQLi (exported for its test). */
export function detectSQLiByReading(input: string): SqliDetection {
  const s = toByteString(input);
  if (s.length === 0) return NO_MATCH;
  const plain = readSql(s, '', 'ansi', SCRATCH);
  if (isSqli(plain, s)) return hit(plain);
  if (plain.mysqlDiffers) {
    const mysql = readSql(s, '', 'mysql', SCRATCH);
    if (isSqli(mysql, s)) return hit(mysql);
  }
  if (s.includes("'")) {
    const single = readSql(s, "'", 'ansi', SCRATCH);
    if (isSqli(single, s)) return hit(single);
    if (single.mysqlDiffers) {
      const mysql = readSql(s, "'", 'mysql', SCRATCH);
      if (isSqli(mysql, s)) return hit(mysql);
    }
  }
  if (s.includes('"')) {
    const double = readSql(s, '"', 'mysql', SCRATCH);
    if (isSqli(double, s)) return hit(double);
  }
  return NO_MATCH;
}

function hit(r: SqlReading): SqliDetection {
  return { match: true, fingerprint: r.fingerprint };
}

/** All readings detectSQLi would try, in order (for diagnostics and tests). */
export function sqlReadings(input: string): SqlReading[] {
  const s = toByteString(input);
  if (s.length === 0) return [];
  const out = [readSql(s, '', 'ansi')];
  if (out[0].mysqlDiffers) out.push(readSql(s, '', 'mysql'));
  if (s.includes("'")) {
    const single = readSql(s, "'", 'ansi');
    out.push(single);
    if (single.mysqlDiffers) out.push(readSql(s, "'", 'mysql'));
  }
  if (s.includes('"')) out.push(readSql(s, '"', 'mysql'));
  return out;
}

/** A reading is injection when its shape is, unless one of the benign exceptions below applies. */
export function isSqli(r: SqlReading, s: string): boolean {
  const fp = r.fingerprint;
  if (fp.length === 0 || !isInjectionShape(fp)) return false;
  return !isBenignException(r, s);
}

/**
 * Short fingerprints are common in ordinary text; these exceptions (libinjection's, in our words) keep
 * such inputs out unless something else in them points to SQL.
 */
function isBenignException(r: SqlReading, s: string): boolean {
  const fp = r.fingerprint;
  const tk = r.tokens;
  // SQL Server's audit log hides statements that mention sp_password: a comment with it is an attack.
  if (fp.length > 1 && fp[fp.length - 1] === T.comment && s.includes('sp_password')) return false;
  if (fp.length === 2) {
    if (fp[1] === T.union) {
      // "1 union" alone is plausible text; with folding or comments around it, it is not.
      return r.tokenCount === 2;
    }
    // A `#` comment after one token: too common in text (hashtags, issue numbers).
    if (tk[1].val[0] === '#') return true;
    // word + `--`/`#` comment: ordinary text; only a /* comment counts.
    if (tk[0].type === T.bareword && tk[1].type === T.comment && tk[1].val[0] !== '/') return true;
    if (tk[0].type === T.number && tk[1].type === T.comment) {
      if (tk[1].val[0] === '/') return false;
      if (r.tokenCount > 2) return false;
      // `1234--` is injection; `1234-ABC--` (base64-like) is not: look right after the number.
      const after = tk[0].len < s.length ? s.charCodeAt(tk[0].len) : 0;
      if (after <= 32) return false;
      if (s[tk[0].len] === '/' && s[tk[0].len + 1] === '*') return false;
      if (s[tk[0].len] === '-' && s[tk[0].len + 1] === '-') return false;
      return true;
    }
    // A `--comment` run into text is not a SQL comment ending an injection.
    if (tk[1].len > 2 && tk[1].val[0] === '-') return true;
    return false;
  }
  if (fp.length === 3) {
    if (fp === 'sos' || fp === 's&s') {
      // ...foo' + 'bar... : a string broken out of and re-entered.
      if (tk[0].strOpen === '' && tk[2].strClose === '' && tk[0].strClose === tk[2].strOpen) return false;
      return true;
    }
    if (fp === 's&n' || fp === 'n&1' || fp === '1&1' || fp === '1&v' || fp === '1&s') {
      // "sexy and 17" is text; "sexy and 17<18" (more tokens folded) is not.
      return r.tokenCount === 3;
    }
    if (tk[1].type === T.keyword) {
      // Only INTO OUTFILE / INTO DUMPFILE make a three-token keyword shape an attack.
      return !(tk[1].len >= 5 && tk[1].val.slice(0, 4).toUpperCase() === 'INTO');
    }
  }
  return false;
}
