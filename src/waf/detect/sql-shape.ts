/**
 * Which fingerprints are SQL injection (issue 17). libinjection answers this with a list of about 8,000
 * fingerprints learned from attack samples; we do not copy that list. Instead a fingerprint is injection
 * when it is the start of a SQL fragment that a value could inject, by a small grammar of our own:
 *
 * 1. A head: what the injected value closes or continues — a string it broke out of (`s`), a number (`1`),
 *    a variable (`v`), closing parentheses (`s)`, `1)`), or a statement/union/function/connective it opens
 *    with (`E`, `U`, `f(`, `&`).
 * 2. Then a well-formed continuation of SQL: operators between operands, calls with parentheses, a logical
 *    connective, UNION SELECT, `;` and a new statement, ORDER/GROUP BY, a keyword such as INTO OUTFILE, and
 *    a comment only at the very end (after a complete expression). Text that is not SQL breaks this almost
 *    at once: two words in a row, a word after a string, an operator with nothing after it.
 * 3. A connector must be present — something only SQL syntax explains (connective, operator, union, group,
 *    keyword, statement, comment); a bare string or number is not injection.
 *
 * Heads that ordinary text produces often (a word, a leading AND/OR, a leading statement word) are taken
 * only with a longer, fully-formed fragment. The decisions were checked against ModSecurity's on public
 * payload lists and generated benign text (test/waf/detect-oracle.test.ts reports the agreement).
 */

/** Grammar states: what may come next. */
type State =
  /** An operand is expected (after an operator, connective, `(`, comma). */
  | 'operand'
  /** After an operand: an operator, connective, `)`, comma, union, group, keyword, `;`, comment. */
  | 'after'
  /** After a function name: its `(`. */
  | 'call'
  /** Just after a call's `(`: an argument, or `)` for none. */
  | 'args'
  /** After UNION: SELECT or `(`. */
  | 'union'
  /** After `;` (or a statement break): a statement. */
  | 'statement'
  /** After a Transact-SQL statement word (EXEC, DROP, DECLARE): its object. */
  | 'tsql'
  /** After the object of a T-SQL statement: anything that reads as arguments. */
  | 'tsqlArgs'
  /** After a keyword (FROM, INTO, ...): an operand or a sub-query. */
  | 'keyword'
  /** After ORDER BY / GROUP BY / LIMIT: an operand. */
  | 'group'
  /** After SELECT: a select list (operands, `*`, DISTINCT/TOP keywords). */
  | 'select'
  /** After `SELECT *`: FROM or a comma. */
  | 'star'
  /** After a comment: nothing more. */
  | 'end'
  | 'reject';

const OPERANDS = new Set(['1', 's', 'v', 'n']);

/** The connectors that only SQL explains (rule 3). */
const CONNECTORS = new Set(['&', 'o', 'U', 'B', 'k', ';', 'c', 'E', 'T']);

function step(state: State, t: string, afterKeywordOperand: boolean): State {
  switch (state) {
    case 'operand':
      if (OPERANDS.has(t)) return 'after';
      if (t === 'f') return 'call';
      if (t === '(') return 'operand';
      if (t === 'E') return 'select';
      return 'reject';
    case 'call':
      return t === '(' ? 'args' : 'reject';
    case 'args':
      return t === ')' ? 'after' : step('operand', t, afterKeywordOperand);
    case 'after':
      if (t === 'o' || t === '&' || t === ',') return 'operand';
      if (t === ')') return 'after';
      if (t === 'c') return 'end';
      if (t === ';') return 'statement';
      if (t === 'U') return 'union';
      if (t === 'B') return 'group';
      if (t === 'k') return afterKeywordOperand ? 'reject' : 'keyword';
      // MS SQL runs a statement after an expression without a `;` (`') waitfor delay ...`).
      if (t === 'E') return 'select';
      if (t === 'T') return 'tsql';
      // `name(` : a call of a function the word lists do not know.
      if (t === '(') return 'operand';
      return 'reject';
    case 'union':
      if (t === 'E') return 'select';
      if (t === '(') return 'union';
      return 'reject';
    case 'statement':
      if (t === 'E') return 'select';
      if (t === 'T') return 'tsql';
      // `; cmd` as the very last thing: a stacked command whose arguments fell off the fingerprint.
      if (t === 'n') return 'end';
      // `;--`: the statement ended and the rest of the query commented out.
      if (t === 'c') return 'end';
      return 'reject';
    case 'tsql':
      if (t === 'n' || t === 'v' || t === 'f' || t === 'k' || t === '1' || t === '(' || t === 'E')
        return 'tsqlArgs';
      return 'reject';
    case 'tsqlArgs':
      if (OPERANDS.has(t) || t === ',' || t === 'c' || t === ';' || t === 'o' || t === '(' || t === ')') {
        return t === 'c' ? 'end' : 'tsqlArgs';
      }
      return 'reject';
    case 'keyword':
    case 'group':
      if (OPERANDS.has(t)) return 'after';
      if (t === 'f') return 'call';
      if (t === '(') return 'operand';
      if (t === 'E' && state === 'keyword') return 'select';
      return 'reject';
    case 'select':
      if (OPERANDS.has(t)) return 'after';
      if (t === 'f') return 'call';
      if (t === '(') return 'operand';
      if (t === 'k') return 'keyword';
      if (t === 'o') return 'star';
      return 'reject';
    case 'star':
      if (t === 'k') return 'keyword';
      if (t === ',') return 'operand';
      return 'reject';
    default:
      return 'reject';
  }
}

/** Whether the fingerprint is a well-formed SQL continuation from `from` (rules 2 and 3). */
function continues(fp: string, from: number, start: State, needConnector = true, oneKeyword = true): boolean {
  let state = start;
  let connector = !needConnector;
  let keywordSeen = false;
  let operandAfterKeyword = false;
  let depth = 0;
  for (let i = from; i < fp.length; i++) {
    const t = fp[i];
    const before = state;
    if (CONNECTORS.has(t)) connector = true;
    state = step(state, t, oneKeyword && operandAfterKeyword);
    if (state === 'reject') return false;
    if (t === '(') depth++;
    else if (t === ')' && depth > 0) depth--;
    // A list comma at the top level, right after the value broke out, is not how injections continue,
    // unless a sub-query selecting a value follows at once (`',(select 1`: a value added to an INSERT
    // or a select list).
    if (t === ',' && depth === 0 && i <= 2 && !(i === 1 && /^\(E[1fnsv]/.test(fp.slice(2)))) return false;
    if (before === 'after' && (t === 'E' || t === 'T')) {
      // A statement run straight after an expression (no `;`): only right after the break-out, and only
      // when a comment ends the input, as in `') waitfor delay '0:0:5'--` or `' exec xp_cmdshell 'x'--`.
      if (fp[i - 1] !== ')' && i !== 1) return false;
      if (!fp.endsWith('c') && !(t === 'T' && fp.includes(';'))) return false;
    }
    if (t === 'k') keywordSeen = true;
    else if (keywordSeen && OPERANDS.has(t)) operandAfterKeyword = true;
  }
  // A fingerprint shorter than five tokens is the whole input: it must not stop inside an expression.
  if (fp.length < 5 && (state === 'operand' || state === 'call' || state === 'args' || state === 'union'))
    return false;
  return connector;
}

const cache = new Map<string, boolean>();

/** Whether a fingerprint has the shape of injected SQL (the grammar above). */
export function isInjectionShape(fp: string): boolean {
  const known = cache.get(fp);
  if (known !== undefined) return known;
  const answer = decide(fp);
  // Fingerprints are at most five characters of about 25 classes; the cache is bounded to stay small.
  if (cache.size < 50_000) cache.set(fp, answer);
  return answer;
}

/**
 * A word (a column name, or the name of a JSON member that libmodsecurity calls `json.<key>`) followed by
 * what would follow a name inside a query: a connective and an operand (`x or 1=1`, `x and sleep(5)`),
 * a sub-query (`x and (select ...`), closing parentheses then a connective or a statement (`x)) or ...`,
 * `x) waitfor delay ...`), a statement with a comment after it, ORDER BY / GROUP BY / HAVING and an
 * operand, WHERE with an operand and a connective or comment, an operator and a call (`x + sleep(10)`),
 * or a call with one argument (`x sleep(5)`), or a comma and a sub-query (`x,(select 1`). Two words joined by AND/OR, a word then a clause word then
 * a word, and shell-like runs (`a)|id`, `a);id`) are ordinary text. Measured against libinjection through
 * libmodsecurity (payload lines as JSON member names: 90.6% -> 99.5% agreement, no change on the rest).
 */
function wordClause(fp: string): boolean {
  const second = fp[1];
  let ok: boolean;
  switch (second) {
    case '&':
      ok = /^n&(?:[1svf]|\(E)/.test(fp);
      break;
    case ')':
      ok = /^n\)+[&EU]/.test(fp);
      break;
    case 'E':
      ok = fp.endsWith('c');
      break;
    case 'B':
      ok = /^nB[1svf(]/.test(fp);
      break;
    case 'k':
      ok = /^nk[1svf(]/.test(fp) && /[&c;]/.test(fp.slice(3));
      break;
    case 'o':
      ok = /^nof\(/.test(fp);
      break;
    case 'f':
      ok = /^nf\([1sv]\)/.test(fp);
      break;
    case ',':
      ok = /^n,\(E[1fnsv]/.test(fp);
      break;
    default:
      ok = false;
  }
  if (!ok || /&n\(|\)B.B|\)ksc?$/.test(fp)) return false;
  // A call needs no connector: `x sleep(5)` is a word and a call, which text does not hold.
  return second === 'f' ? continues(fp, 1, 'operand', false) : continues(fp, 1, 'after');
}

function decide(fp: string): boolean {
  if (fp === 'X') return true;
  if (fp.length < 2) return false;
  // A string or number followed by a lone word ("' & whoami", "2 and outer") is text, not SQL; a string
  // broken out of and a comparison of names (`' or a=b`, folded to s&n) is taken, and the three-token
  // `' & whoami` is left to the exceptions of sqli.ts.
  if (fp.length === 3 && fp[2] === 'n' && fp[1] !== 'B' && fp !== 's&n') return false;
  // A string compared with a number and nothing more (`' = 1`, `'-1-1`) is not enough; `' = 1 --` is.
  // Nor is UNION SELECT with nothing selected (`union all select`).
  if (fp === 'so1' || fp === 'UE') return false;
  // A lone `;--` after the value (`x';--`) is not enough; after an expression (`' or 1=1;--`) it is.
  if (fp.length === 3 && fp[1] === ';' && fp[2] === 'c') return false;
  // A bare `;` after one value ends a sentence as often as a statement.
  if (fp.length === 2 && fp[1] === ';') return false;
  const head = fp[0];
  switch (head) {
    case 's':
    case '1':
    case 'v':
      // `' or name(...)`: a call of an unknown word after AND/OR is script code more often than SQL.
      if (/&n\(/.test(fp)) return false;
      // Calibrated against ModSecurity: after a closing parenthesis, a second ORDER/GROUP/HAVING or a
      // bare INTO with nothing after its target are not taken.
      if (/\)B.B|\)ksc?$/.test(fp)) return false;
      return continues(fp, 1, 'after');
    case 'n':
      // Words start ordinary text: only a comment right after, a union, a new statement, a comparison
      // with a sub-query, a complete statement ended by `;`, or a word followed by the SQL that would
      // follow a name in a query (wordClause) counts.
      if (fp === 'nc') return true;
      if (wordClause(fp)) return true;
      return (
        (/U[E(]|;[ET]|o\(E/.test(fp) || (fp.includes('o') && fp.endsWith(';'))) && continues(fp, 1, 'after')
      );
    case 'U':
      // UNION SELECT at the start; a selected string literal first is how text quoting SQL reads.
      return fp[1] === 'E' && fp[2] !== 's' && continues(fp, 0, 'after');
    case 'f':
      // `func(args)` alone: a call with its argument list.
      return fp[1] === '(' && fp.length >= 4 && continues(fp, 1, 'call', false);
    case '&':
      // A leading AND/OR is common text (and shell `&&`/`||`): take only a full five-token expression,
      // without sub-queries, argument lists or calls of unknown words (`|| system('...')`).
      return fp.length === 5 && !/[E,]|n\(/.test(fp) && continues(fp, 1, 'operand', false);
    case 'E':
      // A leading statement word is common text: take only a full five-token fragment, in which a whole
      // statement (SELECT a FROM b WHERE c) may have several keywords, but no call of an unknown word.
      // `SELECT * FROM name;` (or `--`) alone is how text quotes a query; with a condition it is not.
      if (/^Eokn[;c]$/.test(fp)) return false;
      return fp.length === 5 && !fp.includes('n(') && continues(fp, 0, 'statement', true, false);
    case 'T':
      // EXEC/DROP/DECLARE at the start: only with arguments and an end (`;`) or a full fragment, and not
      // when only words follow (`Use multiple filters in the same request`, `Execute a remote file`).
      if (/^T[n(]*$/.test(fp)) return false;
      return (fp.length === 5 || (fp.length >= 3 && fp.endsWith(';'))) && continues(fp, 0, 'statement');
    default:
      return false;
  }
}
