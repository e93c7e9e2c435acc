/**
 * `@rx` patterns (PCRE, as libmodsecurity compiles them: DOTALL and MULTILINE) run on RE2 (re2js), a
 * linear-time engine, so no request can make a rule backtrack (issue 17 item 5; the project's approach,
 * see src/openapi/pattern.ts). PCRE spellings RE2 lacks are rewritten where the meaning is kept:
 * possessive quantifiers and atomic groups (RE2 never backtracks, so they change nothing but the rare
 * match that needed the backtracking they forbid), `\s` gains the vertical tab PCRE includes, `\e`, `\Z`.
 * A negative lookahead of a literal at the end of a pattern is expanded into alternatives. What RE2 cannot
 * express (backreferences, other lookaround) is refused here and reported by the loader.
 *
 * Each pattern also yields a literal prefilter: a set of lower-case strings of which every match contains
 * at least one. One keyword automaton over all prefilters tells which rules can match a value at all.
 */
import { RE2JS } from 're2js';
import { PortcullisError } from '../../core/errors.ts';

/** A compiled `@rx` pattern. */
export interface CompiledRegex {
  readonly source: string;
  /** Whether the pattern matches anywhere in the input. */
  test(input: string): boolean;
  /** The first match and its groups (group 0 first), or undefined. */
  exec(input: string): string[] | undefined;
  /** Strings (lower case) of which every match contains one; undefined when no such set was found. */
  readonly factors: readonly string[] | undefined;
}

/** Thrown for a pattern RE2 cannot run. */
export class RegexUnsupportedError extends PortcullisError {
  readonly code = 'ERR_WAF_REGEX_UNSUPPORTED';
}

const PCRE_SPACE = '\\t\\n\\x0B\\f\\r ';

/** Rewrites PCRE syntax into RE2 syntax; throws RegexUnsupportedError for what cannot be kept. */
export function toRe2(source: string): string {
  let out = '';
  let inClass = false;
  const n = source.length;
  for (let i = 0; i < n; i++) {
    const c = source[i];
    if (c === '\\') {
      const e = source[i + 1] ?? '';
      i++;
      if (e === 's') out += inClass ? PCRE_SPACE : `[${PCRE_SPACE}]`;
      else if (e === 'S') out += inClass ? '\\S' : `[^${PCRE_SPACE}]`;
      else if (e === 'e') out += '\\x1B';
      else if (e === 'Z' && !inClass) out += '(?:\\n?\\z)';
      else if (e === 'h') out += inClass ? '\\t \\xA0' : '[\\t \\xA0]';
      else if (e === 'v' && !inClass) out += '[\\n\\x0B\\f\\r\\x85]';
      else if (!inClass && /[1-9]/.test(e)) throw new RegexUnsupportedError('uses a backreference');
      else if (e === '/') out += '/';
      else out += `\\${e}`;
      continue;
    }
    if (inClass) {
      if (c === '[' && source[i + 1] === ':') {
        const end = source.indexOf(':]', i + 2);
        if (end > 0) {
          out += source.slice(i, end + 2);
          i = end + 1;
          continue;
        }
      }
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // A `]` first in a class (or after `^`) is a literal.
      if (source[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (source[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if ((c === '+' || c === '*' || c === '?' || c === '}') && source[i + 1] === '+') {
      // Possessive quantifier: RE2 does not backtrack, a plain greedy one matches the same strings here.
      out += c;
      i++;
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      if (source[i + 2] === '>') {
        out += '(?:';
        i += 2;
        continue;
      }
      const k = source[i + 2];
      if (k === '=' || k === '!' || (k === '<' && (source[i + 3] === '=' || source[i + 3] === '!'))) {
        throw new RegexUnsupportedError('uses lookahead or lookbehind');
      }
    }
    out += c;
  }
  return out;
}

/**
 * `X(?!lit)` at the very end of a pattern, with `lit` a plain literal: the lookahead becomes
 * "end of input, or a character that leaves the literal" (matching the same inputs).
 */
function expandTrailingNegativeLookahead(source: string): string | undefined {
  const m = /\(\?!([A-Za-z0-9_\-. ]+)\)$/.exec(source);
  if (!m) return undefined;
  const lit = m[1];
  const esc = (ch: string) => (/[A-Za-z0-9_ ]/.test(ch) ? ch : `\\${ch}`);
  // Build the alternatives explicitly: end, or one of the literal's prefixes followed by a different char.
  const options: string[] = ['\\z'];
  for (let k = 0; k < lit.length; k++) {
    const prefix = lit.slice(0, k).split('').map(esc).join('');
    options.push(`${prefix}[^${esc(lit[k])}]`);
    if (k > 0) options.push(`${prefix}\\z`);
  }
  return `${source.slice(0, m.index)}(?:${options.join('|')})`;
}

/**
 * `^.*$` (CRS's "any value", used to capture a whole value: the User-Agent hash, header names): under DOTALL
 * it matches every input, entirely. Answered without the regex engine, whose per-call cost dominates here.
 */
const MATCH_ALL: CompiledRegex = {
  source: '^.*$',
  factors: undefined,
  test: () => true,
  exec: (input) => [input],
};

/** Compiles a pattern with libmodsecurity's flags (DOTALL, MULTILINE). */
export function compileRegex(source: string): CompiledRegex {
  if (source === MATCH_ALL.source) return MATCH_ALL;
  let re2Source: string;
  try {
    re2Source = toRe2(source);
  } catch (e) {
    const expanded = expandTrailingNegativeLookahead(source);
    if (expanded === undefined) throw e;
    re2Source = toRe2(expanded);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(re2Source, RE2JS.DOTALL | RE2JS.MULTILINE);
  } catch (e) {
    throw new RegexUnsupportedError(`cannot run on RE2: ${(e as Error).message}`);
  }
  let factors: string[] | undefined;
  try {
    factors = requiredFactors(source);
  } catch {
    factors = undefined;
  }
  const groups = re.groupCount();
  return {
    source,
    factors,
    test: (input) => re.test(input),
    exec(input) {
      const m = re.matcher(input);
      if (!m.find()) return undefined;
      const out: string[] = [];
      for (let g = 0; g <= groups; g++) out.push(m.group(g) ?? '');
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Literal prefilter: a small reader of the pattern's structure that computes, for each part, either the
// exact (finite, small) set of strings it matches, or a set of factors one of which every match contains.

interface Info {
  /** Every string the part can match, when finite and small (lower case). */
  exact?: Set<string>;
  /** Factors: every match contains one of them (lower case). */
  any?: Set<string>;
  /** For a part repeated at least once: the strings each repetition is one of (`\s+`, `(?:a|b){2,}`). */
  plus?: Set<string>;
  /**
   * The smallest useful factor set found (fewest strings): what an alternation unites across its
   * branches, where sets of many strings each would add up to a useless union (`wget["']?[\s&|]` gives
   * `wget"\t`, `wget' `... 33 strings; `wget` alone is one).
   */
  small?: Set<string>;
}

/**
 * How compact a factor set is: rarity counts up to that of four letters (a set of such strings already
 * lets few ordinary values through), then the fewer strings the better.
 */
function compactness(set: Set<string> | undefined): number {
  if (!set || set.size === 0) return -1;
  let least = Number.POSITIVE_INFINITY;
  for (const f of set) least = Math.min(least, rarity(f));
  if (least === 0) return -1;
  return Math.min(least, 4) * 1_000_000 - set.size;
}

/** Of two factor sets, the more compact one (see compactness). */
function smaller(a: Set<string> | undefined, b: Set<string> | undefined): Set<string> | undefined {
  return compactness(b) > compactness(a) ? b : a;
}

/** What PCRE's `\s` and `\d` match (as toRe2 spells them). */
const SPACES = ['\t', '\n', '\x0b', '\f', '\r', ' '];
const DIGITS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

const MAX_SET = 256;
/** A character class of at most this many characters is read as that many one-character strings. */
const MAX_CLASS = 32;
const MAX_LEN = 24;

/**
 * How rare a factor is in ordinary values, summed over its characters: letters, digits and the space are
 * everywhere (1), the punctuation of names, numbers and URLs is common (2), the rest is rare (3).
 */
function rarity(factor: string): number {
  let r = 0;
  for (let i = 0; i < factor.length; i++) {
    const c = factor.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x20) r += 1;
    else if (c === 0x2e || c === 0x2c || c === 0x2d || c === 0x5f || c === 0x2f || c === 0x3a || c === 0x40)
      r += 2;
    else r += 3;
  }
  return r;
}

/**
 * How useful a factor set is: the rarer its commonest factor (a set of letters lets nearly every value
 * through, a `$` few), then the fewer factors. Not above 0: no use.
 */
function score(set: Set<string> | undefined): number {
  if (!set || set.size === 0) return -1;
  let least = Number.POSITIVE_INFINITY;
  for (const f of set) least = Math.min(least, rarity(f));
  if (least === 0) return -1;
  return least * 1000 - set.size;
}

function best(a: Set<string> | undefined, b: Set<string> | undefined): Set<string> | undefined {
  return score(b) > score(a) ? b : a;
}

function lower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

class FactorReader {
  private i = 0;
  private readonly s: string;
  constructor(s: string) {
    this.s = s;
  }

  read(): Info {
    const info = this.alternation();
    if (this.i < this.s.length) throw new Error('unbalanced');
    return info;
  }

  private alternation(): Info {
    const branches: Info[] = [this.sequence()];
    while (this.s[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    if (branches.length === 1) return branches[0];
    let exact: Set<string> | undefined = new Set();
    let any: Set<string> | undefined = new Set();
    let small: Set<string> | undefined = new Set();
    for (const b of branches) {
      if (exact && b.exact) for (const x of b.exact) exact.add(x);
      else exact = undefined;
      const f = b.exact ?? b.any;
      if (any && f && score(f) > 0) for (const x of f) any.add(x);
      else any = undefined;
      // Each branch's smallest set: every match of the alternation is a match of one branch.
      const g = smaller(smaller(b.small, b.any), b.exact);
      if (small && g && score(g) > 0) for (const x of g) small.add(x);
      else small = undefined;
    }
    if (exact && exact.size > MAX_SET) exact = undefined;
    return { exact, any: best(any, small), small: smaller(any, small) };
  }

  private sequence(): Info {
    // `run` is the product of the current run of finite parts; every match contains one of its strings.
    let run: Set<string> = new Set(['']);
    let allFinite = true;
    let any: Set<string> | undefined;
    let small: Set<string> | undefined;
    while (this.i < this.s.length && this.s[this.i] !== '|' && this.s[this.i] !== ')') {
      const atom = this.quantified();
      // Every candidate below is a set one of whose strings each match holds: the run so far (a prefix of
      // the consecutive finite parts is in every match as much as the whole product), or a part's own.
      small = smaller(small, run);
      small = smaller(small, atom.small);
      small = smaller(small, atom.any);
      if (atom.exact) {
        const prod = new Set<string>();
        for (const a of run) for (const b of atom.exact) prod.add(a + b);
        // A class of single characters after a word (`wget["']?[\s&|]`) multiplies the run's strings by its
        // size and adds little: the run ends before it (the word is the factor, not 33 spellings of it).
        const classAfterWord =
          atom.exact.size > 2 &&
          [...atom.exact].every((x) => x.length <= 1) &&
          [...run].every((x) => x.length >= 2);
        if (classAfterWord || prod.size > MAX_SET || [...prod].some((p) => p.length > MAX_LEN)) {
          any = best(any, run);
          run = new Set(atom.exact);
          allFinite = false;
        } else run = prod;
      } else if (atom.plus) {
        // The first repetition follows the run; the text after it follows the last repetition.
        const prod = new Set<string>();
        for (const a of run) for (const b of atom.plus) prod.add(a + b);
        if (prod.size > MAX_SET || [...prod].some((p) => p.length > MAX_LEN)) {
          any = best(any, run);
          any = best(any, atom.plus);
        } else any = best(any, prod);
        run = new Set(atom.plus);
        allFinite = false;
      } else {
        any = best(any, run);
        any = best(any, atom.any);
        run = new Set(['']);
        allFinite = false;
      }
    }
    any = best(any, run);
    any = best(any, small);
    small = smaller(small, run);
    return { exact: allFinite ? run : undefined, any, small };
  }

  private quantified(): Info {
    const atom = this.atom();
    const c = this.s[this.i];
    let min = 1;
    let max = 1;
    if (c === '*' || c === '+' || c === '?') {
      this.i++;
      min = c === '+' ? 1 : 0;
      max = c === '?' ? 1 : Number.POSITIVE_INFINITY;
    } else if (c === '{') {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(this.s.slice(this.i));
      if (m) {
        this.i += m[0].length;
        min = m[1] === '' ? 0 : Number(m[1]);
        max = m[2] === '' ? min : m[3] === '' ? Number.POSITIVE_INFINITY : Number(m[3]);
      }
    } else return atom;
    if (this.s[this.i] === '?' || this.s[this.i] === '+') this.i++;
    if (max === 1 && min === 0 && atom.exact) return { exact: new Set([...atom.exact, '']) };
    if (min === 0) return {};
    if (atom.exact) return { any: atom.exact, plus: atom.exact };
    return { any: atom.any, small: atom.small };
  }

  private atom(): Info {
    const s = this.s;
    const c = s[this.i];
    if (c === '(') {
      this.i++;
      if (s[this.i] === '?') {
        this.i++;
        const k = s[this.i];
        if (k === ':' || k === '>') this.i++;
        else if (k === '=' || k === '!' || k === '<') {
          // Lookaround: matches no text of its own.
          this.skipGroup();
          return { exact: new Set(['']) };
        } else {
          // Inline flags `(?i)` or `(?i:`.
          const m = /^[a-zA-Z-]*/.exec(s.slice(this.i));
          this.i += m ? m[0].length : 0;
          if (s[this.i] === ')') {
            this.i++;
            return { exact: new Set(['']) };
          }
          this.i++;
        }
      }
      const inner = this.alternation();
      if (s[this.i] !== ')') throw new Error('unbalanced');
      this.i++;
      return inner;
    }
    if (c === '[') return this.charClass();
    if (c === '.') {
      this.i++;
      return {};
    }
    if (c === '^' || c === '$') {
      this.i++;
      return { exact: new Set(['']) };
    }
    if (c === '\\') {
      const e = s[this.i + 1];
      this.i += 2;
      if (e === 'x') {
        let hex: string;
        if (s[this.i] === '{') {
          const end = s.indexOf('}', this.i);
          hex = s.slice(this.i + 1, end);
          this.i = end + 1;
        } else {
          hex = s.slice(this.i, this.i + 2);
          this.i += 2;
        }
        return { exact: new Set([lower(String.fromCharCode(Number.parseInt(hex, 16)))]) };
      }
      if ('bBAzZG'.includes(e)) return { exact: new Set(['']) };
      if (e === 's') return { exact: new Set(SPACES) };
      if (e === 'd') return { exact: new Set(DIGITS) };
      if ('dDwWsShHvVRXNpPQEk'.includes(e) || /[0-9]/.test(e)) {
        if (e === 'p' || e === 'P') {
          if (s[this.i] === '{') this.i = s.indexOf('}', this.i) + 1;
          else this.i++;
        }
        return {};
      }
      const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', f: '\f', e: '\x1b', a: '\x07' };
      return { exact: new Set([lower(map[e] ?? e)]) };
    }
    this.i++;
    return { exact: new Set([lower(c)]) };
  }

  private skipGroup(): void {
    let depth = 1;
    while (this.i < this.s.length && depth > 0) {
      const c = this.s[this.i];
      if (c === '\\') this.i += 2;
      else if (c === '[') this.charClass();
      else {
        if (c === '(') depth++;
        else if (c === ')') depth--;
        this.i++;
      }
    }
  }

  private charClass(): Info {
    const s = this.s;
    this.i++;
    let negated = false;
    if (s[this.i] === '^') {
      negated = true;
      this.i++;
    }
    const chars = new Set<string>();
    let big = false;
    let first = true;
    while (this.i < s.length && (s[this.i] !== ']' || first)) {
      first = false;
      let ch = s[this.i];
      if (ch === '[' && s[this.i + 1] === ':') {
        this.i = s.indexOf(':]', this.i) + 2;
        big = true;
        continue;
      }
      if (ch === '\\') {
        const e = s[this.i + 1];
        this.i += 2;
        if (e === 'x') {
          const hex = s.slice(this.i, this.i + 2);
          this.i += 2;
          ch = String.fromCharCode(Number.parseInt(hex, 16));
        } else if (e === 's' || e === 'd') {
          for (const x of e === 's' ? SPACES : DIGITS) chars.add(x);
          continue;
        } else if ('dDwWsShHvV'.includes(e)) {
          big = true;
          continue;
        } else {
          const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', f: '\f' };
          ch = map[e] ?? e;
        }
      } else this.i++;
      if (s[this.i] === '-' && s[this.i + 1] !== ']' && this.i + 1 < s.length) {
        this.i++;
        let to = s[this.i];
        if (to === '\\') {
          const e = s[this.i + 1];
          this.i += 2;
          if (e === 'x') {
            to = String.fromCharCode(Number.parseInt(s.slice(this.i, this.i + 2), 16));
            this.i += 2;
          } else to = e;
        } else this.i++;
        const a = ch.charCodeAt(0);
        const b = to.charCodeAt(0);
        if (b - a > 12) big = true;
        else for (let k = a; k <= b; k++) chars.add(lower(String.fromCharCode(k)));
        continue;
      }
      chars.add(lower(ch));
    }
    this.i++;
    if (negated || big || chars.size > MAX_CLASS) return {};
    return { exact: chars };
  }
}

/** The prefilter factors of a pattern, or undefined when every input may match. */
export function requiredFactors(source: string): string[] | undefined {
  const info = new FactorReader(source).read();
  let set = best(info.any, info.exact);
  // Patterns that allow optional punctuation between the letters of every word (CRS 4's command lists:
  // quotes, backslashes, `$VAR` between letters) hold no common string but single letters; without those
  // gaps they do. Only for such sets: elsewhere the gapless reading measured no better (CRS 3.3).
  const gapless = set !== undefined && [...set].some(isLetterOrDigit) ? withoutGaps(source) : undefined;
  if (gapless !== undefined) {
    try {
      const g = new FactorReader(gapless.source).read();
      const h = best(g.any, g.exact);
      if (h !== undefined && score(h) > 0) {
        const joined = new Set([...h, ...gapless.chars]);
        set = best(set, joined);
      }
    } catch {
      // The pattern without its gaps reads no better: the factors of the pattern as written stay.
    }
  }
  if (!set || score(set) <= 0) return undefined;
  return [...set];
}

/** Whether a factor is one letter or digit (nearly every value holds one). */
function isLetterOrDigit(f: string): boolean {
  return f.length === 1 && rarity(f) === 1 && f !== ' ';
}

/**
 * Whether a character may be a gap character: punctuation that ordinary text seldom holds (a rarity of 3,
 * see rarity()); letters, digits, white space and the punctuation of names, paths, dates and URLs (`.`,
 * `,`, `-`, `_`, `/`, `:`, `@`) would let most values through.
 */
function isGapChar(c: number): boolean {
  return c < 0x7f && c > 0x20 && rarity(String.fromCharCode(c)) === 3;
}

/**
 * The pattern with its optional "gaps" left out, and the characters that make a gap: a part that may match
 * nothing (`x?`, `x*`, `x{0,n}`) and every non-empty match of which holds one of a few punctuation
 * characters: a class of such characters (`["')]*`), one such character (`\\?`), or a group whose every
 * match holds one (`(?:\$[a-z]*)?`). A value holding none of those characters can only match with every gap
 * empty, so it matches the pattern without them too and holds one of that pattern's factors; a value
 * holding one of them is let through. Undefined when the pattern has no gap or a part this reader does
 * not know.
 */
export function withoutGaps(source: string): { source: string; chars: string[]; gaps: number } | undefined {
  const chars = new Set<number>();
  let gaps = 0;
  const s = source;
  const n = s.length;
  /** The characters a single-character token at i stands for and where it ends, or undefined. */
  const single = (i: number): { end: number; codes: number[] | undefined } | undefined => {
    const c = s[i];
    if (c === '\\') {
      const e = s[i + 1];
      if (e === undefined) return undefined;
      if (e === 'x') {
        const hex = /^[0-9a-fA-F]{2}/.exec(s.slice(i + 2, i + 4));
        if (!hex) return undefined;
        return { end: i + 4, codes: [Number.parseInt(hex[0], 16)] };
      }
      // Letters and digits escape classes, anchors, backreferences: not one known character.
      if (/[0-9A-Za-z]/.test(e)) return { end: i + 2, codes: undefined };
      return { end: i + 2, codes: [e.charCodeAt(0)] };
    }
    if (c === '[') {
      let j = i + 1;
      const codes: number[] = [];
      let known = true;
      if (s[j] === '^') {
        known = false;
        j++;
      }
      // A `]` first in a class (after `^` too) is a member, not its end.
      if (s[j] === ']') {
        codes.push(0x5d);
        j++;
      }
      while (j < n && s[j] !== ']') {
        let from: number | undefined;
        if (s[j] === '\\') {
          const t = single(j);
          if (t === undefined) return undefined;
          if (t.codes === undefined) known = false;
          else from = t.codes[0];
          j = t.end;
        } else if (s[j] === '[' && s[j + 1] === ':') {
          const close = s.indexOf(':]', j + 2);
          if (close < 0) return undefined;
          known = false;
          j = close + 2;
          continue;
        } else {
          from = s.charCodeAt(j);
          j++;
        }
        if (s[j] === '-' && s[j + 1] !== ']' && from !== undefined) {
          let to: number | undefined;
          if (s[j + 1] === '\\') {
            const t = single(j + 1);
            if (t === undefined) return undefined;
            to = t.codes?.[0];
            j = t.end;
          } else {
            to = s.charCodeAt(j + 1);
            j += 2;
          }
          if (to === undefined || to < from || to - from > 255) known = false;
          else for (let k = from; k <= to; k++) codes.push(k);
        } else if (from !== undefined) codes.push(from);
      }
      if (j >= n) return undefined;
      return { end: j + 1, codes: known ? codes : undefined };
    }
    if ('^$.|?*+(){}'.includes(c)) return { end: i + 1, codes: undefined };
    return { end: i + 1, codes: [s.charCodeAt(i)] };
  };
  /** Where a quantifier starting at i ends, and whether it allows no repetition at all. */
  const quantifier = (i: number): { end: number; optional: boolean } | undefined => {
    const c = s[i];
    let end: number;
    let optional: boolean;
    if (c === '?' || c === '*') {
      end = i + 1;
      optional = true;
    } else if (c === '+') {
      end = i + 1;
      optional = false;
    } else if (c === '{') {
      const m = /^\{(\d+)(?:,(\d*))?\}/.exec(s.slice(i, i + 16));
      if (!m) return undefined;
      end = i + m[0].length;
      optional = Number(m[1]) === 0;
    } else return undefined;
    if (s[end] === '?' || s[end] === '+') end++;
    return { end, optional };
  };
  /** The index of the `)` closing the group opened at i (classes and escapes skipped). */
  const closing = (i: number): number => {
    let depth = 0;
    for (let j = i; j < n; j++) {
      const c = s[j];
      if (c === '\\') j++;
      else if (c === '[') {
        const t = single(j);
        if (t === undefined) return -1;
        j = t.end - 1;
      } else if (c === '(') depth++;
      else if (c === ')') {
        depth--;
        if (depth === 0) return j;
      }
    }
    return -1;
  };
  /** A character every match of the group body s[from, to) holds (a gap character), or undefined. */
  const mandatoryGapChar = (from: number, to: number): number | undefined => {
    let found: number | undefined;
    for (let j = from; j < to; ) {
      if (s[j] === '|') return undefined;
      let end: number;
      let codes: number[] | undefined;
      if (s[j] === '(') {
        const close = closing(j);
        if (close < 0 || close >= to) return undefined;
        // A branch inside a nested group is that group's business; a `|` at this level is not.
        end = close + 1;
        codes = undefined;
      } else {
        const t = single(j);
        if (t === undefined) return undefined;
        end = t.end;
        codes = t.codes;
      }
      const q = quantifier(end);
      if (q !== undefined) end = q.end;
      if (found === undefined && codes?.length === 1 && isGapChar(codes[0]) && q?.optional !== true)
        found = codes[0];
      j = end;
    }
    return found;
  };
  let out = '';
  let i = 0;
  // A leading inline flag group stays as written.
  const flags = /^\(\?[a-zA-Z]+\)/.exec(s);
  if (flags) {
    out = flags[0];
    i = flags[0].length;
  }
  while (i < n) {
    const c = s[i];
    if (c === '(') {
      const close = closing(i);
      if (close < 0) return undefined;
      const q = quantifier(close + 1);
      const isLook = s.startsWith('(?=', i) || s.startsWith('(?!', i) || s.startsWith('(?<', i);
      if (q?.optional && !isLook) {
        const bodyFrom = s.startsWith('(?:', i) ? i + 3 : s[i + 1] === '?' ? -1 : i + 1;
        const g = bodyFrom < 0 ? undefined : mandatoryGapChar(bodyFrom, close);
        if (g !== undefined) {
          chars.add(g);
          gaps++;
          i = q.end;
          continue;
        }
      }
      // Not a gap: its opening kept, its body read on.
      const open = s.startsWith('(?:', i) ? 3 : s[i + 1] === '?' ? -1 : 1;
      if (open < 0) {
        // Lookarounds and other group kinds: kept whole.
        out += s.slice(i, close + 1);
        i = close + 1;
        continue;
      }
      out += s.slice(i, i + open);
      i += open;
      continue;
    }
    if (c === ')' || c === '|') {
      out += c;
      i++;
      continue;
    }
    const t = single(i);
    if (t === undefined) return undefined;
    const q = quantifier(t.end);
    if (q?.optional && t.codes !== undefined && t.codes.length > 0 && t.codes.every(isGapChar)) {
      for (const code of t.codes) chars.add(code);
      gaps++;
      i = q.end;
      continue;
    }
    out += s.slice(i, q?.end ?? t.end);
    i = q?.end ?? t.end;
  }
  if (gaps === 0) return undefined;
  return { source: out, chars: [...chars].map((code) => String.fromCharCode(code)), gaps };
}
