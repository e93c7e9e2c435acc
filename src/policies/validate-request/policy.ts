import type { JsonObject, JsonSchema, MediaType, ParameterLocation } from '../../core/api-document.ts';
import type { Exchange } from '../../core/exchange.ts';
import type { CompileContext, PolicyDefinition, PolicyHandler } from '../../core/policy.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import {
  claimedQueryNames,
  compileCoercer,
  compileParameterDecoder,
  derefSchema,
  type ParameterDecoder,
  type ParameterSources,
  propertySchemas,
  schemaTypes,
  splitCookies,
  splitQuery,
} from '../../openapi/parameters.ts';
import { type CompiledSchema, schemaCompilerFor } from '../../openapi/schema.ts';
import { parseJson, unsafeIntegerAt } from '../../shared/json.ts';
import {
  bodyKindOf,
  compileMediaTypeMatcher,
  hasContentCoding,
  parseMediaType,
  unreadableCharset,
} from '../media-type.ts';
import {
  BodyFormatError,
  checkJsonBody,
  checkJsonBounds,
  type JsonBounds,
  matchMediaType,
  mediaTypeOf,
  parseFormPairs,
  parseMultipart,
} from '../request-body.ts';
import { emitViolation } from '../violation-events.ts';
import { defaults, schema, type ValidateRequestConfig } from './schema.ts';

/** One `errors` entry of the problem (RFC 9457 §3 example): where, and what is wrong; never the value. */
export interface RequestError {
  readonly pointer: string;
  readonly detail: string;
}

interface LocationCheck {
  readonly location: ParameterLocation;
  readonly decoders: ReadonlyArray<{ readonly name: string; readonly decode: ParameterDecoder }>;
  readonly schema: CompiledSchema;
}

interface BodyCheck {
  /** The key's schema; accepts anything when the key declares none. */
  readonly schema: CompiledSchema;
  readonly hasSchema: boolean;
  /**
   * The schema describes the body as raw bytes (`format: binary`, `contentMediaType`, `contentEncoding`):
   * whatever its media type, the bytes are checked as one string (one latin1 character per byte).
   */
  readonly bytes: boolean;
  /** The schema can describe a string: a text or bytes body can be checked against it as one. */
  readonly acceptsString: boolean;
  /** Form and multipart: coerces field strings to the schema's types. */
  readonly coerce: (value: unknown) => unknown;
  /** Form and multipart: fields the schema declares as arrays (may repeat). */
  readonly arrayFields: ReadonlySet<string>;
  /** Multipart: allowed content types per field (`encoding.<field>.contentType`). */
  readonly partTypes: ReadonlyMap<string, readonly string[]>;
}

// OpenAPI 3.1.2 §4.8.12.1: header parameters named Accept, Content-Type or Authorization are ignored.
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
const LOCATIONS: readonly ParameterLocation[] = ['path', 'query', 'header', 'cookie'];
const MAX_NAME_IN_POINTER = 64;
const INEXACT_INTEGER =
  'is an integer beyond ±(2^53−1), which cannot be compared exactly (send it as a string)';

function token(name: string): string {
  const n = name.length > MAX_NAME_IN_POINTER ? `${name.slice(0, MAX_NAME_IN_POINTER)}...` : name;
  return n.replaceAll('~', '~0').replaceAll('/', '~1');
}

function compileBody(
  media: MediaType,
  compile: (s: JsonSchema | undefined) => CompiledSchema,
  resolve: (ref: string) => unknown,
): BodyCheck {
  const top = derefSchema(media.schema, resolve);
  const types = schemaTypes(media.schema, resolve);
  const arrayFields = new Set<string>();
  for (const [name, s] of propertySchemas(media.schema, resolve)) {
    if (schemaTypes(s, resolve).has('array')) arrayFields.add(name);
  }
  const partTypes = new Map<string, string[]>();
  for (const [name, enc] of Object.entries(media.encoding ?? {})) {
    const ct = (enc as JsonObject).contentType;
    if (typeof ct === 'string')
      partTypes.set(
        name,
        ct.split(',').map((t) => mediaTypeOf(t)),
      );
  }
  return {
    schema: compile(media.schema),
    hasSchema: media.schema !== undefined && media.schema !== true,
    bytes:
      top !== undefined &&
      (top.format === 'binary' || top.contentMediaType !== undefined || top.contentEncoding !== undefined),
    acceptsString: types.size === 0 || types.has('string'),
    coerce: compileCoercer(media.schema, resolve),
    arrayFields,
    partTypes,
  };
}

/** Fields of a form or multipart body as a record: repeated fields become arrays where declared so. */
function fieldsOf(
  entries: Iterable<readonly [string, string]>,
  arrayFields: ReadonlySet<string>,
  errors: RequestError[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of entries) {
    const existing = Object.hasOwn(out, name) ? out[name] : undefined;
    if (arrayFields.has(name)) {
      if (existing === undefined) define(out, name, [value]);
      else (existing as string[]).push(value);
    } else if (existing !== undefined) {
      errors.push({ pointer: `#/body/${token(name)}`, detail: 'given more than once' });
    } else define(out, name, value);
  }
  return out;
}

function define(obj: Record<string, unknown>, key: string, value: unknown) {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function encodeForm(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&');
}

/** What one operation's validation needs per request, worked out once at load. */
interface CompiledRequestCheck {
  readonly ctx: CompileContext;
  readonly c: Required<ValidateRequestConfig>;
  readonly bounds: JsonBounds;
  readonly locations: readonly LocationCheck[];
  readonly hasCookieParams: boolean;
  readonly checkQuery: boolean;
  readonly knownQuery: ReadonlySet<string>;
  readonly knownPrefixes: readonly string[];
  readonly declaredTypes: readonly string[];
  readonly matchBody: ReturnType<typeof compileMediaTypeMatcher>;
  readonly bodies: ReadonlyMap<string, BodyCheck>;
  readonly bodyRequired: boolean;
  readonly strip: boolean;
  readonly utf8: InstanceType<typeof TextDecoder>;
  /**
   * The last Content-Type seen and what it parsed to: an operation's requests nearly always send the same
   * one. One entry, read only (never changed by the checks below).
   */
  lastContentType: string | undefined;
  lastMedia: ReturnType<typeof parseMediaType>;
}

/** Compiles request validation for one operation. */
export function compileValidateRequest(
  config: ValidateRequestConfig,
  ctx: CompileContext,
): PolicyHandler | null {
  const s = compileRequestCheck(config, ctx);
  return {
    needsRequestBody: s.bodies.size > 0,
    onRequest: (ex) => checkRequest(s, ex),
  };
}

function compileRequestCheck(config: ValidateRequestConfig, ctx: CompileContext): CompiledRequestCheck {
  const c = { ...defaults, ...config } as Required<ValidateRequestConfig>;
  const op = ctx.operation;
  const compiler = schemaCompilerFor(ctx);
  const resolve = (ref: string) => ctx.spec.resolve(ref);
  const compile = (s: JsonSchema | undefined) => compiler.compile(s, 'request');
  const { locations, knownQuery, hasCookieParams } = compileLocations(op.parameters, compile, resolve);
  const content = op.requestBody?.content ?? {};
  const declaredTypes = Object.keys(content);
  const bodies = new Map<string, BodyCheck>();
  for (const t of declaredTypes) bodies.set(t, compileBody(content[t], compile, resolve));
  return {
    ctx,
    c,
    bounds: {
      maxDepth: c.maxJsonDepth,
      maxArrayItems: c.maxArrayItems,
      maxStringLength: c.maxStringLength,
      maxObjectProperties: c.maxObjectProperties,
    },
    locations,
    hasCookieParams,
    checkQuery: c.unknownQueryParameters === 'reject',
    knownQuery,
    knownPrefixes: [...knownQuery].filter((n) => n.endsWith('[')),
    declaredTypes,
    matchBody: compileMediaTypeMatcher(declaredTypes),
    bodies,
    bodyRequired: op.requestBody?.required === true,
    strip: c.additionalProperties === 'strip' && c.mode === 'enforce',
    utf8: new TextDecoder('utf-8', { fatal: true }),
    lastContentType: undefined,
    lastMedia: undefined,
  };
}

/** One check per parameter location that has parameters, and the query names the operation claims. */
function compileLocations(
  parameters: CompileContext['operation']['parameters'],
  compile: (s: JsonSchema | undefined) => CompiledSchema,
  resolve: (ref: string) => unknown,
): { locations: LocationCheck[]; knownQuery: Set<string>; hasCookieParams: boolean } {
  const locations: LocationCheck[] = [];
  const knownQuery = new Set<string>();
  let hasCookieParams = false;
  for (const location of LOCATIONS) {
    const params = parameters.filter(
      (p) => p.in === location && !(location === 'header' && IGNORED_HEADERS.has(p.name.toLowerCase())),
    );
    if (location === 'query')
      for (const p of params) for (const n of claimedQueryNames(p, resolve)) knownQuery.add(n);
    if (params.length === 0) continue;
    if (location === 'cookie') hasCookieParams = true;
    const properties: JsonObject = {};
    const required: string[] = [];
    for (const p of params) {
      properties[p.name] = p.schema ?? {};
      if (p.required) required.push(p.name);
    }
    locations.push({
      location,
      decoders: params.map((p) => ({ name: p.name, decode: compileParameterDecoder(p, resolve) })),
      schema: compile({ type: 'object', properties, required }),
    });
  }
  return { locations, knownQuery, hasCookieParams };
}

// ---- Per request ----

function checkRequest(s: CompiledRequestCheck, ex: Exchange): Problem | undefined {
  const { c } = s;
  const errors: RequestError[] = [];
  const query = s.locations.length > 0 || s.checkQuery ? splitQuery(ex.rawQuery) : [];
  const cookies = s.hasCookieParams ? splitCookies(ex.req.headers.cookie) : [];
  if (query.length > c.maxParameters || cookies.length > c.maxParameters) {
    const where = query.length > c.maxParameters ? '#/query' : '#/cookie';
    return invalid(
      s,
      ex,
      [{ pointer: where, detail: `has more than ${c.maxParameters} parameters` }],
      'too_many_parameters',
    );
  }
  if (s.locations.length > 0) checkParameters(s, ex, query, cookies, errors);
  if (s.checkQuery) checkUnknownQuery(s, query, errors);
  const stop = checkBody(s, ex, errors);
  if (stop !== undefined) return stop;
  return errors.length > 0 ? invalid(s, ex, errors) : undefined;
}

function checkParameters(
  s: CompiledRequestCheck,
  ex: Exchange,
  query: ParameterSources['query'],
  cookies: ParameterSources['cookies'],
  errors: RequestError[],
): void {
  const sources: ParameterSources = {
    path: ex.route.pathParams,
    query,
    headers: ex.req.headers,
    cookies,
  };
  for (const loc of s.locations) {
    const values: Record<string, unknown> = {};
    for (const d of loc.decoders) {
      const r = d.decode(sources);
      if (!r.present) continue;
      if ('error' in r) errors.push({ pointer: `#/${loc.location}/${token(d.name)}`, detail: r.error });
      else define(values, d.name, r.value);
    }
    const b = checkJsonBounds(values, s.bounds);
    if (b !== undefined) errors.push({ pointer: `#/${loc.location}${b.pointer}`, detail: b.detail });
    else report(errors, `#/${loc.location}`, loc.schema.check(values).violations);
  }
}

function checkUnknownQuery(
  s: CompiledRequestCheck,
  query: ParameterSources['query'],
  errors: RequestError[],
): void {
  // Made for the first undeclared name only: most requests have none.
  let seen: Set<string> | undefined;
  for (const [name] of query) {
    if (s.knownQuery.has(name) || seen?.has(name)) continue;
    if (s.knownPrefixes.length > 0 && s.knownPrefixes.some((p) => name.startsWith(p))) continue;
    seen ??= new Set<string>();
    seen.add(name);
    errors.push({ pointer: `#/query/${token(name)}`, detail: 'is not a declared parameter' });
  }
}

function fail(
  s: CompiledRequestCheck,
  ex: Exchange,
  p: Problem,
  reason: string,
  errors?: RequestError[],
): Problem {
  emitViolation(s.ctx, ex, {
    policy: 'validateRequest',
    action: 'request-validation',
    reason,
    mode: s.c.mode,
    pointers: errors?.map((e) => e.pointer),
  });
  return p;
}

function invalid(s: CompiledRequestCheck, ex: Exchange, errors: RequestError[], reason = 'schema'): Problem {
  return fail(
    s,
    ex,
    problem(problems.invalidRequest, 'The request does not match the API description.', {
      extensions: { errors },
      reason,
    }),
    reason,
    errors,
  );
}

function unsupported(
  s: CompiledRequestCheck,
  ex: Exchange,
  detail: string,
  reason: string,
  headers?: Record<string, string>,
): Problem {
  return fail(
    s,
    ex,
    problem(problems.unsupportedMediaType, detail, {
      reason,
      headers: { 'accept-post': s.declaredTypes.join(', '), ...headers },
    }),
    reason,
  );
}

function report(
  errors: RequestError[],
  prefix: string,
  violations: readonly { pointer: string; detail: string }[],
): void {
  for (const v of violations) errors.push({ pointer: prefix + v.pointer, detail: v.detail });
}

function parseContentType(s: CompiledRequestCheck, contentType: string): ReturnType<typeof parseMediaType> {
  if (contentType !== s.lastContentType) {
    s.lastMedia = parseMediaType(contentType);
    s.lastContentType = contentType;
  }
  return s.lastMedia;
}

/** The body: present when it must be, of a declared media type, readable, then as its schema says. */
function checkBody(s: CompiledRequestCheck, ex: Exchange, errors: RequestError[]): Problem | undefined {
  const { c } = s;
  const body = ex.body;
  const hasBody = body !== undefined ? body.length > 0 : hasDeclaredBody(ex);
  if (s.bodies.size === 0) {
    if (hasBody && c.rejectUndeclaredBody) {
      errors.push({ pointer: '#/body', detail: 'this operation takes no request body' });
    }
    return undefined;
  }
  if (!hasBody || body === undefined) {
    if (s.bodyRequired) errors.push({ pointer: '#/body', detail: 'is required' });
    return undefined;
  }
  if (body.length > c.maxBodyBytes) {
    return fail(
      s,
      ex,
      problem(problems.payloadTooLarge, `The body may be at most ${c.maxBodyBytes} bytes.`, {
        reason: 'body_too_large',
      }),
      'body_too_large',
    );
  }
  // Every body is judged as the media type it is forwarded with (docs/validation.md, "Bodies").
  const contentType = ex.req.headers['content-type'];
  const media = contentType === undefined ? undefined : parseContentType(s, contentType);
  if (contentType !== undefined && media === undefined) {
    return unsupported(s, ex, 'The Content-Type header is not a valid media type.', 'malformed_content_type');
  }
  const declared = s.matchBody(media);
  if (declared === undefined) {
    return unsupported(s, ex, `Send one of: ${s.declaredTypes.join(', ')}.`, 'unsupported_media_type');
  }
  if (hasContentCoding(ex.req.headers['content-encoding'])) {
    // RFC 7694 §3: 415 with Accept-Encoding naming the codings the resource takes.
    return unsupported(s, ex, 'Send the body without a Content-Encoding.', 'unsupported_content_coding', {
      'accept-encoding': 'identity',
    });
  }
  const kind = bodyKindOf(media);
  const badCharset = unreadableCharset(kind, media, body);
  if (badCharset !== undefined) return unsupported(s, ex, `${badCharset}.`, 'unsupported_charset');
  const check = s.bodies.get(declared)!;
  // First read the body as its media type says: a body that does not parse is refused whatever the schema.
  // Then check it against the schema of the key it matched, where that key has one.
  if (kind === 'json' || kind === 'form' || kind === 'text') {
    let text: string;
    try {
      text = s.utf8.decode(body);
    } catch {
      errors.push({ pointer: '#/body', detail: 'is not valid UTF-8' });
      return undefined;
    }
    if (kind === 'json') return readAndCheckJson(s, ex, errors, body, text, check);
    if (kind === 'form') return readAndCheckForm(s, ex, errors, body, text, check);
    return checkWholeBody(s, ex, errors, body, text, kind, check, media, declared);
  }
  if (kind === 'multipart') return readAndCheckMultipart(s, errors, body, media, check);
  return checkWholeBody(s, ex, errors, body, body.toString('latin1'), kind, check, media, declared);
}

/**
 * The checks every schema'd body starts with: none when the key declares no schema, and a body the schema
 * describes as bytes is checked as one string. True when that settled the body.
 */
function settledBeforeSchema(errors: RequestError[], body: Buffer, check: BodyCheck): boolean {
  if (!check.hasSchema) return true;
  if (check.bytes) {
    report(errors, '#/body', check.schema.check(body.toString('latin1')).violations);
    return true;
  }
  return false;
}

function readAndCheckJson(
  s: CompiledRequestCheck,
  ex: Exchange,
  errors: RequestError[],
  body: Buffer,
  text: string,
  check: BodyCheck,
): undefined {
  let json = ex.json;
  if (json === undefined) {
    try {
      json = parseJson(text);
    } catch {
      errors.push({ pointer: '#/body', detail: 'is not valid JSON' });
      return undefined;
    }
    ex.json = json;
  }
  const b = checkJsonBody(json, text, s.bounds, s.c.rejectDuplicateKeys);
  if (b !== undefined) {
    errors.push({ pointer: `#/body${b.pointer}`, detail: b.detail });
    return undefined;
  }
  // Exact or refused: a rounded integer lets two different ids pass as one (issue 13 item 5).
  const inexact = unsafeIntegerAt(text);
  if (inexact !== undefined) {
    errors.push({ pointer: `#/body${inexact}`, detail: INEXACT_INTEGER });
    return undefined;
  }
  if (settledBeforeSchema(errors, body, check)) return undefined;
  const r = check.schema.check(json, s.strip);
  report(errors, '#/body', r.violations);
  if (r.stripped > 0 && r.violations.length === 0) ex.body = Buffer.from(JSON.stringify(json));
  return undefined;
}

function readAndCheckForm(
  s: CompiledRequestCheck,
  ex: Exchange,
  errors: RequestError[],
  body: Buffer,
  text: string,
  check: BodyCheck,
): undefined {
  let pairs: Array<[string, string]>;
  let fields: Record<string, unknown>;
  try {
    pairs = parseFormPairs(text);
    if (pairs.length > s.c.maxParameters) {
      errors.push({ pointer: '#/body', detail: `has more than ${s.c.maxParameters} fields` });
      return undefined;
    }
    fields = check.coerce(fieldsOf(pairs, check.arrayFields, errors)) as Record<string, unknown>;
    const b = checkJsonBounds(fields, s.bounds);
    if (b !== undefined) errors.push({ pointer: `#/body${b.pointer}`, detail: b.detail });
  } catch (e) {
    return bodyFormatError(e, errors);
  }
  if (settledBeforeSchema(errors, body, check)) return undefined;
  const r = check.schema.check(fields, s.strip);
  report(errors, '#/body', r.violations);
  if (r.stripped > 0 && r.violations.length === 0 && errors.length === 0) {
    ex.body = Buffer.from(encodeForm(pairs.filter(([n]) => Object.hasOwn(fields, n))));
  }
  return undefined;
}

/** Multipart bodies are not rewritten: undeclared parts are refused even in strip mode. */
function readAndCheckMultipart(
  s: CompiledRequestCheck,
  errors: RequestError[],
  body: Buffer,
  media: ReturnType<typeof parseMediaType>,
  check: BodyCheck,
): undefined {
  let value: unknown;
  try {
    const boundary = media?.parameters.get('boundary') ?? '';
    const parts = parseMultipart(body, boundary, s.c.maxParameters);
    for (const part of parts) {
      const allowed = check.partTypes.get(part.name);
      const actual =
        part.contentType === undefined
          ? part.filename === undefined
            ? 'text/plain'
            : 'application/octet-stream'
          : mediaTypeOf(part.contentType);
      if (allowed !== undefined && matchMediaType(allowed, actual) === undefined) {
        errors.push({
          pointer: `#/body/${token(part.name)}`,
          detail: 'has a content type the API does not accept',
        });
      }
    }
    // Text fields are compared as text; files as bytes (one latin1 character per byte for maxLength).
    const entries = parts.map(
      (p) => [p.name, p.data.toString(p.filename === undefined ? 'utf8' : 'latin1')] as const,
    );
    value = check.coerce(fieldsOf(entries, check.arrayFields, errors));
  } catch (e) {
    return bodyFormatError(e, errors);
  }
  if (settledBeforeSchema(errors, body, check)) return undefined;
  report(errors, '#/body', check.schema.check(value).violations);
  return undefined;
}

/**
 * A text body (or one of a media type Portcullis has no reader for) is one string: its schema's maxLength,
 * pattern, enum... apply to the whole of it.
 */
function checkWholeBody(
  s: CompiledRequestCheck,
  ex: Exchange,
  errors: RequestError[],
  body: Buffer,
  value: string,
  kind: ReturnType<typeof bodyKindOf>,
  check: BodyCheck,
  media: ReturnType<typeof parseMediaType>,
  declared: string,
): Problem | undefined {
  if (settledBeforeSchema(errors, body, check)) return undefined;
  if ((kind === 'text' || kind === 'bytes') && !check.acceptsString) {
    // An object schema for application/xml, say: Portcullis has no reader for it and forwards nothing
    // it could not judge. Describing the body as `type: string` forwards it as text.
    return unsupported(
      s,
      ex,
      `Bodies of type ${media?.essence ?? '(none)'} cannot be checked against the schema the API declares for ${declared}.`,
      'unreadable_media_type',
    );
  }
  report(errors, '#/body', check.schema.check(value).violations);
  return undefined;
}

function bodyFormatError(e: unknown, errors: RequestError[]): undefined {
  if (!(e instanceof BodyFormatError)) throw e;
  errors.push({ pointer: '#/body', detail: e.message });
  return undefined;
}

/** Whether the request announces a body (used when the gateway did not buffer one). */
function hasDeclaredBody(ex: Exchange): boolean {
  const len = ex.req.headers['content-length'];
  return (len !== undefined && len !== '0') || ex.req.headers['transfer-encoding'] !== undefined;
}

/**
 * `validateRequest`: every declared part of a request (path, query, header and cookie parameters, the
 * body by content type) checked against the operation's OpenAPI description, with mass-assignment
 * protection and structural bounds. Answers 400 `invalid-request` with an `errors` list of pointers.
 */
export const validateRequest: PolicyDefinition<ValidateRequestConfig> = {
  name: 'validateRequest',
  stage: 'validate',
  description:
    'Validates parameters and bodies against the OpenAPI operation: types, formats, undeclared properties ' +
    '(mass assignment), readOnly members, bounds on size, depth and counts.',
  schema,
  compile: compileValidateRequest,
};
