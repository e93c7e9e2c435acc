/**
 * NoSQL (MongoDB) operator injection: query operators where the application expects a value, as JSON keys
 * (`{"password": {"$ne": null}}`), as bracketed query names (`password[$ne]=`), or smuggled inside a string
 * (`{"$gt": ""}`), plus the JavaScript that `$where` runs (`'; return true; //`, `this.password.match(...)`).
 */

import type { Paranoia } from './types.ts';

/** Query and aggregation operators that change what a filter matches. */
const OPERATORS = new Set([
  'ne',
  'eq',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'nin',
  'regex',
  'where',
  'exists',
  'expr',
  'or',
  'and',
  'nor',
  'not',
  'elemmatch',
  'function',
  'accumulator',
  'all',
  'size',
  'mod',
  'jsonschema',
  'text',
  'lookup',
  'merge',
  'out',
  'unionwith',
  'options',
  'graphlookup',
  'facet',
]);
/** Update operators: injected into an update they rewrite other fields. */
const UPDATE_OPERATORS = new Set([
  'set',
  'unset',
  'inc',
  'push',
  'pull',
  'rename',
  'addtoset',
  'setoninsert',
  'type',
]);
/** Operators that run code or are never ordinary words: flagged wherever they stand. */
const CODE_OPERATORS = ['$where', '$function', '$accumulator', '$expr'];

function isWordChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
}

/** Whether an object key (or a bracketed query name such as `user[$ne]`) is a query operator. */
export function detectNosqlKey(key: string, p: Paranoia): boolean {
  const at = key.indexOf('$');
  if (at < 0) return false;
  for (let i = at; i >= 0 && i < key.length; i = key.indexOf('$', i + 1)) {
    const prev = i === 0 ? 91 : key.charCodeAt(i - 1);
    if (prev !== 91 && i !== 0 && prev !== 46) continue;
    let j = i + 1;
    while (j < key.length && isWordChar(key.charCodeAt(j))) j++;
    const name = key.slice(i + 1, j).toLowerCase();
    if (OPERATORS.has(name)) return true;
    if (p >= 2 && UPDATE_OPERATORS.has(name)) return true;
    if (p >= 3 && name.length > 0 && name !== 'schema' && name !== 'id' && name !== 'ref') return true;
  }
  return false;
}

/** Whether a string value reads as NoSQL injection at paranoia `p`. */
export function detectNosqli(s: string, p: Paranoia): boolean {
  const lower = s.toLowerCase();
  if (lower.indexOf('$') >= 0 && (hasCodeOperator(lower) || hasOperatorKey(lower, p))) return true;
  // JavaScript for `$where`: a string breakout followed by `return`, comparisons that are always true,
  // `this.<field>` probes, shell-database calls, busy loops.
  // Each search starts where the caller found its first mark, so a value without one costs no call.
  const semicolon = lower.indexOf(';');
  if (semicolon >= 0 && hasReturnBreakout(lower, semicolon)) return true;
  const field = lower.indexOf('this.');
  if (field >= 0 && hasFieldProbe(lower, field, p)) return true;
  const equality = lower.indexOf('==');
  if (equality >= 0 && hasLiteralEquality(lower, equality)) return true;
  if (lower.indexOf('(') < 0) return false;
  if (hasBusyWait(lower) || hasSlowCall(lower, p)) return true;
  const module = lower.indexOf('require(');
  if (module >= 0 && hasModuleCall(lower, module)) return true;
  const shell = lower.indexOf('db.');
  return shell >= 0 && hasShellCall(lower, shell);
}

/** `$where`, `$function`, `$accumulator` or `$expr` as a word (code the database runs). */
function hasCodeOperator(lower: string): boolean {
  for (const op of CODE_OPERATORS) {
    const at = lower.indexOf(op);
    if (
      at >= 0 &&
      !isWordChar(lower.charCodeAt(at + op.length)) &&
      (at === 0 || !isWordChar(lower.charCodeAt(at - 1)))
    ) {
      return true;
    }
  }
  return false;
}

/** An operator as a key inside the string: `{"$ne": 1}`, `[$ne]`, `'$gt':`. */
function hasOperatorKey(lower: string, p: Paranoia): boolean {
  const n = lower.length;
  for (let i = lower.indexOf('$'); i >= 0; i = lower.indexOf('$', i + 1)) {
    const prev = i === 0 ? 32 : lower.charCodeAt(i - 1);
    if (!(prev === 123 || prev === 34 || prev === 39 || prev === 91 || prev === 44 || prev === 32)) continue;
    let j = i + 1;
    while (j < n && isWordChar(lower.charCodeAt(j))) j++;
    const name = lower.slice(i + 1, j);
    if (!OPERATORS.has(name) && !(p >= 2 && UPDATE_OPERATORS.has(name))) continue;
    let k = j;
    const closer = lower.charCodeAt(k);
    if (closer === 34 || closer === 39 || closer === 93) k++;
    while (k < n && lower.charCodeAt(k) === 32) k++;
    const after = lower.charCodeAt(k);
    if (
      after === 58 ||
      (closer === 93 && (after === 61 || k >= n || after === 91)) ||
      (p >= 2 && prev !== 32)
    )
      return true;
  }
  return false;
}

/** `;return true`, `; return(1)`: a statement returning a constant after a breakout. */
function hasReturnBreakout(lower: string, from: number): boolean {
  const n = lower.length;
  for (let i = from; i >= 0; i = lower.indexOf(';', i + 1)) {
    let k = i + 1;
    while (k < n && lower.charCodeAt(k) === 32) k++;
    if (!lower.startsWith('return', k) || isWordChar(lower.charCodeAt(k + 6))) continue;
    let m = k + 6;
    while (m < n && lower.charCodeAt(m) === 32) m++;
    // `;return(true);`: the value in parentheses.
    if (lower.charCodeAt(m) === 40) m++;
    const rest = lower.slice(m, m + 8);
    if (/^(true|false|1|0|this|db|!|sleep|\d|'|")/.test(rest)) return true;
  }
  return false;
}

/** `this.password.match(`, `this.a == 1`, `this.x.length`, `this.y[`: probing a document's fields. */
function hasFieldProbe(lower: string, from: number, p: Paranoia): boolean {
  const n = lower.length;
  for (let i = from; i >= 0; i = lower.indexOf('this.', i + 1)) {
    const prev = i === 0 ? 32 : lower.charCodeAt(i - 1);
    if (isWordChar(prev) || prev === 46) continue;
    let j = i + 5;
    while (j < n && isWordChar(lower.charCodeAt(j))) j++;
    const rest = lower.slice(j, j + 12);
    if (
      rest.startsWith('.match(') ||
      rest.startsWith('.length') ||
      /^\s*(==|!=|>|<)/.test(rest) ||
      rest.startsWith('[')
    ) {
      const before = lower.slice(Math.max(0, i - 6), i);
      if (i === 0 || /['";|&(]/.test(before) || p >= 2) return true;
    }
  }
  return false;
}

/** `'1'=='1`, `1==1` after `||`/`&&`. */
function hasLiteralEquality(lower: string, from: number): boolean {
  for (let i = from; i >= 0; i = lower.indexOf('==', i + 2)) {
    const before = lower.slice(Math.max(0, i - 12), i);
    if (
      (before.indexOf('||') >= 0 || before.indexOf('&&') >= 0) &&
      (before.indexOf("'") >= 0 || before.indexOf('"') >= 0 || /\d\s*$/.test(before))
    ) {
      return true;
    }
  }
  return false;
}

/** A busy wait on the clock (`do{...}while(new Date()-d<5000)`): the time-based probe for `$where`. */
function hasBusyWait(lower: string): boolean {
  return (
    (lower.indexOf('new date(') >= 0 || lower.indexOf('date.now(') >= 0) &&
    (lower.indexOf('while(') >= 0 || lower.indexOf('while (') >= 0)
  );
}

/** Whether the character before `i` (spaces skipped) starts injected code: none, or a breakout. */
function afterBreakout(lower: string, i: number): boolean {
  let b = i - 1;
  while (b >= 0 && lower.charCodeAt(b) === 32) b--;
  return b < 0 || ';\'"|&{('.indexOf(lower[b]) >= 0;
}

/**
 * `require('os').endianness()=='LE'`: a Node module loaded and used by injected code, at the start of the
 * value or right after a breakout.
 */
function hasModuleCall(lower: string, from: number): boolean {
  for (let i = from; i >= 0; i = lower.indexOf('require(', i + 1)) {
    if (!afterBreakout(lower, i)) continue;
    if (/^require\(\s*['"`][\w./-]{1,40}['"`]\s*\)\s*\./.test(lower.slice(i, i + 64))) return true;
  }
  return false;
}

/** Endless loops, `sleep(<n>)`, and at paranoia 2 `tojson(` and `objectid(`. */
function hasSlowCall(lower: string, p: Paranoia): boolean {
  for (const m of ['while(true)', 'while (true)', 'while(1)', 'sleep(', 'tojson(', 'objectid(']) {
    const at = lower.indexOf(m);
    if (at < 0) continue;
    if (m === 'sleep(' && !/^\d/.test(lower.slice(at + 6, at + 7))) continue;
    if ((m === 'tojson(' || m === 'objectid(') && p < 2) continue;
    return true;
  }
  return false;
}

/** `db.users.drop()`, `db.getCollection(`: the mongo shell's database object, only as injected code. */
function hasShellCall(lower: string, from: number): boolean {
  for (let i = from; i >= 0; i = lower.indexOf('db.', i + 1)) {
    if (i > 0 && isWordChar(lower.charCodeAt(i - 1))) continue;
    // Only at the start or right after a breakout (`'; db.users.drop()`), not in a snippet.
    if (!afterBreakout(lower, i)) continue;
    const rest = lower.slice(i + 3, i + 64);
    if (/^\w+\.(find|insert|remove|update|drop|delete|aggregate|count|mapreduce)\w*\(/.test(rest))
      return true;
    if (/^(getcollection|dropdatabase|eval|runcommand|getsiblingdb|version)\w*\(/.test(rest)) return true;
  }
  return false;
}
