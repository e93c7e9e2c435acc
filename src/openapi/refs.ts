/**
 * Where each schema `$ref` of a document points, per the document's dialect (issue 13 item 5).
 *
 * - OpenAPI 3.1 schemas are JSON Schema 2020-12 (OAS 3.1.1 §4.8.24): a `$ref` is a URI reference resolved
 *   against the base URI in effect (Core §8.2.1), which a schema's `$id` changes for itself and everything
 *   below it; a fragment is a JSON pointer into that resource, or a plain name set by `$anchor` (or
 *   `$dynamicAnchor`, which also declares a plain name, Core §8.2.2) in it. The document's own base URI is its
 *   file's URL (OAS 3.1.1 §4.3.1: the retrieval URI).
 * - OpenAPI 3.0 (and converted Swagger 2.0) keeps its own rule: a `$ref` is a JSON Reference whose fragment
 *   is a JSON pointer into the document; `$id` and `$anchor` mean nothing there.
 *
 * The index is built in one walk. Every `$ref` found in a schema must name something: one that does not is
 * reported with the JSON pointer where it is written, and the document is refused at load.
 */
import { pathToFileURL } from 'node:url';
import type { JsonObject, SpecVersion } from '../core/api-document.ts';
import { escapeToken, unescapeToken, valueAt } from './pointer.ts';

/** A `$ref` target: the schema, and the JSON pointer where it sits in the document. */
export interface RefTarget {
  readonly value: unknown;
  readonly pointer: string;
}

/** A `$ref` that names nothing, with the JSON pointer of the `$ref` member itself. */
export interface UnresolvedRef {
  readonly ref: string;
  readonly pointer: string;
}

export interface SchemaIndex {
  /** The document's base URI. */
  readonly base: string;
  /** Whether `$id`/`$anchor` apply (OpenAPI 3.1). */
  readonly is2020: boolean;
  /** The base URI in effect for the members of a schema of the document (its own `$id` applied). */
  baseAt(schema: object): string | undefined;
  /** The JSON pointer of a schema of the document (the first place it appears). */
  pointerOf(schema: object): string | undefined;
  /**
   * Resolves a `$ref` written where `base` is in effect. `from`, the schema holding the `$ref`, enables
   * the fallback of a 3.1 JSON pointer that names nothing in the document (see `indexSchemas`).
   */
  resolve(ref: string, base: string, from?: object): RefTarget | undefined;
  /** Every schema `$ref` of the document that names nothing, in document order. */
  readonly unresolved: readonly UnresolvedRef[];
}

/** Keywords whose value is a map of names to schemas. */
const NAME_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
/** Keywords whose value is data, never a schema: nothing below them is an `$id`, `$anchor` or `$ref`. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'example', 'examples']);
/** OpenAPI members whose value is a map of names (a member named `example` there is not an example). */
const OAS_NAME_MAPS = new Set([
  'paths',
  'webhooks',
  'callbacks',
  'content',
  'responses',
  'headers',
  'encoding',
  'links',
  'schemas',
  'parameters',
  'requestBodies',
  'securitySchemes',
  'pathItems',
]);

/** Splits a JSON pointer (`/a/b~1c`, already percent-decoded) into tokens. */
function tokensOf(pointer: string): string[] {
  return pointer.split('/').slice(1).map(unescapeToken);
}

/** Resolves `ref` against `base`; undefined when it is not a URI reference. */
function resolveUri(ref: string, base: string): URL | undefined {
  try {
    return new URL(ref, base);
  } catch {
    return undefined;
  }
}

function withoutFragment(u: URL): string {
  const s = u.href;
  const hash = s.indexOf('#');
  return hash === -1 ? s : s.slice(0, hash);
}

/** The document's base URI: its file's URL. */
export function documentBase(file: string): string {
  return pathToFileURL(file).href;
}

/**
 * Indexes the schemas of an OpenAPI document (after bundling and Swagger conversion).
 * @example
 * const index = indexSchemas(doc, '3.1', '/specs/api.yaml');
 * if (index.unresolved.length > 0) throw new Error(`${index.unresolved[0].ref} names nothing`);
 */
export function indexSchemas(doc: JsonObject, version: SpecVersion, file: string): SchemaIndex {
  const base = documentBase(file);
  const is2020 = version === '3.1';
  /** Schema resources by URI (without fragment): the document itself and every `$id`. */
  const resources = new Map<string, RefTarget>([[base, { value: doc, pointer: '' }]]);
  const anchors = new Map<string, RefTarget>();
  const bases = new WeakMap<object, string>();
  const pointers = new WeakMap<object, string>();
  /** The top schema (a component, a media type's or a parameter's schema) each schema sits in. */
  const roots = new WeakMap<object, RefTarget>();
  const refs: { ref: string; base: string; pointer: string; from: object }[] = [];

  const walkSchema = (
    node: unknown,
    pointer: string,
    inherited: string,
    depth: number,
    top?: RefTarget,
  ): void => {
    if (node === null || typeof node !== 'object' || depth > 256) return;
    const root = top ?? { value: node, pointer };
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++)
        walkSchema(node[i], pointer + escapeToken(i), inherited, depth + 1, root);
      return;
    }
    const s = node as JsonObject;
    let here = inherited;
    if (is2020 && typeof s.$id === 'string') {
      const u = resolveUri(s.$id, inherited);
      if (u !== undefined) {
        here = withoutFragment(u);
        if (!resources.has(here)) resources.set(here, { value: s, pointer });
      }
    }
    if (!bases.has(s)) {
      bases.set(s, here);
      pointers.set(s, pointer);
      roots.set(s, root);
    }
    if (is2020) {
      for (const key of ['$anchor', '$dynamicAnchor']) {
        const name = s[key];
        if (typeof name === 'string' && !anchors.has(`${here}#${name}`)) {
          anchors.set(`${here}#${name}`, { value: s, pointer });
        }
      }
    }
    for (const key of ['$ref', '$dynamicRef']) {
      const ref = s[key];
      if (typeof ref === 'string' && (key === '$ref' || is2020)) {
        refs.push({ ref, base: here, pointer: pointer + escapeToken(key), from: s });
      }
    }
    for (const [key, value] of Object.entries(s)) {
      if (DATA_KEYWORDS.has(key) || value === null || typeof value !== 'object') continue;
      if (NAME_MAPS.has(key) && !Array.isArray(value)) {
        for (const [name, sub] of Object.entries(value as JsonObject))
          walkSchema(sub, pointer + escapeToken(key) + escapeToken(name), here, depth + 1, root);
      } else walkSchema(value, pointer + escapeToken(key), here, depth + 1, root);
    }
  };

  /** Walks the OpenAPI structure; a member `schema` (and `components.schemas`) starts a schema. */
  const walkDocument = (node: unknown, pointer: string, names: boolean, depth: number): void => {
    if (node === null || typeof node !== 'object' || depth > 256) return;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) walkDocument(node[i], pointer + escapeToken(i), false, depth + 1);
      return;
    }
    for (const [key, value] of Object.entries(node as JsonObject)) {
      const at = pointer + escapeToken(key);
      if (!names && (key === 'example' || key === 'examples')) continue;
      if (!names && key === 'schema') walkSchema(value, at, base, depth + 1);
      else if (
        pointer === '/components' &&
        key === 'schemas' &&
        value !== null &&
        typeof value === 'object'
      ) {
        for (const [name, sub] of Object.entries(value as JsonObject))
          walkSchema(sub, at + escapeToken(name), base, depth + 1);
      } else walkDocument(value, at, !names && OAS_NAME_MAPS.has(key), depth + 1);
    }
  };
  walkDocument(doc, '', false, 0);

  const resolve = (ref: string, from: string, holder?: object): RefTarget | undefined => {
    if (!is2020) {
      // OpenAPI 3.0: only a JSON pointer into this document (external files were bundled in at load).
      if (ref !== '#' && !ref.startsWith('#/')) return undefined;
      const tokens = tokensOf(safeDecode(ref.slice(1)) ?? '\u0000');
      const value = valueAt(doc, tokens);
      // The OpenAPI document itself (`#`) is no schema: read as one, it would accept anything.
      return value === undefined || value === doc
        ? undefined
        : { value, pointer: tokens.map(escapeToken).join('') };
    }
    const u = resolveUri(ref, from);
    if (u === undefined) return undefined;
    const resource = resources.get(withoutFragment(u));
    const fragment = safeDecode(u.hash.slice(1));
    if (resource === undefined || fragment === undefined) return undefined;
    if (fragment === '' || fragment.startsWith('/')) {
      const tokens = tokensOf(fragment);
      const value = valueAt(resource.value, tokens);
      if (value !== undefined && value !== doc) {
        return { value, pointer: resource.pointer + tokens.map(escapeToken).join('') };
      }
      // The OpenAPI document itself is no schema (read as one it would accept anything), and a pointer
      // may name nothing in it. Leniency: such a pointer is read against the top schema it is written in,
      // as in the standalone JSON Schema it was likely copied from (`#/$defs/x` beside a root `$defs`,
      // `#` for recursion). It only gives a meaning where the standard reading has none.
      const root = holder === undefined || resource.value !== doc ? undefined : roots.get(holder);
      if (root === undefined) return undefined;
      const inRoot = valueAt(root.value, tokens);
      return inRoot === undefined
        ? undefined
        : { value: inRoot, pointer: root.pointer + tokens.map(escapeToken).join('') };
    }
    return anchors.get(`${withoutFragment(u)}#${fragment}`);
  };

  const unresolved: UnresolvedRef[] = [];
  for (const r of refs)
    if (resolve(r.ref, r.base, r.from) === undefined) unresolved.push({ ref: r.ref, pointer: r.pointer });

  return {
    base,
    is2020,
    baseAt: (schema) => bases.get(schema),
    pointerOf: (schema) => pointers.get(schema),
    resolve,
    unresolved,
  };
}

function safeDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
