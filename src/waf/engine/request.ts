/**
 * The variables and collections of one request, read the way libmodsecurity reads them (issue 17):
 * values are byte strings (latin1), the query string and url-encoded bodies are split on `&` and `=`
 * and decoded leniently (`+` is a space), cookies split on `;`, JSON bodies named `json.a.b` and
 * `json.list.array_0`, multipart parts into ARGS_POST, FILES and FILES_NAMES.
 */
import { isAscii } from 'node:buffer';
import type { WafRequest } from '../types.ts';
import { trimRight, uriDecode, urlDecode } from './transforms.ts';
import { readXml } from './xml.ts';

/** One member of a collection. */
export interface Entry {
  readonly key: string;
  readonly value: string;
  /**
   * The entry's row in the engine's per-evaluation memo of transformed values and prefilter answers by
   * transformation chain (entries never change once made); -1 until the engine needs one.
   */
  slot: number;
  /** The prefilter answer of the untransformed value (a hit-table row), -1 until known. */
  pf0: number;
  /** The character classes of the value (transforms.ts charClasses), -1 until the engine needs them. */
  classes: number;
  /** The key in ASCII lower case (targets such as `REQUEST_HEADERS:User-Agent` compare it). */
  lkey?: string;
  /** The variable name (`ARGS:q`) of this entry in collection `nameOf`. */
  name?: string;
  nameOf?: string;
  /** What the engine keeps across requests about this value (headers, cookies, argument names), if anything. */
  memo: ValueMemo | undefined;
  /**
   * The last transformed form of the value the engine scanned for prefilters in this evaluation, and its
   * answer (a hit-table row): chains of other steps often make the same text (normalizePath and
   * normalizePathWin of a URL, cmdLine and removeWhitespace of plain words), which then is not scanned again.
   */
  scanned: string | undefined;
  scannedRow: number;
}

/**
 * What the engine learned about one header, cookie or argument-name value, kept across requests (these
 * repeat in real traffic: Authorization, User-Agent, Accept, cookies, an API's member names): its
 * character classes, the prefilters it holds
 * through each transformation chain, and the operators that did not match it. Only answers that depend
 * on the value alone are kept (compile.ts, `memoFor`).
 */
export interface ValueMemo {
  classes: number;
  /** Per transformation chain: the prefilters the value holds through it (undefined: not known yet). */
  readonly hits: Array<Int32Array | undefined>;
  /** Per memoizable operator (a rule link without macros): 1 when it ran on the value and did not match. */
  readonly noMatch: Uint8Array;
  /** The memo's share of its cache's byte bound. */
  bytes: number;
  readonly key: string;
  /**
   * The memo of the list of names that holds this one (an argument, header or cookie name's memo lives in
   * its list's, and counts in the list's bytes), or undefined (a value's memo, in the memo of values).
   */
  readonly owner: { bytes: number; readonly key: string } | undefined;
}

/** Makes an entry with all its memo fields present, so every entry has the same shape. */
export function entry(key: string, value: string): Entry {
  return {
    key,
    value,
    slot: -1,
    pf0: -1,
    classes: -1,
    lkey: undefined,
    name: undefined,
    nameOf: undefined,
    memo: undefined,
    scanned: undefined,
    scannedRow: -1,
  };
}

/** Collections by upper-case name; single-valued variables hold one entry with an empty key. */
export type Collections = Map<string, Entry[]>;

/** The body processors libmodsecurity knows. */
export type BodyProcessor = 'URLENCODED' | 'MULTIPART' | 'JSON' | 'XML' | undefined;

function latin1(s: string): string {
  // Header values reach us as JavaScript strings; characters above 0xFF (never sent as such by HTTP/1)
  // are re-read as their UTF-8 bytes.
  for (let i = 0, end = s.length; i < end; i++) {
    if (String.prototype.charCodeAt.call(s, i) > 0xff) return Buffer.from(s, 'utf8').toString('latin1');
  }
  return s;
}

function set(c: Collections, name: string, value: string): void {
  c.set(name, [entry('', value)]);
}

function add(c: Collections, name: string, key: string, value: string): void {
  let list = c.get(name);
  if (!list) {
    list = [];
    c.set(name, list);
  }
  list.push(entry(key, value));
}

/** Splits like std::getline on a separator: empty pieces kept, except a trailing one. */
function splitKeep(s: string, sep: string): string[] {
  const parts = s.split(sep);
  if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts;
}

/** Adds arguments from `a=1&b=2` text. Returns whether some `%` escape was invalid. */
function addArguments(c: Collections, origin: 'GET' | 'POST', text: string, limit: number): boolean {
  let invalid = false;
  for (const piece of splitKeep(text, '&')) {
    const eq = piece.indexOf('=');
    const rawKey = eq < 0 ? piece : piece.slice(0, eq);
    const rawValue = eq < 0 ? '' : piece.slice(eq + 1);
    if (/%(?![0-9a-fA-F]{2})/.test(rawKey) || /%(?![0-9a-fA-F]{2})/.test(rawValue)) invalid = true;
    addArgument(c, origin, urlDecode(rawKey), urlDecode(rawValue), limit);
  }
  return invalid;
}

function addArgument(
  c: Collections,
  origin: 'GET' | 'POST' | 'JSON',
  key: string,
  value: string,
  limit: number,
): void {
  if ((c.get('ARGS')?.length ?? 0) >= limit) return;
  add(c, 'ARGS', key, value);
  add(c, 'ARGS_NAMES', key, key);
  if (origin === 'GET') {
    add(c, 'ARGS_GET', key, value);
    add(c, 'ARGS_GET_NAMES', key, key);
  } else if (origin === 'POST') {
    add(c, 'ARGS_POST', key, value);
    add(c, 'ARGS_POST_NAMES', key, key);
  }
}

/** Options of request reading (SecArgumentsLimit, SecRequestBodyJsonDepthLimit). */
export interface RequestReadOptions {
  readonly argumentsLimit: number;
  readonly jsonDepthLimit: number;
}

/** Reads the phase-1 variables: request line, URI, query arguments, headers, cookies. */
export function readRequestHeaders(
  req: WafRequest,
  options: RequestReadOptions,
): { collections: Collections; bodyProcessor: BodyProcessor } {
  const c: Collections = new Map();
  const uri = latin1(req.uri);
  const method = latin1(req.method);
  const protocol = req.protocol;
  const decoded = uriDecode(uri);
  set(c, 'REQUEST_METHOD', method);
  set(c, 'REQUEST_PROTOCOL', protocol);
  set(c, 'REQUEST_LINE', `${method} ${uri} ${protocol}`);
  set(c, 'REQUEST_URI_RAW', uri);
  // REQUEST_URI is the decoded target; an absolute-form target keeps only its path.
  let parsedUri = decoded;
  if (decoded !== '' && decoded[0] !== '/') {
    const m = /^[^:/?#]*:\/\/[^/]*(\/.*)$/s.exec(decoded);
    if (m) parsedUri = m[1];
  }
  set(c, 'REQUEST_URI', parsedUri);
  const qRaw = uri.indexOf('?');
  const qDec = decoded.indexOf('?');
  const path = qDec < 0 ? decoded : decoded.slice(0, qDec);
  set(c, 'REQUEST_FILENAME', path);
  set(c, 'PATH_INFO', path);
  const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  if (slash >= 0 && path.length > slash + 1) set(c, 'REQUEST_BASENAME', path.slice(slash + 1));
  const query = qRaw < 0 ? '' : uri.slice(qRaw + 1);
  set(c, 'QUERY_STRING', query);
  set(c, 'REMOTE_ADDR', req.remoteAddr);
  set(c, 'REMOTE_HOST', req.remoteAddr);
  set(c, 'UNIQUE_ID', '');
  set(c, 'DURATION', '0');
  set(c, 'URLENCODED_ERROR', '0');
  set(c, 'INBOUND_DATA_ERROR', '0');
  c.set('ARGS', []);
  c.set('ARGS_NAMES', []);
  c.set('ARGS_GET', []);
  c.set('ARGS_GET_NAMES', []);
  c.set('ARGS_POST', []);
  c.set('ARGS_POST_NAMES', []);
  c.set('REQUEST_HEADERS', []);
  c.set('REQUEST_HEADERS_NAMES', []);
  c.set('REQUEST_COOKIES', []);
  c.set('REQUEST_COOKIES_NAMES', []);
  c.set('FILES', []);
  c.set('FILES_NAMES', []);
  c.set('FILES_SIZES', []);
  c.set('MULTIPART_PART_HEADERS', []);
  c.set('XML', []);
  if (query !== '' && addArguments(c, 'GET', query, options.argumentsLimit)) set(c, 'URLENCODED_ERROR', '1');
  let bodyProcessor: BodyProcessor;
  for (const [rawName, rawValue] of req.headers) {
    const name = latin1(rawName);
    const value = latin1(rawValue);
    add(c, 'REQUEST_HEADERS_NAMES', name, name);
    add(c, 'REQUEST_HEADERS', name, value);
    const lname = name.toLowerCase();
    if (lname === 'cookie') readCookies(c, value);
    else if (lname === 'content-type') {
      const l = value.toLowerCase();
      if (l.startsWith('multipart/form-data')) bodyProcessor = 'MULTIPART';
      if (l.startsWith('application/x-www-form-urlencoded')) bodyProcessor = 'URLENCODED';
    }
  }
  if (bodyProcessor) set(c, 'REQBODY_PROCESSOR', bodyProcessor);
  let combined = 0;
  for (const e of c.get('ARGS') ?? []) combined += e.key.length + e.value.length;
  set(c, 'ARGS_COMBINED_SIZE', String(combined));
  return { collections: c, bodyProcessor };
}

function readCookies(c: Collections, value: string): void {
  const cookies = splitKeep(value, ';');
  if (cookies.length > 0) cookies[cookies.length - 1] = trimRight(cookies[cookies.length - 1]);
  for (const piece of cookies) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    let key = eq < 0 ? piece : piece.slice(0, eq);
    const val = eq < 0 ? '' : piece.slice(eq + 1);
    let k = 0;
    while (k < key.length && /[\t\n\v\f\r ]/.test(key[k])) k++;
    key = key.slice(k);
    if (key === '') continue;
    add(c, 'REQUEST_COOKIES_NAMES', key, key);
    add(c, 'REQUEST_COOKIES', key, val);
  }
}

/**
 * How a JSON body's text relates to the arguments read from it (see `readRequestBody`): `verbatim` when
 * every string, number and `true`/`false` token of the body is, as its bytes stand in the body, the value
 * or part of the name of an argument (an ASCII body, no escape in any string, no empty container, under
 * the arguments limit); then a text that occurs in the body either lies inside one token, and so occurs
 * in an argument's value or name, or covers a character between tokens (a quote, `{}[]:,` or white space;
 * white space before or after the document only next to its brackets, unless the text is all white space).
 */
export interface JsonReading {
  readonly verbatim: boolean;
  /** The body holds a `null` (read as an empty value, so its letters are in no argument). */
  readonly hasNull: boolean;
  /** The body holds white space between tokens (not only before or after the document). */
  readonly spaced: boolean;
}

/**
 * Reads the body with the processor in force (set by Content-Type or `ctl:requestBodyProcessor`); for a
 * JSON body read without error, how its text relates to its arguments.
 */
export function readRequestBody(
  c: Collections,
  req: WafRequest,
  processor: BodyProcessor,
  options: RequestReadOptions,
): JsonReading | undefined {
  const body = req.body;
  let reading: JsonReading | undefined;
  set(c, 'REQBODY_ERROR', '0');
  set(c, 'REQBODY_PROCESSOR_ERROR', '0');
  set(c, 'MULTIPART_STRICT_ERROR', '0');
  set(c, 'MULTIPART_UNMATCHED_BOUNDARY', '0');
  if (processor) set(c, 'REQBODY_PROCESSOR', processor);
  if (!body || body.length === 0) return undefined;
  const text = body.toString('latin1');
  set(c, 'REQUEST_BODY', text);
  set(c, 'REQUEST_BODY_LENGTH', String(body.length));
  if (processor === 'URLENCODED') {
    if (addArguments(c, 'POST', text, options.argumentsLimit)) set(c, 'URLENCODED_ERROR', '1');
  } else if (processor === 'JSON') {
    reading = readJson(c, body, options);
    if (reading === undefined) {
      set(c, 'REQBODY_ERROR', '1');
      set(c, 'REQBODY_PROCESSOR_ERROR', '1');
      set(c, 'REQBODY_ERROR_MSG', 'JSON parsing error');
    }
  } else if (processor === 'XML') {
    const xml = readXml(text);
    if (xml?.wellFormed !== true) {
      set(c, 'REQBODY_ERROR', '1');
      set(c, 'REQBODY_PROCESSOR_ERROR', '1');
      set(c, 'REQBODY_ERROR_MSG', 'XML parsing error');
    }
    if (xml !== undefined) {
      // The two XPath targets CRS reads, `XML:/*` and `XML://@*`, on the tree as far as it was read.
      add(c, 'XML', '/*', xml.text);
      for (const value of xml.attributes) add(c, 'XML', '//@*', value);
    }
  } else if (processor === 'MULTIPART') {
    const ct =
      (c.get('REQUEST_HEADERS') ?? []).find((e) => e.key.toLowerCase() === 'content-type')?.value ?? '';
    if (!readMultipart(c, text, ct, options)) {
      set(c, 'REQBODY_ERROR', '1');
      set(c, 'REQBODY_PROCESSOR_ERROR', '1');
      set(c, 'MULTIPART_STRICT_ERROR', '1');
    }
  }
  let combined = 0;
  for (const e of c.get('ARGS') ?? []) combined += e.key.length + e.value.length;
  set(c, 'ARGS_COMBINED_SIZE', String(combined));
  return reading;
}

/**
 * JSON body → ARGS named as libmodsecurity names them; false when the body is not JSON. The document is
 * walked token by token as yajl reports it, not through an object: a member name given twice yields two
 * arguments (`{"a":"<script>","a":"x"}` hides nothing), members keep their order, and numbers keep their
 * spelling (`1.50`, `1e3`). Undefined when the body is not JSON, else how its text relates to its arguments.
 */
function readJson(c: Collections, body: Buffer, options: RequestReadOptions): JsonReading | undefined {
  const src = body.toString('utf8');
  try {
    // Validation only (native and strict); the walk below may then assume well-formed JSON.
    JSON.parse(src);
  } catch {
    return undefined;
  }
  // An ASCII body: its strings are their own bytes, unless an escape in them decodes to more.
  const ascii = isAscii(body);
  let verbatim = ascii;
  let hasNull = false;
  let spaced = false;
  // The rules see the UTF-8 bytes of strings, as yajl gives them.
  const bytes = (s: string) => (/[^\u0000-\u007f]/.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s);
  // Containers: name and, for arrays, the element counter; the current key persists across containers
  // exactly like libmodsecurity's parser state.
  // `base`: the names of the enclosing containers, as the path spells them when this one opened (their
  // counters do not move while it is open).
  const containers: { name: string; array: boolean; counter: number; base: string }[] = [];
  let currentKey = '';
  const keyFor = () => (containers.length === 0 ? 'json' : currentKey === '' ? 'empty-key' : currentKey);
  const emit = (value: string) => {
    if (containers.length === 0) return;
    const last = containers[containers.length - 1];
    const name = last.array
      ? `${last.base}${last.name}.array_${last.counter++}`
      : `${last.base}${last.name}.${currentKey}`;
    addArgument(c, 'JSON', name, value, options.argumentsLimit);
  };
  const closeContainer = () => {
    containers.pop();
    const parent = containers[containers.length - 1];
    if (parent?.array) parent.counter++;
  };
  const n = src.length;
  let i = 0;
  const space = () => {
    for (
      let ch = String.prototype.charCodeAt.call(src, i);
      ch === 0x20 || ch === 0x09 || ch === 0x0a || ch === 0x0d;
    ) {
      spaced = true;
      ch = String.prototype.charCodeAt.call(src, ++i);
    }
  };
  /** The string token at `i` (an opening quote), decoded, as its UTF-8 bytes. */
  const string = (): string => {
    const start = i;
    for (;;) {
      const q = src.indexOf('"', i + 1);
      let k = q - 1;
      while (String.prototype.charCodeAt.call(src, k) === 0x5c) k--;
      i = q;
      if ((q - 1 - k) % 2 === 0) break;
    }
    i++;
    const raw = src.slice(start, i);
    if (!raw.includes('\\')) return ascii ? raw.slice(1, -1) : bytes(raw.slice(1, -1));
    verbatim = false;
    return bytes(JSON.parse(raw) as string);
  };
  const walk = (depth: number): boolean => {
    if (depth > options.jsonDepthLimit) return false;
    space();
    const ch = src[i];
    if (ch === '[' || ch === '{') {
      const array = ch === '[';
      const parent = containers[containers.length - 1];
      const base =
        parent === undefined
          ? ''
          : parent.array
            ? `${parent.base}${parent.name}.array_${parent.counter}`
            : `${parent.base}${parent.name}.`;
      containers.push({ name: keyFor(), array, counter: 0, base });
      i++;
      space();
      if (src[i] === (array ? ']' : '}')) {
        // An empty container's key (if any) is in no argument's name.
        verbatim = false;
        i++;
      } else {
        for (;;) {
          if (!array) {
            // White space after a comma comes before the key (after the opening brace it was read above).
            space();
            currentKey = string();
            space();
            i++; // the colon
          }
          if (!walk(depth + 1)) return false;
          space();
          if (src[i++] !== ',') break;
        }
      }
      closeContainer();
    } else if (ch === '"') emit(string());
    else {
      const start = i;
      // A number or literal of the validated document ends at `,` `]` `}` or JSON's white space.
      for (
        let code = String.prototype.charCodeAt.call(src, i);
        i < n;
        code = String.prototype.charCodeAt.call(src, ++i)
      )
        if (
          code === 0x2c ||
          code === 0x5d ||
          code === 0x7d ||
          code === 0x20 ||
          code === 0x09 ||
          code === 0x0a ||
          code === 0x0d
        )
          break;
      const token = src.slice(start, i);
      if (token === 'null') hasNull = true;
      emit(token === 'null' ? '' : token);
    }
    return true;
  };
  // White space before (or after) the document is not between tokens: a text that covers it and more
  // covers the document's first (or last) bracket too.
  space();
  spaced = false;
  // A document that is one value (emitted nowhere), or arguments past the limit, leave text unread.
  if (src[i] !== '{' && src[i] !== '[') verbatim = false;
  if (!walk(0)) return undefined;
  if ((c.get('ARGS')?.length ?? 0) >= options.argumentsLimit) verbatim = false;
  return { verbatim, hasNull, spaced };
}

/** multipart/form-data → ARGS_POST for fields, FILES/FILES_NAMES for files; false on a malformed body. */
function readMultipart(
  c: Collections,
  text: string,
  contentType: string,
  options: RequestReadOptions,
): boolean {
  const m = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!m) return false;
  const boundary = `--${m[1] ?? m[2]}`;
  const parts = text.split(boundary);
  if (parts.length < 2) return false;
  let filesSize = 0;
  for (let i = 1; i < parts.length; i++) {
    let part = parts[i];
    if (part.startsWith('--')) break;
    part = part.replace(/^\r?\n/, '');
    const sep = part.indexOf('\r\n\r\n') >= 0 ? '\r\n\r\n' : '\n\n';
    const split = part.indexOf(sep);
    if (split < 0) return false;
    const headerText = part.slice(0, split);
    let value = part.slice(split + sep.length);
    value = value.replace(/\r?\n$/, '');
    let name = '';
    let filename: string | undefined;
    for (const line of headerText.split(/\r?\n/)) {
      if (line === '') continue;
      add(c, 'MULTIPART_PART_HEADERS', '', line);
      if (/^content-disposition\s*:/i.test(line)) {
        const n = /;\s*name\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(line);
        if (n) name = n[1] ?? n[2];
        const f = /;\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i.exec(line);
        if (f) filename = f[1] ?? f[2];
      }
    }
    if (filename !== undefined) {
      add(c, 'FILES', name, filename);
      add(c, 'FILES_NAMES', name, name);
      add(c, 'FILES_SIZES', name, String(value.length));
      filesSize += value.length;
    } else addArgument(c, 'POST', name, value, options.argumentsLimit);
  }
  set(c, 'FILES_COMBINED_SIZE', String(filesSize));
  return true;
}
