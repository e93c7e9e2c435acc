import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import {
  type ApiDocument,
  HTTP_METHODS,
  type HttpMethod,
  type JsonObject,
  type MediaType,
  type Operation,
  type Parameter,
  type ParameterLocation,
  type RequestBody,
  type ResponseSpec,
  type SecurityRequirement,
  type SecurityScheme,
  type SpecVersion,
} from '../core/api-document.ts';
import { PortcullisError } from '../core/errors.ts';
import { escapeToken, unescapeToken, valueAt } from './pointer.ts';
import { documentBase, indexSchemas } from './refs.ts';
import { convertSwagger2 } from './swagger2.ts';

/** A document that cannot be used, with the JSON pointer of the offending part when there is one. */
export class SpecError extends PortcullisError {
  readonly code = 'ERR_SPEC';
  readonly file: string;
  readonly pointer: string | undefined;
  constructor(file: string, message: string, pointer?: string) {
    super(`${file}${pointer ? ` at ${pointer}` : ''}: ${message}`);
    this.name = 'SpecError';
    this.file = file;
    this.pointer = pointer;
  }
}

interface ParsedFile {
  value: JsonObject;
  node: Node | null;
  lines: LineCounter;
}

async function parseFile(file: string): Promise<ParsedFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SpecError(file, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const at = e.linePos?.[0];
    throw new SpecError(
      file,
      `not valid YAML or JSON${at ? ` (line ${at.line}, column ${at.col})` : ''}: ${e.code}`,
    );
  }
  const value = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SpecError(file, 'the document is not an object');
  }
  return { value: value as JsonObject, node: doc.contents, lines };
}

/** Splits a JSON pointer (`/a/b~1c`) into tokens. */
export function pointerTokens(pointer: string): string[] {
  if (pointer === '' || pointer === '#') return [];
  const p = pointer.startsWith('#') ? pointer.slice(1) : pointer;
  return p
    .split('/')
    .slice(1)
    .map((t) => unescapeToken(decodeURIComponent(t)));
}

/** Builds a JSON pointer from tokens. */
export function toPointer(tokens: readonly (string | number)[]): string {
  return tokens.map(escapeToken).join('');
}

function lineOfNode(parsed: ParsedFile, pointer: string): number | undefined {
  let node: Node | null | undefined = parsed.node;
  let line: number | undefined;
  const at = (n: Node | null | undefined) => (n?.range ? parsed.lines.linePos(n.range[0]).line : undefined);
  line = at(node);
  for (const t of pointerTokens(pointer)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === t);
      if (pair === undefined) return line;
      line = at(pair.key as Node) ?? line;
      node = pair.value as Node | null;
    } else if (isSeq(node)) {
      node = node.items[Number(t)] as Node | undefined;
      line = at(node) ?? line;
    } else return line;
  }
  return line;
}

/**
 * Replaces every `$ref` that points into another file with the referenced content, so the result only
 * holds local refs. Refs inside the pulled-in content are resolved against their own file.
 */
async function bundle(file: string, root: JsonObject, version: SpecVersion): Promise<JsonObject> {
  // OpenAPI 3.1: a ref that names a schema resource of the document itself (`$ref: pet.json` beside a
  // schema with `$id: pet.json`, JSON Schema 2020-12 §8.2.1) stays; only the others name files.
  const own = version === '3.1' ? indexSchemas(root, '3.1', file) : undefined;
  const fileBase = documentBase(file);
  const cache = new Map<string, Promise<ParsedFile>>();
  const load = (f: string) => {
    let p = cache.get(f);
    if (p === undefined) {
      p = parseFile(f);
      cache.set(f, p);
    }
    return p;
  };
  async function walk(
    value: unknown,
    currentFile: string,
    currentRoot: JsonObject,
    stack: string[],
  ): Promise<unknown> {
    if (Array.isArray(value)) return Promise.all(value.map((v) => walk(v, currentFile, currentRoot, stack)));
    if (value === null || typeof value !== 'object') return value;
    const obj = value as JsonObject;
    if (typeof obj.$ref === 'string') {
      const ref = obj.$ref;
      const hash = ref.indexOf('#');
      const filePart = hash === -1 ? ref : ref.slice(0, hash);
      const fragment = hash === -1 ? '' : ref.slice(hash);
      if (filePart === '' && currentFile === file) return obj; // local to the main document: keep as is
      if (own !== undefined && currentFile === file && own.resolve(ref, own.baseAt(obj) ?? fileBase, obj))
        return obj;
      if (/^[a-z][a-z0-9+.-]*:/i.test(filePart)) {
        throw new SpecError(
          file,
          `remote $ref ${JSON.stringify(ref)} is not supported: bundle it into a local file`,
        );
      }
      const target = filePart === '' ? currentFile : path.resolve(path.dirname(currentFile), filePart);
      const key = `${target}${fragment}`;
      if (stack.includes(key)) throw new SpecError(file, `circular external $ref ${JSON.stringify(ref)}`);
      const parsed = target === file ? { value: root } : await load(target);
      const resolved = valueAt(parsed.value, pointerTokens(fragment));
      if (resolved === undefined)
        throw new SpecError(target, `$ref target ${JSON.stringify(fragment)} not found`);
      return walk(resolved, target, parsed.value, [...stack, key]);
    }
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(obj)) out[k] = await walk(v, currentFile, currentRoot, stack);
    return out;
  }
  return (await walk(root, file, root, [])) as JsonObject;
}

function specVersion(file: string, doc: JsonObject): SpecVersion {
  if (typeof doc.swagger === 'string') {
    if (doc.swagger.startsWith('2.')) return '2.0';
    throw new SpecError(file, `unsupported swagger version ${doc.swagger}`, '/swagger');
  }
  if (typeof doc.openapi === 'string') {
    if (doc.openapi.startsWith('3.0.')) return '3.0';
    if (doc.openapi.startsWith('3.1.') || doc.openapi.startsWith('3.2.')) return '3.1';
    throw new SpecError(file, `unsupported openapi version ${doc.openapi}`, '/openapi');
  }
  throw new SpecError(file, 'not an OpenAPI document: no `openapi` or `swagger` field');
}

/**
 * Loads an OpenAPI 3.0/3.1 document (YAML or JSON; Swagger 2.0 is converted to 3.0), bundles external
 * refs and lists its operations.
 * @example
 * const api = await loadApiDocument('openapi.yaml');
 * for (const op of api.operations) console.log(op.method, op.path, op.id);
 */
export async function loadApiDocument(file: string): Promise<ApiDocument> {
  const abs = path.resolve(file);
  const parsed = await parseFile(abs);
  const sourceVersion = specVersion(abs, parsed.value);
  let doc = await bundle(abs, parsed.value, sourceVersion);
  if (sourceVersion === '2.0') doc = convertSwagger2(doc);
  return buildApiDocument(abs, sourceVersion, doc, (p) => lineOfNode(parsed, p));
}

/** Builds the normalised view from an in-memory OpenAPI 3.x document (already bundled). */
export function buildApiDocument(
  file: string,
  sourceVersion: SpecVersion,
  doc: JsonObject,
  lineOf: (pointer: string) => number | undefined = () => undefined,
): ApiDocument {
  const schemas = indexSchemas(doc, sourceVersion === '3.1' ? '3.1' : '3.0', file);
  const unresolved = schemas.unresolved[0];
  if (unresolved !== undefined) {
    throw new SpecError(
      file,
      `$ref ${JSON.stringify(unresolved.ref)} names nothing in the document`,
      unresolved.pointer,
    );
  }
  const resolve = (ref: string): unknown => {
    if (!ref.startsWith('#')) throw new SpecError(file, `unresolved external $ref ${JSON.stringify(ref)}`);
    // A JSON pointer into the document; in 3.1 also a plain-name fragment (`#Size`) declared by `$anchor`
    // at the document's level. Anything else names nothing (`#Size` used to read as the whole document).
    if (ref !== '#' && !ref.startsWith('#/')) return schemas.resolve(ref, schemas.base)?.value;
    return valueAt(doc, pointerTokens(ref));
  };
  /** Follows `$ref` chains on non-schema objects (parameters, bodies, responses). */
  const deref = <T>(value: unknown, at: string): T => {
    let cur = value;
    for (let i = 0; i < 32 && cur !== null && typeof cur === 'object' && '$ref' in (cur as JsonObject); i++) {
      const ref = (cur as JsonObject).$ref as string;
      const next = resolve(ref);
      if (next === undefined) throw new SpecError(file, `$ref ${JSON.stringify(ref)} not found`, at);
      cur = next;
    }
    return cur as T;
  };

  const info = (doc.info ?? {}) as JsonObject;
  const components = (doc.components ?? {}) as JsonObject;
  const securitySchemes: Record<string, SecurityScheme> = {};
  for (const [name, raw] of Object.entries((components.securitySchemes ?? {}) as JsonObject)) {
    const s = deref<JsonObject>(raw, toPointer(['components', 'securitySchemes', name]));
    securitySchemes[name] = { type: s.type as SecurityScheme['type'], raw: s };
  }
  const rootSecurity = doc.security as SecurityRequirement[] | undefined;

  const media = (content: unknown): Record<string, MediaType> => {
    const out: Record<string, MediaType> = {};
    for (const [type, m] of Object.entries((content ?? {}) as Record<string, JsonObject>)) {
      out[type.toLowerCase()] = {
        schema: m.schema as MediaType['schema'],
        encoding: m.encoding as JsonObject | undefined,
        example: m.example,
        examples: m.examples as JsonObject | undefined,
      };
    }
    return out;
  };

  const toParameter = (raw: unknown, at: string): Parameter => {
    const p = deref<JsonObject>(raw, at);
    const loc = p.in as ParameterLocation;
    if (typeof p.name !== 'string' || !['path', 'query', 'header', 'cookie'].includes(loc)) {
      throw new SpecError(file, 'parameter needs a `name` and `in` of path, query, header or cookie', at);
    }
    const style =
      (p.style as string | undefined) ?? (loc === 'query' || loc === 'cookie' ? 'form' : 'simple');
    const content = p.content as JsonObject | undefined;
    const contentType = content ? Object.keys(content)[0] : undefined;
    return {
      name: p.name,
      in: loc,
      required: loc === 'path' ? true : p.required === true,
      style,
      explode: typeof p.explode === 'boolean' ? p.explode : style === 'form',
      allowReserved: p.allowReserved === true,
      schema: (contentType
        ? (content?.[contentType] as JsonObject | undefined)?.schema
        : p.schema) as Parameter['schema'],
      contentType,
      deprecated: p.deprecated === true,
      raw: p,
    };
  };

  const operations: Operation[] = [];
  const seenIds = new Map<string, string>();
  for (const [pathTemplate, rawItem] of Object.entries((doc.paths ?? {}) as JsonObject)) {
    const itemAt = toPointer(['paths', pathTemplate]);
    if (!pathTemplate.startsWith('/')) throw new SpecError(file, 'path must start with /', itemAt);
    const item = deref<JsonObject>(rawItem, itemAt);
    const pathParams = ((item.parameters ?? []) as unknown[]).map((p, i) =>
      toParameter(p, `${itemAt}/parameters/${i}`),
    );
    for (const method of HTTP_METHODS) {
      const op = item[method.toLowerCase()] as JsonObject | undefined;
      if (op === undefined) continue;
      const at = `${itemAt}/${method.toLowerCase()}`;
      const own = ((op.parameters ?? []) as unknown[]).map((p, i) => toParameter(p, `${at}/parameters/${i}`));
      const merged = new Map<string, Parameter>();
      for (const p of [...pathParams, ...own])
        merged.set(`${p.in}:${p.in === 'header' ? p.name.toLowerCase() : p.name}`, p);
      const templateNames = [...pathTemplate.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const name of templateNames) {
        if (!merged.has(`path:${name}`)) {
          // Undeclared template variables are still path parameters (as strings); the audit flags them.
          merged.set(`path:${name}`, {
            name,
            in: 'path',
            required: true,
            style: 'simple',
            explode: false,
            allowReserved: false,
            schema: { type: 'string' },
            deprecated: false,
            raw: { name, in: 'path', required: true },
          });
        }
      }
      let requestBody: RequestBody | undefined;
      if (op.requestBody !== undefined) {
        const rb = deref<JsonObject>(op.requestBody, `${at}/requestBody`);
        requestBody = { required: rb.required === true, content: media(rb.content) };
      }
      const responses: Record<string, ResponseSpec> = {};
      for (const [code, r] of Object.entries((op.responses ?? {}) as JsonObject)) {
        const resp = deref<JsonObject>(r, `${at}/responses/${code}`);
        const headers: Record<string, JsonObject> = {};
        for (const [h, hv] of Object.entries((resp.headers ?? {}) as JsonObject)) {
          headers[h.toLowerCase()] = deref<JsonObject>(hv, `${at}/responses/${code}/headers/${h}`);
        }
        responses[code.toUpperCase()] = {
          description: (resp.description as string | undefined) ?? '',
          headers,
          content: media(resp.content),
        };
      }
      const extensions: JsonObject = {};
      for (const [k, v] of Object.entries(op)) if (k.startsWith('x-')) extensions[k] = v;
      const declaredId =
        typeof op.operationId === 'string' && op.operationId !== '' ? op.operationId : undefined;
      const id = declaredId ?? `${method} ${pathTemplate}`;
      const previous = seenIds.get(id);
      if (previous !== undefined) {
        throw new SpecError(file, `operationId ${JSON.stringify(id)} is also used at ${previous}`, at);
      }
      seenIds.set(id, at);
      operations.push({
        id,
        hasDeclaredId: declaredId !== undefined,
        method: method as HttpMethod,
        path: pathTemplate,
        summary: op.summary as string | undefined,
        tags: (op.tags as string[] | undefined) ?? [],
        deprecated: op.deprecated === true,
        parameters: [...merged.values()],
        requestBody,
        responses,
        security: (op.security as SecurityRequirement[] | undefined) ?? rootSecurity,
        extensions,
        pointer: at,
      });
    }
  }

  return {
    file,
    sourceVersion,
    doc,
    title: (info.title as string | undefined) ?? path.basename(file),
    version: String(info.version ?? ''),
    operations,
    securitySchemes,
    resolve,
    lineOf,
  };
}
