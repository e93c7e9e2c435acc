/**
 * The transformations (`t:` actions) the Core Rule Set uses, written after libmodsecurity's documented
 * behaviour. Values are byte strings: one JavaScript character per byte (latin1), as ModSecurity works
 * on bytes; `utf8toUnicode` is what turns multi-byte UTF-8 into `%uXXXX` text.
 */
import { hash } from 'node:crypto';

/** One transformation: byte string in, byte string out. */
export type Transform = (input: string) => string;

const HEX = '0123456789abcdef';

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function hexValue(c: number): number {
  if (c <= 0x39) return c - 0x30;
  if (c <= 0x46) return c - 0x37;
  return c - 0x57;
}

/** Scratch for transformations that build their output code by code (one at a time: evaluation is synchronous). */
let scratch = new Uint16Array(1024);

function scratchFor(n: number): Uint16Array {
  if (scratch.length < n) scratch = new Uint16Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/** Scratch bytes for stringOf (its own buffer, not Node's shared pool). */
let scratchBytes = Buffer.alloc(1024);

/** The string of the first `n` codes of `buf`, built at once (appending character by character allocates per character). */
function stringOf(buf: Uint16Array, n: number): string {
  const CHUNK = 8192;
  if (n <= CHUNK) {
    // Codes up to 0xFF (values are byte strings, so nearly always): through bytes read as latin1, which makes
    // the string alone, where fromCharCode.apply first makes a view and a list of n numbers.
    if (scratchBytes.length < n) scratchBytes = Buffer.alloc(Math.max(n, scratchBytes.length * 2));
    const bytes = scratchBytes;
    for (let i = 0; i < n; i++) {
      const c = buf[i];
      if (c > 0xff) return String.fromCharCode.apply(null, buf.subarray(0, n) as unknown as number[]);
      bytes[i] = c;
    }
    return bytes.toString('latin1', 0, n);
  }
  let out = '';
  for (let i = 0; i < n; i += CHUNK)
    out += String.fromCharCode.apply(null, buf.subarray(i, Math.min(n, i + CHUNK)) as unknown as number[]);
  return out;
}

function isSpace(c: number): boolean {
  // C isspace(): space, \t, \n, \v, \f, \r.
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** `%XX` decoding; `+` becomes a space; invalid escapes stay as written. */
export function urlDecode(input: string): string {
  if (input.indexOf('%') < 0 && input.indexOf('+') < 0) return input;
  return percentDecode(input, true);
}

/** Like urlDecode, without turning `+` into a space (how ModSecurity decodes the request path). */
export function uriDecode(input: string): string {
  if (input.indexOf('%') < 0) return input;
  return percentDecode(input, false);
}

/** Decodes valid `%XX` escapes (and `+` as a space when `plusIsSpace`); anything else stays as written. */
function percentDecode(input: string, plusIsSpace: boolean): string {
  let out = '';
  const n = input.length;
  for (let i = 0; i < n; i++) {
    const c = String.prototype.charCodeAt.call(input, i);
    if (
      c === 0x25 &&
      i + 2 < n &&
      isHex(String.prototype.charCodeAt.call(input, i + 1)) &&
      isHex(String.prototype.charCodeAt.call(input, i + 2))
    ) {
      out += String.fromCharCode(
        hexValue(String.prototype.charCodeAt.call(input, i + 1)) * 16 +
          hexValue(String.prototype.charCodeAt.call(input, i + 2)),
      );
      i += 2;
    } else if (plusIsSpace && c === 0x2b) out += ' ';
    else out += input[i];
  }
  return out;
}

/** A 16-bit code unit reduced to one byte: its low byte, with full-width ASCII (U+FF01–FF5E) folded to ASCII. */
function unicodeToByte(code: number): number {
  const low = code & 0xff;
  if ((code & 0xff00) === 0xff00 && low > 0x00 && low < 0x5f) return low + 0x20;
  return low;
}

/**
 * Best-fit bytes by code point from a ModSecurity unicode mapping file (`SecUnicodeMapFile FILE 20127`):
 * the line after the code page's heading lists `hhhh:hh` pairs; 0 marks a code point the page leaves
 * unmapped. @throws Error when the file has no such code page.
 */
export function readUnicodeMap(text: string, codePage: number): Uint8Array {
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((l) => l.trim().split(/\s/)[0] === String(codePage));
  if (at < 0) throw new Error(`no code page ${codePage} in the unicode mapping file`);
  const map = new Uint8Array(0x10000);
  for (const pair of (lines[at + 1] ?? '').trim().split(/\s+/)) {
    const m = /^([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,2})$/.exec(pair);
    if (m) map[Number.parseInt(m[1], 16)] = Number.parseInt(m[2], 16);
  }
  return map;
}

/**
 * `%XX` and IIS-style `%uXXXX` decoding; `+` becomes a space. A `%uXXXX` becomes the byte `unicodeMap`
 * gives its code point when it gives one (libmodsecurity with SecUnicodeMapFile: `%u00e9` reads `e` on
 * code page 20127), else its low byte, full-width ASCII folded.
 */
export function urlDecodeUni(input: string, unicodeMap?: Uint8Array): string {
  if (input.indexOf('%') < 0 && input.indexOf('+') < 0) return input;
  let out = '';
  const n = input.length;
  for (let i = 0; i < n; i++) {
    const c = String.prototype.charCodeAt.call(input, i);
    if (c === 0x25) {
      const u = String.prototype.charCodeAt.call(input, i + 1);
      if (
        (u === 0x75 || u === 0x55) &&
        i + 5 < n &&
        isHex(String.prototype.charCodeAt.call(input, i + 2)) &&
        isHex(String.prototype.charCodeAt.call(input, i + 3)) &&
        isHex(String.prototype.charCodeAt.call(input, i + 4)) &&
        isHex(String.prototype.charCodeAt.call(input, i + 5))
      ) {
        const code =
          (hexValue(String.prototype.charCodeAt.call(input, i + 2)) << 12) |
          (hexValue(String.prototype.charCodeAt.call(input, i + 3)) << 8) |
          (hexValue(String.prototype.charCodeAt.call(input, i + 4)) << 4) |
          hexValue(String.prototype.charCodeAt.call(input, i + 5));
        out += String.fromCharCode(unicodeMap?.[code] || unicodeToByte(code));
        i += 5;
        continue;
      }
      if (i + 2 < n && isHex(u) && isHex(String.prototype.charCodeAt.call(input, i + 2))) {
        out += String.fromCharCode(
          hexValue(u) * 16 + hexValue(String.prototype.charCodeAt.call(input, i + 2)),
        );
        i += 2;
        continue;
      }
      out += '%';
    } else if (c === 0x2b) out += ' ';
    else out += input[i];
  }
  return out;
}

const NAMED_ENTITIES: Record<string, number> = {
  quot: 0x22,
  amp: 0x26,
  lt: 0x3c,
  gt: 0x3e,
  nbsp: 0xa0,
  apos: 0x27,
};

/** `&#DD;`, `&#xHH;` and the common named entities; the semicolon is optional, as in ModSecurity. */
export function htmlEntityDecode(input: string): string {
  if (input.indexOf('&') < 0) return input;
  let out = '';
  const n = input.length;
  let i = 0;
  while (i < n) {
    if (String.prototype.charCodeAt.call(input, i) !== 0x26 || i + 1 >= n) {
      out += input[i++];
      continue;
    }
    let j = i + 1;
    if (input[j] === '#') {
      j++;
      const hex = input[j] === 'x' || input[j] === 'X';
      if (hex) j++;
      const start = j;
      while (
        j < n &&
        (hex
          ? isHex(String.prototype.charCodeAt.call(input, j))
          : String.prototype.charCodeAt.call(input, j) >= 0x30 &&
            String.prototype.charCodeAt.call(input, j) <= 0x39)
      )
        j++;
      if (j > start) {
        const code = Number.parseInt(input.slice(start, j), hex ? 16 : 10);
        out += String.fromCharCode(code & 0xff);
        if (input[j] === ';') j++;
        i = j;
        continue;
      }
      out += input[i++];
      continue;
    }
    const start = j;
    while (j < n && /[A-Za-z0-9]/.test(input[j])) j++;
    const name = input.slice(start, j).toLowerCase();
    const code = NAMED_ENTITIES[name];
    if (code !== undefined) {
      out += String.fromCharCode(code);
      if (input[j] === ';') j++;
      i = j;
      continue;
    }
    out += input[i++];
  }
  return out;
}

/** JavaScript escapes: `\xHH`, `\uHHHH`, `\OOO`, `\n` and friends, `\c` → `c`. */
export function jsDecode(input: string): string {
  if (input.indexOf('\\') < 0) return input;
  let out = '';
  const n = input.length;
  let i = 0;
  while (i < n) {
    if (input[i] !== '\\' || i + 1 >= n) {
      out += input[i++];
      continue;
    }
    const e = input[i + 1];
    if (
      e === 'u' &&
      i + 5 < n &&
      [2, 3, 4, 5].every((k) => isHex(String.prototype.charCodeAt.call(input, i + k)))
    ) {
      out += String.fromCharCode(unicodeToByte(Number.parseInt(input.slice(i + 2, i + 6), 16)));
      i += 6;
    } else if (
      e === 'x' &&
      i + 3 < n &&
      isHex(String.prototype.charCodeAt.call(input, i + 2)) &&
      isHex(String.prototype.charCodeAt.call(input, i + 3))
    ) {
      out += String.fromCharCode(Number.parseInt(input.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (e >= '0' && e <= '7') {
      let j = i + 1;
      while (j < n && j < i + 4 && input[j] >= '0' && input[j] <= '7') j++;
      out += String.fromCharCode(Number.parseInt(input.slice(i + 1, j), 8) & 0xff);
      i = j;
    } else {
      const map: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
      out += map[e] ?? e;
      i += 2;
    }
  }
  return out;
}

/** CSS escapes: a backslash and 1–6 hex digits (one optional white space after), `\` newline removed, `\c` → `c`. */
export function cssDecode(input: string): string {
  if (input.indexOf('\\') < 0) return input;
  let out = '';
  const n = input.length;
  let i = 0;
  while (i < n) {
    if (input[i] !== '\\') {
      out += input[i++];
      continue;
    }
    if (i + 1 >= n) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && j < i + 7 && isHex(String.prototype.charCodeAt.call(input, j))) j++;
    if (j > i + 1) {
      const digits = input.slice(i + 1, j);
      let code = Number.parseInt(digits, 16);
      if (digits.length > 2) code = unicodeToByte(code & 0xffff);
      out += String.fromCharCode(code & 0xff);
      if (j < n && isSpace(String.prototype.charCodeAt.call(input, j))) j++;
      i = j;
      continue;
    }
    if (input[i + 1] === '\n') {
      i += 2;
      continue;
    }
    out += input[i + 1];
    i += 2;
  }
  return out;
}

/** Multi-byte UTF-8 sequences become `%uXXXX`; everything else is kept. */
export function utf8toUnicode(input: string): string {
  let hasHigh = false;
  for (let i = 0, end = input.length; i < end; i++) {
    if (String.prototype.charCodeAt.call(input, i) >= 0x80) {
      hasHigh = true;
      break;
    }
  }
  if (!hasHigh) return input;
  let out = '';
  const n = input.length;
  let i = 0;
  while (i < n) {
    const c = String.prototype.charCodeAt.call(input, i);
    let len = 0;
    let cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    }
    let ok = len > 0 && i + len <= n;
    for (let k = 1; ok && k < len; k++) {
      const cc = String.prototype.charCodeAt.call(input, i + k);
      if ((cc & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (cc & 0x3f);
    }
    if (!ok) {
      out += input[i++];
      continue;
    }
    out += `%u${(cp & 0xffff).toString(16).padStart(4, '0')}`;
    i += len;
  }
  return out;
}

/** Removes NUL bytes. */
export function removeNulls(input: string): string {
  return input.indexOf('\0') < 0 ? input : input.replaceAll('\0', '');
}

/** Removes white space, the no-break space (0xA0) included. */
export function removeWhitespace(input: string): string {
  let any = false;
  for (let i = 0, end = input.length; i < end && !any; i++) {
    const c = String.prototype.charCodeAt.call(input, i);
    any = isSpace(c) || c === 0xa0;
  }
  if (!any) return input;
  const buf = scratchFor(input.length);
  let n = 0;
  for (let i = 0, end = input.length; i < end; i++) {
    const c = String.prototype.charCodeAt.call(input, i);
    if (!isSpace(c) && c !== 0xa0) buf[n++] = c;
  }
  return stringOf(buf, n);
}

/** Runs of white space (and 0xA0) become one space. */
export function compressWhitespace(input: string): string {
  if (!hasWhitespaceToCompress(input)) return input;
  let out = '';
  let inSpace = false;
  for (let i = 0, end = input.length; i < end; i++) {
    const c = String.prototype.charCodeAt.call(input, i);
    if (isSpace(c) || c === 0xa0) {
      if (!inSpace) out += ' ';
      inSpace = true;
    } else {
      out += input[i];
      inSpace = false;
    }
  }
  return out;
}

/**
 * What compressWhitespace changes: a white space other than a lone ` ` (a space followed by white space, or
 * any other white space). These "anything to do?" tests are regular expressions, not `charCodeAt` loops:
 * V8's compiled scan of a character class costs a few instructions a character, a loop ~30 (session 11).
 * No quantifier: linear in the input.
 */
const WHITESPACE_TO_COMPRESS = /[\t-\r\xa0]| [\t-\r \xa0]/;

/** Whether compressWhitespace changes anything: a white space other than a lone ` `. */
export function hasWhitespaceToCompress(input: string): boolean {
  return WHITESPACE_TO_COMPRESS.test(input);
}

/** What cmdLine changes: something to drop, an upper-case letter, a space before white space, `/` or `(`. */
const CMDLINE_CHANGES = /["'\\^,;A-Z\t-\r]| [\t-\r /(]/;

/** Whether cmdLine leaves the input as it is: nothing to drop, lower-case, lone spaces not before `/` or `(`. */
export function cmdLineKeeps(input: string): boolean {
  return !CMDLINE_CHANGES.test(input);
}

/** Command-line normalisation: drops `\ " ' ^`, spaces before `/` and `(`, `,` and `;` become spaces, white space runs compressed, lower case. */
export function cmdLine(input: string): string {
  if (cmdLineKeeps(input)) return input;
  const buf = scratchFor(input.length);
  let n = 0;
  let space = false;
  for (let i = 0, end = input.length; i < end; i++) {
    const c = String.prototype.charCodeAt.call(input, i);
    // `"` `'` `\` `^` dropped.
    if (c === 0x22 || c === 0x27 || c === 0x5c || c === 0x5e) continue;
    // White space, `,` and `;`: one space for a run.
    if (isSpace(c) || c === 0x2c || c === 0x3b) {
      if (!space) {
        buf[n++] = 0x20;
        space = true;
      }
      continue;
    }
    // No space before `/` or `(`.
    if ((c === 0x2f || c === 0x28) && space) n--;
    space = false;
    buf[n++] = c >= 0x41 && c <= 0x5a ? c + 32 : c;
  }
  return stringOf(buf, n);
}

/** ASCII lower case (bytes above 0x7F untouched, as C tolower in the C locale). */
export function lowercase(input: string): string {
  if (!UPPER.test(input)) return input;
  // Plain ASCII: the built-in lower-casing is the same and much faster.
  if (!NOT_ASCII.test(input)) return input.toLowerCase();
  let out = '';
  for (let i = 0, end = input.length; i < end; i++) {
    const c = String.prototype.charCodeAt.call(input, i);
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 32) : input[i];
  }
  return out;
}

const UPPER = /[A-Z]/;
const NOT_ASCII = /[^\x00-\x7f]/;

/** ASCII upper case. */
export function uppercase(input: string): string {
  let out = '';
  for (let i = 0, end = input.length; i < end; i++) {
    const c = String.prototype.charCodeAt.call(input, i);
    out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 32) : input[i];
  }
  return out;
}

/** Resolves `.` and `..` segments and collapses repeated slashes. */
export function normalizePath(input: string): string {
  if (input === '') return input;
  // No `.` or `..` segment and no empty one inside: every segment is kept as it is.
  if (!/(?:^|\/)\.\.?(?:\/|$)|\/\//.test(input)) return input;
  const absolute = input.startsWith('/');
  const trailing = input.endsWith('/') || input.endsWith('/.') || input.endsWith('/..');
  const parts = input.split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
      continue;
    }
    out.push(p);
  }
  let s = (absolute ? '/' : '') + out.join('/');
  if (trailing && out.length > 0) s += '/';
  return s;
}

/** normalizePath after turning backslashes into slashes. */
export function normalizePathWin(input: string): string {
  return normalizePath(input.indexOf('\\') < 0 ? input : input.replaceAll('\\', '/'));
}

/** C-style comments `/* … *\/` become one space (an unterminated one runs to the end). */
export function replaceComments(input: string): string {
  if (input.indexOf('/*') < 0) return input;
  let out = '';
  let i = 0;
  while (i < input.length) {
    if (input[i] === '/' && input[i + 1] === '*') {
      const end = input.indexOf('*/', i + 2);
      out += ' ';
      if (end < 0) break;
      i = end + 2;
      continue;
    }
    out += input[i++];
  }
  return out;
}

/** Removes comment characters: `/*`, `*\/`, `--`, `#`. */
export function removeCommentsChar(input: string): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const two = input.slice(i, i + 2);
    if (two === '/*' || two === '*/' || two === '--') {
      i += 2;
      continue;
    }
    if (input[i] === '#') {
      i++;
      continue;
    }
    out += input[i++];
  }
  return out;
}

/** Removes comments: `/* *\/`, `<!-- -->`, and `--`/`#` to the end of the input. */
export function removeComments(input: string): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    if (input.startsWith('/*', i)) {
      const end = input.indexOf('*/', i + 2);
      if (end < 0) break;
      i = end + 2;
      continue;
    }
    if (input.startsWith('<!--', i)) {
      const end = input.indexOf('-->', i + 4);
      if (end < 0) break;
      i = end + 3;
      continue;
    }
    if (input.startsWith('--', i) || input[i] === '#') break;
    out += input[i++];
  }
  return out;
}

/** ANSI C escape sequences. */
export function escapeSeqDecode(input: string): string {
  if (input.indexOf('\\') < 0) return input;
  let out = '';
  const n = input.length;
  let i = 0;
  const map: Record<string, string> = {
    a: '\x07',
    b: '\b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v',
    '\\': '\\',
    '?': '?',
    "'": "'",
    '"': '"',
  };
  while (i < n) {
    if (input[i] !== '\\' || i + 1 >= n) {
      out += input[i++];
      continue;
    }
    const e = input[i + 1];
    if (map[e] !== undefined) {
      out += map[e];
      i += 2;
    } else if (
      (e === 'x' || e === 'X') &&
      i + 3 < n &&
      isHex(String.prototype.charCodeAt.call(input, i + 2)) &&
      isHex(String.prototype.charCodeAt.call(input, i + 3))
    ) {
      out += String.fromCharCode(Number.parseInt(input.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (e >= '0' && e <= '7') {
      let j = i + 1;
      while (j < n && j < i + 4 && input[j] >= '0' && input[j] <= '7') j++;
      out += String.fromCharCode(Number.parseInt(input.slice(i + 1, j), 8) & 0xff);
      i = j;
    } else {
      out += input[i] + e;
      i += 2;
    }
  }
  return out;
}

/** Base64 alphabet values by character code (-1: not in the alphabet). */
const BASE64_VALUE = (() => {
  const t = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let k = 0; k < alphabet.length; k++) t[alphabet.charCodeAt(k)] = k;
  return t;
})();

/**
 * Base64 decoding of the leading valid part (bytes, latin1): six bits per alphabet character up to the
 * first other character, whole bytes only (as Node's decoder reads such a prefix; CRS runs this on every
 * argument in rule 934100, so without a Buffer round trip).
 */
export function base64Decode(input: string): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (let i = 0, end = input.length; i < end; i++) {
    const c = String.prototype.charCodeAt.call(input, i);
    const v = c < 128 ? BASE64_VALUE[c] : -1;
    if (v < 0) break;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += String.fromCharCode((acc >> bits) & 0xff);
    }
  }
  return out;
}

/** Base64 decoding that skips characters outside the alphabet. */
export function base64DecodeExt(input: string): string {
  return Buffer.from(input.replace(/[^A-Za-z0-9+/]/g, ''), 'base64').toString('latin1');
}

/** Hex encoding of the bytes. */
export function hexEncode(input: string): string {
  let out = '';
  for (let i = 0, end = input.length; i < end; i++) {
    const c = String.prototype.charCodeAt.call(input, i) & 0xff;
    out += HEX[c >> 4] + HEX[c & 15];
  }
  return out;
}

/** Hex decoding (pairs of hex digits). */
export function hexDecode(input: string): string {
  return Buffer.from(input.replace(/[^0-9a-fA-F]/g, ''), 'hex').toString('latin1');
}

/** Removes leading white space (a loop, not a regular expression: linear on any input). */
export function trimLeft(input: string): string {
  let i = 0;
  while (i < input.length && isSpace(String.prototype.charCodeAt.call(input, i))) i++;
  return input.slice(i);
}

/** Removes trailing white space. */
export function trimRight(input: string): string {
  let i = input.length;
  while (i > 0 && isSpace(String.prototype.charCodeAt.call(input, i - 1))) i--;
  return input.slice(0, i);
}

/** Every transformation by its SecLang name (lower case). */
export const TRANSFORMS: ReadonlyMap<string, Transform> = new Map<string, Transform>([
  ['urldecode', urlDecode],
  ['urldecodeuni', urlDecodeUni],
  ['htmlentitydecode', htmlEntityDecode],
  ['jsdecode', jsDecode],
  ['cssdecode', cssDecode],
  ['utf8tounicode', utf8toUnicode],
  ['removenulls', removeNulls],
  ['replacenulls', (s) => s.replaceAll('\0', ' ')],
  ['removewhitespace', removeWhitespace],
  ['compresswhitespace', compressWhitespace],
  ['cmdline', cmdLine],
  ['lowercase', lowercase],
  ['uppercase', uppercase],
  ['normalizepath', normalizePath],
  ['normalisepath', normalizePath],
  ['normalizepathwin', normalizePathWin],
  ['normalisepathwin', normalizePathWin],
  ['replacecomments', replaceComments],
  ['removecommentschar', removeCommentsChar],
  ['removecomments', removeComments],
  ['escapeseqdecode', escapeSeqDecode],
  ['base64decode', base64Decode],
  ['base64decodeext', base64DecodeExt],
  ['base64encode', (s) => Buffer.from(s, 'latin1').toString('base64')],
  ['hexencode', hexEncode],
  ['hexdecode', hexDecode],
  [
    'sqlhexdecode',
    (s) => s.replace(/0x((?:[0-9a-fA-F]{2})+)/g, (_m, h: string) => Buffer.from(h, 'hex').toString('latin1')),
  ],
  // One-shot hashing: no Hash object per value (CRS hashes the User-Agent of every request).
  ['sha1', (s) => hash('sha1', Buffer.from(s, 'latin1'), 'binary')],
  ['md5', (s) => hash('md5', Buffer.from(s, 'latin1'), 'binary')],
  ['length', (s) => String(s.length)],
  ['trim', (s) => trimRight(trimLeft(s))],
  ['trimleft', trimLeft],
  ['trimright', trimRight],
  ['urlencode', (s) => encodeURIComponent(s)],
]);

// ---------------------------------------------------------------------------------------------------
// Which characters a transformation acts on: a value holding none of a transformation's trigger
// characters comes out of it unchanged, so the engine need not run it (nor re-scan the value).

/** Character classes, one bit each, of a value's characters. */
export const CHAR = {
  upper: 1 << 0,
  lower: 1 << 1,
  digit: 1 << 2,
  percent: 1 << 3,
  plus: 1 << 4,
  amp: 1 << 5,
  backslash: 1 << 6,
  nul: 1 << 7,
  /** 0x80 and above (the no-break space 0xA0 included). */
  high: 1 << 8,
  space: 1 << 9,
  /** `\t \n \v \f \r`. */
  controlSpace: 1 << 10,
  slash: 1 << 11,
  dot: 1 << 12,
  quote: 1 << 13,
  caret: 1 << 14,
  comma: 1 << 15,
  semicolon: 1 << 16,
  star: 1 << 17,
  dash: 1 << 18,
  hash: 1 << 19,
  lt: 1 << 20,
  /** Every other character. */
  other: 1 << 21,
} as const;

/** Every class: what a transformation that may change any value triggers on. */
export const ALL_CHARS = (1 << 22) - 1;

const CLASS_OF_BYTE = (() => {
  const t = new Int32Array(256).fill(CHAR.other);
  for (let c = 0x41; c <= 0x5a; c++) t[c] = CHAR.upper;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = CHAR.lower;
  for (let c = 0x30; c <= 0x39; c++) t[c] = CHAR.digit;
  for (let c = 0x80; c <= 0xff; c++) t[c] = CHAR.high;
  for (let c = 0x09; c <= 0x0d; c++) t[c] = CHAR.controlSpace;
  const one: Array<[string, number]> = [
    ['%', CHAR.percent],
    ['+', CHAR.plus],
    ['&', CHAR.amp],
    ['\\', CHAR.backslash],
    ['\0', CHAR.nul],
    [' ', CHAR.space],
    ['/', CHAR.slash],
    ['.', CHAR.dot],
    ["'", CHAR.quote],
    ['"', CHAR.quote],
    ['^', CHAR.caret],
    [',', CHAR.comma],
    [';', CHAR.semicolon],
    ['*', CHAR.star],
    ['-', CHAR.dash],
    ['#', CHAR.hash],
    ['<', CHAR.lt],
  ];
  for (const [ch, bit] of one) t[ch.charCodeAt(0)] = bit;
  return t;
})();

/** The classes of the characters of `s` (one pass; code units above 0xFF count as `high`). */
export function charClasses(s: string): number {
  let m = 0;
  for (let i = 0, end = s.length; i < end; i++) {
    const c = String.prototype.charCodeAt.call(s, i);
    m |= c <= 0xff ? CLASS_OF_BYTE[c] : CHAR.high;
  }
  return m;
}

const WHITE = CHAR.space | CHAR.controlSpace;

/**
 * For each transformation (by SecLang name, lower case): the character classes it acts on. A value with
 * none of them is returned unchanged (transforms.test.ts checks each on generated values). Names not listed
 * act on every value.
 */
export const TRANSFORM_TRIGGERS: ReadonlyMap<string, number> = new Map<string, number>([
  ['urldecode', CHAR.percent | CHAR.plus],
  ['urldecodeuni', CHAR.percent | CHAR.plus],
  ['htmlentitydecode', CHAR.amp],
  ['jsdecode', CHAR.backslash],
  ['cssdecode', CHAR.backslash],
  ['utf8tounicode', CHAR.high],
  ['removenulls', CHAR.nul],
  ['replacenulls', CHAR.nul],
  ['removewhitespace', WHITE | CHAR.high],
  ['compresswhitespace', WHITE | CHAR.high],
  ['cmdline', CHAR.quote | CHAR.backslash | CHAR.caret | CHAR.comma | CHAR.semicolon | CHAR.upper | WHITE],
  ['lowercase', CHAR.upper],
  ['uppercase', CHAR.lower],
  ['normalizepath', CHAR.dot | CHAR.slash],
  ['normalisepath', CHAR.dot | CHAR.slash],
  ['normalizepathwin', CHAR.dot | CHAR.slash | CHAR.backslash],
  ['normalisepathwin', CHAR.dot | CHAR.slash | CHAR.backslash],
  ['replacecomments', CHAR.slash],
  ['removecommentschar', CHAR.slash | CHAR.star | CHAR.dash | CHAR.hash],
  ['removecomments', CHAR.slash | CHAR.lt | CHAR.dash | CHAR.hash],
  ['escapeseqdecode', CHAR.backslash],
  ['sqlhexdecode', CHAR.digit],
  ['trim', WHITE],
  ['trimleft', WHITE],
  ['trimright', WHITE],
]);
