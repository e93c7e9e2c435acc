/**
 * Regular expressions from an OpenAPI document (`pattern`, `patternProperties` keys), run on a linear-time
 * engine (RE2, the re2js port) instead of V8's backtracking one (issue 13 item 6). A spec pattern is
 * applied to client input, and a backtracking engine lets one crafted value of a few dozen bytes hold the
 * event loop for seconds (`^([a-zA-Z0-9_\-\.]+)@([a-zA-Z0-9_\-\.]+)\.([a-zA-Z]{2,5})$` against
 * `aaaa…a@a` does). RE2 has no backtracking, so matching costs time linear in the input.
 *
 * JSON Schema 2020-12 (Validation §6.3.3, Core §6.4) reads patterns as ECMA-262 regular expressions; they
 * are read here with the Unicode (`u`) flag's grammar, and, when that refuses them, with the grammar of a
 * pattern without flags (Annex B), which real specs rely on (`[\w\_]`). Matching is by code point either way,
 * as with `u`. The ECMA-262 meaning of `.` and `\s` differs from RE2's; both are rewritten to the ECMA-262
 * sets before RE2 sees them. What RE2 cannot express in linear time (backreferences, lookahead and
 * lookbehind) is refused when the spec loads, naming the pattern.
 */
import { RE2JS } from 're2js';
import { PortcullisError } from '../core/errors.ts';
import { BoundedCache } from '../shared/bounded-cache.ts';

/** Thrown for a pattern that is not a regular expression or needs backtracking. */
export class PatternError extends PortcullisError {
  readonly code = 'ERR_SPEC_PATTERN';
  readonly pattern: string;
  constructor(pattern: string, reason: string) {
    super(`pattern ${JSON.stringify(pattern)} ${reason}`);
    this.name = 'PatternError';
    this.pattern = pattern;
  }
}

/** A compiled pattern: `test` searches anywhere in the input (JSON Schema patterns are not anchored). */
export interface LinearPattern {
  test(input: string): boolean;
  toString(): string;
}

// ECMA-262 WhiteSpace and LineTerminator (22.2.2.9 CharacterClassEscape `s`), as RE2 class members.
const SPACE_MEMBERS =
  '\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
// ECMA-262 `.` without the `s` flag: anything but a LineTerminator.
const DOT = '[^\\n\\r\\x{2028}\\x{2029}]';

/**
 * Rewrites the parts of an ECMA-262 pattern whose meaning differs in RE2 (`.`, `\s`, `\S`, `[\b]`) and
 * refuses backreferences and lookaround with a reason. Works token by token: escapes are copied as one
 * unit, and inside a class only escapes matter.
 */
function toRe2Syntax(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      i++;
      if (next === 's') out += inClass ? SPACE_MEMBERS : `[${SPACE_MEMBERS}]`;
      else if (next === 'S' && !inClass) out += `[^${SPACE_MEMBERS}]`;
      else if (next === 'b' && inClass) out += '\\x{08}';
      else if (!inClass && (/[1-9]/.test(next) || next === 'k')) {
        throw new Error('uses a backreference, which needs a backtracking engine');
      } else out += `\\${next}`;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // ECMA-262: `[]` matches nothing and `[^]` anything; a `]` right after `[` or `[^` closes the class.
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const kind = source.slice(i + 2, i + 4);
      if (kind[0] === '=' || kind[0] === '!' || kind === '<=' || kind === '<!') {
        throw new Error('uses lookahead or lookbehind, which needs a backtracking engine');
      }
    }
    out += c === '.' ? DOT : c;
  }
  return out;
}

/** Whether the ECMA-262 grammar accepts the pattern, with the `u` flag or (Annex B) without flags. */
function ecmaSyntaxError(source: string): string | undefined {
  try {
    new RegExp(source, 'u');
    return undefined;
  } catch {
    try {
      new RegExp(source);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  }
}

/**
 * Compiles a spec pattern for linear-time matching.
 * @throws PatternError when it is not an ECMA-262 regular expression or RE2 cannot run it.
 * @example
 * compileSpecPattern('^[a-z]+$').test('abc'); // true
 */
export function compileSpecPattern(source: string): LinearPattern {
  if (ecmaSyntaxError(source) !== undefined) {
    throw new PatternError(source, 'is not a valid regular expression');
  }
  let re2: RE2JS;
  try {
    // translateRegExp turns the ECMA-262 spellings RE2 reads differently (`\uXXXX`, `\u{…}`, `(?<name>`,
    // `[^]`, `\cX`) into RE2 syntax.
    re2 = RE2JS.compile(RE2JS.translateRegExp(toRe2Syntax(source)));
  } catch (e) {
    const reason = (e as Error).message.replace(/^error parsing regexp: /, '');
    throw new PatternError(source, `cannot run on the linear-time engine (RE2): ${reason}`);
  }
  return {
    test: (input) => re2.test(input),
    toString: () => source,
  };
}

/** Refusal reasons by pattern, and the mark of an accepted pattern. */
const refusals = new BoundedCache<string, string>(2048);
const ACCEPTED = '';

/** Why a pattern is refused, or `undefined` when it runs in linear time. */
export function patternRefusal(source: string): string | undefined {
  // Real specs repeat the same few patterns hundreds of times (ids, phone numbers); compile each once.
  const known = refusals.get(source);
  if (known !== undefined) return known === ACCEPTED ? undefined : known;
  let why: string | undefined;
  try {
    compileSpecPattern(source);
  } catch (e) {
    if (!(e instanceof PatternError)) throw e;
    why = e.message;
  }
  refusals.set(source, why ?? ACCEPTED);
  return why;
}

/**
 * The engine handed to ajv (`code.regExp`), so every `pattern` and `patternProperties` key it compiles
 * runs on RE2. The `u` argument is ignored: patterns always match by code point.
 */
export const linearRegExp = Object.assign((source: string, _u: string) => compileSpecPattern(source), {
  code: 'compileSpecPattern',
});
