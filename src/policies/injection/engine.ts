/**
 * The injection detection engine: a negative model beside the schema. `compileDetector` fixes the paranoia
 * level and the enabled classes once; the returned detector runs hand-written, single-pass scanners over
 * each decoded form of a value and names the first class that matches. No regular expression runs over a
 * whole client value; the few small ones in the scanners are anchored and run on bounded slices.
 */

import { detectCmdi } from './cmdi.ts';
import { decodeAll, stripNulls } from './decode.ts';
import { detectLdap } from './ldap.ts';
import { detectNosqli, detectNosqlKey } from './nosqli.ts';
import { detectSqli } from './sqli.ts';
import { detectSsti } from './ssti.ts';
import { detectTraversal } from './traversal.ts';
import { INJECTION_CLASSES, type InjectionClass, type Paranoia } from './types.ts';
import { detectXss } from './xss.ts';

export { INJECTION_CLASSES, type InjectionClass, type Paranoia } from './types.ts';

export interface DetectorOptions {
  readonly paranoia: Paranoia;
  /** Classes to look for; all of them when absent. */
  readonly classes?: readonly InjectionClass[];
}

/** A compiled detector. Both methods return the first matching class, or undefined. */
export interface Detector {
  readonly paranoia: Paranoia;
  readonly classes: ReadonlySet<InjectionClass>;
  /** Checks a value (parameter, header, JSON string leaf). */
  scanValue(value: string, only?: ReadonlySet<InjectionClass>): InjectionClass | undefined;
  /** Checks a name (JSON object key, query parameter name): operators like `$ne`, plus every value rule. */
  scanKey(key: string, only?: ReadonlySet<InjectionClass>): InjectionClass | undefined;
}

type Scanner = (decoded: string, p: Paranoia, raw: string) => boolean;

const SCANNERS: Readonly<Record<InjectionClass, Scanner>> = {
  sqli: detectSqli,
  nosqli: detectNosqli,
  cmdi: detectCmdi,
  'path-traversal': detectTraversal,
  xss: detectXss,
  ldap: detectLdap,
  ssti: detectSsti,
};

// Character census of a value, one bit per family of characters the detectors key on.
const QUOTE = 1;
const SEMI = 2;
const PAREN = 4;
const ANGLE = 8;
const EQUALS = 16;
const PIPE_AMP = 32;
const DOLLAR = 64;
const BRACE = 128;
const SLASH = 256;
const PERCENT = 512;
const HASH = 1024;
const AT = 2048;
const COLON = 4096;
const DOTS = 8192;
const NEWLINE = 16384;
const BACKTICK = 32768;
const DASHES = 65536;
const STAR = 131072;
const UNDERSCORES = 262144;
const BRACKET_EQUALS = 524288;

function census(s: string): number {
  let m = 0;
  let prev = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    m |= censusBits(c, prev);
    prev = c;
  }
  return m;
}

/** The census bits character `c` adds after `prev`. */
function censusBits(c: number, prev: number): number {
  switch (c) {
    case 39:
    case 34:
      return QUOTE;
    case 96:
      return QUOTE | BACKTICK;
    case 59:
      return SEMI;
    case 40:
      return prev === 64 ? PAREN | AT : PAREN; // Razor `@(`
    case 41:
      return PAREN;
    case 60:
    case 62:
      return ANGLE;
    case 61:
      return prev === 91 ? EQUALS | BRACKET_EQUALS : EQUALS; // FreeMarker `[=`
    case 124:
    case 38:
      return PIPE_AMP;
    case 36:
      return DOLLAR;
    case 123:
    case 125:
      return BRACE;
    case 47:
    case 92:
    case 0x2215:
    case 0x2044:
      return SLASH;
    case 37:
      return PERCENT;
    case 35:
      return HASH;
    case 64:
      // Only `@@` (`@@version`) and `@(` (Razor) matter at level 1; a single `@` is every e-mail address.
      return prev === 64 ? AT : 0;
    case 58:
      return COLON;
    case 46:
    case 0xff0e:
      return prev === 46 || prev === 0xff0e ? DOTS : 0;
    case 10:
    case 13:
      return NEWLINE;
    case 45:
      return prev === 45 ? DASHES : 0;
    case 42:
      return STAR;
    case 95:
      return prev === 95 ? UNDERSCORES : 0;
    default:
      return 0;
  }
}

const SQL_WORDS = [
  'union',
  'select',
  'drop',
  'delete',
  'insert',
  'update',
  'create',
  'alter',
  'truncate',
  'exec',
  'declare',
  'shutdown',
  'grant',
  'revoke',
  'merge',
  'intersect',
  'except',
  'waitfor',
  'between',
  'having',
];

/** `SQL_WORDS` by their first letter (`a` = 0), for the one-pass search below. */
const SQL_WORDS_BY_LETTER: ReadonlyArray<readonly string[]> = Array.from({ length: 26 }, (_, i) =>
  SQL_WORDS.filter((w) => w.charCodeAt(0) === 97 + i),
);

/**
 * Whether `s.toLowerCase()` contains one of `SQL_WORDS` (anywhere, not only as a word). ASCII text is
 * searched in one pass, case-insensitively; other text takes `toLowerCase`, which maps some non-ASCII
 * characters to ASCII letters (the Kelvin sign to `k`).
 */
function hasSqlWord(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) return hasSqlWordLowerCased(s);
    // `| 32` lower-cases an ASCII letter and maps no other ASCII character to a lower-case letter.
    const first = (c | 32) - 97;
    if (first < 0 || first >= 26) continue;
    const words = SQL_WORDS_BY_LETTER[first];
    for (let w = 0; w < words.length; w++) {
      const word = words[w];
      const len = word.length;
      if (i + len > n) continue;
      let k = 1;
      while (k < len && (s.charCodeAt(i + k) | 32) === word.charCodeAt(k)) k++;
      if (k === len) return true;
    }
  }
  return false;
}

function hasSqlWordLowerCased(s: string): boolean {
  const lower = s.toLowerCase();
  for (const w of SQL_WORDS) if (lower.indexOf(w) >= 0) return true;
  return false;
}

/**
 * Whether a class can possibly match at paranoia 1, from the characters present: every level-1 rule of a
 * class needs at least one of these families (checked against the rules, and by the corpus test).
 */
const GATES: Readonly<Record<InjectionClass, (mask: number, s: string) => boolean>> = {
  sqli: (m, s) =>
    (m & (QUOTE | SEMI | PAREN | ANGLE | EQUALS | PIPE_AMP | HASH | AT | DASHES | STAR)) !== 0 ||
    hasSqlWord(s),
  nosqli: (m) => (m & (DOLLAR | SEMI | EQUALS | PAREN | ANGLE)) !== 0,
  cmdi: (m, s) =>
    (m & (SEMI | PIPE_AMP | NEWLINE | BACKTICK | DOLLAR | ANGLE | BRACE)) !== 0 || s.indexOf('/dev/') >= 0,
  'path-traversal': (m) => (m & (DOTS | SLASH | PERCENT | COLON)) !== 0,
  xss: (m) => (m & (ANGLE | COLON | QUOTE | EQUALS)) !== 0,
  ldap: (m) => (m & PAREN) !== 0,
  ssti: (m) => (m & (BRACE | PERCENT | AT | HASH | DOLLAR | ANGLE | UNDERSCORES | BRACKET_EQUALS)) !== 0,
};

/** Values made only of letters, digits and `-_` cannot carry any of the attacks: skip them outright. */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95)) {
      return false;
    }
  }
  return true;
}

/**
 * Builds a detector for one paranoia level and set of classes.
 * @example
 * const detector = compileDetector({ paranoia: 1 });
 * detector.scanValue("' or 1=1 --"); // 'sqli'
 */
export function compileDetector(options: DetectorOptions): Detector {
  const paranoia = options.paranoia;
  const classes = new Set<InjectionClass>(options.classes ?? INJECTION_CLASSES);
  const ordered = INJECTION_CLASSES.filter((c) => classes.has(c));
  const scanValue = (value: string, only?: ReadonlySet<InjectionClass>): InjectionClass | undefined => {
    if (value.length < 2 || isPlain(value)) return undefined;
    // The forms of `decodedForms`, without making its array.
    const raw = stripNulls(value);
    const d = decodeAll(raw);
    const decoded = d === raw ? undefined : d;
    const rawMask = paranoia === 1 ? census(raw) : -1;
    const decodedMask = paranoia === 1 && decoded !== undefined ? census(decoded) : -1;
    for (const cls of ordered) {
      if (only !== undefined && !only.has(cls)) continue;
      const scan = SCANNERS[cls];
      const gate = GATES[cls];
      if ((rawMask < 0 || gate(rawMask, raw)) && scan(raw, paranoia, raw)) return cls;
      if (
        decoded !== undefined &&
        (decodedMask < 0 || gate(decodedMask, decoded)) &&
        scan(decoded, paranoia, raw)
      ) {
        return cls;
      }
    }
    return undefined;
  };
  return {
    paranoia,
    classes,
    scanValue,
    scanKey(key, only) {
      if (
        classes.has('nosqli') &&
        (only === undefined || only.has('nosqli')) &&
        detectNosqlKey(key, paranoia)
      ) {
        return 'nosqli';
      }
      return scanValue(key, only);
    },
  };
}
