/**
 * Matches request paths against OpenAPI path templates. A trie of path segments: literal segments are a
 * Map lookup and win over templated ones (OpenAPI 3.1 §4.8.8: concrete paths match before templated
 * ones); a templated segment (`{id}`, `{name}.{ext}`, `v{major}`) is a small anchored pattern over one
 * segment. Parameter values are returned raw (still percent-encoded): decoding is the validator's job,
 * done once, by the parameter's style.
 */

interface Param<T> {
  readonly names: readonly string[];
  readonly pattern: RegExp;
  readonly literalLength: number;
  readonly node: Node<T>;
}

interface Node<T> {
  readonly literal: Map<string, Node<T>>;
  readonly params: Param<T>[];
  readonly methods: Map<string, T>;
  /** The result for each method when the path has no parameters, made once (no allocation per match). */
  readonly found: Map<string, Found<T>>;
}

const newNode = <T>(): Node<T> => ({ literal: new Map(), params: [], methods: new Map(), found: new Map() });

type Found<T> = {
  readonly kind: 'found';
  readonly value: T;
  readonly params: Readonly<Record<string, string>>;
};

export type RouteResult<T> =
  | Found<T>
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' };

/** The parameters of a path without any: one shared, frozen object. */
export const NO_PATH_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

const NOT_FOUND = { kind: 'not-found' } as const;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles `{a}.{b}` into an anchored pattern; each variable takes one or more non-slash characters. */
function compileSegment(segment: string): { names: string[]; pattern: RegExp; literalLength: number } {
  const names: string[] = [];
  let source = '^';
  let literalLength = 0;
  let i = 0;
  while (i < segment.length) {
    const open = segment.indexOf('{', i);
    if (open === -1) {
      source += escapeRegex(segment.slice(i));
      literalLength += segment.length - i;
      break;
    }
    source += escapeRegex(segment.slice(i, open));
    literalLength += open - i;
    const close = segment.indexOf('}', open);
    if (close === -1) throw new Error(`unclosed { in path segment ${segment}`);
    names.push(segment.slice(open + 1, close));
    // A variable followed by a literal stops at that literal's first character, so matching stays linear.
    const next = segment[close + 1];
    source += next === undefined || next === '{' ? '([^/]+)' : `([^/${escapeRegex(next)}]+)`;
    i = close + 1;
  }
  return { names, pattern: new RegExp(`${source}$`), literalLength };
}

export interface Router<T> {
  add(method: string, template: string, value: T): void;
  match(method: string, path: string): RouteResult<T>;
}

export function createRouter<T>(): Router<T> {
  const root = newNode<T>();
  /** The parameters the current `match` collected; made only when a templated segment matched. */
  let params: Record<string, string> | undefined;

  function lookup(node: Node<T>, segments: readonly string[], i: number): Node<T> | undefined {
    if (i === segments.length) return node.methods.size > 0 ? node : undefined;
    const seg = segments[i];
    const lit = node.literal.get(seg);
    if (lit !== undefined) {
      const found = lookup(lit, segments, i + 1);
      if (found) return found;
    }
    for (const p of node.params) {
      const m = p.pattern.exec(seg);
      if (m === null) continue;
      const found = lookup(p.node, segments, i + 1);
      if (found) {
        params ??= {};
        for (let k = 0; k < p.names.length; k++) params[p.names[k]] = m[k + 1];
        return found;
      }
    }
    return undefined;
  }

  return {
    add(method, template, value) {
      let node = root;
      for (const seg of template.split('/').slice(1)) {
        if (!seg.includes('{')) {
          let next = node.literal.get(seg);
          if (next === undefined) {
            next = newNode<T>();
            node.literal.set(seg, next);
          }
          node = next;
          continue;
        }
        const compiled = compileSegment(seg);
        let param = node.params.find((p) => p.pattern.source === compiled.pattern.source);
        if (param === undefined) {
          param = { ...compiled, node: newNode<T>() };
          node.params.push(param);
          // More literal text first: `{id}.json` is tried before `{id}`.
          node.params.sort((a, b) => b.literalLength - a.literalLength);
        } else if (param.names.join() !== compiled.names.join()) {
          throw new Error(`path ${template} names its parameters differently from an equivalent path`);
        }
        node = param.node;
      }
      if (node.methods.has(method)) throw new Error(`${method} ${template} is declared twice`);
      node.methods.set(method, value);
      node.found.set(method, { kind: 'found', value, params: NO_PATH_PARAMS });
    },
    match(method, path) {
      params = undefined;
      // The path starts with `/`: segment 0 is the empty string before it.
      const node = lookup(root, path.split('/'), 1);
      const collected = params;
      params = undefined;
      if (node === undefined) return NOT_FOUND;
      // HEAD is served wherever GET is (RFC 9110 §9.3.2), unless HEAD is declared itself.
      const m = method === 'HEAD' && !node.methods.has('HEAD') ? 'GET' : method;
      if (collected === undefined) {
        const found = node.found.get(m);
        if (found !== undefined) return found;
      } else {
        const value = node.methods.get(m);
        if (value !== undefined) return { kind: 'found', value, params: collected };
      }
      return { kind: 'method-not-allowed', allow: [...node.methods.keys()] };
    },
  };
}

const UNRESERVED = /%(4[1-9A-F]|5[0-9A]|6[1-9A-F]|7[0-9A]|3[0-9]|2D|2E|5F|7E)/gi;

/** Encoded separators and NUL, once or twice encoded (`%2F`, `%252F`): an upstream may decode them to `/`, `\\`. */
const ENCODED_SEPARATOR = /%(?:25)?(?:2f|5c|00)/i;
/** A percent-encoded dot, encoded twice (`%252e`): the once-encoded spelling is decoded below. */
const DOUBLE_ENCODED_DOT = /%252e/i;

/**
 * Normalises a request path for matching (RFC 3986 §6.2.2): percent-encoded unreserved characters are
 * decoded. Returns undefined for paths a proxy must not forward, because some upstream would resolve
 * them to another resource than the one matched: dot segments in any spelling (`..`, `%2e%2e`, and the
 * `..;`/`.;` forms that Tomcat and Spring read as dot segments), encoded `/` or `\\` inside a segment
 * (WSGI, nginx `proxy_pass …/` decode them), empty segments, backslashes, NUL, or a path not starting
 * with `/`.
 */
export function normalizePath(raw: string): string | undefined {
  if (raw.charCodeAt(0) !== 47 /* / */) return undefined;
  let path = raw;
  if (raw.includes('%')) {
    if (ENCODED_SEPARATOR.test(raw) || DOUBLE_ENCODED_DOT.test(raw)) return undefined;
    path = raw.replace(UNRESERVED, (m) => String.fromCharCode(Number.parseInt(m.slice(1), 16)));
  }
  if (path.includes('\\')) return undefined;
  if (path.includes('//')) return undefined;
  if (path.includes('/.')) {
    for (const seg of path.split('/')) {
      if (seg.charCodeAt(0) !== 46 /* . */) continue;
      const semi = seg.indexOf(';');
      const name = semi === -1 ? seg : seg.slice(0, semi);
      if (name === '.' || name === '..') return undefined;
    }
  }
  return path;
}
