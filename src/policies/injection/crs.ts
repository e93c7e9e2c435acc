/**
 * The Core Rule Set mode of the injection policy (issue 17): what the policy hands the rule engine
 * (src/waf) and how it reads the answer. The rule set is loaded once per config load and shared by every
 * operation; exclusions and the schema-typed arguments are compiled per operation.
 */

import type { ApiDocument, JsonSchema, Operation } from '../../core/api-document.ts';
import type { Exchange } from '../../core/exchange.ts';
import type {
  CompiledRuleSet,
  CrsSettings,
  RuleLoadIssue,
  WafExclusions,
  WafMatch,
  WafRequest,
  WafVerdict,
} from '../../waf/types.ts';
import { percentDecode } from './decode.ts';
import type { CrsConfig, CrsExclusion } from './schema.ts';

export type ArgKind = 'number' | 'boolean' | 'enum' | 'format';

/** The rule set of one `crs` block, loaded once. */
export interface LoadedRuleSet {
  readonly rules: CompiledRuleSet;
  readonly issues: readonly RuleLoadIssue[];
}

/** The engine settings a `crs` block stands for (what crs-setup.conf would set). */
export function crsSettings(c: CrsConfig): CrsSettings {
  return {
    paranoiaLevel: c.paranoiaLevel,
    detectionParanoiaLevel: c.detectionParanoiaLevel ?? c.paranoiaLevel,
    inboundAnomalyThreshold: c.inboundAnomalyThreshold,
    ...(c.allowedMethods === undefined ? {} : { allowedMethods: c.allowedMethods }),
    ...(c.allowedContentTypes === undefined ? {} : { allowedRequestContentTypes: c.allowedContentTypes }),
  };
}

/** Key of the shared rule set: one load per distinct folder and settings in a config. */
export function ruleSetKey(c: CrsConfig): string {
  return `injection:crs:${JSON.stringify([c.path, crsSettings(c), c.unicodeMapFile ?? null, c.unicodeCodePage])}`;
}

/** Parses `942100` or `"942000-942999"`; undefined for anything else. */
function idRange(v: number | string): [number, number] | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v > 0 ? [v, v] : undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(v);
  if (m === null) return undefined;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo <= hi && hi - lo < 10_000 ? [lo, hi] : undefined;
}

/** Checks one exclusion; returns the problem (path relative to the `crs` block) or undefined. */
export function exclusionProblem(e: CrsExclusion, i: number): [string, string] | undefined {
  for (const [j, v] of (e.ids ?? []).entries()) {
    if (idRange(v) === undefined)
      return [
        `exclusions[${i}].ids[${j}]`,
        'must be a rule id or a range lo-hi (lo ≤ hi, at most 10000 ids)',
      ];
  }
  if ((e.ids ?? []).length === 0 && (e.tags ?? []).length === 0)
    return [`exclusions[${i}]`, 'names no rule: give ids or tags'];
  return undefined;
}

/** The exclusions of one operation in the engine's form; undefined when none apply. */
export function compileCrsExclusions(
  all: readonly CrsExclusion[],
  operationId: string,
): WafExclusions | undefined {
  const relevant = all.filter((e) => e.operations === undefined || e.operations.includes(operationId));
  if (relevant.length === 0) return undefined;
  const removeIds = new Set<number>();
  const removeTags = new Set<string>();
  const removeTargets = new Map<number, string[]>();
  const removeTargetsByTag = new Map<string, string[]>();
  const push = <K>(m: Map<K, string[]>, k: K, targets: readonly string[]) => {
    const list = m.get(k) ?? [];
    for (const t of targets) if (!list.includes(t)) list.push(t);
    m.set(k, list);
  };
  for (const e of relevant) {
    const ids = (e.ids ?? []).flatMap((v) => {
      const r = idRange(v);
      if (r === undefined) return [];
      return Array.from({ length: r[1] - r[0] + 1 }, (_, k) => r[0] + k);
    });
    for (const id of ids) {
      if (e.targets === undefined) removeIds.add(id);
      else push(removeTargets, id, e.targets);
    }
    for (const tag of e.tags ?? []) {
      if (e.targets === undefined) removeTags.add(tag);
      else push(removeTargetsByTag, tag, e.targets);
    }
  }
  return {
    ...(removeIds.size > 0 ? { removeIds } : {}),
    ...(removeTags.size > 0 ? { removeTags } : {}),
    ...(removeTargets.size > 0 ? { removeTargets } : {}),
    ...(removeTargetsByTag.size > 0 ? { removeTargetsByTag } : {}),
  };
}

// Schema awareness. Every check is a short anchored pattern without nested quantifiers (linear time).
const INTEGER = /^-?\d{1,20}$/;
const NUMBER = /^-?\d{1,20}(?:\.\d{1,20})?(?:[eE][+-]?\d{1,4})?$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const FORMATS: Readonly<Record<string, RegExp>> = {
  uuid: UUID,
  date: DATE,
  'date-time': DATE_TIME,
  ipv4: IPV4,
  int32: INTEGER,
  int64: INTEGER,
};

/** How one typed argument is recognised in a request: its kind and the test its text must pass. */
interface TypedArg {
  readonly kind: ArgKind;
  readonly test: (value: string) => boolean;
}

/** The typed arguments of one operation: query and form names, and `json.a.b` paths of its JSON body. */
export interface TypedArgTable {
  readonly query: ReadonlyMap<string, TypedArg>;
  /** `json.a.b` → the path [a, b], its keys as JSON spells them (`"a"`, `"b"`) and its test. */
  readonly json: ReadonlyMap<
    string,
    { readonly path: readonly string[]; readonly quoted: readonly string[]; readonly arg: TypedArg }
  >;
  readonly form: ReadonlyMap<string, TypedArg>;
}

function deref(
  schema: JsonSchema | undefined,
  spec: ApiDocument,
  depth = 0,
): Record<string, unknown> | undefined {
  if (schema === undefined || typeof schema !== 'object' || schema === null || depth > 8) return undefined;
  const s = schema as Record<string, unknown>;
  if (typeof s.$ref === 'string') return deref(spec.resolve(s.$ref) as JsonSchema, spec, depth + 1);
  return s;
}

/** The kind a schema guarantees for a scalar, or undefined when its values may be any text. */
function typedArgOf(schema: Record<string, unknown> | undefined): TypedArg | undefined {
  if (schema === undefined) return undefined;
  const values = Array.isArray(schema.enum)
    ? schema.enum
    : schema.const !== undefined
      ? [schema.const]
      : undefined;
  if (values?.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v))) {
    const texts = new Set(values.map((v) => String(v)));
    // An enum of harmless words only: a spec may list a value that is itself an attack string.
    if ([...texts].every((t) => /^[\w.:+/ -]{0,64}$/.test(t)))
      return { kind: 'enum', test: (v) => texts.has(v) };
    return undefined;
  }
  const type = Array.isArray(schema.type) ? schema.type.filter((t) => t !== 'null') : [schema.type];
  if (type.length !== 1) return undefined;
  if (type[0] === 'integer') return { kind: 'number', test: (v) => INTEGER.test(v) };
  if (type[0] === 'number') return { kind: 'number', test: (v) => NUMBER.test(v) };
  if (type[0] === 'boolean') return { kind: 'boolean', test: (v) => v === 'true' || v === 'false' };
  if (type[0] === 'string' && typeof schema.format === 'string') {
    const re = FORMATS[schema.format];
    if (re !== undefined) return { kind: 'format', test: (v) => re.test(v) };
  }
  return undefined;
}

/**
 * The typed arguments of an operation, from its parameters and request body schemas (JSON objects down to
 * 6 levels, form bodies one level; array items are not named individually and stay untyped).
 */
export function compileTypedArgs(op: Operation, spec: ApiDocument): TypedArgTable | undefined {
  const query = new Map<string, TypedArg>();
  for (const p of op.parameters) {
    if (p.in !== 'query') continue;
    const t = typedArgOf(deref(p.schema, spec));
    if (t !== undefined) query.set(p.name, t);
  }
  const json = new Map<string, { path: string[]; quoted: string[]; arg: TypedArg }>();
  const form = new Map<string, TypedArg>();
  const content = op.requestBody?.content ?? {};
  const walk = (schema: Record<string, unknown> | undefined, path: string[]) => {
    if (schema === undefined || path.length > 6) return;
    const t = typedArgOf(schema);
    if (t !== undefined && path.length > 0) {
      json.set(`json.${path.join('.')}`, { path, quoted: path.map((k) => JSON.stringify(k)), arg: t });
      return;
    }
    const props = schema.properties;
    if (props === null || typeof props !== 'object') return;
    for (const [name, sub] of Object.entries(props as Record<string, JsonSchema>)) {
      walk(deref(sub, spec), [...path, name]);
    }
  };
  for (const [mediaType, media] of Object.entries(content)) {
    const base = mediaType.split(';')[0].trim().toLowerCase();
    const schema = deref(media.schema, spec);
    if (base === 'application/json' || base.endsWith('+json')) walk(schema, []);
    else if (base === 'application/x-www-form-urlencoded' && schema?.properties) {
      for (const [name, sub] of Object.entries(schema.properties as Record<string, JsonSchema>)) {
        const t = typedArgOf(deref(sub, spec));
        if (t !== undefined) form.set(name, t);
      }
    }
  }
  if (query.size === 0 && json.size === 0 && form.size === 0) return undefined;
  return { query, json, form };
}

/** `a=1&b=2` as decoded pairs (at most `max`), the way ModSecurity names and reads ARGS. */
function pairs(raw: string, max = 1000): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of raw.split('&', max)) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const dec = (s: string) => percentDecode(s.includes('+') ? s.split('+').join(' ') : s);
    out.push([dec(eq < 0 ? part : part.slice(0, eq)), dec(eq < 0 ? '' : part.slice(eq + 1))]);
  }
  return out;
}

/** Marks `name` typed when every occurrence passes, untyped for good at the first that does not. */
function mark(out: Map<string, ArgKind>, refused: Set<string>, name: string, arg: TypedArg, value: string) {
  if (refused.has(name)) return;
  if (arg.test(value)) out.set(name, arg.kind);
  else {
    refused.add(name);
    out.delete(name);
  }
}

function countOf(text: string, needle: string): number {
  let n = 0;
  for (let i = text.indexOf(needle); i >= 0 && n < 2; i = text.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * The arguments of this request whose values are of the type the schema gives them: every occurrence of the
 * name must pass (a repeated name with one bad value stays untyped). JSON members are typed only when the
 * body names each of them once and spells no key with an escape, so no second, hidden member of the same
 * name can ride on a typed one.
 */
export function typedArgsOf(
  table: TypedArgTable,
  rawQuery: string,
  contentType: string | undefined,
  body: Buffer | undefined,
  json: () => unknown,
): ReadonlyMap<string, ArgKind> | undefined {
  const out = new Map<string, ArgKind>();
  const refused = new Set<string>();
  const media = contentType?.split(';')[0].trim().toLowerCase();
  const bodyText = body !== undefined && body.length > 0 ? body.toString('utf8') : undefined;
  // Query and form names share one table only when both are typed (the usual request has one or neither).
  const formTyped = media === 'application/x-www-form-urlencoded' && table.form.size > 0;
  const formLike = !formTyped
    ? table.query
    : table.query.size === 0
      ? table.form
      : new Map([...table.query, ...table.form]);
  if (formLike.size > 0) {
    const all = pairs(rawQuery);
    if (media === 'application/x-www-form-urlencoded' && bodyText !== undefined) all.push(...pairs(bodyText));
    for (const [name, value] of all) {
      const arg = formLike.get(name);
      if (arg !== undefined) mark(out, refused, name, arg, value);
      // A name the table does not type may still collide with a JSON name: keep it untyped.
      else refused.add(name);
    }
  }
  if (
    table.json.size > 0 &&
    bodyText !== undefined &&
    media !== undefined &&
    /^application\/(.+\+)?json$/.test(media)
  ) {
    const doc = bodyText.includes('\\u') ? undefined : json();
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) {
      for (const [name, { path, quoted, arg }] of table.json) {
        if (refused.has(name) || quoted.some((key) => countOf(bodyText, key) !== 1)) continue;
        let v: unknown = doc;
        for (const key of path)
          v =
            v !== null && typeof v === 'object' && !Array.isArray(v)
              ? (v as Record<string, unknown>)[key]
              : undefined;
        if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string')
          mark(out, refused, name, arg, String(v));
      }
    }
  }
  for (const name of refused) out.delete(name);
  return out.size > 0 ? out : undefined;
}

/** The request as the engine reads it: as the client sent it (the gateway forwards no more than this). */
export function wafRequestOf(ex: Exchange, typedArgs?: ReadonlyMap<string, ArgKind>): WafRequest {
  const raw = ex.req.rawHeaders;
  const headers: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) headers.push([raw[i], raw[i + 1]]);
  return {
    method: ex.req.method ?? 'GET',
    uri: ex.req.url ?? '/',
    protocol: `HTTP/${ex.req.httpVersion}`,
    headers,
    ...(ex.body !== undefined && ex.body.length > 0 ? { body: ex.body } : {}),
    remoteAddr: ex.clientIp,
    ...(typedArgs === undefined ? {} : { typedArgs }),
  };
}

// What an event may show of matched data: a JWT or a secret-looking assignment is masked, and the text is cut.
const JWT = /\beyJ[\w-]{1,4096}\.[\w-]{1,8192}\.[\w-]{0,4096}/g;
const SECRET =
  /\b(pass(?:word|wd)?|secret|token|api[_-]?key|authorization|session)([=:]\s?)[^\s&;,"']{1,4096}/gi;
/** Characters of matched data kept in an event. */
export const MAX_EVENT_DATA = 120;

/** Matched data fit for an event: secrets masked, cut to `MAX_EVENT_DATA` characters. */
export function eventData(data: string): string {
  const cut = data.length > 4 * MAX_EVENT_DATA ? data.slice(0, 4 * MAX_EVENT_DATA) : data;
  const masked = cut.replace(JWT, '[redacted JWT]').replace(SECRET, '$1$2[redacted]');
  return masked.length > MAX_EVENT_DATA ? `${masked.slice(0, MAX_EVENT_DATA)}…` : masked;
}

/** The matches an event and the access record carry (attack rules and the blocking evaluation). */
export function eventMatches(verdict: WafVerdict): Array<Record<string, unknown>> {
  return verdict.matches.map((m: WafMatch) => ({
    id: m.id,
    ...(m.msg === undefined ? {} : { msg: m.msg }),
    ...(m.variable === undefined ? {} : { variable: m.variable }),
    ...(m.data === undefined || m.data === '' ? {} : { data: eventData(m.data) }),
    ...(m.severity === undefined ? {} : { severity: m.severity }),
    ...(m.paranoiaLevel === undefined ? {} : { paranoiaLevel: m.paranoiaLevel }),
  }));
}
