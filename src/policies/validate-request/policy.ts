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

/** Compiles request validation for one operation. */
export function compileValidateRequest(
  config: ValidateRequestConfig,
  ctx: CompileContext,
): PolicyHandler | null {
  const c = { ...defaults, ...config };
  const op = ctx.operation;
  const compiler = schemaCompilerFor(ctx);
  const resolve = (ref: string) => ctx.spec.resolve(ref);
  const compile = (s: JsonSchema | undefined) => compiler.compile(s, 'request');
  const bounds: JsonBounds = {
    maxDepth: c.maxJsonDepth,
    maxArrayItems: c.maxArrayItems,
    maxStringLength: c.maxStringLength,
    maxObjectProperties: c.maxObjectProperties,
  };

  const locations: LocationCheck[] = [];
  const knownQuery = new Set<string>();
  let hasCookieParams = false;
  for (const location of LOCATIONS) {
    const params = op.parameters.filter(
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

  const content = op.requestBody?.content ?? {};
  const declaredTypes = Object.keys(content);
  const matchBody = compileMediaTypeMatcher(declaredTypes);
  // The last Content-Type seen and what it parsed to: an operation's requests nearly always send the same
  // one. One entry, read only (never changed by the checks below).
  let lastContentType: string | undefined;
  let lastMedia: ReturnType<typeof parseMediaType>;
  const parseContentType = (contentType: string) => {
    if (contentType !== lastContentType) {
      lastMedia = parseMediaType(contentType);
      lastContentType = contentType;
    }
    return lastMedia;
  };
  const bodies = new Map<string, BodyCheck>();
  for (const t of declaredTypes) bodies.set(t, compileBody(content[t], compile, resolve));
  const bodyRequired = op.requestBody?.required === true;
  const strip = c.additionalProperties === 'strip' && c.mode === 'enforce';
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const checkQuery = c.unknownQueryParameters === 'reject';
  const knownPrefixes = [...knownQuery].filter((n) => n.endsWith('['));

  const fail = (ex: Exchange, p: Problem, reason: string, errors?: RequestError[]): Problem => {
    emitViolation(ctx, ex, {
      policy: 'validateRequest',
      action: 'request-validation',
      reason,
      mode: c.mode,
      pointers: errors?.map((e) => e.pointer),
    });
    return p;
  };
  const invalid = (ex: Exchange, errors: RequestError[], reason = 'schema') =>
    fail(
      ex,
      problem(problems.invalidRequest, 'The request does not match the API description.', {
        extensions: { errors },
        reason,
      }),
      reason,
      errors,
    );
  const report = (
    errors: RequestError[],
    prefix: string,
    violations: readonly { pointer: string; detail: string }[],
  ) => {
    for (const v of violations) errors.push({ pointer: prefix + v.pointer, detail: v.detail });
  };

  function checkBody(ex: Exchange, errors: RequestError[]): Problem | undefined {
    const body = ex.body;
    const hasBody = body !== undefined ? body.length > 0 : hasDeclaredBody(ex);
    if (bodies.size === 0) {
      if (hasBody && c.rejectUndeclaredBody) {
        errors.push({ pointer: '#/body', detail: 'this operation takes no request body' });
      }
      return undefined;
    }
    if (!hasBody || body === undefined) {
      if (bodyRequired) errors.push({ pointer: '#/body', detail: 'is required' });
      return undefined;
    }
    if (body.length > c.maxBodyBytes) {
      return fail(
        ex,
        problem(problems.payloadTooLarge, `The body may be at most ${c.maxBodyBytes} bytes.`, {
          reason: 'body_too_large',
        }),
        'body_too_large',
      );
    }
    const unsupported = (detail: string, reason: string, headers?: Record<string, string>) =>
      fail(
        ex,
        problem(problems.unsupportedMediaType, detail, {
          reason,
          headers: { 'accept-post': declaredTypes.join(', '), ...headers },
        }),
        reason,
      );
    // Every body is judged as the media type it is forwarded with (docs/validation.md, "Bodies").
    const contentType = ex.req.headers['content-type'];
    const media = contentType === undefined ? undefined : parseContentType(contentType);
    if (contentType !== undefined && media === undefined) {
      return unsupported('The Content-Type header is not a valid media type.', 'malformed_content_type');
    }
    const declared = matchBody(media);
    if (declared === undefined) {
      return unsupported(`Send one of: ${declaredTypes.join(', ')}.`, 'unsupported_media_type');
    }
    if (hasContentCoding(ex.req.headers['content-encoding'])) {
      // RFC 7694 §3: 415 with Accept-Encoding naming the codings the resource takes.
      return unsupported('Send the body without a Content-Encoding.', 'unsupported_content_coding', {
        'accept-encoding': 'identity',
      });
    }
    const kind = bodyKindOf(media);
    const badCharset = unreadableCharset(kind, media, body);
    if (badCharset !== undefined) return unsupported(`${badCharset}.`, 'unsupported_charset');
    const check = bodies.get(declared)!;

    // First read the body as its media type says: a body that does not parse is refused whatever the schema.
    let value: unknown;
    let pairs: Array<[string, string]> | undefined;
    let text: string | undefined;
    if (kind === 'json' || kind === 'form' || kind === 'text') {
      try {
        text = utf8.decode(body);
      } catch {
        errors.push({ pointer: '#/body', detail: 'is not valid UTF-8' });
        return undefined;
      }
    }
    try {
      if (kind === 'json') {
        let json = ex.json;
        if (json === undefined) {
          try {
            json = parseJson(text!);
          } catch {
            errors.push({ pointer: '#/body', detail: 'is not valid JSON' });
            return undefined;
          }
          ex.json = json;
        }
        const b = checkJsonBody(json, text!, bounds, c.rejectDuplicateKeys);
        if (b !== undefined) {
          errors.push({ pointer: `#/body${b.pointer}`, detail: b.detail });
          return undefined;
        }
        // Exact or refused: a rounded integer lets two different ids pass as one (issue 13 item 5).
        const inexact = unsafeIntegerAt(text!);
        if (inexact !== undefined) {
          errors.push({ pointer: `#/body${inexact}`, detail: INEXACT_INTEGER });
          return undefined;
        }
        value = json;
      } else if (kind === 'form') {
        pairs = parseFormPairs(text!);
        if (pairs.length > c.maxParameters) {
          errors.push({ pointer: '#/body', detail: `has more than ${c.maxParameters} fields` });
          return undefined;
        }
        value = check.coerce(fieldsOf(pairs, check.arrayFields, errors));
        const b = checkJsonBounds(value, bounds);
        if (b !== undefined) errors.push({ pointer: `#/body${b.pointer}`, detail: b.detail });
      } else if (kind === 'multipart') {
        const boundary = media?.parameters.get('boundary') ?? '';
        const parts = parseMultipart(body, boundary, c.maxParameters);
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
      } else value = kind === 'text' ? text : body.toString('latin1');
    } catch (e) {
      if (!(e instanceof BodyFormatError)) throw e;
      errors.push({ pointer: '#/body', detail: e.message });
      return undefined;
    }

    // Then check it against the schema of the key it matched, where that key has one.
    if (!check.hasSchema) return undefined;
    if (check.bytes) {
      report(errors, '#/body', check.schema.check(body.toString('latin1')).violations);
      return undefined;
    }
    if ((kind === 'text' || kind === 'bytes') && !check.acceptsString) {
      // An object schema for application/xml, say: Portcullis has no reader for it and forwards nothing
      // it could not judge. Describing the body as `type: string` forwards it as text.
      return unsupported(
        `Bodies of type ${media?.essence ?? '(none)'} cannot be checked against the schema the API declares for ${declared}.`,
        'unreadable_media_type',
      );
    }
    if (kind === 'json') {
      const r = check.schema.check(value, strip);
      report(errors, '#/body', r.violations);
      if (r.stripped > 0 && r.violations.length === 0) ex.body = Buffer.from(JSON.stringify(value));
      return undefined;
    }
    if (kind === 'form') {
      const fields = value as Record<string, unknown>;
      const r = check.schema.check(fields, strip);
      report(errors, '#/body', r.violations);
      if (r.stripped > 0 && r.violations.length === 0 && errors.length === 0) {
        ex.body = Buffer.from(encodeForm(pairs!.filter(([n]) => Object.hasOwn(fields, n))));
      }
      return undefined;
    }
    // Multipart bodies are not rewritten: undeclared parts are refused even in strip mode. A text body
    // is one string: its schema's maxLength, pattern, enum... apply to the whole of it.
    report(errors, '#/body', check.schema.check(value).violations);
    return undefined;
  }

  return {
    needsRequestBody: bodies.size > 0,
    onRequest(ex) {
      const errors: RequestError[] = [];
      const query = locations.length > 0 || checkQuery ? splitQuery(ex.rawQuery) : [];
      const cookies = hasCookieParams ? splitCookies(ex.req.headers.cookie) : [];
      if (query.length > c.maxParameters || cookies.length > c.maxParameters) {
        const where = query.length > c.maxParameters ? '#/query' : '#/cookie';
        return invalid(
          ex,
          [{ pointer: where, detail: `has more than ${c.maxParameters} parameters` }],
          'too_many_parameters',
        );
      }
      if (locations.length > 0) {
        const sources: ParameterSources = {
          path: ex.route.pathParams,
          query,
          headers: ex.req.headers,
          cookies,
        };
        for (const loc of locations) {
          const values: Record<string, unknown> = {};
          for (const d of loc.decoders) {
            const r = d.decode(sources);
            if (!r.present) continue;
            if ('error' in r) errors.push({ pointer: `#/${loc.location}/${token(d.name)}`, detail: r.error });
            else define(values, d.name, r.value);
          }
          const b = checkJsonBounds(values, bounds);
          if (b !== undefined) errors.push({ pointer: `#/${loc.location}${b.pointer}`, detail: b.detail });
          else report(errors, `#/${loc.location}`, loc.schema.check(values).violations);
        }
      }
      if (checkQuery) {
        const seen = new Set<string>();
        for (const [name] of query) {
          if (knownQuery.has(name) || seen.has(name)) continue;
          if (knownPrefixes.length > 0 && knownPrefixes.some((p) => name.startsWith(p))) continue;
          seen.add(name);
          errors.push({ pointer: `#/query/${token(name)}`, detail: 'is not a declared parameter' });
        }
      }
      const stop = checkBody(ex, errors);
      if (stop !== undefined) return stop;
      return errors.length > 0 ? invalid(ex, errors) : undefined;
    },
  };
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
