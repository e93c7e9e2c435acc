import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { JsonObject, ResponseSpec } from '../../core/api-document.ts';
import type { Exchange } from '../../core/exchange.ts';
import type { CompileContext, PolicyDefinition, PolicyHandler, ResponseHead } from '../../core/policy.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import { derefSchema } from '../../openapi/parameters.ts';
import { type CompiledSchema, schemaCompilerFor } from '../../openapi/schema.ts';
import { parseJson } from '../../shared/json.ts';
import { isJsonMediaType, matchMediaType, mediaTypeOf } from '../request-body.ts';
import { emitViolation } from '../violation-events.ts';
import { createLeakScanner, type DetectorName, type LeakScanner } from './data-leak.ts';
import { defaults, type ProtectResponseConfig, schema } from './schema.ts';

interface StatusSpec {
  /** Declared media types (lower case), possibly ranges. */
  readonly types: readonly string[];
  readonly validators: ReadonlyMap<string, CompiledSchema>;
  /**
   * The keys of `validators`, as one array made at compile time: the media type matcher is compiled once
   * per array (a WeakMap keyed by it), so a fresh array per response compiled it anew every time.
   */
  readonly validatorTypes: readonly string[];
}

/** Why a response is withheld or changed. */
type Finding =
  | 'undeclared_status'
  | 'undeclared_content_type'
  | 'server_error'
  | 'schema_mismatch'
  | 'undeclared_properties'
  | 'uninspectable'
  | 'too_large_to_inspect'
  | `data_leak_${DetectorName}`;

/** Property names the response schemas declare as carrying a kind of sensitive value on purpose. */
type Exemptions = ReadonlyMap<string, ReadonlySet<DetectorName>>;

const NAME_HINTS: ReadonlyArray<readonly [RegExp, readonly DetectorName[]]> = [
  [/e-?mail/i, ['email']],
  [/token|jwt/i, ['jwt', 'apiKey']],
  [/secret|api_?key|access_?key/i, ['apiKey']],
];

/** Collects, from response schemas, declared properties whose name or format says they hold such data. */
function collectExemptions(
  schema: unknown,
  resolve: (ref: string) => unknown,
  out: Map<string, Set<DetectorName>>,
  seen: Set<object> = new Set(),
): void {
  const s = derefSchema(schema as JsonObject, resolve);
  if (s === undefined || seen.has(s) || seen.size > 2000) return;
  seen.add(s);
  for (const [name, raw] of Object.entries((s.properties ?? {}) as JsonObject)) {
    const p = derefSchema(raw as JsonObject, resolve);
    const kinds = new Set<DetectorName>();
    if (p?.['x-portcullis-sensitive'] === true) {
      for (const k of ['privateKey', 'jwt', 'apiKey', 'cardNumber', 'email'] as const) kinds.add(k);
    }
    if (p?.format === 'email' || p?.format === 'idn-email') kinds.add('email');
    for (const [re, ks] of NAME_HINTS) if (re.test(name)) for (const k of ks) kinds.add(k);
    if (kinds.size > 0) {
      const set = out.get(name) ?? new Set();
      for (const k of kinds) set.add(k);
      out.set(name, set);
    }
    collectExemptions(raw, resolve, out, seen);
  }
  for (const key of ['items', 'additionalProperties']) {
    if (s[key] !== null && typeof s[key] === 'object') collectExemptions(s[key], resolve, out, seen);
  }
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    const list = s[key];
    if (Array.isArray(list)) for (const sub of list) collectExemptions(sub, resolve, out, seen);
  }
}

/** Shortest string any detector can match (`a@b.co`). */
const MIN_SENSITIVE_LENGTH = 6;

/**
 * Walks every string leaf of a JSON value (recursion bounded by the JSON nesting, which the upstream
 * produced and the buffer limit bounds); masks in place what the scanner finds. Returns whether anything
 * was masked.
 */
function scanJson(
  node: unknown,
  parentKey: string | undefined,
  scanner: LeakScanner,
  exemptions: Exemptions,
  found: Set<DetectorName>,
  depth = 0,
): boolean {
  if (depth > 256) return false;
  let changed = false;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (typeof v === 'string') {
        if (v.length < MIN_SENSITIVE_LENGTH) continue;
        const r = scanner.scan(v, parentKey === undefined ? undefined : exemptions.get(parentKey));
        if (r === undefined) continue;
        for (const f of r.found) found.add(f);
        node[i] = r.masked;
        changed = true;
      } else if (v !== null && typeof v === 'object') {
        if (scanJson(v, parentKey, scanner, exemptions, found, depth + 1)) changed = true;
      }
    }
    return changed;
  }
  const obj = node as Record<string, unknown>;
  for (const k in obj) {
    const v = obj[k];
    if (typeof v === 'string') {
      if (v.length < MIN_SENSITIVE_LENGTH) continue;
      const r = scanner.scan(v, exemptions.get(k));
      if (r === undefined) continue;
      for (const f of r.found) found.add(f);
      obj[k] = r.masked;
      changed = true;
    } else if (v !== null && typeof v === 'object') {
      if (scanJson(v, k, scanner, exemptions, found, depth + 1)) changed = true;
    }
  }
  return changed;
}

function decode(body: Buffer, encoding: string | undefined, max: number): Buffer | undefined {
  const e = (encoding ?? 'identity').trim().toLowerCase();
  const opts = { maxOutputLength: max };
  try {
    if (e === 'identity' || e === '') return body;
    if (e === 'gzip' || e === 'x-gzip') return gunzipSync(body, opts);
    if (e === 'deflate') return inflateSync(body, opts);
    if (e === 'br') return brotliDecompressSync(body, opts);
  } catch {
    return undefined;
  }
  return undefined;
}

/** Finds the response declared for a status: exact code, then `5XX`-style range, then `default`. */
function specFor<T>(byStatus: ReadonlyMap<string, T>, status: number): T | undefined {
  return (
    byStatus.get(String(status)) ?? byStatus.get(`${Math.floor(status / 100)}XX`) ?? byStatus.get('DEFAULT')
  );
}

/** The one header value as a string. */
function headerOf(head: ResponseHead, name: string): string | undefined {
  const v = head.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function serverErrorProblem(head: ResponseHead): Problem {
  if (head.status === 503) {
    const retry = headerOf(head, 'retry-after');
    return problem(problems.serviceUnavailable, undefined, {
      reason: 'server_error',
      headers: retry !== undefined && /^\d{1,9}$/.test(retry) ? { 'retry-after': retry } : undefined,
    });
  }
  if (head.status === 504) return problem(problems.gatewayTimeout, undefined, { reason: 'server_error' });
  return problem(problems.upstreamError, undefined, { reason: 'server_error' });
}

type Options = typeof defaults & ProtectResponseConfig;

/** One operation's response protection, compiled. */
interface ProtectState {
  readonly ctx: CompileContext;
  readonly c: Options;
  readonly enforce: boolean;
  /** Declared responses by status code (upper case: `2XX`, `DEFAULT`). */
  readonly statuses: ReadonlyMap<string, StatusSpec>;
  readonly exemptions: Exemptions;
  readonly scanner: LeakScanner | undefined;
  readonly removeHeaders: readonly string[];
}

/** Compiles response protection for one operation. */
export function compileProtectResponse(config: ProtectResponseConfig, ctx: CompileContext): PolicyHandler {
  const c: Options = { ...defaults, ...config };
  const { statuses, exemptions } = compileResponses(ctx);
  const s: ProtectState = {
    ctx,
    c,
    enforce: c.mode === 'enforce',
    statuses,
    exemptions,
    scanner: c.dataLeak === 'off' ? undefined : createLeakScanner(c.dataLeakDetectors),
    removeHeaders: c.removeHeaders.map((h) => h.toLowerCase()),
  };
  return {
    onRequest(ex) {
      // Ask for an uncompressed response so the body can be inspected without inflating it here.
      ex.upstreamHeaders['accept-encoding'] = 'identity';
      return undefined;
    },
    onResponseHead: (ex, head) => onResponseHead(s, ex, head),
    wantsResponseBody: (ex, head) => wantsResponseBody(s, ex, head),
    transformResponseBody: (ex, head, body) => transformResponseBody(s, ex, head, body),
  };
}

/** The declared responses with a validator per JSON media type, and the properties exempt from masking. */
function compileResponses(ctx: CompileContext): {
  statuses: Map<string, StatusSpec>;
  exemptions: Map<string, Set<DetectorName>>;
} {
  const compiler = schemaCompilerFor(ctx);
  const resolve = (ref: string) => ctx.spec.resolve(ref);
  const statuses = new Map<string, StatusSpec>();
  const exemptions = new Map<string, Set<DetectorName>>();
  for (const [code, r] of Object.entries(ctx.operation.responses) as Array<[string, ResponseSpec]>) {
    const validators = new Map<string, CompiledSchema>();
    for (const [type, media] of Object.entries(r.content)) {
      if (!isJsonMediaType(type) && type !== '*/*' && type !== 'application/*') continue;
      if (media.schema !== undefined) validators.set(type, compiler.compile(media.schema, 'response'));
      collectExemptions(media.schema, resolve, exemptions);
    }
    statuses.set(code.toUpperCase(), {
      types: Object.keys(r.content),
      validators,
      validatorTypes: [...validators.keys()],
    });
  }
  return { statuses, exemptions };
}

// ---- Per response ----

function emit(s: ProtectState, ex: Exchange, findings: readonly Finding[]): void {
  emitViolation(s.ctx, ex, {
    policy: 'protectResponse',
    action: 'response-protection',
    reason: findings.join(','),
    mode: s.c.mode,
    severity: findings.some((f) => f.startsWith('data_leak')) ? 3 : 2,
    alert: findings.some((f) => f.startsWith('data_leak')),
  });
}

function hasBody(ex: Exchange, head: ResponseHead): boolean {
  return ex.req.method !== 'HEAD' && head.status !== 204 && head.status !== 304 && head.status >= 200;
}

/** What is wrong with the head alone: a status or media type the operation does not declare, or a 5xx. */
function judgeHead(s: ProtectState, ex: Exchange, head: ResponseHead): Finding | undefined {
  const { c } = s;
  if (head.status >= 500 && c.maskServerErrors) return 'server_error';
  // 304 answers a conditional request and carries no body: HTTP semantics, not part of the API contract.
  if (head.status === 304) return undefined;
  const declared = specFor(s.statuses, head.status);
  if (declared === undefined) return c.undeclaredStatus === 'block' ? 'undeclared_status' : undefined;
  if (!hasBody(ex, head)) return undefined;
  const type = mediaTypeOf(headerOf(head, 'content-type'));
  if (type === '') {
    const len = headerOf(head, 'content-length');
    return len === undefined || len === '0' || c.undeclaredContentType !== 'block'
      ? undefined
      : 'undeclared_content_type';
  }
  if (matchMediaType(declared.types, type) === undefined && c.undeclaredContentType === 'block') {
    return 'undeclared_content_type';
  }
  return undefined;
}

/** The validator of a JSON response, if its body needs inspecting. */
function validatorFor(s: ProtectState, head: ResponseHead): { schema?: CompiledSchema } | undefined {
  const type = mediaTypeOf(headerOf(head, 'content-type'));
  if (!isJsonMediaType(type)) return undefined;
  const declared = specFor(s.statuses, head.status);
  const key = declared && matchMediaType(declared.validatorTypes, type);
  const v = key === undefined ? undefined : declared?.validators.get(key);
  if (v === undefined && s.scanner === undefined) return undefined;
  return { schema: v };
}

function tooLarge(s: ProtectState, head: ResponseHead): boolean {
  const len = headerOf(head, 'content-length');
  return len !== undefined && Number(len) > s.c.maxBodyBytes;
}

function onResponseHead(s: ProtectState, ex: Exchange, head: ResponseHead): void {
  if (s.enforce) for (const h of s.removeHeaders) delete head.headers[h];
  const f = judgeHead(s, ex, head);
  if (!s.enforce && f !== undefined) emit(s, ex, [f]);
  else if (f === undefined && hasBody(ex, head) && tooLarge(s, head) && validatorFor(s, head) !== undefined) {
    emit(s, ex, ['too_large_to_inspect']);
  }
}

function wantsResponseBody(s: ProtectState, ex: Exchange, head: ResponseHead): boolean {
  if (s.enforce && judgeHead(s, ex, head) !== undefined) return true;
  return hasBody(ex, head) && !tooLarge(s, head) && validatorFor(s, head) !== undefined;
}

/** Records `f` among the findings and reports them; the body is withheld in enforce mode. */
function withhold(
  s: ProtectState,
  ex: Exchange,
  body: Buffer,
  findings: Finding[],
  f: Finding,
): Buffer | Problem {
  findings.push(f);
  emit(s, ex, findings);
  return s.enforce ? problem(problems.upstreamResponseRejected, undefined, { reason: f }) : body;
}

/** A body read as JSON, checked against its schema (undeclared members stripped), leaks masked. */
function transformResponseBody(
  s: ProtectState,
  ex: Exchange,
  head: ResponseHead,
  body: Buffer,
): Buffer | Problem {
  const { c, scanner } = s;
  const verdict = s.enforce ? judgeHead(s, ex, head) : undefined;
  if (verdict !== undefined) {
    emit(s, ex, [verdict]);
    return verdict === 'server_error'
      ? serverErrorProblem(head)
      : problem(problems.upstreamResponseRejected, undefined, { reason: verdict });
  }
  const v = validatorFor(s, head);
  if (v === undefined) return body;
  const findings: Finding[] = [];
  const plain = decode(body, headerOf(head, 'content-encoding'), c.maxBodyBytes);
  if (plain === undefined) return withhold(s, ex, body, findings, 'uninspectable');
  let json: unknown;
  try {
    json = parseJson(plain.toString('utf8'));
  } catch {
    return c.schemaMismatch === 'block' ? withhold(s, ex, body, findings, 'schema_mismatch') : body;
  }
  let changed = false;
  if (v.schema !== undefined) {
    const r = v.schema.check(json, true);
    if (r.stripped > 0) {
      findings.push('undeclared_properties');
      changed = true;
    }
    if (r.violations.length > 0 && c.schemaMismatch === 'block')
      return withhold(s, ex, body, findings, 'schema_mismatch');
  }
  if (scanner !== undefined) {
    // One set for every response (this runs synchronously): it only ever holds detector names.
    const leaks = LEAKS;
    leaks.clear();
    json = maskLeaks(scanner, s.exemptions, json, leaks);
    // The scanner reports a detector exactly when it masked something.
    if (leaks.size > 0) {
      for (const l of leaks) findings.push(`data_leak_${l}`);
      if (c.dataLeak === 'block') return withhold(s, ex, body, findings, `data_leak_${[...leaks][0]}`);
      changed = true;
    }
  }
  if (findings.length > 0) emit(s, ex, findings);
  ex.responseJson = json;
  if (!s.enforce || (!changed && plain === body)) return body;
  delete head.headers['content-encoding'];
  return changed ? Buffer.from(JSON.stringify(json)) : plain;
}

const LEAKS = new Set<DetectorName>();

/** Masks what the scanner finds (in place for objects and arrays); returns the value, masked. */
function maskLeaks(
  scanner: LeakScanner,
  exemptions: Exemptions,
  json: unknown,
  leaks: Set<DetectorName>,
): unknown {
  if (typeof json === 'string') {
    const r = scanner.scan(json);
    if (r === undefined) return json;
    for (const f of r.found) leaks.add(f);
    return r.masked;
  }
  if (json !== null && typeof json === 'object') scanJson(json, undefined, scanner, exemptions, leaks);
  return json;
}

/**
 * `protectResponse`: upstream responses checked against the operation's declared responses: undeclared
 * status codes and media types withheld, JSON bodies filtered by their schema (undeclared and writeOnly
 * members stripped), secrets and personal data masked, 5xx bodies replaced, revealing headers removed.
 */
export const protectResponse: PolicyDefinition<ProtectResponseConfig> = {
  name: 'protectResponse',
  stage: 'protect-response',
  description:
    'Filters upstream responses by the OpenAPI description: undeclared status, media types and members, ' +
    'writeOnly members, secrets and personal data, 5xx details, Server and X-Powered-By headers.',
  schema,
  compile: compileProtectResponse,
};
