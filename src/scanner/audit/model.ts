/**
 * A view of the ORIGINAL spec (OpenAPI 3.0, 3.1 or Swagger 2.0, not converted) shaped for the audit rules:
 * operations with their effective security, parameters and responses, the security schemes, the servers, and
 * every schema "owner" (a named component schema, or a schema written inline in an operation) with the
 * operations that use it in a request or a response. Every object keeps its JSON pointer in the original file.
 */
import { isMapValue, type Json, type JsonMap, pointerJoin, type SpecSource } from './source.ts';

export type AuditVersion = '2.0' | '3.0' | '3.1';

export const AUDIT_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** A value found in the document together with its pointer. */
export interface Located<T = Json> {
  readonly pointer: string;
  readonly node: T;
}

export type SecurityRequirementMap = Readonly<Record<string, readonly string[]>>;

export interface AuditParameter {
  readonly name: string;
  readonly in: string;
  /** Pointer of the (resolved) parameter object. */
  readonly pointer: string;
  readonly node: JsonMap;
  /** Its schema; for a Swagger 2.0 non-body parameter, the parameter object itself. */
  readonly schema: Located | undefined;
}

export interface AuditResponse {
  /** Status code or range as written: `200`, `4XX`, `default`. */
  readonly status: string;
  readonly pointer: string;
  readonly node: JsonMap;
  /** Header objects keyed by lower-cased name. */
  readonly headers: ReadonlyMap<string, Located<JsonMap>>;
  readonly schemas: readonly Located[];
}

export interface AuditOperation {
  readonly method: string;
  readonly path: string;
  /** `operationId`, else `METHOD /path`. */
  readonly id: string;
  /** `METHOD /path`, for messages. */
  readonly label: string;
  readonly pointer: string;
  readonly node: JsonMap;
  readonly isWrite: boolean;
  readonly deprecated: boolean;
  /** Effective security; undefined when neither the operation nor the root declares any. */
  readonly security: readonly SecurityRequirementMap[] | undefined;
  /** Where the effective security is declared: the operation's own, the root's, or nowhere. */
  readonly securitySource: 'operation' | 'root' | 'none';
  /** True when some alternative of the effective security is empty: anonymous calls are allowed. */
  readonly isAnonymous: boolean;
  readonly parameters: readonly AuditParameter[];
  readonly requestSchemas: readonly Located[];
  readonly responses: readonly AuditResponse[];
}

export interface AuditServer {
  readonly url: string;
  readonly pointer: string;
  readonly node: JsonMap | undefined;
  readonly level: 'root' | 'path' | 'operation';
}

export type SchemaUse = 'request' | 'response';

/** A schema checked as one unit: findings about its properties are grouped under it. */
export interface SchemaOwner {
  readonly pointer: string;
  /** `schema User`, or `request body of POST /users`. */
  readonly label: string;
  readonly node: Json;
  readonly component: boolean;
  readonly requestOps: Set<AuditOperation>;
  readonly responseOps: Set<AuditOperation>;
  /** Owners this one refers to with `$ref`, by pointer. */
  readonly refs: Set<string>;
}

export interface AuditModel {
  readonly source: SpecSource;
  readonly version: AuditVersion;
  readonly root: JsonMap;
  readonly operations: readonly AuditOperation[];
  readonly securitySchemes: ReadonlyMap<string, Located<JsonMap>>;
  readonly servers: readonly AuditServer[];
  readonly owners: ReadonlyMap<string, SchemaOwner>;
  /** Follows local `$ref`s (bounded) and returns the target with its pointer. */
  deref(value: Located): Located;
}

/** Turns a local `$ref` (`#/components/schemas/User`) into a pointer, or undefined for external refs. */
export function refPointer(ref: unknown): string | undefined {
  if (typeof ref !== 'string' || !ref.startsWith('#')) return undefined;
  try {
    return decodeURIComponent(ref.slice(1));
  } catch {
    return ref.slice(1);
  }
}

function getAt(root: Json, pointer: string): Json | undefined {
  if (pointer === '') return root;
  let node: Json | undefined = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node)) node = node[Number(seg)];
    else if (isMapValue(node)) node = Object.hasOwn(node, seg) ? node[seg] : undefined;
    else return undefined;
  }
  return node;
}

const OWNER_PREFIX = /^(\/components\/schemas\/[^/]+|\/definitions\/[^/]+)/;

function securityOf(value: Json | undefined): SecurityRequirementMap[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: SecurityRequirementMap[] = [];
  for (const req of value) {
    if (!isMapValue(req)) continue;
    const m: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(req)) m[k] = Array.isArray(v) ? v.map(String) : [];
    out.push(m);
  }
  return out;
}

/** Builds the audit model of a parsed spec in one pass over its paths and components. */
export function buildAuditModel(source: SpecSource): AuditModel {
  const root = source.value;
  const version: AuditVersion =
    root.swagger === '2.0' ? '2.0' : String(root.openapi).startsWith('3.1') ? '3.1' : '3.0';
  const is2 = version === '2.0';

  const deref = (value: Located): Located => {
    let cur = value;
    for (let i = 0; i < 16 && isMapValue(cur.node) && typeof cur.node.$ref === 'string'; i++) {
      const p = refPointer(cur.node.$ref);
      if (p === undefined) return cur;
      const target = getAt(root, p);
      if (target === undefined) return cur;
      cur = { pointer: p, node: target };
    }
    return cur;
  };

  const owners = new Map<string, SchemaOwner>();
  const ownerAt = (pointer: string, node: Json, label: string, component: boolean): SchemaOwner => {
    let o = owners.get(pointer);
    if (!o) {
      o = { pointer, label, node, component, requestOps: new Set(), responseOps: new Set(), refs: new Set() };
      collectRefs(node, o.refs);
      owners.set(pointer, o);
    }
    return o;
  };
  // Named schemas are owners even when unused: they are still part of the contract.
  const schemaContainer = is2
    ? root.definitions
    : isMapValue(root.components)
      ? root.components.schemas
      : undefined;
  const schemaBase = is2 ? '/definitions' : '/components/schemas';
  if (isMapValue(schemaContainer)) {
    for (const [name, node] of Object.entries(schemaContainer)) {
      ownerAt(pointerJoin(schemaBase, name), node, `schema ${name}`, true);
    }
  }

  /** Registers a schema used by an operation; returns the owner for the inline part, if any. */
  const useSchema = (loc: Located, op: AuditOperation, use: SchemaUse, label: string): void => {
    const target = deref(loc);
    const m = OWNER_PREFIX.exec(target.pointer);
    const owner = m
      ? (owners.get(m[1]!) ??
        ownerAt(m[1]!, getAt(root, m[1]!) ?? null, `schema ${m[1]!.split('/').pop()}`, true))
      : ownerAt(
          target.pointer,
          target.node,
          target.pointer.startsWith('/paths/') ? label : sharedLabel(target.pointer),
          false,
        );
    (use === 'request' ? owner.requestOps : owner.responseOps).add(op);
  };

  const securitySchemes = new Map<string, Located<JsonMap>>();
  const schemes = is2
    ? root.securityDefinitions
    : isMapValue(root.components)
      ? root.components.securitySchemes
      : undefined;
  const schemesBase = is2 ? '/securityDefinitions' : '/components/securitySchemes';
  if (isMapValue(schemes)) {
    for (const [name, node] of Object.entries(schemes)) {
      const loc = deref({ pointer: pointerJoin(schemesBase, name), node });
      if (isMapValue(loc.node))
        securitySchemes.set(name, { pointer: pointerJoin(schemesBase, name), node: loc.node });
    }
  }

  const servers: AuditServer[] = [];
  const addServers = (value: Json | undefined, base: string, level: AuditServer['level']): void => {
    if (!Array.isArray(value)) return;
    value.forEach((s, i) => {
      if (isMapValue(s) && typeof s.url === 'string') {
        servers.push({ url: expandServerUrl(s), pointer: pointerJoin(base, i), node: s, level });
      }
    });
  };
  if (!is2) addServers(root.servers, '/servers', 'root');

  const rootSecurity = securityOf(root.security);
  const operations: AuditOperation[] = [];
  const paths = isMapValue(root.paths) ? root.paths : {};
  for (const [path, rawItem] of Object.entries(paths)) {
    const itemLoc = deref({ pointer: pointerJoin('/paths', path), node: rawItem });
    if (!isMapValue(itemLoc.node)) continue;
    const item = itemLoc.node;
    const itemPointer = pointerJoin('/paths', path);
    if (!is2) addServers(item.servers, pointerJoin(itemPointer, 'servers'), 'path');
    const pathParams = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of AUDIT_METHODS) {
      const node = item[method];
      if (!isMapValue(node)) continue;
      const pointer = pointerJoin(itemPointer, method);
      if (!is2) addServers(node.servers, pointerJoin(pointer, 'servers'), 'operation');
      const ownSecurity = securityOf(node.security);
      const security = ownSecurity ?? rootSecurity;
      const upper = method.toUpperCase();
      const label = `${upper} ${path}`;
      const parameters: AuditParameter[] = [];
      const requestSchemas: Located[] = [];
      const responses: AuditResponse[] = [];
      const op: AuditOperation = {
        method: upper,
        path,
        id: typeof node.operationId === 'string' ? node.operationId : label,
        label,
        pointer,
        node,
        isWrite: WRITE_METHODS.has(upper),
        deprecated: node.deprecated === true,
        security,
        securitySource: ownSecurity ? 'operation' : rootSecurity ? 'root' : 'none',
        isAnonymous: !security || security.length === 0 || security.some((r) => Object.keys(r).length === 0),
        parameters,
        requestSchemas,
        responses,
      };

      // Operation parameters override path-item ones with the same name and location.
      const seen = new Set<string>();
      const opParams = Array.isArray(node.parameters) ? node.parameters : [];
      const allParams: (Located & { where: string })[] = [
        ...opParams.map((p, i) => ({
          pointer: pointerJoin(pointer, 'parameters', i),
          node: p,
          where: label,
        })),
        ...pathParams.map((p, i) => ({
          pointer: pointerJoin(itemPointer, 'parameters', i),
          node: p,
          where: path,
        })),
      ];
      for (const raw of allParams) {
        const loc = deref(raw);
        if (!isMapValue(loc.node)) continue;
        const p = loc.node;
        const key = `${p.in}:${p.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        let schema: Located | undefined;
        if (is2 && p.in === 'body') {
          if (p.schema !== undefined)
            requestSchemas.push({ pointer: pointerJoin(loc.pointer, 'schema'), node: p.schema });
          continue;
        }
        if (is2) schema = { pointer: loc.pointer, node: p };
        else if (p.schema !== undefined)
          schema = { pointer: pointerJoin(loc.pointer, 'schema'), node: p.schema };
        else if (isMapValue(p.content)) {
          const [mt, media] = Object.entries(p.content)[0] ?? [];
          if (mt && isMapValue(media) && media.schema !== undefined) {
            schema = { pointer: pointerJoin(loc.pointer, 'content', mt, 'schema'), node: media.schema };
          }
        }
        parameters.push({ name: String(p.name), in: String(p.in), pointer: loc.pointer, node: p, schema });
        if (schema) useSchema(schema, op, 'request', `parameter ${String(p.name)} of ${raw.where}`);
      }

      if (!is2 && node.requestBody !== undefined) {
        const body = deref({ pointer: pointerJoin(pointer, 'requestBody'), node: node.requestBody });
        if (isMapValue(body.node) && isMapValue(body.node.content)) {
          for (const [mt, media] of Object.entries(body.node.content)) {
            if (isMapValue(media) && media.schema !== undefined) {
              requestSchemas.push({
                pointer: pointerJoin(body.pointer, 'content', mt, 'schema'),
                node: media.schema,
              });
            }
          }
        }
      }
      for (const s of requestSchemas) useSchema(s, op, 'request', `request body of ${label}`);

      if (isMapValue(node.responses)) {
        for (const [status, rawResp] of Object.entries(node.responses)) {
          const loc = deref({ pointer: pointerJoin(pointer, 'responses', status), node: rawResp });
          if (!isMapValue(loc.node)) continue;
          const resp = loc.node;
          const headers = new Map<string, Located<JsonMap>>();
          if (isMapValue(resp.headers)) {
            for (const [h, hv] of Object.entries(resp.headers)) {
              const hl = deref({ pointer: pointerJoin(loc.pointer, 'headers', h), node: hv });
              if (isMapValue(hl.node)) headers.set(h.toLowerCase(), { pointer: hl.pointer, node: hl.node });
            }
          }
          const schemas: Located[] = [];
          if (is2) {
            if (resp.schema !== undefined)
              schemas.push({ pointer: pointerJoin(loc.pointer, 'schema'), node: resp.schema });
          } else if (isMapValue(resp.content)) {
            for (const [mt, media] of Object.entries(resp.content)) {
              if (isMapValue(media) && media.schema !== undefined) {
                schemas.push({
                  pointer: pointerJoin(loc.pointer, 'content', mt, 'schema'),
                  node: media.schema,
                });
              }
            }
          }
          for (const s of schemas) useSchema(s, op, 'response', `response ${status} of ${label}`);
          responses.push({ status, pointer: loc.pointer, node: resp, headers, schemas });
        }
      }
      operations.push(op);
    }
  }

  propagateUsage(owners, root, ownerAt);
  return { source, version, root, operations, securitySchemes, servers, owners, deref };
}

/** `parameter limit` for `/components/parameters/limit/schema`, and so on for other shared components. */
function sharedLabel(pointer: string): string {
  const parts = pointer.split('/');
  const kind = parts[1] === 'components' ? parts[2] : parts[1];
  const name = (parts[1] === 'components' ? parts[3] : parts[2]) ?? '';
  const noun =
    kind === 'parameters'
      ? 'parameter'
      : kind === 'responses'
        ? 'response'
        : kind === 'requestBodies'
          ? 'request body'
          : (kind ?? 'component');
  return `${noun} ${name.replaceAll('~1', '/').replaceAll('~0', '~')}`;
}

/** Substitutes server variables with their defaults, so `{scheme}://` is judged by what it defaults to. */
function expandServerUrl(server: JsonMap): string {
  const url = String(server.url);
  const vars = isMapValue(server.variables) ? server.variables : {};
  return url.replace(/\{([^}]+)\}/g, (whole, name: string) => {
    const v = vars[name];
    return isMapValue(v) && v.default !== undefined ? String(v.default) : whole;
  });
}

function collectRefs(node: Json, into: Set<string>): void {
  const stack: Json[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (Array.isArray(n)) {
      for (const c of n) if (typeof c === 'object' && c !== null) stack.push(c);
    } else if (isMapValue(n)) {
      for (const [k, v] of Object.entries(n)) {
        if (k === '$ref') {
          const p = refPointer(v);
          const m = p === undefined ? null : OWNER_PREFIX.exec(p);
          if (m) into.add(m[1]!);
        } else if (typeof v === 'object' && v !== null) stack.push(v);
      }
    }
  }
}

/** Spreads the request/response use of each owner to the named schemas it refers to, transitively. */
function propagateUsage(
  owners: Map<string, SchemaOwner>,
  root: JsonMap,
  ownerAt: (pointer: string, node: Json, label: string, component: boolean) => SchemaOwner,
): void {
  const direct = [...owners.values()].filter((o) => o.requestOps.size > 0 || o.responseOps.size > 0);
  for (const start of direct) {
    for (const use of ['request', 'response'] as const) {
      const ops = use === 'request' ? start.requestOps : start.responseOps;
      if (ops.size === 0) continue;
      const seen = new Set<string>([start.pointer]);
      const queue = [...start.refs];
      while (queue.length > 0) {
        const p = queue.pop()!;
        if (seen.has(p)) continue;
        seen.add(p);
        const target =
          owners.get(p) ?? ownerAt(p, getAt(root, p) ?? null, `schema ${p.split('/').pop()}`, true);
        const into = use === 'request' ? target.requestOps : target.responseOps;
        for (const op of ops) into.add(op);
        for (const r of target.refs) if (!seen.has(r)) queue.push(r);
      }
    }
  }
}

/** Children of a JSON Schema node that are themselves schemas (never through `$ref`). */
export function* schemaChildren(
  node: JsonMap,
  pointer: string,
): Generator<{ node: Json; pointer: string; property?: string; step: string }> {
  if (isMapValue(node.properties)) {
    for (const [k, v] of Object.entries(node.properties)) {
      yield { node: v, pointer: pointerJoin(pointer, 'properties', k), property: k, step: k };
    }
  }
  if (isMapValue(node.patternProperties)) {
    for (const [k, v] of Object.entries(node.patternProperties)) {
      yield { node: v, pointer: pointerJoin(pointer, 'patternProperties', k), step: `/${k}/` };
    }
  }
  for (const key of [
    'additionalProperties',
    'unevaluatedProperties',
    'not',
    'contains',
    'if',
    'then',
    'else',
  ]) {
    const v = node[key];
    if (isMapValue(v)) yield { node: v, pointer: pointerJoin(pointer, key), step: `(${key})` };
  }
  if (isMapValue(node.items)) yield { node: node.items, pointer: pointerJoin(pointer, 'items'), step: '[]' };
  else if (Array.isArray(node.items)) {
    for (let i = 0; i < node.items.length; i++) {
      yield { node: node.items[i]!, pointer: pointerJoin(pointer, 'items', i), step: `[${i}]` };
    }
  }
  for (const key of ['allOf', 'anyOf', 'oneOf', 'prefixItems']) {
    const list = node[key];
    if (Array.isArray(list)) {
      for (let i = 0; i < list.length; i++) {
        yield {
          node: list[i]!,
          pointer: pointerJoin(pointer, key, i),
          step: key === 'prefixItems' ? `[${i}]` : '',
        };
      }
    }
  }
  for (const key of ['$defs', 'definitions', 'dependentSchemas']) {
    const map = node[key];
    if (isMapValue(map)) {
      for (const [k, v] of Object.entries(map))
        yield { node: v, pointer: pointerJoin(pointer, key, k), step: `(${k})` };
    }
  }
}

/** True when the schema's `type` is (or, in 3.1, includes) `t`. */
export function typeIs(node: JsonMap, t: string): boolean {
  return node.type === t || (Array.isArray(node.type) && node.type.includes(t));
}
