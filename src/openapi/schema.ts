/**
 * Compiles OpenAPI schemas into ajv validators, once at load.
 *
 * - OpenAPI 3.0 (and converted Swagger 2.0) schemas are rewritten to JSON Schema: `nullable` becomes a
 *   type array, boolean `exclusiveMinimum/Maximum` the numeric form, siblings of `$ref` are dropped (3.0
 *   ignores them) and OpenAPI-only keywords (`discriminator`, `xml`, `example`, `externalDocs`) are removed.
 *   They run on `Ajv2019`, the oldest ajv dialect with `unevaluatedProperties` (needed below); for the
 *   subset OpenAPI 3.0 allows it validates as draft-07 does. 3.1 schemas run on `Ajv2020`.
 * - Objects are closed where they are used: a schema in a value position (a body, a property, an array
 *   item) that declares `properties` gets `unevaluatedProperties: false` unless the spec says
 *   `additionalProperties` itself. Closing at the use site, not in each `allOf` branch, keeps
 *   `allOf: [Pet, {properties: {bark}}]` working (mass assignment, OWASP API3:2023).
 * - Direction: in requests a `readOnly` property is refused (its schema becomes `false`); in responses a
 *   `writeOnly` property is undeclared, so the response filter strips it. Neither is then required.
 * - Every `$ref` is resolved here, by the rules of the document's dialect (src/openapi/refs.ts: JSON
 *   Schema 2020-12 `$id`, `$anchor` and `$defs` in 3.1; JSON pointers in 3.0), and points to a copy of its
 *   target registered once per direction under an id of its own; `$id` and `$anchor` are then dropped, so
 *   ajv has no second reading of the document to make. A `$ref` that names nothing is a load error.
 * - `pattern` and `patternProperties` run on RE2 (src/openapi/pattern.ts), in linear time; a pattern RE2
 *   cannot run is refused at load with its JSON pointer. Objects are read through own members only
 *   (`constructor`, `toString` and `__proto__` are ordinary property names).
 * - A request integer must be exact: `type: integer` and `format: int64` refuse values beyond ±(2^53−1),
 *   which a double cannot hold (two different ids would read as one).
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ApiDocument, JsonObject, JsonSchema } from '../core/api-document.ts';
import { PortcullisError } from '../core/errors.ts';
import type { CompileContext } from '../core/policy.ts';
import { linearRegExp, patternRefusal } from './pattern.ts';
import { indexSchemas, type SchemaIndex } from './refs.ts';

/** Which way the data flows: requests refuse `readOnly`, responses hide `writeOnly`. */
export type Direction = 'request' | 'response';

/** One schema violation: a JSON pointer into the validated value and a message that never holds the value. */
export interface SchemaViolation {
  /** JSON pointer relative to the validated value, e.g. `/items/0/name` ('' for the value itself). */
  readonly pointer: string;
  readonly detail: string;
}

export interface CheckResult {
  readonly violations: readonly SchemaViolation[];
  /** How many undeclared properties were removed (only with `strip`). */
  readonly stripped: number;
}

/** A compiled validator. */
export interface CompiledSchema {
  /**
   * Validates `data`. With `strip`, undeclared properties are deleted from `data` in place and the value
   * validated again; violations are what remains.
   */
  check(data: unknown, strip?: boolean): CheckResult;
}

/** Thrown at load when a schema cannot be compiled. */
export class SchemaCompileError extends PortcullisError {
  readonly code = 'ERR_SCHEMA_COMPILE';
  constructor(message: string) {
    super(message);
    this.name = 'SchemaCompileError';
  }
}

export interface SchemaCompiler {
  compile(schema: JsonSchema | undefined, direction: Direction): CompiledSchema;
}

const MAX_VIOLATIONS = 20;
const MAX_STRIP_ROUNDS = 3;
const SCHEMA_MAPS = ['properties', 'patternProperties', 'dependentSchemas'];
/**
 * Dropped from the rewritten schemas: identifiers and definitions are reached through the registered copies
 * of `$ref` targets instead. `$dynamicRef` is read as `$ref` (its target without dynamic scope).
 */
const DROPPED = new Set([
  '$id',
  '$anchor',
  '$dynamicAnchor',
  '$recursiveAnchor',
  '$recursiveRef',
  '$schema',
  '$vocabulary',
  '$defs',
  'definitions',
]);
/**
 * ajv cannot declare a property named `__proto__` (its generated code reads the name as the prototype), so
 * the rewritten schemas spell it with this alias, and a checked value has its own `__proto__` members renamed
 * for the time of the check (see `compiled`).
 */
const PROTO = '__proto__';
const PROTO_ALIAS = '__proto__\u0000';
/** Custom keyword: the number is an integer a double holds exactly. */
const SAFE_INTEGER = 'portcullisSafeInteger';
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const SCHEMA_SINGLE = [
  'additionalProperties',
  'unevaluatedProperties',
  'items',
  'additionalItems',
  'unevaluatedItems',
  'contains',
  'propertyNames',
  'not',
  'if',
  'then',
  'else',
];
/** Keywords whose subschema describes a value of its own (where an object schema is closed). */
const VALUE_POSITIONS = new Set([
  'properties',
  'patternProperties',
  'additionalProperties',
  'items',
  'prefixItems',
]);
const OPENAPI_ONLY = ['discriminator', 'xml', 'example', 'externalDocs'];

// OpenAPI data type formats (OpenAPI 3.0.4 §4.4; the 3.1 format registry).
const INT32 = {
  type: 'number' as const,
  validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
};
// Requests also get SAFE_INTEGER on every integer schema (see rewriteKeywords).
const INT64 = { type: 'number' as const, validate: (n: number) => Number.isInteger(n) };
const ANY_NUMBER = { type: 'number' as const, validate: (n: number) => Number.isFinite(n) };
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

type AjvInstance = Ajv2019 | Ajv2020;

function createAjv(version: ApiDocument['sourceVersion']): AjvInstance {
  const options = {
    strict: false,
    allErrors: true,
    logger: false as const,
    allowUnionTypes: true,
    validateFormats: true,
    validateSchema: false,
    // `required`, `properties` and friends look at own members only: without it, `{}` has a `constructor`.
    ownProperties: true,
    // Patterns run on RE2 (linear time, by code point as with the `u` flag); src/openapi/pattern.ts reads
    // them with the `u` grammar first and falls back to the no-flag grammar real specs rely on (`[\w\_]`).
    unicodeRegExp: true,
    code: { regExp: linearRegExp },
  };
  const ajv: AjvInstance = version === '3.1' ? new Ajv2020(options) : new Ajv2019(options);
  ajv.addKeyword({
    keyword: SAFE_INTEGER,
    type: 'number',
    schemaType: 'boolean',
    errors: false,
    validate: (on: boolean, n: number) => !on || !Number.isInteger(n) || Number.isSafeInteger(n),
  });
  addFormats.default(ajv);
  ajv.addFormat('int32', INT32);
  ajv.addFormat('int64', INT64);
  ajv.addFormat('float', ANY_NUMBER);
  ajv.addFormat('double', ANY_NUMBER);
  ajv.addFormat('byte', BASE64);
  ajv.addFormat('binary', true);
  ajv.addFormat('password', true);
  return ajv;
}

type Closure = 'open' | 'declared' | 'none';

/** Sets a member as an own property, even one named `__proto__`. */
function setOwn(o: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Schema rewriting for one document, direction and dialect. */
class Rewriter {
  readonly api: ApiDocument;
  readonly direction: Direction;
  readonly is30: boolean;
  readonly index: SchemaIndex;
  readonly ajv: AjvInstance;
  /** Prefix of the ids under which `$ref` targets are registered with ajv. */
  readonly prefix: string;
  /** Registered `$ref` targets: JSON pointer in the document → ajv id. */
  readonly targets = new Map<string, string>();
  readonly closureCache = new Map<object, Closure>();
  /** Whether some rewritten schema declares a `__proto__` property (under its alias). */
  usesProto = false;

  constructor(api: ApiDocument, direction: Direction, index: SchemaIndex, ajv: AjvInstance, prefix: string) {
    this.api = api;
    this.direction = direction;
    this.is30 = api.sourceVersion !== '3.1';
    this.index = index;
    this.ajv = ajv;
    this.prefix = prefix;
  }

  /** The schema a `$ref` member of `s` names (undefined when it names nothing). */
  target(s: JsonObject, base?: string): JsonSchema | undefined {
    const t = this.index.resolve(s.$ref as string, base ?? this.index.baseAt(s) ?? this.index.base, s)?.value;
    return t !== null && (typeof t === 'object' || typeof t === 'boolean') ? (t as JsonSchema) : undefined;
  }

  /** Whether an object schema declares its properties (close it), is explicitly open, or says nothing. */
  closure(schema: unknown, depth = 0): Closure {
    if (schema === true) return 'open';
    if (schema === null || typeof schema !== 'object' || depth > 32) return 'none';
    const s = schema as JsonObject;
    const cached = this.closureCache.get(s);
    if (cached !== undefined) return cached;
    this.closureCache.set(s, 'none'); // cycle guard
    const result = this.computeClosure(s, depth);
    this.closureCache.set(s, result);
    return result;
  }

  private computeClosure(s: JsonObject, depth: number): Closure {
    // An explicit answer of the spec wins: open (true/schema) or already closed (false).
    if (s.additionalProperties !== undefined || s.unevaluatedProperties !== undefined) return 'open';
    let declared = s.properties !== undefined || s.patternProperties !== undefined;
    if (typeof s.$ref === 'string') {
      const c = this.closure(this.target(s), depth + 1);
      if (c === 'open') return 'open';
      if (c === 'declared') declared = true;
      if (this.is30) return declared ? 'declared' : 'none';
    }
    if (Array.isArray(s.allOf)) {
      for (const sub of s.allOf) {
        const c = this.closure(sub, depth + 1);
        if (c === 'open') return 'open';
        if (c === 'declared') declared = true;
      }
    }
    for (const key of ['anyOf', 'oneOf']) {
      const list = s[key];
      if (!Array.isArray(list)) continue;
      for (const sub of list) {
        const c = this.closure(sub, depth + 1);
        if (c === 'open' || (c === 'none' && this.mayBeObject(sub))) return 'open';
        if (c === 'declared') declared = true;
      }
    }
    return declared ? 'declared' : 'none';
  }

  private mayBeObject(schema: unknown): boolean {
    if (schema === true) return true;
    if (schema === null || typeof schema !== 'object') return false;
    let s = schema as JsonObject;
    for (let i = 0; i < 8 && typeof s.$ref === 'string'; i++) {
      const t = this.target(s);
      if (t === undefined || typeof t === 'boolean') return t === true;
      s = t;
    }
    if (s.type === undefined) return s.allOf === undefined && s.anyOf === undefined && s.oneOf === undefined;
    return s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object'));
  }

  /** Whether a property schema carries `readOnly`/`writeOnly` (directly, via `$ref` or `allOf`). */
  flag(schema: unknown, name: 'readOnly' | 'writeOnly', depth = 0): boolean {
    if (schema === null || typeof schema !== 'object' || depth > 8) return false;
    const s = schema as JsonObject;
    if (s[name] === true) return true;
    if (typeof s.$ref === 'string' && this.flag(this.target(s), name, depth + 1)) return true;
    return Array.isArray(s.allOf) && s.allOf.some((sub) => this.flag(sub, name, depth + 1));
  }

  /** Where a schema sits in the document, for load errors. */
  private where(s: JsonObject): string {
    const at = this.index.pointerOf(s);
    return at === undefined ? this.api.file : `${this.api.file} at ${at === '' ? '/' : at}`;
  }

  /**
   * The ajv id of a `$ref` target: its rewritten copy is registered once, as a schema of its own, so
   * targets under another `$id`, anchors and `$defs` all end up as one plain reference.
   */
  private refId(ref: string, s: JsonObject, base: string): string {
    const t = this.index.resolve(ref, base, s);
    if (t === undefined)
      throw new SchemaCompileError(`${this.where(s)}: $ref ${JSON.stringify(ref)} names nothing`);
    let id = this.targets.get(t.pointer);
    if (id !== undefined) return id;
    id = `${this.prefix}${this.targets.size}`;
    this.targets.set(t.pointer, id); // set first: a target may refer to itself
    try {
      const targetBase =
        t.value !== null && typeof t.value === 'object' ? this.index.baseAt(t.value) : undefined;
      const rewritten = this.rewrite(t.value, false, targetBase ?? base);
      const copy =
        typeof rewritten === 'boolean' ? { $id: id, allOf: [rewritten] } : { ...rewritten, $id: id };
      this.ajv.addSchema(copy);
    } catch (e) {
      this.targets.delete(t.pointer);
      if (e instanceof SchemaCompileError) throw e;
      throw new SchemaCompileError(`${this.where(s)}: $ref ${JSON.stringify(ref)}: ${(e as Error).message}`);
    }
    return id;
  }

  /** Rewrites one schema. `value` marks a value position, where declared objects are closed. */
  rewrite(schema: unknown, value: boolean, inherited: string = this.index.base): JsonSchema {
    if (typeof schema === 'boolean') return schema;
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) return {};
    const s = schema as JsonObject;
    const base = this.index.baseAt(s) ?? inherited;
    let out: JsonObject;
    const ref =
      typeof s.$ref === 'string'
        ? s.$ref
        : !this.is30 && typeof s.$dynamicRef === 'string'
          ? s.$dynamicRef
          : undefined;
    if (ref !== undefined) {
      // OpenAPI 3.0 ignores the siblings of `$ref`; 2020-12 applies them.
      out = this.is30 ? {} : this.rewriteKeywords(s, base);
      out.$ref = this.refId(ref, s, base);
    } else out = this.rewriteKeywords(s, base);

    if (this.is30) out = this.nullable(s, out);
    if (value && this.closure(s) === 'declared') out.unevaluatedProperties = false;
    return out;
  }

  private rewriteKeywords(s: JsonObject, base: string): JsonObject {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(s)) {
      if (k === '$ref' || k === '$dynamicRef' || DROPPED.has(k) || OPENAPI_ONLY.includes(k)) continue;
      if (this.is30 && k === 'nullable') continue;
      if (k === 'pattern' && typeof v === 'string') this.checkPattern(s, v, '/pattern');
      if (SCHEMA_MAPS.includes(k) && v !== null && typeof v === 'object') {
        const m: JsonObject = {};
        for (const [name, sub] of Object.entries(v as JsonObject)) {
          if (k === 'patternProperties')
            this.checkPattern(s, name, `/patternProperties/${pointerToken(name)}`);
          setOwn(m, this.alias(name, k), this.rewrite(sub, VALUE_POSITIONS.has(k), base));
        }
        out[k] = m;
      } else if (SCHEMA_LISTS.includes(k) && Array.isArray(v)) {
        out[k] = v.map((sub) => this.rewrite(sub, VALUE_POSITIONS.has(k), base));
      } else if (SCHEMA_SINGLE.includes(k)) {
        if (Array.isArray(v)) out[k] = v.map((sub) => this.rewrite(sub, true, base));
        else out[k] = this.rewrite(v, VALUE_POSITIONS.has(k), base);
      } else if (k === 'required' && Array.isArray(v)) {
        out[k] = v.map((name) => (typeof name === 'string' ? this.alias(name, 'properties') : name));
      } else setOwn(out, k, v);
    }
    if (this.is30) {
      for (const [bool, bound] of [
        ['exclusiveMinimum', 'minimum'],
        ['exclusiveMaximum', 'maximum'],
      ] as const) {
        if (typeof out[bool] !== 'boolean') continue;
        if (out[bool] === true && typeof out[bound] === 'number') {
          out[bool] = out[bound];
          delete out[bound];
        } else delete out[bool];
      }
    }
    // Requests: beyond ±(2^53−1) a double no longer tells neighbouring int64 values apart, so such an
    // integer is refused, not rounded. Responses are the upstream's own values and pass as before.
    const types = Array.isArray(s.type) ? s.type : [s.type];
    const integer = (types.includes('integer') && !types.includes('number')) || s.format === 'int64';
    if (integer && this.direction === 'request') out[SAFE_INTEGER] = true;
    this.applyDirection(s, out);
    return out;
  }

  /** A declared property name as ajv can read it (`__proto__` becomes its alias). */
  private alias(name: string, keyword: string): string {
    if (name !== PROTO || keyword === 'patternProperties') return name;
    this.usesProto = true;
    return PROTO_ALIAS;
  }

  /** Refuses at load a pattern RE2 cannot run, naming where it is (issue 13 item 6). */
  private checkPattern(s: JsonObject, pattern: string, member: string): void {
    const why = patternRefusal(pattern);
    if (why === undefined) return;
    const at = this.index.pointerOf(s);
    const where = at === undefined ? this.api.file : `${this.api.file} at ${at}${member}`;
    throw new SchemaCompileError(`${where}: ${why}`);
  }

  /** readOnly properties are refused in requests; writeOnly ones are undeclared in responses. */
  private applyDirection(original: JsonObject, out: JsonObject): void {
    const props = original.properties as JsonObject | undefined;
    if (props === undefined || out.properties === undefined) return;
    const flag = this.direction === 'request' ? 'readOnly' : 'writeOnly';
    const hit = Object.keys(props).filter((k) => this.flag(props[k], flag));
    if (hit.length === 0) return;
    const rewritten = out.properties as JsonObject;
    for (const k of hit) {
      if (this.direction === 'request') rewritten[k] = false;
      else delete rewritten[k];
    }
    if (Array.isArray(out.required)) out.required = out.required.filter((r) => !hit.includes(r as string));
  }

  /** OpenAPI 3.0 `nullable: true` (3.0.4 §4.8.24.1): null is allowed too. */
  private nullable(original: JsonObject, out: JsonObject): JsonObject {
    if (original.nullable !== true) return out;
    if (typeof out.type === 'string') {
      out.type = [out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
      return out;
    }
    if (out.type === undefined) return { anyOf: [{ type: 'null' }, out] };
    return out;
  }
}

const MAX_NAME_IN_POINTER = 64;

/** A member name as a pointer token; client-chosen names are cut short so a problem never carries much of them. */
function pointerToken(name: string): string {
  const n = name.length > MAX_NAME_IN_POINTER ? `${name.slice(0, MAX_NAME_IN_POINTER)}...` : name;
  return n.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Ajv error → violation: pointer of the offending member, a message that holds no data. */
function toViolation(e: ErrorObject, direction: Direction): SchemaViolation {
  const p = e.params as Record<string, unknown>;
  const child = (name: unknown) => `${e.instancePath}/${pointerToken(String(name))}`;
  switch (e.keyword) {
    case 'required':
      return { pointer: child(p.missingProperty), detail: 'is required' };
    case 'unevaluatedProperties':
      return { pointer: child(p.unevaluatedProperty), detail: 'is not a declared property' };
    case 'additionalProperties':
      return { pointer: child(p.additionalProperty), detail: 'is not a declared property' };
    case SAFE_INTEGER:
      return {
        pointer: e.instancePath,
        detail: 'is an integer beyond ±(2^53−1), which cannot be compared exactly (send it as a string)',
      };
    case 'false schema':
      return {
        pointer: e.instancePath,
        detail: direction === 'request' ? 'is read-only or not allowed' : 'is not allowed',
      };
    default:
      return { pointer: e.instancePath, detail: e.message ?? `fails ${e.keyword}` };
  }
}

function unescapeToken(t: string): string {
  return t.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** Deletes the undeclared members that ajv reported; returns how many went. */
function stripUndeclared(data: unknown, errors: readonly ErrorObject[]): number {
  let removed = 0;
  for (const e of errors) {
    const name =
      e.keyword === 'unevaluatedProperties'
        ? (e.params as { unevaluatedProperty?: string }).unevaluatedProperty
        : e.keyword === 'additionalProperties'
          ? (e.params as { additionalProperty?: string }).additionalProperty
          : undefined;
    if (name === undefined) continue;
    let node: unknown = data;
    for (const t of e.instancePath === '' ? [] : e.instancePath.slice(1).split('/')) {
      if (node === null || typeof node !== 'object') break;
      node = (node as Record<string, unknown>)[unescapeToken(t)];
    }
    if (node !== null && typeof node === 'object' && Object.hasOwn(node, name)) {
      delete (node as Record<string, unknown>)[name];
      removed++;
    }
  }
  return removed;
}

/** Renames every own `__proto__` member of a value to its alias; returns the objects renamed. */
function hideProto(data: unknown): Record<string, unknown>[] {
  const renamed: Record<string, unknown>[] = [];
  const stack: unknown[] = [data];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    const o = node as Record<string, unknown>;
    if (Object.hasOwn(o, PROTO) && !Object.hasOwn(o, PROTO_ALIAS)) {
      setOwn(o, PROTO_ALIAS, o[PROTO]);
      delete o[PROTO];
      renamed.push(o);
    }
    for (const v of Object.values(o)) stack.push(v);
  }
  return renamed;
}

/** Undoes `hideProto` (a member that `strip` removed stays removed). */
function restoreProto(renamed: readonly Record<string, unknown>[]): void {
  for (const o of renamed) {
    if (!Object.hasOwn(o, PROTO_ALIAS)) continue;
    setOwn(o, PROTO, o[PROTO_ALIAS]);
    delete o[PROTO_ALIAS];
  }
}

function compiled(validate: ValidateFunction, direction: Direction, usesProto: boolean): CompiledSchema {
  const run: CompiledSchema['check'] = (data, strip) => {
    const renamed = hideProto(data);
    try {
      const r = check(data, strip);
      if (r.violations.length === 0) return r;
      const unalias = (p: string) => p.replaceAll(PROTO_ALIAS, PROTO);
      return { ...r, violations: r.violations.map((v) => ({ ...v, pointer: unalias(v.pointer) })) };
    } finally {
      restoreProto(renamed);
    }
  };
  const check: CompiledSchema['check'] = (data, strip = false) => {
    let stripped = 0;
    for (let round = 0; ; round++) {
      if (validate(data)) return { violations: [], stripped };
      const errors = validate.errors ?? [];
      const removed = strip && round < MAX_STRIP_ROUNDS ? stripUndeclared(data, errors) : 0;
      if (removed === 0) {
        const seen = new Set<string>();
        const violations: SchemaViolation[] = [];
        for (const e of errors) {
          const v = toViolation(e, direction);
          const key = `${v.pointer}\u0000${v.detail}`;
          if (seen.has(key)) continue;
          seen.add(key);
          violations.push(v);
          if (violations.length >= MAX_VIOLATIONS) break;
        }
        return { violations, stripped };
      }
      stripped += removed;
    }
  };
  return { check: usesProto ? run : check };
}

const ACCEPT_ANYTHING: CompiledSchema = { check: () => ({ violations: [], stripped: 0 }) };

/**
 * Creates the schema compiler of one document: one ajv instance (of the document's dialect) holding the
 * document's component schemas, rewritten once per direction.
 * @example
 * const compiler = createSchemaCompiler(api);
 * const body = compiler.compile(op.requestBody.content['application/json'].schema, 'request');
 * const { violations } = body.check(JSON.parse(text));
 */
export function createSchemaCompiler(api: ApiDocument, id = 'api'): SchemaCompiler {
  const ajv = createAjv(api.sourceVersion);
  const index = indexSchemas(api.doc, api.sourceVersion === '3.1' ? '3.1' : '3.0', api.file);
  const rewriters = new Map<Direction, Rewriter>();
  const rewriterFor = (direction: Direction): Rewriter => {
    let r = rewriters.get(direction);
    if (r === undefined) {
      const prefix = `https://portcullis.invalid/${encodeURIComponent(id)}/${direction}/`;
      r = new Rewriter(api, direction, index, ajv, prefix);
      rewriters.set(direction, r);
    }
    return r;
  };
  // Many operations share schemas (`$ref: Problem` on every error response): compile each shape once.
  const cache = new Map<string, CompiledSchema>();
  return {
    compile(schema, direction) {
      if (schema === undefined || schema === true) return ACCEPT_ANYTHING;
      const r = rewriterFor(direction);
      const rewritten = r.rewrite(schema, true);
      const key = `${direction}:${JSON.stringify(rewritten)}`;
      let c = cache.get(key);
      if (c !== undefined) return c;
      try {
        c = compiled(ajv.compile(rewritten), direction, r.usesProto);
      } catch (e) {
        if (e instanceof SchemaCompileError) throw e;
        throw new SchemaCompileError(`${api.file}: ${(e as Error).message}`);
      }
      cache.set(key, c);
      return c;
    },
  };
}

/**
 * The schema compiler of the route's document, shared by every route of the config snapshot (one ajv
 * instance per document rather than one per route).
 */
export function schemaCompilerFor(ctx: Pick<CompileContext, 'shared' | 'spec'>): SchemaCompiler {
  const byDoc = ctx.shared.get('openapi.schema-compilers', () => new WeakMap<ApiDocument, SchemaCompiler>());
  let c = byDoc.get(ctx.spec);
  if (c === undefined) {
    c = createSchemaCompiler(ctx.spec, `api-${ctx.spec.file}`);
    byDoc.set(ctx.spec, c);
  }
  return c;
}
