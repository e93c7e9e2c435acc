/**
 * The operators of SecLang rules, compiled once at load: `@rx` on RE2, `@pm`/`@pmFromFile` as a keyword
 * automaton, string and numeric comparisons, validations, `@detectSQLi`/`@detectXSS` from ../detect.
 */
import { isIP } from 'node:net';
import { PortcullisError } from '../../core/errors.ts';
import { detectSQLi, detectXSS } from '../detect/index.ts';
import { compileKeywords } from './aho-corasick.ts';
import { type CompiledRegex, compileRegex, RegexUnsupportedError } from './regex.ts';

/** What an operator answers for one value. */
export interface OperatorResult {
  readonly matched: boolean;
  /** Capture groups (TX.0 … TX.9) when the operator produces them. */
  readonly captures?: readonly string[];
  /** Capture groups computed on demand (a regex's groups cost a second, slower pass). */
  readonly lazyCaptures?: () => readonly string[];
}

/** A compiled operator; `param` is the macro-expanded parameter when the parameter has macros. */
export interface CompiledOperator {
  readonly name: string;
  readonly negated: boolean;
  /** The regex behind an `@rx`, for its prefilter. */
  readonly regex?: CompiledRegex;
  /** The phrases of an `@pm`/`@pmFromFile`: the operator matches exactly when one occurs (ASCII case-insensitive). */
  readonly phrases?: readonly string[];
  /** Evaluates the operator (without negation). `wantCaptures` asks for TX.0… */
  run(input: string, expand: (s: string) => string, wantCaptures: boolean): OperatorResult;
}

/** Raised when an operator cannot be compiled; the loader reports it by file and line. */
export class OperatorError extends PortcullisError {
  readonly code = 'ERR_WAF_OPERATOR';
}

const NO: OperatorResult = { matched: false };
const YES: OperatorResult = { matched: true };

/** C atoi: optional sign and leading digits, 0 otherwise. */
function atoi(s: string): number {
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = String.prototype.charCodeAt.call(s, i);
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) i++;
    else break;
  }
  const start = i;
  if (
    i < n &&
    (String.prototype.charCodeAt.call(s, i) === 0x2b || String.prototype.charCodeAt.call(s, i) === 0x2d)
  )
    i++;
  const digits = i;
  while (i < n) {
    const c = String.prototype.charCodeAt.call(s, i);
    if (c >= 0x30 && c <= 0x39) i++;
    else break;
  }
  return i === digits ? 0 : Number.parseInt(s.slice(start, i), 10);
}

function hasMacro(s: string): boolean {
  return s.includes('%{');
}

/** Reads a `@pmFromFile` data file's text into phrases (one a line, `#` comments). */
export function phrasesFromData(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    out.push(t);
  }
  return out;
}

/** A backtracking fallback for the few PCRE patterns RE2 cannot run, bounded to short inputs. */
const FALLBACK_MAX_INPUT = 1024;

/** Converts a PCRE pattern for V8 (inline `(?i)` at the start or around everything becomes the `i` flag). */
function v8Fallback(source: string): RegExp | undefined {
  let s = source;
  let flags = 'sm';
  const m = /^\(\?i\)/.exec(s);
  if (m) {
    s = s.slice(m[0].length);
    flags += 'i';
  } else if (s.startsWith('(?i:') && s.endsWith(')')) {
    s = `(?:${s.slice(4)}`;
    flags += 'i';
  }
  // V8's `\s` is PCRE's plus 0xA0 and Unicode spaces (byte strings hold only 0xA0 of those): kept as is.
  try {
    return new RegExp(s, flags);
  } catch {
    return undefined;
  }
}

/**
 * Compiles one operator. `readData` returns the text of a file next to the rule file (for @pmFromFile).
 * @throws OperatorError for an unknown operator or a parameter it cannot use.
 */
export function compileOperator(
  name: string,
  negated: boolean,
  param: string,
  readData: (file: string) => string,
  warn: (message: string) => void,
): CompiledOperator {
  const lname = name.toLowerCase();
  const dynamic = hasMacro(param);
  const op = (
    run: CompiledOperator['run'],
    regex?: CompiledRegex,
    phrases?: readonly string[],
  ): CompiledOperator => ({
    name,
    negated,
    run,
    regex,
    phrases,
  });
  switch (lname) {
    case 'rx': {
      if (dynamic) {
        // CRS expands setup values into a few patterns (920480: `^%{tx.allowed_request_content_type_charset}$`):
        // each distinct expansion is compiled once and kept, in a bounded cache.
        const cache = new Map<string, CompiledRegex | undefined>();
        return op((input, x, want) => {
          const source = x(param);
          let regex = cache.get(source);
          if (!cache.has(source)) {
            try {
              regex = compileRegex(source);
            } catch {
              regex = undefined;
            }
            if (cache.size < 64) cache.set(source, regex);
          }
          if (!regex?.test(input)) return NO;
          const r = regex;
          return want ? { matched: true, lazyCaptures: () => r.exec(input) ?? [] } : YES;
        });
      }
      let regex: CompiledRegex;
      try {
        regex = compileRegex(param);
      } catch (e) {
        if (!(e instanceof RegexUnsupportedError)) throw e;
        const fallback = v8Fallback(param);
        if (!fallback) throw new OperatorError(`@rx pattern cannot be compiled: ${e.message}`);
        warn(
          `@rx pattern ${e.message}; it runs on the backtracking engine for inputs up to ${FALLBACK_MAX_INPUT} bytes only`,
        );
        return op((input, _x, want) => {
          if (input.length > FALLBACK_MAX_INPUT) return NO;
          const m = fallback.exec(input);
          if (!m) return NO;
          return want ? { matched: true, captures: m.map((g) => g ?? '') } : YES;
        });
      }
      return op((input, _x, want) => {
        if (!regex.test(input)) return NO;
        return want ? { matched: true, lazyCaptures: () => regex.exec(input) ?? [] } : YES;
      }, regex);
    }
    case 'pm':
    case 'pmf':
    case 'pmfromfile': {
      let phrases: string[];
      if (lname === 'pm') phrases = param.split(/\s+/).filter((p) => p !== '');
      else {
        phrases = [];
        for (const file of param.split(/\s+/).filter((p) => p !== ''))
          phrases.push(...phrasesFromData(readData(file)));
      }
      if (phrases.length === 0) throw new OperatorError(`@${name} has no phrases`);
      const ac = compileKeywords(phrases);
      return op(
        (input, _x, want) => {
          const hit = ac.findFirst(input);
          if (!hit) return NO;
          return want
            ? { matched: true, captures: [input.slice(hit.end - phrases[hit.index].length, hit.end)] }
            : YES;
        },
        undefined,
        phrases,
      );
    }
    case 'contains':
      return op((input, x) =>
        input.includes(dynamic ? x(param) : param)
          ? { matched: true, captures: [dynamic ? x(param) : param] }
          : NO,
      );
    case 'containsword': {
      return op((input, x) => {
        const w = dynamic ? x(param) : param;
        let from = 0;
        for (;;) {
          const at = input.indexOf(w, from);
          if (at < 0) return NO;
          const before = at === 0 ? '' : input[at - 1];
          const after = input[at + w.length] ?? '';
          if (!/\w/.test(before) && !/\w/.test(after)) return { matched: true, captures: [w] };
          from = at + 1;
        }
      });
    }
    case 'beginswith':
      return op((input, x) => (input.startsWith(dynamic ? x(param) : param) ? YES : NO));
    case 'endswith':
      return op((input, x) => (input.endsWith(dynamic ? x(param) : param) ? YES : NO));
    case 'streq':
      return op((input, x) => (input === (dynamic ? x(param) : param) ? YES : NO));
    case 'strmatch':
      return op((input, x) => (input.includes(dynamic ? x(param) : param) ? YES : NO));
    case 'within':
      return op((input, x) => ((dynamic ? x(param) : param).includes(input) ? YES : NO));
    case 'eq':
    case 'ne':
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      const fixed = dynamic ? 0 : atoi(param);
      return op((input, x) => {
        const a = atoi(input);
        const b = dynamic ? atoi(x(param)) : fixed;
        const r =
          lname === 'eq'
            ? a === b
            : lname === 'ne'
              ? a !== b
              : lname === 'lt'
                ? a < b
                : lname === 'le'
                  ? a <= b
                  : lname === 'gt'
                    ? a > b
                    : a >= b;
        return r ? YES : NO;
      });
    }
    case 'validatebyterange': {
      const allowed = new Uint8Array(256);
      for (const part of param.split(',')) {
        const t = part.trim();
        if (t === '') continue;
        const m = /^(\d+)(?:-(\d+))?$/.exec(t);
        if (!m) throw new OperatorError(`@validateByteRange: bad range ${JSON.stringify(t)}`);
        const from = Number(m[1]);
        const to = m[2] === undefined ? from : Number(m[2]);
        for (let b = from; b <= Math.min(to, 255); b++) allowed[b] = 1;
      }
      return op((input) => {
        for (let i = 0, end = input.length; i < end; i++)
          if (!allowed[String.prototype.charCodeAt.call(input, i) & 0xff]) return YES;
        return NO;
      });
    }
    case 'validateurlencoding':
      return op((input) => {
        for (let i = 0, end = input.length; i < end; i++) {
          if (input[i] !== '%') continue;
          if (i + 2 >= input.length) return YES;
          if (!/[0-9a-fA-F]/.test(input[i + 1]) || !/[0-9a-fA-F]/.test(input[i + 2])) return YES;
          i += 2;
        }
        return NO;
      });
    case 'validateutf8encoding':
      return op((input) => (isValidUtf8(input) ? NO : YES));
    case 'detectsqli':
      return op((input, _x, want) => {
        const r = detectSQLi(input);
        if (!r.match) return NO;
        return want ? { matched: true, captures: [r.fingerprint ?? ''] } : YES;
      });
    case 'detectxss':
      return op((input) => (detectXSS(input) ? YES : NO));
    case 'unconditionalmatch':
      return op(() => YES);
    case 'nomatch':
      return op(() => NO);
    case 'ipmatch':
    case 'ipmatchfromfile':
    case 'ipmatchf': {
      const list = lname === 'ipmatch' ? param.split(',') : phrasesFromData(readData(param.trim()));
      const matchers = list
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .map(compileCidr);
      return op((input) => (matchers.some((m) => m(input)) ? YES : NO));
    }
    case 'geolookup':
    case 'rbl':
      warn(`@${name} needs an external database or DNS and never matches here`);
      return op(() => NO);
    default:
      throw new OperatorError(`unknown operator @${name}`);
  }
}

/** Whether a byte string is well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF). */
export function isValidUtf8(input: string): boolean {
  const n = input.length;
  let i = 0;
  while (i < n) {
    const c = String.prototype.charCodeAt.call(input, i);
    if (c < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let min: number;
    let cp: number;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      min = 0x80;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      min = 0x800;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      min = 0x10000;
      cp = c & 0x07;
    } else return false;
    if (i + len > n) return false;
    for (let k = 1; k < len; k++) {
      const cc = String.prototype.charCodeAt.call(input, i + k);
      if ((cc & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

function ipv4ToInt(s: string): number | undefined {
  const p = s.split('.');
  if (p.length !== 4) return undefined;
  let v = 0;
  for (const x of p) {
    if (!/^\d{1,3}$/.test(x) || Number(x) > 255) return undefined;
    v = v * 256 + Number(x);
  }
  return v;
}

function compileCidr(spec: string): (ip: string) => boolean {
  const [addr, bitsText] = spec.split('/');
  if (isIP(addr) === 4) {
    const base = ipv4ToInt(addr) ?? 0;
    const bits = bitsText === undefined ? 32 : Number(bitsText);
    const size = 2 ** (32 - bits);
    const start = Math.floor(base / size) * size;
    return (ip) => {
      const v = ipv4ToInt(ip);
      return v !== undefined && v >= start && v < start + size;
    };
  }
  const lower = addr.toLowerCase();
  return (ip) => ip.toLowerCase() === lower;
}
