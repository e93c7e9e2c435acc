import { PortcullisError } from '../core/errors.ts';
/**
 * Request body parsing for validation: media type matching, `application/x-www-form-urlencoded` and
 * `multipart/form-data` (RFC 7578) into plain records of strings, and the structural bounds every JSON
 * body must respect whatever its schema says (depth, array length, string length, member count).
 */

import {
  compileMediaTypeMatcher,
  isJsonEssence,
  type MediaTypeMatcher,
  parseMediaType,
} from './media-type.ts';

let lastContentType: string | undefined;
let lastMediaType = '';

/**
 * The media type of a `Content-Type` value without parameters, lower-cased (`''` when absent). The last
 * answer is kept (one entry): the response policies ask it several times of the same header value.
 */
export function mediaTypeOf(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  if (contentType === lastContentType) return lastMediaType;
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  lastContentType = contentType;
  lastMediaType = type;
  return type;
}

/** A parameter of a `Content-Type` value (`boundary`, `charset`), unquoted. */
export function mediaTypeParameter(contentType: string, name: string): string | undefined {
  return parseMediaType(contentType)?.parameters.get(name);
}

/**
 * A compiled matcher, and its last answer: the media type of a route's requests or responses is nearly
 * always the same string, which then is neither parsed nor matched again. One entry per matcher, so
 * nothing accumulates.
 */
interface CachedMatcher {
  readonly match: MediaTypeMatcher;
  lastActual: string | undefined;
  lastKey: string | undefined;
}

const matchers = new WeakMap<readonly string[], CachedMatcher>();

/**
 * Picks the declared media type key for an actual media type: exact match first, then `type/*`,
 * then `*\/*` (OpenAPI 3.1.2 §4.8.14: the most specific key applies). Keys may carry parameters
 * (`application/json; charset=utf-8`); see `compileMediaTypeMatcher`. Returns the key as declared.
 */
export function matchMediaType(declared: readonly string[], actual: string): string | undefined {
  let m = matchers.get(declared);
  if (m === undefined) {
    m = { match: compileMediaTypeMatcher(declared), lastActual: undefined, lastKey: undefined };
    matchers.set(declared, m);
  }
  if (m.lastActual === actual) return m.lastKey;
  const key = m.match(actual === '' ? undefined : parseMediaType(actual));
  m.lastActual = actual;
  m.lastKey = key;
  return key;
}

/** Whether a media type is JSON (`application/json`, any `+json` suffix, `text/json`). */
export function isJsonMediaType(mediaType: string): boolean {
  return isJsonEssence(mediaType);
}

export class BodyFormatError extends PortcullisError {
  readonly code = 'ERR_BODY_FORMAT';
}

/** Splits a form-urlencoded body into decoded pairs (WHATWG URL §5.1). */
export function parseFormPairs(body: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const part of body.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    try {
      pairs.push([
        decodeURIComponent(name.replaceAll('+', ' ')),
        decodeURIComponent(value.replaceAll('+', ' ')),
      ]);
    } catch {
      throw new BodyFormatError('malformed percent-encoding');
    }
  }
  return pairs;
}

/** One part of a multipart body. */
export interface FormPart {
  readonly name: string;
  readonly filename?: string;
  /** The part's `Content-Type` value as sent (with parameters), when it has one. */
  readonly contentType?: string;
  readonly data: Buffer;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** Parses a `multipart/form-data` body (RFC 7578 §4, RFC 2046 §5.1.1); at most `maxParts` parts. */
export function parseMultipart(body: Buffer, boundary: string, maxParts: number): FormPart[] {
  if (boundary === '' || boundary.length > 70) throw new BodyFormatError('missing or invalid boundary');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let pos = body.indexOf(delimiter);
  if (pos === -1) throw new BodyFormatError('no multipart delimiter');
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts; // closing delimiter `--boundary--`
    if (!body.subarray(pos, pos + 2).equals(CRLF)) throw new BodyFormatError('malformed multipart delimiter');
    pos += 2;
    const headerEnd = body.indexOf(HEADER_END, pos);
    if (headerEnd === -1) throw new BodyFormatError('multipart part without headers end');
    const next = body.indexOf(Buffer.concat([CRLF, delimiter]), headerEnd + 4);
    if (next === -1) throw new BodyFormatError('multipart body not terminated');
    if (parts.length >= maxParts) throw new BodyFormatError('too many multipart parts');
    parts.push(partOf(body.subarray(pos, headerEnd).toString('latin1'), body.subarray(headerEnd + 4, next)));
    pos = next + 2;
  }
}

function partOf(headerText: string, data: Buffer): FormPart {
  let name: string | undefined;
  let filename: string | undefined;
  let contentType: string | undefined;
  for (const line of headerText.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const field = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (field === 'content-type') contentType = value;
    else if (field === 'content-disposition') {
      const d = dispositionOf(value);
      if (d.type !== 'form-data') throw new BodyFormatError('part is not form-data');
      name = d.parameters.get('name');
      filename = d.parameters.get('filename');
      if (d.parameters.has('filename*')) filename = d.parameters.get('filename*');
    } else if (field === 'content-transfer-encoding') {
      // RFC 7578 §4.7: senders SHOULD NOT use it. A part in base64 or quoted-printable would be judged in
      // its encoded form and read decoded by an upstream that honours it.
      const cte = value.toLowerCase();
      if (cte !== '7bit' && cte !== '8bit' && cte !== 'binary') {
        throw new BodyFormatError('part uses a Content-Transfer-Encoding');
      }
    }
  }
  if (name === undefined) throw new BodyFormatError('part without a name');
  return { name: Buffer.from(name, 'latin1').toString('utf8'), filename, contentType, data };
}

/**
 * Reads a `Content-Disposition` value (RFC 6266 §4.1, RFC 7578 §4.2): the type, lower-cased, and its
 * parameters. `;` inside quotes does not split; a backslash stays in the value (browsers do not escape
 * with it: a Windows path keeps its separators for the injection guard to see), but `\"` does not
 * close the quote. A parameter given twice is refused.
 */
export function dispositionOf(value: string): { type: string; parameters: Map<string, string> } {
  const pieces: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value.charCodeAt(i);
    if (quoted && ch === 0x5c && value.charCodeAt(i + 1) === 0x22) i++;
    else if (ch === 0x22) quoted = !quoted;
    else if (ch === 0x3b && !quoted) {
      pieces.push(value.slice(start, i));
      start = i + 1;
    }
  }
  pieces.push(value.slice(start));
  const parameters = new Map<string, string>();
  for (const piece of pieces.slice(1)) {
    const eq = piece.indexOf('=');
    if (eq === -1) continue;
    const name = piece.slice(0, eq).trim().toLowerCase();
    let v = piece.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (parameters.has(name)) throw new BodyFormatError(`part gives ${name} more than once`);
    parameters.set(name, v);
  }
  return { type: pieces[0].trim().toLowerCase(), parameters };
}

/** Structural limits applied to every JSON body before schema validation. */
export interface JsonBounds {
  readonly maxDepth: number;
  readonly maxArrayItems: number;
  readonly maxStringLength: number;
  readonly maxObjectProperties: number;
}

export interface BoundsViolation {
  readonly pointer: string;
  readonly detail: string;
}

function escapeToken(t: string): string {
  return t.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * Fast check without pointers: the number of object members in `v` (nested ones included), or -1 when a
 * bound is crossed. Recursion is bounded by `maxDepth`, which the config schema caps.
 */
function membersWithinBounds(v: unknown, b: JsonBounds, depth: number): number {
  if (typeof v === 'string') return v.length <= b.maxStringLength ? 0 : -1;
  if (v === null || typeof v !== 'object') return 0;
  if (depth >= b.maxDepth) return -1;
  let members = 0;
  if (Array.isArray(v)) {
    if (v.length > b.maxArrayItems) return -1;
    for (let i = 0; i < v.length; i++) {
      const m = membersWithinBounds(v[i], b, depth + 1);
      if (m < 0) return -1;
      members += m;
    }
    return members;
  }
  let count = 0;
  for (const k in v) {
    if (!Object.hasOwn(v, k)) continue;
    if (++count > b.maxObjectProperties || k.length > b.maxStringLength) return -1;
    const m = membersWithinBounds((v as Record<string, unknown>)[k], b, depth + 1);
    if (m < 0) return -1;
    members += m;
  }
  return members + count;
}

/**
 * Checks a parsed JSON value against the bounds and returns the first violation, or undefined. The
 * common case (within bounds) runs a quick recursive pass; only a violation pays for the walk that
 * names its pointer, which is iterative so that no depth can overflow the stack.
 */
export function checkJsonBounds(value: unknown, bounds: JsonBounds): BoundsViolation | undefined {
  if (bounds.maxDepth <= 1000 && membersWithinBounds(value, bounds, 0) >= 0) return undefined;
  return locateBoundsViolation(value, bounds);
}

/**
 * Checks a JSON body: its parsed `value` against the bounds, then (with `rejectDuplicates`) its `text`
 * for a member name given twice in one object (see `findDuplicateKey`). Returns the first problem, or
 * undefined. `value` must be `parseJson(text)` (src/shared/json.ts, which reads escaped member names
 * right where V8's `JSON.parse` may not).
 *
 * The common case pays for one walk of the value and one `indexOf` skim of the text: a JSON reader keeps
 * one member per name, so the text repeats a name exactly when its objects have more members (a `:`
 * outside strings is one member) than the parsed objects hold. Only then is the text lexed for the
 * pointer of the duplicate.
 */
export function checkJsonBody(
  value: unknown,
  text: string,
  bounds: JsonBounds,
  rejectDuplicates: boolean,
): BoundsViolation | undefined {
  const members = bounds.maxDepth <= 1000 ? membersWithinBounds(value, bounds, 0) : -1;
  if (members < 0) {
    const b = locateBoundsViolation(value, bounds);
    if (b !== undefined) return b;
  }
  if (!rejectDuplicates) return undefined;
  if (members >= 0 && countMemberSeparators(text) === members) return undefined;
  const duplicate = findDuplicateKey(text);
  return duplicate === undefined ? undefined : { pointer: duplicate, detail: 'is given more than once' };
}

/** Index of the quote closing the string that opens at `open`: the next one not escaped by a backslash. */
function closingQuote(text: string, open: number): number {
  let j = text.indexOf('"', open + 1);
  for (;;) {
    if (j === -1) return -1;
    let slashes = 0;
    while (text.charCodeAt(j - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return j;
    j = text.indexOf('"', j + 1);
  }
}

/**
 * Counts the `:` outside strings of a JSON text: in valid JSON, one per object member (RFC 8259 §4).
 * Linear: both searches only move forward, and a colon found beyond the next string is kept for later.
 */
function countMemberSeparators(text: string): number {
  let count = 0;
  let from = 0;
  let colon = text.indexOf(':');
  while (colon !== -1) {
    const open = text.indexOf('"', from);
    const end = open === -1 ? text.length : open;
    while (colon !== -1 && colon < end) {
      count++;
      colon = text.indexOf(':', colon + 1);
    }
    if (open === -1) break;
    const close = closingQuote(text, open);
    if (close === -1) break;
    from = close + 1;
    if (colon !== -1 && colon < from) colon = text.indexOf(':', from);
  }
  return count;
}

function locateBoundsViolation(value: unknown, bounds: JsonBounds): BoundsViolation | undefined {
  const stack: Array<[unknown, string, number]> = [[value, '', 0]];
  while (stack.length > 0) {
    const [v, pointer, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.length > bounds.maxStringLength) {
        return { pointer, detail: `must NOT have more than ${bounds.maxStringLength} characters` };
      }
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= bounds.maxDepth) return { pointer, detail: `nests deeper than ${bounds.maxDepth} levels` };
    if (Array.isArray(v)) {
      if (v.length > bounds.maxArrayItems) {
        return { pointer, detail: `must NOT have more than ${bounds.maxArrayItems} items` };
      }
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${pointer}/${i}`, depth + 1]);
      continue;
    }
    const keys = Object.keys(v);
    if (keys.length > bounds.maxObjectProperties) {
      return { pointer, detail: `must NOT have more than ${bounds.maxObjectProperties} properties` };
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i];
      if (k.length > bounds.maxStringLength)
        return { pointer, detail: 'has a property name that is too long' };
      stack.push([(v as Record<string, unknown>)[k], `${pointer}/${escapeToken(k)}`, depth + 1]);
    }
  }
  return undefined;
}

interface Frame {
  readonly object: boolean;
  readonly parent: Frame | undefined;
  /** Member name or index of this container in its parent. */
  readonly at: string | number;
  keys: string[] | Set<string> | undefined;
  index: number;
  lastKey: string;
  expectKey: boolean;
}

function pointerOf(frame: Frame | undefined): string {
  let p = '';
  for (let f = frame; f?.parent !== undefined; f = f.parent) {
    p = `/${typeof f.at === 'number' ? f.at : escapeToken(f.at)}${p}`;
  }
  return p;
}

/**
 * Finds a member name repeated within one object of a JSON text (already known to parse). `JSON.parse`
 * keeps the last duplicate while other parsers keep the first, so a duplicate lets a body mean one thing
 * to the gateway and another to the upstream (RFC 8259 §4: names SHOULD be unique). Linear, one pass;
 * pointers are only built for a duplicate. Returns the pointer of the duplicate member, or undefined.
 */
export function findDuplicateKey(text: string): string | undefined {
  let top: Frame | undefined;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      const j = closingQuote(text, i);
      if (j === -1) return undefined;
      if (top?.expectKey) {
        const raw = text.slice(i + 1, j);
        const key = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
        // Small objects are the rule: a linear scan of a short array beats hashing into a Set; past 16
        // names a Set keeps the scan linear for objects with many members.
        const keys = top.keys!;
        if (Array.isArray(keys)) {
          if (keys.includes(key)) return `${pointerOf(top)}/${escapeToken(key)}`;
          keys.push(key);
          if (keys.length > 16) top.keys = new Set(keys);
        } else {
          if (keys.has(key)) return `${pointerOf(top)}/${escapeToken(key)}`;
          keys.add(key);
        }
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j;
    } else if (ch === 0x7b || ch === 0x5b) {
      const at = top === undefined ? '' : top.object ? top.lastKey : top.index;
      const object = ch === 0x7b;
      top = {
        object,
        parent: top,
        at,
        keys: object ? [] : undefined,
        index: 0,
        lastKey: '',
        expectKey: object,
      };
    } else if (ch === 0x7d || ch === 0x5d) {
      top = top?.parent;
    } else if (ch === 0x2c && top !== undefined) {
      if (top.object) top.expectKey = true;
      else top.index++;
    }
  }
  return undefined;
}
