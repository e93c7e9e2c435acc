/**
 * Media types as RFC 9110 §8.3.1 defines them, shared by every policy that reads a request body: one
 * parser for `Content-Type` values and spec keys, one matcher from a request's media type to the key of
 * an OpenAPI `content` map, and the rule that says how a body of a given media type is read.
 */

/** A parsed media type: type and subtype lower-cased, parameter names lower-cased, values unquoted. */
export interface MediaType {
  readonly type: string;
  readonly subtype: string;
  /** `type/subtype`, lower-case, without parameters (the WHATWG "essence"). */
  readonly essence: string;
  readonly parameters: ReadonlyMap<string, string>;
}

// RFC 9110 §5.6.2 tchar.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

function tokenEnd(s: string, from: number): number {
  let i = from;
  while (i < s.length && isTchar(s.charCodeAt(i))) i++;
  return i;
}

function skipOws(s: string, from: number): number {
  let i = from;
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  return i;
}

/**
 * Parses a media type (`Content-Type` value or OpenAPI `content` key) per RFC 9110 §8.3.1:
 * `type "/" subtype *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] )`. Type, subtype and parameter
 * names are case-insensitive and come back lower-cased; a quoted value is unquoted (§5.6.4), so
 * `charset="utf-8"` and `charset=utf-8` read the same. Returns undefined for anything else, and for a
 * parameter given twice: two readings of one field are refused, not guessed between.
 */
export function parseMediaType(value: string): MediaType | undefined {
  const s = value.trim();
  const slash = tokenEnd(s, 0);
  if (slash === 0 || s[slash] !== '/') return undefined;
  const subEnd = tokenEnd(s, slash + 1);
  if (subEnd === slash + 1) return undefined;
  const type = s.slice(0, slash).toLowerCase();
  const subtype = s.slice(slash + 1, subEnd).toLowerCase();
  const parameters = parseParameters(s, subEnd);
  if (parameters === undefined) return undefined;
  return { type, subtype, essence: `${type}/${subtype}`, parameters };
}

/**
 * Parses `*( OWS ";" OWS [ name "=" ( token / quoted-string ) ] )` from `from` to the end of `s` (RFC 9110
 * §5.6.6; also the shape of `Content-Disposition` parameters, RFC 6266 §4.1). Names are lower-cased,
 * quoted values unquoted. Undefined when malformed or when a name is given twice.
 */
export function parseParameters(s: string, from: number): Map<string, string> | undefined {
  const parameters = new Map<string, string>();
  let i = from;
  for (;;) {
    i = skipOws(s, i);
    if (i === s.length) break;
    if (s[i] !== ';') return undefined;
    i = skipOws(s, i + 1);
    if (i === s.length || s[i] === ';') continue;
    const nameEnd = tokenEnd(s, i);
    if (nameEnd === i || s[nameEnd] !== '=') return undefined;
    const name = s.slice(i, nameEnd).toLowerCase();
    i = nameEnd + 1;
    let v: string;
    if (s[i] === '"') {
      v = '';
      i++;
      for (;;) {
        if (i >= s.length) return undefined; // unterminated quoted-string
        const ch = s[i];
        if (ch === '"') break;
        if (ch === '\\') {
          if (i + 1 >= s.length) return undefined;
          v += s[i + 1];
          i += 2;
        } else {
          v += ch;
          i++;
        }
      }
      i++;
    } else {
      const end = tokenEnd(s, i);
      if (end === i) return undefined;
      v = s.slice(i, end);
      i = end;
    }
    if (parameters.has(name)) return undefined;
    parameters.set(name, v);
  }
  return parameters;
}

// RFC 9110 §8.3.2: charset names are case-insensitive. Other parameter values are compared exactly.
function sameParameter(name: string, a: string, b: string): boolean {
  return name === 'charset' ? a.toLowerCase() === b.toLowerCase() : a === b;
}

interface CompiledKey {
  readonly key: string;
  readonly media: MediaType;
  /** 2 for `type/subtype`, 1 for `type/*`, 0 for `*\/*`: the most specific key wins. */
  readonly rank: number;
}

/** Matches a request's media type to a key of an OpenAPI `content` map; compiled once per operation. */
export type MediaTypeMatcher = (actual: MediaType | undefined) => string | undefined;

/**
 * Compiles the keys of an OpenAPI `content` map into a matcher (OpenAPI 3.1.2 §4.8.14: the most
 * specific key applies). Type and subtype compare case-insensitively; a key's parameters must each be
 * absent from the request or equal to its value there, so the key `application/json; charset=utf-8`
 * takes `application/json` and `application/json;charset="UTF-8"` but not `application/json;
 * charset=utf-16`. Among keys of one specificity, the one with more parameters matched wins, then the
 * first declared. An `actual` of undefined (no `Content-Type`) matches only `*\/*`.
 */
export function compileMediaTypeMatcher(keys: readonly string[]): MediaTypeMatcher {
  const compiled: CompiledKey[] = [];
  for (const key of keys) {
    const media = parseMediaType(key);
    if (media === undefined) continue; // not a media type: matches nothing
    const rank = media.type === '*' ? (media.subtype === '*' ? 0 : -1) : media.subtype === '*' ? 1 : 2;
    if (rank >= 0) compiled.push({ key, media, rank });
  }
  return (actual) => {
    let best: CompiledKey | undefined;
    let bestParams = -1;
    for (const k of compiled) {
      if (actual === undefined) {
        if (k.rank !== 0) continue;
      } else if (
        k.rank === 2 ? k.media.essence !== actual.essence : k.rank === 1 && k.media.type !== actual.type
      ) {
        continue;
      }
      let matched = 0;
      let conflict = false;
      for (const [name, v] of k.media.parameters) {
        const a = actual?.parameters.get(name);
        if (a === undefined) continue;
        if (!sameParameter(name, v, a)) {
          conflict = true;
          break;
        }
        matched++;
      }
      if (conflict) continue;
      if (best === undefined || k.rank > best.rank || (k.rank === best.rank && matched > bestParams)) {
        best = k;
        bestParams = matched;
      }
    }
    return best?.key;
  };
}

/** Whether a media type is read as JSON: `application/json`, any `+json` suffix (RFC 6839), `text/json`. */
export function isJsonEssence(essence: string): boolean {
  return essence === 'application/json' || essence.endsWith('+json') || essence === 'text/json';
}

/** How a body is read: by the media type it is sent (and forwarded) with. */
export type BodyKind = 'json' | 'form' | 'multipart' | 'text' | 'bytes';

/**
 * The reading of a body sent as `media`: JSON, form fields, multipart parts, text (`text/*`), or bytes
 * (everything else, including a body without a valid `Content-Type`).
 */
export function bodyKindOf(media: MediaType | undefined): BodyKind {
  if (media === undefined) return 'bytes';
  if (isJsonEssence(media.essence)) return 'json';
  if (media.essence === 'application/x-www-form-urlencoded') return 'form';
  if (media.essence === 'multipart/form-data') return 'multipart';
  if (media.type === 'text') return 'text';
  return 'bytes';
}

const UTF8 = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8']);
// Charsets that read every byte below 0x80 as US-ASCII (WHATWG Encoding labels of the common ones).
const ASCII_COMPATIBLE =
  /^(?:us-ascii|ascii|iso-8859-(?:[1-9]|1[0-6])|iso8859-(?:[1-9]|1[0-6])|latin1|l1|windows-125[0-8]|cp125[0-8])$/;

function isAscii(body: Buffer): boolean {
  for (let i = 0; i < body.length; i++) if (body[i] >= 0x80) return false;
  return true;
}

/**
 * Why a body cannot be read the one way Portcullis reads it, or undefined when it can. JSON and form
 * bodies are UTF-8 (RFC 8259 §8.1; WHATWG URL §5), so any other `charset` is refused. A text body in
 * another ASCII-compatible charset is accepted only when all its bytes are ASCII, where every reading
 * agrees. UTF-16 and the rest are refused: the upstream would read characters Portcullis did not.
 */
export function unreadableCharset(
  kind: BodyKind,
  media: MediaType | undefined,
  body: Buffer,
): string | undefined {
  const charset = media?.parameters.get('charset')?.toLowerCase();
  if (charset === undefined || UTF8.has(charset)) return undefined;
  if (kind === 'json' || kind === 'form') return `${media!.essence} bodies must be UTF-8`;
  if (kind === 'text' && !(ASCII_COMPATIBLE.test(charset) && isAscii(body))) {
    return `text bodies must be UTF-8 (or ASCII in an ASCII-compatible charset)`;
  }
  return undefined;
}

/**
 * Whether a request's body carries a content coding (RFC 9110 §8.4) other than `identity`: its bytes are
 * not what an upstream that decodes it would read, so it cannot be judged as sent.
 */
export function hasContentCoding(header: string | undefined): boolean {
  if (header === undefined) return false;
  for (const c of header.split(',')) {
    const t = c.trim().toLowerCase();
    if (t !== '' && t !== 'identity') return true;
  }
  return false;
}
