/**
 * Input normalisation for the injection detectors. Every function here is a single left-to-right pass over
 * its input (no regular expressions), so decoding stays linear in the length of what the client sent.
 */

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function hexAt(s: string, i: number, n: number): number {
  if (i + n > s.length) return -1;
  let v = 0;
  for (let k = 0; k < n; k++) {
    const h = hexValue(s.charCodeAt(i + k));
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/**
 * Percent-decodes leniently: invalid escapes stay as written, `%uXXXX` (IIS) is understood, UTF-8 is decoded
 * and overlong encodings of ASCII (`%c0%ae` for `.`, `%e0%80%af` for `/`) are folded to the character they
 * smuggle, as old servers did. Null bytes are dropped.
 */
export function percentDecode(s: string): string {
  if (s.indexOf('%') < 0) return s;
  let out = '';
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length === 0) return;
    out += decodeUtf8Lenient(bytes);
    bytes.length = 0;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37) {
      const b = hexAt(s, i + 1, 2);
      if (b >= 0) {
        bytes.push(b);
        i += 2;
        continue;
      }
      const next = s.charCodeAt(i + 1);
      if (next === 117 || next === 85) {
        const u = hexAt(s, i + 2, 4);
        if (u >= 0) {
          flush();
          if (u !== 0) out += String.fromCharCode(u);
          i += 5;
          continue;
        }
      }
    }
    flush();
    if (c !== 0) out += s[i];
  }
  flush();
  return out;
}

/** Decodes UTF-8 bytes, folding overlong forms of ASCII and keeping invalid bytes as Latin-1. */
function decodeUtf8Lenient(bytes: number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b < 0x80) {
      if (b !== 0) out += String.fromCharCode(b);
      continue;
    }
    let need = 0;
    let cp = 0;
    if ((b === 0xc0 || b === 0xc1) && i + 1 < bytes.length && bytes[i + 1] < 0x80) {
      // `%c0%2e`: a broken overlong prefix before an ASCII byte; lenient decoders kept only the ASCII.
      continue;
    }
    if (b >= 0xc0 && b < 0xe0) {
      need = 1;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b < 0xf0) {
      need = 2;
      cp = b & 0x0f;
    } else if (b >= 0xf0 && b < 0xf8) {
      need = 3;
      cp = b & 0x07;
    } else {
      out += String.fromCharCode(b);
      continue;
    }
    if (i + need > bytes.length - 1) {
      // Truncated sequence: keep the byte as it is.
      out += String.fromCharCode(b);
      continue;
    }
    let ok = true;
    for (let k = 1; k <= need; k++) {
      const cb = bytes[i + k];
      if ((cb & 0xc0) !== 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (cb & 0x3f);
    }
    if (!ok) {
      out += String.fromCharCode(b);
      continue;
    }
    i += need;
    // Overlong encodings yield small code points: they are exactly what the attacker wanted the server to see.
    if (cp !== 0) out += String.fromCodePoint(cp > 0x10ffff ? 0xfffd : cp);
  }
  return out;
}

const NAMED_ENTITIES: ReadonlyMap<string, string> = new Map([
  ['lt', '<'],
  ['gt', '>'],
  ['amp', '&'],
  ['quot', '"'],
  ['apos', "'"],
  ['sol', '/'],
  ['bsol', '\\'],
  ['colon', ':'],
  ['semi', ';'],
  ['lpar', '('],
  ['rpar', ')'],
  ['equals', '='],
  ['tab', '\t'],
  ['newline', '\n'],
  ['nbsp', ' '],
  ['grave', '`'],
  ['lsqb', '['],
  ['rsqb', ']'],
  ['lcub', '{'],
  ['rcub', '}'],
  ['excl', '!'],
  ['num', '#'],
  ['percnt', '%'],
  ['period', '.'],
  ['comma', ','],
  ['plus', '+'],
  ['ast', '*'],
  ['vert', '|'],
  ['dollar', '$'],
]);

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Decodes HTML character references the way a browser does in attribute values: numeric references with
 * or without `;` and with leading zeros, and the named references that matter for markup and URLs.
 */
export function htmlEntityDecode(s: string): string {
  let i = s.indexOf('&');
  if (i < 0) return s;
  // Unchanged runs are copied as slices; only references are rebuilt.
  let out = '';
  let last = 0;
  for (; i >= 0 && i < s.length; i = s.indexOf('&', i + 1)) {
    let j = i + 1;
    let ch: string | undefined;
    if (s.charCodeAt(j) === 35) {
      j++;
      const isHex = s.charCodeAt(j) === 120 || s.charCodeAt(j) === 88;
      if (isHex) j++;
      let v = 0;
      let digits = 0;
      while (j < s.length && digits < 12) {
        const c = s.charCodeAt(j);
        const d = isHex ? hexValue(c) : c >= 48 && c <= 57 ? c - 48 : -1;
        if (d < 0) break;
        if (v < 0x110000) v = v * (isHex ? 16 : 10) + d;
        j++;
        digits++;
      }
      if (digits === 0) continue;
      if (s.charCodeAt(j) === 59) j++;
      ch = v > 0 && v <= 0x10ffff ? String.fromCodePoint(v) : '';
    } else {
      let k = j;
      while (k < s.length && k - j < 10 && isAlnum(s.charCodeAt(k))) k++;
      if (k === j) continue;
      const name = s.slice(j, k).toLowerCase();
      const named = NAMED_ENTITIES.get(name);
      if (
        named === undefined ||
        !(s.charCodeAt(k) === 59 || name === 'lt' || name === 'gt' || name === 'amp')
      )
        continue;
      ch = named;
      j = s.charCodeAt(k) === 59 ? k + 1 : k;
    }
    out += s.slice(last, i) + ch;
    last = j;
    i = j - 1;
  }
  return last === 0 ? s : out + s.slice(last);
}

/** Decodes JavaScript/JSON-style escapes: `\uXXXX`, `\u{...}`, `\xXX`. Other backslashes are kept. */
export function escapeDecode(s: string): string {
  if (s.indexOf('\\u') < 0 && s.indexOf('\\x') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) {
      const n = s.charCodeAt(i + 1);
      if (n === 117) {
        const u = hexAt(s, i + 2, 4);
        if (u >= 0) {
          if (u !== 0) out += String.fromCharCode(u);
          i += 5;
          continue;
        }
        if (s.charCodeAt(i + 2) === 123) {
          const end = s.indexOf('}', i + 3);
          if (end > 0 && end - i <= 10) {
            const v = hexAt(s, i + 3, end - i - 3);
            if (v > 0 && v <= 0x10ffff) {
              out += String.fromCodePoint(v);
              i = end;
              continue;
            }
          }
        }
      } else if (n === 120) {
        const x = hexAt(s, i + 2, 2);
        if (x >= 0) {
          if (x !== 0) out += String.fromCharCode(x);
          i += 3;
          continue;
        }
      }
    }
    if (c !== 0) out += s[i];
  }
  return out;
}

/** Drops NUL characters (a classic way to cut a string short on one side of a parser and not the other). */
export function stripNulls(s: string): string {
  return s.indexOf('\0') < 0 ? s : s.split('\0').join('');
}

/**
 * The forms of a value that the detectors look at: the value itself (without NULs) and, when it carries
 * encodings, the value percent-decoded twice (double encoding), then HTML references and JS escapes decoded.
 */
export function decodedForms(value: string): string[] {
  const raw = stripNulls(value);
  const d = decodeAll(raw);
  return d === raw ? [raw] : [raw, d];
}

/**
 * The decoded form of `raw` (a value already without NULs), as in `decodedForms`: `raw` itself when it
 * carries no encoding. The detector calls this on every value, so it makes no array.
 */
export function decodeAll(raw: string): string {
  let d = percentDecode(raw);
  if (d !== raw) d = percentDecode(d);
  d = htmlEntityDecode(d);
  d = escapeDecode(d);
  // Entities and escapes may themselves hide percent escapes (`&#37;2e`); one more pass settles it.
  if (d.indexOf('%') >= 0) d = percentDecode(d);
  return d;
}
