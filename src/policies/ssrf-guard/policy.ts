import type { JsonObject, JsonSchema } from '../../core/api-document.ts';
import type { Exchange } from '../../core/exchange.ts';
import type { CompileContext, PolicyDefinition, PolicyHandler } from '../../core/policy.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import {
  compileParameterDecoder,
  derefSchema,
  type ParameterDecoder,
  splitCookies,
  splitQuery,
} from '../../openapi/parameters.ts';
import { parseJson } from '../../shared/json.ts';
import { isJsonMediaType, mediaTypeOf, parseFormPairs } from '../request-body.ts';
import { emitViolation } from '../violation-events.ts';
import {
  compileHostAllowlist,
  createCidrList,
  createInternalRanges,
  type DestinationProblem,
  hasAmbiguousCharacters,
  isInternalAddress,
  isInternalName,
  parseDestination,
  referenceTargets,
} from './address.ts';
import { type CachedResolve, createCachedResolver, type LookupAll, systemLookup } from './resolver.ts';
import { defaults, type SsrfGuardConfig, schema } from './schema.ts';

const URL_FORMATS = new Set(['uri', 'url', 'iri']);
const REFERENCE_FORMATS = new Set(['uri-reference', 'iri-reference']);
const EXTENSION = 'x-portcullis-ssrf';

/** Path of a URL-valued member in a JSON body; `*` stands for every array item or object member. */
type JsonPath = readonly string[];

type UrlKind = 'absolute' | 'reference';

function urlKind(schema: unknown, resolve: (ref: string) => unknown): UrlKind | undefined {
  const s = derefSchema(schema as JsonSchema, resolve);
  if (s === undefined) return undefined;
  if (s[EXTENSION] === true) return 'absolute';
  if (typeof s.format === 'string') {
    if (URL_FORMATS.has(s.format)) return 'absolute';
    if (REFERENCE_FORMATS.has(s.format)) return 'reference';
  }
  return undefined;
}

/** Finds every member of a body schema that holds a URL, through `$ref`, composition and arrays. */
function collectUrlPaths(
  schema: unknown,
  resolve: (ref: string) => unknown,
  path: string[],
  out: Map<string, { path: JsonPath; kind: UrlKind }>,
  refs: readonly string[] = [],
): void {
  if (schema === null || typeof schema !== 'object' || path.length > 16) return;
  let s = schema as JsonObject;
  let chain = refs;
  for (let i = 0; i < 8 && typeof s.$ref === 'string'; i++) {
    if (chain.includes(s.$ref)) return; // recursive schema: its URL members were found on the way in
    chain = [...chain, s.$ref];
    const t = resolve(s.$ref);
    if (t === null || typeof t !== 'object') return;
    s = t as JsonObject;
  }
  const kind = urlKind(s, resolve);
  if (kind !== undefined) out.set(path.join('\u0000'), { path: [...path], kind });
  for (const [k, v] of Object.entries((s.properties ?? {}) as JsonObject)) {
    collectUrlPaths(v, resolve, [...path, k], out, chain);
  }
  if (s.items !== undefined && !Array.isArray(s.items))
    collectUrlPaths(s.items, resolve, [...path, '*'], out, chain);
  if (s.additionalProperties !== null && typeof s.additionalProperties === 'object') {
    collectUrlPaths(s.additionalProperties, resolve, [...path, '*'], out, chain);
  }
  for (const key of ['allOf', 'anyOf', 'oneOf']) {
    const list = s[key];
    if (Array.isArray(list)) for (const sub of list) collectUrlPaths(sub, resolve, path, out, chain);
  }
}

interface Candidate {
  readonly pointer: string;
  readonly value: string;
  readonly kind: UrlKind;
}

function escapeToken(t: string): string {
  return t.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Collects the strings found at `path` in a JSON value (bounded by `limit`). */
function valuesAt(
  value: unknown,
  path: JsonPath,
  at: number,
  pointer: string,
  kind: UrlKind,
  out: Candidate[],
  limit: number,
): void {
  if (out.length > limit) return;
  if (at === path.length) {
    if (typeof value === 'string') out.push({ pointer, value, kind });
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const step = path[at];
  if (step === '*') {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++)
        valuesAt(value[i], path, at + 1, `${pointer}/${i}`, kind, out, limit);
    } else {
      for (const [k, v] of Object.entries(value))
        valuesAt(v, path, at + 1, `${pointer}/${escapeToken(k)}`, kind, out, limit);
    }
    return;
  }
  if (Object.hasOwn(value, step)) {
    valuesAt(
      (value as Record<string, unknown>)[step],
      path,
      at + 1,
      `${pointer}/${escapeToken(step)}`,
      kind,
      out,
      limit,
    );
  }
}

const DETAILS: Record<DestinationProblem | 'too_many_urls', string> = {
  malformed_url: 'is not a well-formed absolute URL',
  scheme_not_allowed: 'uses a URL scheme that is not allowed',
  userinfo: 'must not carry credentials',
  port_not_allowed: 'names a port that is not allowed',
  internal_name: 'names an internal host',
  host_not_allowed: 'names a host that is not allowed',
  internal_address: 'points to an internal address',
  resolves_inward: 'names a host that resolves to an internal address',
  unresolvable: 'names a host that does not resolve',
  too_many_urls: 'holds more URLs than allowed',
};

export interface SsrfGuardDeps {
  /** Host name resolution; the system resolver by default. */
  readonly lookup?: LookupAll;
}

/** Creates the `ssrfGuard` policy definition (with an injectable resolver for offline tests). */
export function createSsrfGuard(deps: SsrfGuardDeps = {}): PolicyDefinition<SsrfGuardConfig> {
  const lookup = deps.lookup ?? systemLookup;
  return {
    name: 'ssrfGuard',
    stage: 'validate',
    description:
      'Refuses URL-valued parameters and body members (format uri/url or x-portcullis-ssrf) that point to ' +
      'loopback, private, link-local or metadata addresses, or to hosts outside an allowlist.',
    schema,
    compile: (config, ctx) => compileSsrfGuard(config, ctx, lookup),
  };
}

type Options = typeof defaults & SsrfGuardConfig;

/** One operation's SSRF guard, compiled: where its URLs are, and what a destination may be. */
interface SsrfState {
  readonly ctx: CompileContext;
  readonly c: Options;
  readonly params: ReadonlyArray<{ pointer: string; decode: ParameterDecoder; kind: UrlKind }>;
  readonly bodyPaths: ReadonlyMap<string, { path: JsonPath; kind: UrlKind }>;
  readonly formFields: ReadonlyMap<string, UrlKind>;
  readonly isForbidden: (address: string) => boolean;
  readonly hostAllowed: ReturnType<typeof compileHostAllowlist>;
  readonly schemes: ReadonlySet<string>;
  readonly ports: ReadonlySet<number> | undefined;
  readonly resolver: CachedResolve | undefined;
}

type Finding = { pointer: string; reason: DestinationProblem | 'too_many_urls' };

/** Compiles the SSRF guard for one operation; null when the operation takes no URL. */
export function compileSsrfGuard(
  config: SsrfGuardConfig,
  ctx: CompileContext,
  lookup: LookupAll = systemLookup,
): PolicyHandler | null {
  const c: Options = { ...defaults, ...config };
  const resolve = (ref: string) => ctx.spec.resolve(ref);
  const params = compileUrlParameters(ctx, resolve);
  const { bodyPaths, formFields } = compileBodyUrls(ctx, resolve);
  if (params.length === 0 && bodyPaths.size === 0 && formFields.size === 0) return null;
  const ranges = createInternalRanges();
  const allowed = c.allowAddresses.length > 0 ? createCidrList(c.allowAddresses) : undefined;
  const s: SsrfState = {
    ctx,
    c,
    params,
    bodyPaths,
    formFields,
    isForbidden: (address: string) =>
      isInternalAddress(address, ranges) && !(allowed !== undefined && isAllowed(address, allowed)),
    hostAllowed: compileHostAllowlist(c.allowHosts),
    schemes: new Set(c.allowSchemes),
    ports: c.allowPorts.length > 0 ? new Set(c.allowPorts) : undefined,
    resolver: c.resolveDns
      ? ctx.shared.get(`ssrfGuard.resolver:${c.dnsCacheSeconds}:${c.dnsCacheEntries}:${c.dnsTimeoutMs}`, () =>
          createCachedResolver({
            lookup,
            clock: ctx.clock,
            ttlMs: c.dnsCacheSeconds * 1000,
            maxEntries: c.dnsCacheEntries,
            timeoutMs: c.dnsTimeoutMs,
          }),
        )
      : undefined,
  };
  return {
    needsRequestBody: bodyPaths.size > 0 || formFields.size > 0,
    onRequest: (ex) => guardRequest(s, ex),
  };
}

/** The parameters that hold a URL (or an array of URLs). */
function compileUrlParameters(
  ctx: CompileContext,
  resolve: (ref: string) => unknown,
): Array<{ pointer: string; decode: ParameterDecoder; kind: UrlKind }> {
  const params: Array<{ pointer: string; decode: ParameterDecoder; kind: UrlKind }> = [];
  for (const p of ctx.operation.parameters) {
    const s = derefSchema(p.schema, resolve);
    const kind =
      p.raw[EXTENSION] === true
        ? 'absolute'
        : (urlKind(s, resolve) ?? (s ? urlKind(s.items, resolve) : undefined));
    if (kind !== undefined) {
      params.push({
        pointer: `#/${p.in}/${escapeToken(p.name)}`,
        decode: compileParameterDecoder(p, resolve),
        kind,
      });
    }
  }
  return params;
}

/** The URL members of JSON bodies, and the URL fields of form bodies. */
function compileBodyUrls(
  ctx: CompileContext,
  resolve: (ref: string) => unknown,
): { bodyPaths: Map<string, { path: JsonPath; kind: UrlKind }>; formFields: Map<string, UrlKind> } {
  const bodyPaths = new Map<string, { path: JsonPath; kind: UrlKind }>();
  const formFields = new Map<string, UrlKind>();
  for (const [type, media] of Object.entries(ctx.operation.requestBody?.content ?? {})) {
    if (isJsonMediaType(type)) collectUrlPaths(media.schema, resolve, [], bodyPaths);
    else if (type === 'application/x-www-form-urlencoded') {
      const found = new Map<string, { path: JsonPath; kind: UrlKind }>();
      collectUrlPaths(media.schema, resolve, [], found);
      // Form fields are flat: a URL field, or every item of a repeated URL field.
      for (const { path, kind } of found.values()) {
        if (path.length === 1 || (path.length === 2 && path[1] === '*')) formFields.set(path[0], kind);
      }
    }
  }
  return { bodyPaths, formFields };
}

// ---- Per request ----

function guardRequest(s: SsrfState, ex: Exchange): Problem | undefined | Promise<Problem | undefined> {
  const candidates = candidatesOf(s, ex);
  if (candidates === undefined) return refuse(s, ex, [{ pointer: '#', reason: 'too_many_urls' }]);
  const found: Array<{ pointer: string; reason: DestinationProblem }> = [];
  const pending: Array<{ pointer: string; host: string }> = [];
  for (const cand of candidates) {
    const r = checkStatic(s, cand);
    if (r === undefined) continue;
    if (typeof r === 'string') found.push({ pointer: cand.pointer, reason: r });
    else for (const host of r.resolve) pending.push({ pointer: cand.pointer, host });
  }
  const { resolver } = s;
  if (pending.length === 0 || resolver === undefined)
    return found.length > 0 ? refuse(s, ex, found) : undefined;
  return Promise.all(pending.map((p) => resolver(p.host))).then((answers) =>
    judgeAnswers(s, ex, pending, answers, found),
  );
}

/** The DNS answers for the hosts that needed one: unresolvable or inward names join `found`. */
function judgeAnswers(
  s: SsrfState,
  ex: Exchange,
  pending: ReadonlyArray<{ pointer: string; host: string }>,
  answers: ReadonlyArray<readonly string[] | undefined>,
  found: Array<{ pointer: string; reason: DestinationProblem }>,
): Problem | undefined {
  const refused = new Set<string>();
  for (let i = 0; i < pending.length; i++) {
    const { pointer } = pending[i];
    if (refused.has(pointer)) continue; // one reason per value, even for a reference read two ways
    const addresses = answers[i];
    const reason =
      addresses === undefined
        ? 'unresolvable'
        : // Any inward answer refuses the name: the upstream's own lookup may pick that one.
          addresses.some(s.isForbidden)
          ? 'resolves_inward'
          : undefined;
    if (reason !== undefined) {
      refused.add(pointer);
      found.push({ pointer, reason });
    }
  }
  return found.length > 0 ? refuse(s, ex, found) : undefined;
}

/** Checks one absolute URL without DNS: a problem, a host to resolve, or undefined (fine). */
function checkUrl(s: SsrfState, value: string): DestinationProblem | { resolve: string } | undefined {
  const d = parseDestination(value, s.schemes, s.c.maxUrlLength);
  if ('problem' in d) return d.problem;
  if (s.ports !== undefined && !s.ports.has(d.port)) return 'port_not_allowed';
  const { hostAllowed } = s;
  if (d.ip)
    return s.isForbidden(d.host)
      ? 'internal_address'
      : hostAllowed && !hostAllowed(d.host)
        ? 'host_not_allowed'
        : undefined;
  if (isInternalName(d.host)) return 'internal_name';
  if (hostAllowed && !hostAllowed(d.host)) return 'host_not_allowed';
  return s.resolver ? { resolve: d.host } : undefined;
}

/** Checks what can be checked without DNS; returns a problem, hosts to resolve, or undefined (fine). */
function checkStatic(s: SsrfState, cand: Candidate): DestinationProblem | { resolve: string[] } | undefined {
  if (cand.kind === 'absolute') {
    const r = checkUrl(s, cand.value);
    return r === undefined || typeof r === 'string' ? r : { resolve: [r.resolve] };
  }
  // A reference is checked where a client resolving it would go: `//169.254.169.254/` is as absolute
  // as `http://169.254.169.254/` to any fetch with a base (RFC 3986 §5.2, WHATWG URL).
  if (cand.value.length > s.c.maxUrlLength) return 'malformed_url';
  const targets = referenceTargets(cand.value);
  if (targets === undefined) return 'malformed_url';
  if (targets.length === 0) return undefined; // a path, query or fragment: stays on its base
  const hosts = new Set<string>();
  for (const target of targets) {
    const r = checkUrl(s, target);
    if (typeof r === 'string') return r;
    if (r !== undefined) hosts.add(r.resolve);
  }
  // The targets are WHATWG's reading; an RFC 3986 parser reads `//a.example\@10.0.0.1/` elsewhere.
  if (hasAmbiguousCharacters(cand.value)) return 'malformed_url';
  return hosts.size > 0 ? { resolve: [...hosts] } : undefined;
}

function refuse(s: SsrfState, ex: Exchange, found: Finding[]): Problem {
  const reason = found[0].reason;
  emitViolation(s.ctx, ex, {
    policy: 'ssrfGuard',
    action: 'ssrf-attempt',
    reason,
    mode: s.c.mode,
    pointers: found.map((f) => f.pointer),
    severity: 3,
    alert: reason !== 'malformed_url' && reason !== 'too_many_urls',
  });
  return problem(problems.ssrfBlocked, 'A URL in the request points to a forbidden destination.', {
    extensions: { errors: found.map((f) => ({ pointer: f.pointer, detail: DETAILS[f.reason] })) },
    reason,
  });
}

/** The URL-valued strings of the request; undefined when there are more than `maxUrls`. */
function candidatesOf(s: SsrfState, ex: Exchange): Candidate[] | undefined {
  const out: Candidate[] = [];
  if (s.params.length > 0) parameterCandidates(s, ex, out);
  if (s.bodyPaths.size > 0) jsonCandidates(s, ex, out);
  if (s.formFields.size > 0 && ex.body !== undefined) formCandidates(s, ex, ex.body, out);
  return out.length > s.c.maxUrls ? undefined : out;
}

function parameterCandidates(s: SsrfState, ex: Exchange, out: Candidate[]): void {
  const sources = {
    path: ex.route.pathParams,
    query: splitQuery(ex.rawQuery),
    headers: ex.req.headers,
    cookies: splitCookies(ex.req.headers.cookie),
  };
  for (const p of s.params) {
    const r = p.decode(sources);
    if (!r.present || 'error' in r) continue; // malformed parameters are validateRequest's to refuse
    const values = Array.isArray(r.value) ? r.value : [r.value];
    for (let i = 0; i < values.length; i++) {
      if (typeof values[i] !== 'string') continue;
      out.push({
        pointer: Array.isArray(r.value) ? `${p.pointer}/${i}` : p.pointer,
        value: values[i],
        kind: p.kind,
      });
    }
  }
}

function jsonCandidates(s: SsrfState, ex: Exchange, out: Candidate[]): void {
  let json = ex.json;
  if (
    json === undefined &&
    ex.body !== undefined &&
    isJsonMediaType(mediaTypeOf(ex.req.headers['content-type']))
  ) {
    try {
      json = parseJson(ex.body.toString('utf8'));
      ex.json = json;
    } catch {
      json = undefined; // not JSON: validateRequest refuses it
    }
  }
  if (json !== undefined)
    for (const { path, kind } of s.bodyPaths.values())
      valuesAt(json, path, 0, '#/body', kind, out, s.c.maxUrls);
}

/** Stops once there are more than `maxUrls` (candidatesOf then refuses them all). */
function formCandidates(s: SsrfState, ex: Exchange, body: Buffer, out: Candidate[]): void {
  if (mediaTypeOf(ex.req.headers['content-type']) !== 'application/x-www-form-urlencoded') return;
  let pairs: Array<[string, string]> = [];
  try {
    pairs = parseFormPairs(body.toString('utf8'));
  } catch {
    pairs = []; // malformed: validateRequest refuses it
  }
  const counts = new Map<string, number>();
  for (const [name] of pairs) if (s.formFields.has(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
  const index = new Map<string, number>();
  for (const [name, value] of pairs) {
    const kind = s.formFields.get(name);
    if (kind === undefined) continue;
    const i = index.get(name) ?? 0;
    index.set(name, i + 1);
    const repeated = (counts.get(name) ?? 0) > 1;
    out.push({ pointer: `#/body/${escapeToken(name)}${repeated ? `/${i}` : ''}`, value, kind });
    if (out.length > s.c.maxUrls) return;
  }
}

function isAllowed(address: string, allowed: ReturnType<typeof createCidrList>): boolean {
  return allowed.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
}

/** `ssrfGuard` with the system resolver. */
export const ssrfGuard = createSsrfGuard();
