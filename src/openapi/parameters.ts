/**
 * Decoding of OpenAPI parameters from their wire form (`style`/`explode`, OpenAPI 3.1.2 §4.8.12.4) and
 * coercion of the decoded strings to the types their schema declares, so a JSON Schema validator can
 * check them. Delimiters are split before percent-decoding, so an encoded `%2C` stays inside a value.
 */
import type { JsonObject, JsonSchema, Parameter } from '../core/api-document.ts';
import { PortcullisError } from '../core/errors.ts';

/** A query string or cookie header split into pairs: names decoded, values still raw. */
export type RawPairs = ReadonlyArray<readonly [name: string, rawValue: string]>;

/** The parts of one request that parameters are read from, split once per request. */
export interface ParameterSources {
  /** Raw (percent-encoded) path parameter values by name. */
  readonly path: Readonly<Record<string, string>>;
  readonly query: RawPairs;
  /** Node's header object: lower-case names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly cookies: RawPairs;
}

/** Outcome of decoding one parameter: absent, a value, or why the wire form is malformed. */
export type DecodedParameter =
  | { readonly present: false }
  | { readonly present: true; readonly value: unknown }
  | { readonly present: true; readonly error: string };

export type ParameterDecoder = (sources: ParameterSources) => DecodedParameter;

/** Resolves a local `$ref` of the document the schema came from. */
export type RefResolver = (ref: string) => unknown;

/** Thrown at load for a parameter whose style does not fit its location or schema. */
export class ParameterStyleError extends PortcullisError {
  readonly code = 'ERR_PARAMETER_STYLE';
  constructor(message: string) {
    super(message);
    this.name = 'ParameterStyleError';
  }
}

class MalformedParameter extends Error {}

const ABSENT: DecodedParameter = Object.freeze({ present: false });

/** Splits a raw query string into pairs; names are decoded (`+` is a space), values left raw. */
export function splitQuery(rawQuery: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (rawQuery === '') return pairs;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    pairs.push([safeDecode(rawName, true) ?? rawName, eq === -1 ? '' : part.slice(eq + 1)]);
  }
  return pairs;
}

/** Splits a `Cookie` header (RFC 6265 §4.2.1: `name=value; name=value`) into pairs with raw values. */
export function splitCookies(header: string | undefined): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (header === undefined || header === '') return pairs;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name !== '') pairs.push([name, value]);
  }
  return pairs;
}

function safeDecode(raw: string, plusIsSpace: boolean): string | undefined {
  const s = plusIsSpace && raw.includes('+') ? raw.replaceAll('+', ' ') : raw;
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function decodeOrThrow(raw: string, plusIsSpace: boolean): string {
  const v = safeDecode(raw, plusIsSpace);
  if (v === undefined) throw new MalformedParameter('malformed percent-encoding');
  return v;
}

type Shape = 'primitive' | 'array' | 'object';

/** Follows `$ref`s (bounded) to the schema object they name. */
export function derefSchema(schema: JsonSchema | undefined, resolve: RefResolver): JsonObject | undefined {
  let cur: unknown = schema;
  for (let i = 0; i < 32; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const ref = (cur as JsonObject).$ref;
    if (typeof ref !== 'string') return cur as JsonObject;
    cur = ref.startsWith('#') ? resolve(ref) : undefined;
  }
  return undefined;
}

/**
 * The JSON types a schema admits, looked up through `$ref` and composition (`allOf` narrows, `anyOf` and
 * `oneOf` widen); empty when the schema does not say.
 */
export function schemaTypes(schema: JsonSchema | undefined, resolve: RefResolver, depth = 0): Set<string> {
  const s = derefSchema(schema, resolve);
  const out = new Set<string>();
  if (s === undefined || depth > 16) return out;
  if (typeof s.type === 'string') out.add(s.type);
  else if (Array.isArray(s.type)) for (const t of s.type) out.add(String(t));
  if (s.nullable === true && out.size > 0) out.add('null');
  if (out.size === 0) {
    for (const key of ['allOf', 'anyOf', 'oneOf']) {
      const list = s[key];
      if (!Array.isArray(list)) continue;
      for (const sub of list) for (const t of schemaTypes(sub as JsonSchema, resolve, depth + 1)) out.add(t);
      if (out.size > 0) break;
    }
  }
  if (out.size === 0 && (s.properties !== undefined || s.additionalProperties !== undefined))
    out.add('object');
  if (out.size === 0 && s.items !== undefined) out.add('array');
  if (out.has('integer')) out.add('number');
  return out;
}

/** Property schemas of an object schema, gathered through `$ref` and composition. */
export function propertySchemas(
  schema: JsonSchema | undefined,
  resolve: RefResolver,
  out: Map<string, JsonSchema> = new Map(),
  depth = 0,
): Map<string, JsonSchema> {
  const s = derefSchema(schema, resolve);
  if (s === undefined || depth > 16) return out;
  const props = s.properties as Record<string, JsonSchema> | undefined;
  if (props !== undefined) for (const [k, v] of Object.entries(props)) if (!out.has(k)) out.set(k, v);
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    const list = s[key];
    if (Array.isArray(list))
      for (const sub of list) propertySchemas(sub as JsonSchema, resolve, out, depth + 1);
  }
  return out;
}

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * Turns a decoded string into the type its schema declares where the string is a valid spelling of it
 * (`"42"` → 42, `"true"` → true); anything else stays a string so the validator reports the type error.
 */
export function coerceScalar(value: string, types: ReadonlySet<string>): unknown {
  if (types.size === 0 || types.has('string')) return value;
  if (types.has('number') && value.length <= 64 && NUMBER.test(value)) {
    const n = Number(value);
    // Digits a double cannot hold exactly stay a string (and fail the type): the upstream would read the
    // exact value, the gateway a rounded one (issue 13 item 5).
    const inexact = !Number.isSafeInteger(n) && /^-?\d+$/.test(value);
    if (Number.isFinite(n) && !inexact) return n;
  }
  if (types.has('boolean')) {
    if (value === 'true') return true;
    if (value === 'false') return false;
  }
  if (types.has('null') && (value === '' || value === 'null')) return null;
  return value;
}

/** A function that coerces a decoded value (string, string[] or record of strings) to its schema. */
type Coercer = (value: unknown) => unknown;

/** Builds a coercer for a schema: scalars by type, arrays item by item, objects property by property. */
export function compileCoercer(schema: JsonSchema | undefined, resolve: RefResolver, depth = 0): Coercer {
  const types = schemaTypes(schema, resolve);
  const s = derefSchema(schema, resolve);
  let item: Coercer | undefined;
  let props: Map<string, Coercer> | undefined;
  if (depth < 8 && s !== undefined) {
    if (types.has('array')) item = compileCoercer(s.items as JsonSchema | undefined, resolve, depth + 1);
    if (types.has('object')) {
      props = new Map();
      for (const [k, v] of propertySchemas(s, resolve)) props.set(k, compileCoercer(v, resolve, depth + 1));
    }
  }
  return (value) => {
    if (typeof value === 'string') return coerceScalar(value, types);
    if (Array.isArray(value)) return item === undefined ? value : value.map(item);
    if (value !== null && typeof value === 'object' && props !== undefined) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const c = props.get(k);
        // defineProperty, so a member named `__proto__` stays data and never becomes the prototype
        Object.defineProperty(out, k, {
          value: c === undefined ? v : c(v),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    return value;
  };
}

/** Pairs `k,v,k,v` into an object; an odd count is malformed. */
function pairsToObject(tokens: string[]): Record<string, string> {
  if (tokens.length % 2 !== 0) throw new MalformedParameter('object value has an odd number of items');
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i < tokens.length; i += 2) out[tokens[i]] = tokens[i + 1];
  return { ...out };
}

/** `k=v` items into an object. */
function assignmentsToObject(items: string[], decode: (s: string) => string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const it of items) {
    const eq = it.indexOf('=');
    if (eq === -1) throw new MalformedParameter('object member is not key=value');
    out[decode(it.slice(0, eq))] = decode(it.slice(eq + 1));
  }
  return { ...out };
}

/** Splits `raw` on `sep` and decodes each token; an empty raw value is an empty list. */
function splitDecode(raw: string, sep: string | RegExp, decode: (s: string) => string): string[] {
  if (raw === '') return [];
  return raw.split(sep).map(decode);
}

const ALLOWED_STYLES: Record<string, readonly string[]> = {
  path: ['simple', 'label', 'matrix'],
  query: ['form', 'spaceDelimited', 'pipeDelimited', 'deepObject'],
  header: ['simple'],
  cookie: ['form', 'cookie'],
};

/**
 * Compiles the decoder for one parameter: it finds the parameter in the request's sources, splits it by
 * style and explode, percent-decodes and coerces it to its schema's types.
 * @example
 * const decode = compileParameterDecoder(param, (ref) => api.resolve(ref));
 * const r = decode({ path: ex.route.pathParams, query: splitQuery(ex.rawQuery), headers, cookies });
 */
export function compileParameterDecoder(param: Parameter, resolve: RefResolver): ParameterDecoder {
  const allowed = ALLOWED_STYLES[param.in];
  if (!allowed?.includes(param.style)) {
    throw new ParameterStyleError(
      `style ${param.style} is not allowed for ${param.in} parameter ${param.name}`,
    );
  }
  const coerce = compileCoercer(param.schema, resolve);
  if (param.contentType !== undefined) return contentDecoder(param, coerce);
  const types = schemaTypes(param.schema, resolve);
  const shape: Shape = types.has('array') ? 'array' : types.has('object') ? 'object' : 'primitive';
  const explode = param.explode;
  const name = param.name;
  const wrap =
    (read: (s: ParameterSources) => unknown | undefined): ParameterDecoder =>
    (sources) => {
      try {
        const v = read(sources);
        return v === undefined ? ABSENT : { present: true, value: coerce(v) };
      } catch (e) {
        if (e instanceof MalformedParameter) return { present: true, error: e.message };
        throw e;
      }
    };

  switch (param.in) {
    case 'path': {
      const dec = (s: string) => decodeOrThrow(s, false);
      return wrap((s) => {
        const raw = s.path[name];
        if (raw === undefined) return undefined;
        return decodePathValue(raw, param.style, shape, explode, name, dec);
      });
    }
    case 'header': {
      const key = name.toLowerCase();
      return wrap((s) => {
        const h = s.headers[key];
        if (h === undefined) return undefined;
        const raw = Array.isArray(h) ? h.join(', ') : h;
        if (shape === 'primitive') return raw;
        const items = raw === '' ? [] : raw.split(',').map((x) => x.trim());
        if (shape === 'array') return items;
        return explode ? assignmentsToObject(items, (x) => x.trim()) : pairsToObject(items);
      });
    }
    case 'cookie': {
      const dec = (x: string) => decodeOrThrow(x, false);
      return wrap((s) => {
        const values = valuesOf(s.cookies, name);
        if (values.length === 0) return undefined;
        if (shape === 'array' && explode) return values.map(dec);
        if (values.length > 1) throw new MalformedParameter('cookie given more than once');
        const raw = values[0];
        if (shape === 'primitive') return dec(raw);
        const items = splitDecode(raw, ',', dec);
        return shape === 'array' ? items : pairsToObject(items);
      });
    }
    case 'query':
      return wrap(queryReader(param, shape, resolve));
  }
}

function valuesOf(pairs: RawPairs, name: string): string[] {
  const out: string[] = [];
  for (const [n, v] of pairs) if (n === name) out.push(v);
  return out;
}

function decodePathValue(
  raw: string,
  style: string,
  shape: Shape,
  explode: boolean,
  name: string,
  dec: (s: string) => string,
): unknown {
  if (style === 'simple') {
    if (shape === 'primitive') return dec(raw);
    const items = raw === '' ? [] : raw.split(',');
    if (shape === 'array') return items.map(dec);
    return explode ? assignmentsToObject(items, dec) : pairsToObject(items.map(dec));
  }
  if (style === 'label') {
    if (!raw.startsWith('.')) throw new MalformedParameter('label-style value must start with "."');
    const body = raw.slice(1);
    if (shape === 'primitive') return dec(body);
    const items = body === '' ? [] : body.split(explode ? '.' : ',');
    if (shape === 'array') return items.map(dec);
    return explode ? assignmentsToObject(items, dec) : pairsToObject(items.map(dec));
  }
  // matrix: ;name=value, ;name=a,b or ;name=a;name=b, ;name=k,v or ;k=v;k=v (RFC 6570 §3.2.7)
  if (!raw.startsWith(';')) throw new MalformedParameter('matrix-style value must start with ";"');
  const segments = raw.slice(1).split(';');
  if (shape === 'object' && explode) return assignmentsToObject(segments, dec);
  const values: string[] = [];
  for (const seg of segments) {
    const eq = seg.indexOf('=');
    const key = eq === -1 ? seg : seg.slice(0, eq);
    if (dec(key) !== name) throw new MalformedParameter('matrix-style value names another parameter');
    values.push(eq === -1 ? '' : seg.slice(eq + 1));
  }
  if (shape === 'array' && explode) return values.map(dec);
  if (values.length !== 1) throw new MalformedParameter('matrix-style value repeated');
  if (shape === 'primitive') return dec(values[0]);
  const items = splitDecode(values[0], ',', dec);
  return shape === 'array' ? items : pairsToObject(items);
}

function queryReader(
  param: Parameter,
  shape: Shape,
  resolve: RefResolver,
): (s: ParameterSources) => unknown | undefined {
  const name = param.name;
  const dec = (x: string) => decodeOrThrow(x, true);
  const single = (pairs: RawPairs): string | undefined => {
    const values = valuesOf(pairs, name);
    if (values.length === 0) return undefined;
    // A scalar given twice is HTTP parameter pollution: which copy the upstream reads is undefined.
    if (values.length > 1) throw new MalformedParameter('parameter given more than once');
    return values[0];
  };
  if (param.style === 'deepObject') {
    if (shape !== 'object') throw new ParameterStyleError(`deepObject parameter ${name} must be an object`);
    const prefix = `${name}[`;
    return (s) => {
      let out: Record<string, string> | undefined;
      for (const [n, v] of s.query) {
        if (!n.startsWith(prefix)) continue;
        if (!n.endsWith(']') || n.indexOf('[', prefix.length) !== -1) {
          throw new MalformedParameter('deepObject members must be name[property] (one level)');
        }
        const key = n.slice(prefix.length, -1);
        out ??= Object.create(null) as Record<string, string>;
        if (key in out) throw new MalformedParameter('deepObject member given more than once');
        out[key] = dec(v);
      }
      return out === undefined ? undefined : { ...out };
    };
  }
  if (param.style === 'spaceDelimited' || param.style === 'pipeDelimited') {
    if (shape === 'primitive') {
      throw new ParameterStyleError(`${param.style} parameter ${name} must be an array or object`);
    }
    const sep = param.style === 'spaceDelimited' ? /%20|\+| /i : /%7C|\|/i;
    return (s) => {
      if (param.explode && shape === 'array') {
        const values = valuesOf(s.query, name);
        return values.length === 0 ? undefined : values.map(dec);
      }
      const raw = single(s.query);
      if (raw === undefined) return undefined;
      const items = splitDecode(raw, sep, dec);
      return shape === 'array' ? items : pairsToObject(items);
    };
  }
  // form
  if (shape === 'primitive') {
    return (s) => {
      const raw = single(s.query);
      return raw === undefined ? undefined : dec(raw);
    };
  }
  if (shape === 'array') {
    return (s) => {
      if (param.explode) {
        const values = valuesOf(s.query, name);
        return values.length === 0 ? undefined : values.map(dec);
      }
      const raw = single(s.query);
      return raw === undefined ? undefined : splitDecode(raw, ',', dec);
    };
  }
  if (param.explode) {
    // form + explode object: every declared property is a query parameter of its own.
    const keys = [...propertySchemas(param.schema, resolve).keys()];
    return (s) => {
      let out: Record<string, string> | undefined;
      for (const k of keys) {
        const values = valuesOf(s.query, k);
        if (values.length === 0) continue;
        if (values.length > 1) throw new MalformedParameter(`member ${k} given more than once`);
        out ??= {};
        // defineProperty: a declared property named `__proto__` stays a member
        Object.defineProperty(out, k, {
          value: dec(values[0]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    };
  }
  return (s) => {
    const raw = single(s.query);
    return raw === undefined ? undefined : pairsToObject(splitDecode(raw, ',', dec));
  };
}

/** Names of query parameters a form+explode object parameter claims (its declared properties). */
export function claimedQueryNames(param: Parameter, resolve: RefResolver): string[] {
  if (param.in !== 'query') return [];
  // deepObject claims every `name[...]` key: a name ending in `[` is a prefix.
  if (param.style === 'deepObject') return [`${param.name}[`];
  if (param.contentType === undefined && param.style === 'form' && param.explode) {
    const types = schemaTypes(param.schema, resolve);
    if (types.has('object') && !types.has('array')) return [...propertySchemas(param.schema, resolve).keys()];
  }
  return [param.name];
}

/** Parameters described with `content` (e.g. `application/json`): one value, parsed as that media type. */
function contentDecoder(param: Parameter, coerce: Coercer): ParameterDecoder {
  const isJson = /^application\/(?:[\w.+-]+\+)?json$/i.test(param.contentType ?? '');
  const name = param.name;
  return (s) => {
    let raw: string | undefined;
    if (param.in === 'path') raw = s.path[name];
    else if (param.in === 'header') {
      const h = s.headers[name.toLowerCase()];
      raw = Array.isArray(h) ? h.join(', ') : h;
    } else {
      const values = valuesOf(param.in === 'query' ? s.query : s.cookies, name);
      if (values.length > 1) return { present: true, error: 'parameter given more than once' };
      raw = values[0];
    }
    if (raw === undefined) return ABSENT;
    const text = param.in === 'header' ? raw : safeDecode(raw, param.in === 'query');
    if (text === undefined) return { present: true, error: 'malformed percent-encoding' };
    if (!isJson) return { present: true, value: coerce(text) };
    try {
      return { present: true, value: JSON.parse(text) };
    } catch {
      return { present: true, error: `not valid ${param.contentType}` };
    }
  };
}
