/**
 * Requests derived from the rules themselves (issue 17), material we did not write: for every request rule
 * of a CRS folder (ids 911000–948999, phases 1 and 2), values its operator should match — strings sampled
 * from its `@rx` pattern, phrases of its `@pm` list or `@pmFromFile` data file, the literal of `@contains`,
 * `@streq`, `@endsWith`, a byte outside a `@validateByteRange` — placed in the variables the rule inspects
 * (query arguments and their names, JSON, form, multipart and XML bodies, cookies, headers, the path, the
 * method). Each link of a chain adds its own value. Per rule: up to three matching values in different
 * parts, one encoded the way a decoding transformation of the rule undoes (base64, hex, entities, double
 * percent-encoding...), and one near miss (the first value with its punctuation turned into spaces, in a
 * sentence). Deterministic for a seed. Labels: `attack` for values drawn to match, `benign` for near misses
 * (which are not certified harmless: a near miss may still match another rule).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ParsedRule, parseSecLang, type VariableRef } from '../../src/waf/seclang/parse.ts';
import { type CorpusRequest, multipart, pick, random } from './corpus.ts';
import { samplePattern } from './regex-sample.ts';

/** Where a value goes in the request. */
type Place =
  | { readonly k: 'query-value'; readonly name?: string }
  | { readonly k: 'query-name' }
  | { readonly k: 'json-value' }
  | { readonly k: 'json-key' }
  | { readonly k: 'form-value' }
  | { readonly k: 'multipart-value' }
  | { readonly k: 'multipart-filename' }
  | { readonly k: 'multipart-name' }
  | { readonly k: 'multipart-header' }
  | { readonly k: 'xml-value' }
  | { readonly k: 'cookie-value'; readonly name?: string }
  | { readonly k: 'cookie-name' }
  | { readonly k: 'header'; readonly name: string }
  | { readonly k: 'header-name' }
  | { readonly k: 'path' }
  | { readonly k: 'method' };

/** Headers the sender owns: a value there would break the framing, not test a rule. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'x-corpus-id']);

/** The places a rule variable stands for, most telling first (empty: nothing a client sets directly). */
function placesOf(v: VariableRef): Place[] {
  const key = v.key !== undefined && v.keyRegex === undefined ? v.key : undefined;
  switch (v.collection) {
    case 'ARGS':
      return key
        ? [{ k: 'query-value', name: key }]
        : [{ k: 'query-value' }, { k: 'json-value' }, { k: 'multipart-value' }, { k: 'form-value' }];
    case 'ARGS_GET':
    case 'QUERY_STRING':
    case 'REQUEST_URI':
    case 'REQUEST_URI_RAW':
    case 'REQUEST_LINE':
      return [{ k: 'query-value', ...(key ? { name: key } : {}) }];
    case 'ARGS_POST':
    case 'REQUEST_BODY':
      return [{ k: 'form-value' }, { k: 'json-value' }];
    case 'ARGS_NAMES':
      return [{ k: 'query-name' }, { k: 'json-key' }];
    case 'ARGS_GET_NAMES':
      return [{ k: 'query-name' }];
    case 'XML':
      return [{ k: 'xml-value' }];
    case 'REQUEST_COOKIES':
      return [{ k: 'cookie-value', ...(key ? { name: key } : {}) }];
    case 'REQUEST_COOKIES_NAMES':
      return [{ k: 'cookie-name' }];
    case 'REQUEST_HEADERS':
      if (key) return FRAMING.has(key.toLowerCase()) ? [] : [{ k: 'header', name: key }];
      return [{ k: 'header', name: 'X-Data' }];
    case 'REQUEST_HEADERS_NAMES':
      return [{ k: 'header-name' }];
    case 'REQUEST_FILENAME':
    case 'REQUEST_BASENAME':
      return [{ k: 'path' }];
    case 'REQUEST_METHOD':
      return [{ k: 'method' }];
    case 'FILES':
      return [{ k: 'multipart-filename' }];
    case 'FILES_NAMES':
      return [{ k: 'multipart-name' }];
    case 'MULTIPART_PART_HEADERS':
      return [{ k: 'multipart-header' }];
    default:
      return [];
  }
}

function placeName(p: Place): string {
  return 'name' in p && p.name !== undefined ? `${p.k}:${p.name}` : p.k;
}

/** The non-comment lines of the data files an `@pmFromFile` names. */
function dataPhrases(dir: string, param: string): string[] {
  const out: string[] = [];
  for (const file of param.split(/\s+/).filter(Boolean)) {
    try {
      for (const line of readFileSync(join(dir, file), 'latin1').split('\n')) {
        const t = line.trim();
        if (t !== '' && !t.startsWith('#')) out.push(t);
      }
    } catch {
      // A data file the folder lacks: the rule gets no phrase.
    }
  }
  return out;
}

/** The byte ranges of a `@validateByteRange` parameter (`1-255`, `32,34,38`). */
function byteRanges(param: string): Array<[number, number]> {
  return param.split(',').map((part) => {
    const [lo, hi] = part.trim().split('-').map(Number);
    return [lo, hi ?? lo];
  });
}

/** Values the operator of one rule link should match (empty when it cannot be drawn). */
function valuesFor(link: ParsedRule, dir: string, r: () => number, n: number): string[] {
  const op = link.operator;
  if (op === undefined || op.negated || op.param.includes('%{')) return [];
  switch (op.name) {
    case 'rx':
      return op.param === '^$' ? [''] : samplePattern(op.param, r, n);
    case 'pm': {
      const words = op.param.split(/\s+/).filter(Boolean);
      return Array.from({ length: Math.min(n, words.length) }, () => pick(r, words));
    }
    case 'pmFromFile':
    case 'pmf': {
      const phrases = dataPhrases(dir, op.param);
      return phrases.length === 0 ? [] : [...new Set(Array.from({ length: n }, () => pick(r, phrases)))];
    }
    case 'contains':
    case 'streq':
    case 'beginsWith':
    case 'endsWith':
      return [op.param];
    case 'within': {
      const words = op.param.split(/\s+/).filter(Boolean);
      return words.length === 0 ? [] : [pick(r, words)];
    }
    case 'validateByteRange': {
      const ranges = byteRanges(op.param);
      const outside = [0x01, 0x07, 0x1b, 0x7f, 0xa0, 0xff, 0x25].filter(
        (b) => !ranges.some(([lo, hi]) => b >= lo && b <= hi),
      );
      return outside.length === 0 ? [] : [`val${String.fromCharCode(pick(r, outside))}ue`];
    }
    default:
      return [];
  }
}

/** How a decoding transformation of the rule would see `value` written: its inverse, or undefined. */
function encodeFor(transform: string, value: string): string | undefined {
  const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, '0');
  const special = /[^A-Za-z0-9 ]/g;
  switch (transform) {
    case 'base64Decode':
    case 'base64DecodeExt':
      return Buffer.from(value, 'latin1').toString('base64');
    case 'hexDecode':
      return Buffer.from(value, 'latin1').toString('hex');
    case 'htmlEntityDecode':
      return value.replace(special, (c) => `&#x${hex(c)};`);
    case 'jsDecode':
      return value.replace(special, (c) => `\\x${hex(c)}`);
    case 'cssDecode':
      return value.replace(special, (c) => `\\${hex(c)} `);
    case 'urlDecode':
    case 'urlDecodeUni':
      // Percent-encoded once more than the place encodes it: the rule decodes what the parser left.
      return value.replace(special, (c) => `%${hex(c)}`);
    case 'lowercase':
      return value.toUpperCase();
    case 'cmdLine':
      return value.replace(/([a-z])([a-z])/i, '$1^$2');
    case 'removeComments':
    case 'replaceComments':
      return value.replace(' ', '/**/');
    case 'compressWhitespace':
      return value.replaceAll(' ', ' \t ');
    case 'normalizePath':
    case 'normalisePath':
      return value.replace('/', '/./');
    default:
      return undefined;
  }
}

const DECODERS = [
  'base64Decode',
  'base64DecodeExt',
  'hexDecode',
  'htmlEntityDecode',
  'jsDecode',
  'cssDecode',
  'urlDecodeUni',
  'urlDecode',
  'cmdLine',
  'removeComments',
  'replaceComments',
  'compressWhitespace',
  'normalizePath',
  'normalisePath',
  'lowercase',
];

/** The request being assembled: each placed value adds to one part of it. */
class Draft {
  method = 'GET';
  path = '/api/v1/items';
  readonly query: Array<[string, string]> = [];
  readonly headers: Array<[string, string]> = [
    ['User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'],
    ['Accept', 'application/json'],
  ];
  readonly cookies: Array<[string, string]> = [];
  body?: { kind: 'json' | 'form' | 'multipart' | 'xml'; parts: Array<[string, string, string?]> };
  partHeader?: string;
  private n = 0;

  private name(): string {
    return `f${this.n++}`;
  }

  private bodyPart(kind: 'json' | 'form' | 'multipart' | 'xml', part: [string, string, string?]): boolean {
    if (this.body !== undefined && this.body.kind !== kind) return false;
    this.body ??= { kind, parts: [] };
    this.body.parts.push(part);
    this.method = 'POST';
    return true;
  }

  private setHeader(name: string, value: string): void {
    const i = this.headers.findIndex(([n]) => n.toLowerCase() === name.toLowerCase());
    if (i >= 0) this.headers[i] = [name, value];
    else this.headers.push([name, value]);
  }

  /** Puts `value` at `place`; false when that part cannot carry it. */
  place(place: Place, value: string): boolean {
    switch (place.k) {
      case 'query-value':
        this.query.push([place.name ?? this.name(), value]);
        return true;
      case 'query-name':
        if (value === '') return false;
        this.query.push([value, '1']);
        return true;
      case 'json-value':
        return this.bodyPart('json', [this.name(), value]);
      case 'json-key':
        return value !== '' && this.bodyPart('json', [value, 'x']);
      case 'form-value':
        return this.bodyPart('form', [this.name(), value]);
      case 'multipart-value':
        return !value.includes('--') && this.bodyPart('multipart', [this.name(), value]);
      case 'multipart-filename':
        return !/["\r\n]/.test(value) && this.bodyPart('multipart', [this.name(), 'content', value]);
      case 'multipart-name':
        return !/["\r\n]/.test(value) && value !== '' && this.bodyPart('multipart', [value, 'x', 'a.txt']);
      case 'multipart-header':
        if (/[\r\n]/.test(value) || !this.bodyPart('multipart', [this.name(), 'x'])) return false;
        this.partHeader = value;
        return true;
      case 'xml-value':
        return this.bodyPart('xml', [this.name(), value]);
      case 'cookie-value':
        this.cookies.push([place.name ?? this.name(), cookieSafe(value)]);
        return true;
      case 'cookie-name':
        if (value === '') return false;
        this.cookies.push([cookieSafe(value).replace(/[=\s,]/g, (c) => pct(c)), 'x']);
        return true;
      case 'header':
        this.setHeader(place.name, headerSafe(value));
        return true;
      case 'header-name':
        if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(value)) return false;
        this.headers.push([value, 'x']);
        return true;
      case 'path':
        if (value === '') return false;
        this.path = value.startsWith('/') ? pathSafe(value) : `/files/${pathSafe(value)}`;
        return true;
      case 'method':
        if (!/^[A-Z_-]{1,20}$/i.test(value)) return false;
        this.method = value.toUpperCase();
        return true;
    }
  }

  build(): Omit<CorpusRequest, 'id' | 'label' | 'family'> {
    const query = this.query.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&');
    const headers = [...this.headers];
    if (this.cookies.length > 0)
      headers.push(['Cookie', this.cookies.map(([k, v]) => `${k}=${v}`).join('; ')]);
    let body: Buffer | undefined;
    const b = this.body;
    const typed = headers.some(([n]) => n.toLowerCase() === 'content-type');
    const contentType = (type: string) => {
      if (!typed) headers.push(['Content-Type', type]);
    };
    if (b === undefined && typed) body = Buffer.from('a=1');
    if (b !== undefined) {
      if (b.kind === 'json') {
        body = Buffer.from(JSON.stringify(Object.fromEntries(b.parts.map(([k, v]) => [k, v]))));
        contentType('application/json');
      } else if (b.kind === 'form') {
        body = Buffer.from(b.parts.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&'));
        contentType('application/x-www-form-urlencoded');
      } else if (b.kind === 'xml') {
        const items = b.parts.map(([k, v]) => `<${k}>${xmlSafe(v)}</${k}>`).join('');
        body = Buffer.from(`<?xml version="1.0"?><root>${items}</root>`, 'latin1');
        contentType('application/xml');
      } else {
        const boundary = '----portcullisDerived7MA4YWxkTrZu0gW';
        let text = multipart(boundary, b.parts).toString('latin1');
        if (this.partHeader !== undefined)
          text = text.replace('\r\n\r\n', `\r\nX-Part-Info: ${this.partHeader}\r\n\r\n`);
        body = Buffer.from(text, 'latin1');
        contentType(`multipart/form-data; boundary=${boundary}`);
      }
    }
    return {
      method: this.method,
      uri: query === '' ? this.path : `${this.path}?${query}`,
      headers,
      ...(body === undefined ? {} : { body }),
    };
  }
}

function pct(c: string): string {
  return encodeURIComponent(c);
}

/** Percent-encoding of a value in a query string (UTF-8 for characters above 0x7f, as a browser does). */
function encode(value: string): string {
  return encodeURIComponent(value);
}

function cookieSafe(value: string): string {
  return value.replace(/[;\r\n\0]|[^\u0020-\u007e]/g, pct);
}

function headerSafe(value: string): string {
  return value.replace(/[\u0000-\u0008\u000a-\u001f\u007f]|[^\u0000-\u00ff]/g, pct);
}

function pathSafe(value: string): string {
  return value.replace(/[^A-Za-z0-9._~/;:@!$&'()*+,=-]/g, pct);
}

function xmlSafe(value: string): string {
  return value
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;');
}

function ruleId(rule: ParsedRule): number {
  return Number(rule.actions.find((a) => a.name === 'id')?.value);
}

function phaseOf(rule: ParsedRule): number {
  const p = rule.actions.find((a) => a.name === 'phase')?.value ?? '2';
  return p === 'request' ? 2 : Number(p);
}

/** The places a link's variables stand for, in order, without repeats. */
function linkPlaces(link: ParsedRule): Place[] {
  const seen = new Set<string>();
  const out: Place[] = [];
  for (const v of link.variables) {
    if (v.exclude || v.count) continue;
    for (const p of placesOf(v)) {
      const key = placeName(p);
      if (!seen.has(key)) {
        seen.add(key);
        out.push(p);
      }
    }
  }
  return out;
}

/** Every `.conf` of a folder, parsed with our SecLang reader (the generator's only use of our code). */
function parseFolder(dir: string): ParsedRule[] {
  const parsed = parseSecLang('', 'derived');
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.conf'))
    .sort())
    parseSecLang(readFileSync(join(dir, f), 'latin1'), f, parsed);
  return parsed.rules;
}

/**
 * The rule-derived requests of the CRS folder `dir`.
 * @example deriveRequests('/usr/share/modsecurity-crs/rules').length // about 1000
 */
export function deriveRequests(dir: string, seed = 4): CorpusRequest[] {
  const r = random(seed);
  const out: CorpusRequest[] = [];
  for (const rule of parseFolder(dir)) {
    if (rule.kind !== 'rule') continue;
    const id = ruleId(rule);
    if (!(id >= 911000 && id < 949000) || phaseOf(rule) > 2) continue;
    const links = [rule, ...rule.chained];
    const planned = links.map((link) => ({
      places: linkPlaces(link),
      values: valuesFor(link, dir, r, 3),
      transforms: link.actions.filter((a) => a.name === 't').map((a) => a.value ?? ''),
    }));
    const head = planned[0];
    if (head.places.length === 0 || head.values.length === 0) continue;
    let n = 0;
    const emit = (label: CorpusRequest['label'], family: string, first: Place, value: string) => {
      const draft = new Draft();
      if (!draft.place(first, value)) return;
      // The other links of a chain: their first value at their first place.
      for (const link of planned.slice(1)) {
        if (link.places.length > 0 && link.values.length > 0) draft.place(link.places[0], link.values[0]);
      }
      out.push({
        id: `d${seed === 4 ? '' : `${seed}.`}${id}-${n++}`,
        label,
        family: `${id}:${family}@${placeName(first)}`,
        ...draft.build(),
      });
    };
    // Query values first (where most attacks travel), then other places the rule reads, each once if it can.
    const q = head.places.findIndex((p) => p.k === 'query-value');
    if (q > 0) head.places.unshift(...head.places.splice(q, 1));
    const unused = head.places.slice(1);
    head.values.forEach((value, i) => {
      const where =
        i === 0 || unused.length === 0
          ? head.places[0]
          : unused.splice(Math.floor(r() * unused.length), 1)[0];
      emit('attack', 'match', where, value);
    });
    const decoder = DECODERS.find((t) => head.transforms.includes(t));
    const encoded = decoder === undefined ? undefined : encodeFor(decoder, head.values[0]);
    if (encoded !== undefined && encoded !== head.values[0])
      emit('attack', `encoded-${decoder}`, head.places[0], encoded);
    const nearMiss = head.values[0].replace(/[^A-Za-z0-9]+/g, ' ').trim();
    if (nearMiss !== '') emit('benign', 'near-miss', head.places[0], `notes about ${nearMiss} for today`);
  }
  return out;
}
